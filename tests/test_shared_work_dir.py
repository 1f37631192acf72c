"""The start-of-run check that a multi-process run's work dir is one shared filesystem: two gloo
processes on one host, once sharing the dir and once each with its own (as two nodes with
node-local disks would be)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from iif.engine.launch import DistInfo


def _worker(rank, init_file, scenarios, out_dir):
    import torch.distributed as dist
    from iif.engine.shared_fs import check_shared_work_dir
    from iif.errors import UserError
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    outcomes = []
    for dirs in scenarios:
        try:
            check_shared_work_dir(dirs[rank], DistInfo(True, rank, 2, rank, 'cpu'))
            outcomes.append('ok')
        except UserError as e:
            outcomes.append(str(e))
    Path(out_dir, f'rank{rank}.json').write_text(json.dumps(outcomes))
    dist.barrier()


def _run_two_ranks(tmp_path, scenarios):
    """Each scenario: the work dir rank 0 and rank 1 see; one process group (spawning is slow)."""
    scenarios = [[str(d) for d in dirs] for dirs in scenarios]
    workers = torch.multiprocessing.spawn(
        _worker, args=(str(tmp_path / 'init'), scenarios, str(tmp_path)), nprocs=2, join=False)
    deadline = time.time() + 300
    while not workers.join(timeout=5):
        if time.time() > deadline:
            for process in workers.processes:
                process.kill()
            pytest.fail('the 2-process gloo workers did not finish in 300 s')
    return [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1)]


def test_shared_work_dir_passes_node_local_ones_stop_every_rank(tmp_path):
    shared = tmp_path / 'work'
    node0, node1 = tmp_path / 'node0' / 'work', tmp_path / 'node1' / 'work'
    (ok0, local0), (ok1, local1) = _run_two_ranks(tmp_path, [[shared, shared], [node0, node1]])
    assert ok0 == ok1 == 'ok'
    assert list(shared.iterdir()) == []  # the probe is removed
    for outcome in (local0, local1):  # both ranks stop, with the same message
        assert 'is not one shared filesystem' in outcome and 'rank 1 on' in outcome, outcome
        assert 'rank 0 on' not in outcome and 'every node mounts' in outcome
    assert list(node0.iterdir()) == []  # the probe is removed
