"""Tests against a real SLURM cluster (scripts/ci_slurm.sh brings up two slurmd nodes on this
host); run from the host by .ci/run, never collected by the in-image suite (`pytest tests`).

The jobs run the kit with IIF_CLUSTER_PYTHON (default: this interpreter) and this checkout on
PYTHONPATH, so the host environment needs the pinned stack (the image's venv)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tests'))
sys.path.insert(0, str(REPO))
# the kit's skip policy: a skip fails the session
from skip_policy import pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish  # noqa: E402,F401

SMOKE_IIF = REPO / 'configs' / 'smoke' / 'iif_r18_fpn_smoke.py'
PYTHON = os.environ.get('IIF_CLUSTER_PYTHON', sys.executable)


def job_env(**extra) -> dict:
    """What every task needs: CPU processes, the kit from this checkout, 1 CPU per task."""
    env = dict(os.environ, IIF_DEVICE='cpu', PYTHON=PYTHON, CPUS_PER_TASK='1',
               PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get(
                   'PYTHONPATH')] if p]))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, cwd, env=None, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or job_env(), text=True,
                          capture_output=True, timeout=timeout)


def explain(result: subprocess.CompletedProcess) -> str:
    return f'exit {result.returncode}\n--- stdout ---\n{result.stdout[-4000:]}\n' \
           f'--- stderr ---\n{result.stderr[-4000:]}'


@pytest.fixture(scope='session', autouse=True)
def cluster():
    """Two idle nodes, or the session fails with how to start them."""
    try:
        out = subprocess.run(['sinfo', '-h', '-N', '-o', '%N %T'], capture_output=True,
                             text=True, timeout=30)
    except FileNotFoundError:
        pytest.fail('sinfo not found: run scripts/ci_slurm.sh first', pytrace=False)
    nodes = dict(line.split() for line in out.stdout.splitlines() if line.strip())
    if sorted(nodes) != ['node1', 'node2'] or set(nodes.values()) - {'idle'}:
        pytest.fail(f'the CI cluster is not up (sinfo: {nodes or out.stderr}): run '
                    'scripts/ci_slurm.sh first', pytrace=False)


@pytest.fixture(scope='session')
def smoke_workdir(tmp_path_factory) -> Path:
    """data/smoke as configs/smoke expect, in a directory both nodes see (one host here)."""
    from iif import smoke_data
    wd = tmp_path_factory.mktemp('cluster_wd')
    smoke_data.generate(wd / 'data' / 'smoke')
    return wd
