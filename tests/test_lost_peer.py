"""A process of a distributed run whose peer died (socket closed) or went silent (past the
process-group timeout) ends with a message that names the problem, the timeout option and the
fix, instead of gloo's bare traceback. Two CPU processes with gloo, as two nodes would be."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1]
# rank 1 leaves after the first all_reduce (exits, or stops answering); rank 0 reduces again
RUN = '''
import os, signal, sys
import torch, torch.distributed as dist
from iif.engine.entry import _report
from iif.engine.launch import init_distributed

def job(argv):
    info = init_distributed('pytorch')
    t = torch.ones(2)
    dist.all_reduce(t)
    if info.rank == 1:
        if argv[0] == 'stop':
            os.kill(os.getpid(), signal.SIGSTOP)
        os._exit(0)
    dist.all_reduce(t)
    return 0

sys.exit(_report(job, sys.argv[1:]))
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# gloo's own reason for a peer that exited depends on timing: closed or reset
@pytest.mark.parametrize('peer, said', [('exit', ('Connection closed by peer',
                                                  'Connection reset by peer')),
                                        ('stop', ('Timed out waiting',))])
def test_a_lost_peer_is_named_with_the_timeout_and_the_fix(peer, said):
    port = free_port()
    procs = []
    for rank in (0, 1):
        env = dict(os.environ, IIF_DEVICE='cpu', IIF_DIST_TIMEOUT_MIN='0.2', RANK=str(rank),
                   WORLD_SIZE='2', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
                   MASTER_PORT=str(port), PYTHONPATH=str(KIT))
        procs.append(subprocess.Popen([sys.executable, '-c', RUN, peer], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    started = time.time()
    try:
        _, err = procs[0].communicate(timeout=120)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert procs[0].returncode == 1, err
    assert 'error: rank 0 of 2 lost contact with another process of the run' in err, err
    assert any(reason in err for reason in said), err
    assert 'IIF_DIST_TIMEOUT_MIN=0.2 minutes' in err and '--auto-resume' in err, err
    assert 'Traceback' not in err, err
    assert time.time() - started < 60  # 12 s timeout for the silent peer, at once for the dead
