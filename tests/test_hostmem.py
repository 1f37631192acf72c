"""iif/hostmem.py: the fixed glibc mmap threshold that keeps DataLoader workers' memory flat
(docs/data-scale.md has the loader measurements this stands for)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A worker's pattern in miniature: image-sized arrays allocated, used and freed one after the
# other; prints how much of the freed memory stays resident.
PIPELINE = r'''
import json, sys
import numpy as np
from iif.hostmem import fix_mmap_threshold
fixed = fix_mmap_threshold() if sys.argv[1] == 'fixed' else None
def rss_mb():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmRSS')) / 1024
arrays = []
for size_mb in (12, 9, 10, 11, 8, 12):
    a = np.ones(size_mb * 1024 * 1024 // 8)   # an image array, every page touched
    keep = [object() for _ in range(1000)]  # small objects allocated meanwhile
    arrays.append(keep)
    del a
base = rss_mb()
for size_mb in (12, 9, 10, 11, 8, 12) * 3:
    a = np.ones(size_mb * 1024 * 1024 // 8)
    arrays.append([object() for _ in range(1000)])
    del a
print(json.dumps(dict(fixed=fixed, after_free_mb=rss_mb() - base, glibc=__import__(
    'platform').libc_ver()[0])))
'''


def run_pipeline(mode: str, **env) -> dict:
    result = subprocess.run([sys.executable, '-c', PIPELINE, mode], capture_output=True,
                            text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO),
                                                          **env), timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_large_freed_arrays_leave_no_resident_heap():
    fixed = run_pipeline('fixed')
    if fixed['glibc'] != 'glibc':
        pytest.fail('the kit targets glibc (the image is Ubuntu); this host is not')
    assert fixed['fixed'] is True
    default = run_pipeline('default')
    # glibc's default raises its mmap threshold after the first free, so later arrays come
    # from the heap and stay resident after free; with the threshold fixed they are unmapped
    assert default['after_free_mb'] > 6, default
    assert fixed['after_free_mb'] < 2, fixed


def test_a_user_setting_wins():
    result = run_pipeline('fixed', MALLOC_MMAP_THRESHOLD_='4194304')
    assert result['fixed'] is False  # glibc already applied the user's value at start-up
