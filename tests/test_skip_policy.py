"""tests/skip_policy.py: a skip (in a test or at import, e.g. importorskip of a missing pinned
package) fails the session; a session without skips passes."""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO

CASES = '''
import pytest

def test_passes():
    assert 1 + 1 == 2
'''


def run_pytest(tmp_path, extra: str):
    (tmp_path / 'test_case.py').write_text(CASES + extra)
    return subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'skip_policy',
                           '-p', 'no:cacheprovider', str(tmp_path / 'test_case.py')],
                          cwd=tmp_path, capture_output=True, text=True,
                          env={'PYTHONPATH': str(REPO / 'tests'), 'PATH': '/usr/bin:/bin'})


def test_no_skip_passes(tmp_path):
    result = run_pytest(tmp_path, '')
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_skipped_test_fails_the_session(tmp_path):
    result = run_pytest(tmp_path, '\ndef test_skips():\n    pytest.skip("no frobnicator")\n')
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'unexpected skips' in result.stdout
    assert 'test_case.py::test_skips: Skipped: no frobnicator' in result.stdout


def test_importorskip_of_a_missing_package_fails_the_session(tmp_path):
    result = run_pytest(tmp_path, '\npytest.importorskip("no_such_pinned_package")\n')
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'no_such_pinned_package' in result.stdout
