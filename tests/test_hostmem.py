"""iif/hostmem.py: the fixed glibc mmap threshold that keeps DataLoader workers' memory flat
(docs/data-scale.md has the loader measurements this stands for)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A worker's pattern in miniature: image-sized arrays of varying sizes, each freed while a
# small array allocated after it is still alive (the pipeline's results, metadata); prints how
# much of the freed memory stays resident.
PIPELINE = r'''
import json, platform, sys
import numpy as np
from iif.hostmem import fix_mmap_threshold
fixed = fix_mmap_threshold() if sys.argv[1] == 'fixed' else None
def rss_mb():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmRSS')) / 1024
kept = []
base = rss_mb()
for size_mb in (4, 12, 6, 13, 9, 11, 5, 12, 8, 13):
    image = np.ones(size_mb * 1024 * 1024 // 8)  # every page touched
    kept.append(np.ones(2048))  # 16 KB from the heap, above the image
    del image
print(json.dumps(dict(fixed=fixed, after_free_mb=rss_mb() - base, glibc=platform.libc_ver()[0])))
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
    # from the heap and stay resident after free (19 MB here); with the threshold fixed they
    # are unmapped
    assert default['after_free_mb'] > 10, default
    assert fixed['after_free_mb'] < 2, fixed


def test_a_user_setting_wins(monkeypatch):
    result = run_pipeline('fixed', MALLOC_MMAP_THRESHOLD_='4194304')
    assert result['fixed'] is False  # glibc already applied the user's value at start-up
    # IIF_MMAP_THRESHOLD=0: glibc's default, freed arrays stay resident again
    result = run_pipeline('fixed', IIF_MMAP_THRESHOLD='0')
    assert result['fixed'] is False and result['after_free_mb'] > 10, result
    from iif.errors import UserError
    from iif.hostmem import fix_mmap_threshold
    monkeypatch.setenv('IIF_MMAP_THRESHOLD', '128k')
    with pytest.raises(UserError, match="IIF_MMAP_THRESHOLD='128k': expected a number of bytes"):
        fix_mmap_threshold()
