"""Two containers as two nodes through compose.multinode.yaml (host network, static torchrun
rendezvous on node 0), and a node that dies ending the run within IIF_DIST_TIMEOUT_MIN instead
of the 3-hour default, with a message on the surviving node that says so. Needs Docker and the
built image, as the other container tests."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMOKE = 'configs/smoke/iif_r18_fpn_smoke.py'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_node(rank: int, port: int, work_dirs: Path, name: str, *args) -> subprocess.Popen:
    env = dict(os.environ, COMPOSE_FILE='compose.yaml:compose.cpu.yaml:compose.multinode.yaml',
               NNODES='2', NODE_RANK=str(rank), MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
               WORK_DIRS=str(work_dirs), IIF_DIST_TIMEOUT_MIN='1')
    return subprocess.Popen(['docker', 'compose', 'run', '--rm', '--name', name, 'train', SMOKE,
                             '1', '--seed', '3', *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(node: subprocess.Popen, timeout: float) -> str:
    try:
        out, _ = node.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        node.kill()
        out, _ = node.communicate()
        raise AssertionError(f'node still running after {timeout} s:\n{out[-4000:]}') from None
    return out


def start_two_nodes(tmp_path, run: str, *cfg_options: str):
    """Nodes 0 and 1 of one training run in work_dirs/<run>: (work_dirs, names, processes)."""
    work_dirs = tmp_path / 'work_dirs'
    work_dirs.mkdir(mode=0o777)
    work_dirs.chmod(0o777)  # the containers run as the UID of .env
    port = free_port()
    args = ('--work-dir', f'work_dirs/{run}', '--cfg-options', *cfg_options)
    names = [f'iif-node{r}-{port}' for r in (0, 1)]
    return work_dirs, names, [start_node(r, port, work_dirs, names[r], *args) for r in (0, 1)]


def test_two_containers_train_as_two_nodes(tmp_path):
    work_dirs, _, nodes = start_two_nodes(tmp_path, 'two_nodes', 'runner.max_epochs=1',
                                          'evaluation.interval=1')
    outs = [finish(n, 1200) for n in nodes]
    for node, out in zip(nodes, outs):
        assert node.returncode == 0, out[-5000:]
    run_dir = work_dirs / 'two_nodes'
    record = json.loads((run_dir / 'run.json').read_text())
    assert record['world_size'] == 2 and record['device'] == 'cpu'
    metrics = json.loads((run_dir / 'metrics.json').read_text())
    assert metrics['segm']['AR@300'] >= 0 and metrics['bbox']['AP50'] >= 0
    assert not list(run_dir.glob('.shared-fs-check-*'))


def test_a_dead_node_ends_the_run_within_the_timeout(tmp_path):
    work_dirs, names, nodes = start_two_nodes(tmp_path, 'dead_node', 'runner.max_epochs=3',
                                              'evaluation.interval=3')
    try:
        deadline = time.time() + 900
        while not (work_dirs / 'dead_node' / 'epoch_1.pth').is_file():
            assert time.time() < deadline and nodes[0].poll() is None, 'epoch 1 never ended'
            time.sleep(2)
        subprocess.run(['docker', 'kill', names[1]], capture_output=True)
        killed = time.time()
        out = finish(nodes[0], 300)  # IIF_DIST_TIMEOUT_MIN=1 plus torchrun's shutdown
        assert nodes[0].returncode != 0, out[-5000:]
        assert time.time() - killed < 300
        # what the surviving node's user reads: the problem, the timeout option and the fix
        assert 'error: rank 0 of 2 lost contact with another process of the run' in out, \
            out[-5000:]
        assert any(s in out for s in ('closed by peer', 'reset by peer', 'Timed out waiting',
                                      'pair closure')), out[-5000:]
        assert 'IIF_DIST_TIMEOUT_MIN=1 minutes' in out and '--auto-resume' in out, out[-5000:]
        assert 'epoch_3.pth' not in os.listdir(work_dirs / 'dead_node')
    finally:
        for name in names:
            subprocess.run(['docker', 'rm', '-f', name], capture_output=True)
        for node in nodes:
            if node.poll() is None:
                node.kill()
