"""Tests against a real SLURM cluster (scripts/ci_slurm.sh brings up two slurmd nodes on this
host); run from the host by .ci/run, never collected by the in-image suite (`pytest tests`).

Two ways to run the kit in the jobs (the driver itself needs only pytest):
- in the image through a container runtime, as on real clusters (scripts/ci_cluster.sh):
  CONTAINER_RUN="ch-run ... IMAGE_DIR --" IIF_KIT_DIR=/workspace
  IIF_CLUSTER_PYTHON=/opt/venv/bin/python
- on the host: IIF_CLUSTER_PYTHON=a Python with the pinned stack (default: this interpreter),
  the kit from this checkout (PYTHONPATH)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tests'))
# the kit's skip policy: a skip fails the session
from skip_policy import pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish  # noqa: E402,F401
from runner import explain, run_command  # noqa: E402,F401  (explain: imported by the tests)

SMOKE_IIF = REPO / 'configs' / 'smoke' / 'iif_r18_fpn_smoke.py'
PYTHON = os.environ.get('IIF_CLUSTER_PYTHON', sys.executable)
CONTAINER_RUN = os.environ.get('CONTAINER_RUN', '').split()  # the runtime's command prefix
KIT = Path(os.environ.get('IIF_KIT_DIR', str(REPO)))  # the checkout as the jobs see it


def job_env(**extra) -> dict:
    """What every task needs: CPU processes, the kit the jobs see, 1 CPU per task."""
    env = dict(os.environ, IIF_DEVICE='cpu', PYTHON=PYTHON, CPUS_PER_TASK='1',
               PYTHONPATH=str(KIT))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, cwd, env=None, timeout=900) -> subprocess.CompletedProcess:
    return run_command(cmd, cwd, env or job_env(), timeout)


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
    """data/smoke as configs/smoke expect, in a directory both nodes see (one host here; under
    /tmp, which ch-run shares with the host), written by the kit the jobs run."""
    wd = tmp_path_factory.mktemp('cluster_wd')
    result = run([*CONTAINER_RUN, PYTHON, '-m', 'iif.cli', 'smoke-data', '--root',
                  wd / 'data' / 'smoke'], cwd=wd)
    assert result.returncode == 0, explain(result)
    return wd
