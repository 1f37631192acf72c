"""Shared fixtures: the kit's paths, a working directory with the built-in small dataset, and a
runner for the entry scripts as a user would call them."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

# A skip fails the session unless tests/skip_policy.py allows it (the stack is pinned).
from skip_policy import pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish  # noqa: F401
from runner import explain, run_command  # noqa: F401  (explain: imported by the tests from here)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs'
SMOKE_IIF = CONFIGS / 'smoke' / 'iif_r18_fpn_smoke.py'
SMOKE_SOFTMAX = CONFIGS / 'smoke' / 'mask_rcnn_r18_fpn_softmax_smoke.py'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def cpu_env(**extra) -> dict:
    """Environment for the entry scripts on this CPU-only machine."""
    env = dict(os.environ, IIF_DEVICE='cpu', PYTHON=sys.executable, PORT=str(free_port()),
               PYTHONUNBUFFERED='1')
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, cwd, env=None, timeout=900) -> subprocess.CompletedProcess:
    """Run a command as a user would; output kept for assertions and failure messages."""
    return run_command(cmd, cwd, env or cpu_env(), timeout)


# Variables a launcher reads; one test leaving MASTER_ADDR=node1 behind once sent every later
# torchrun to an unresolvable host (CI: 2-process training stuck until its 900 s timeout).
LAUNCHER_ENV = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'PORT',
                'NNODES', 'NODE_RANK')


@pytest.fixture(autouse=True)
def launcher_env_is_left_as_found(request):
    """Fail the test that changes the launcher variables of the test process, not a later one."""
    before = {k: os.environ.get(k) for k in LAUNCHER_ENV}
    yield
    after = {k: os.environ.get(k) for k in LAUNCHER_ENV}
    changed = {k: (before[k], after[k]) for k in LAUNCHER_ENV if before[k] != after[k]}
    if changed:
        for k, (old, _) in changed.items():  # restore, so one leak stays one failure
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
        pytest.fail(f'{request.node.nodeid} left launcher variables changed (before, after): '
                    f'{changed}; use monkeypatch so they are restored')


@pytest.fixture(scope='session')
def smoke_workdir(tmp_path_factory) -> Path:
    """A working directory holding data/smoke, as configs/smoke expect."""
    from iif import smoke_data
    wd = tmp_path_factory.mktemp('smoke_wd')
    smoke_data.generate(wd / 'data' / 'smoke')
    return wd
