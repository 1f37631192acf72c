"""A multi-node run needs its work dir on one filesystem that every node mounts: every rank
writes result shards that rank 0 reads, and every rank loads rank 0's checkpoints on resume.
Checked once at start, so a node-local work dir stops the run with a clear error instead of
failing hours later (or evaluating only rank 0's shard)."""
from __future__ import annotations

import socket
import uuid
from pathlib import Path

import torch.distributed as dist

from iif.errors import UserError
from .launch import DistInfo


def check_shared_work_dir(work_dir, info: DistInfo) -> None:
    """Rank 0 writes a token file into work_dir; after a barrier every rank must read it."""
    if not info.distributed:
        return
    token = [uuid.uuid4().hex if info.is_main else None]
    dist.broadcast_object_list(token, src=0)
    probe = Path(work_dir) / f'.shared-fs-check-{token[0]}'
    if info.is_main:
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text(token[0])
    dist.barrier()
    try:
        seen = probe.read_text() == token[0]
    except OSError:
        seen = False
    views = [None] * info.world_size
    dist.all_gather_object(views, (seen, socket.gethostname()))
    dist.barrier()  # every rank has looked before rank 0 removes the probe
    if info.is_main:
        probe.unlink(missing_ok=True)
    blind = [f'rank {r} on {host}' for r, (ok, host) in enumerate(views) if not ok]
    if blind:
        raise UserError(
            f'the work dir {work_dir} is not one shared filesystem: {", ".join(blind)} cannot '
            f'see the file rank 0 wrote there. Every rank writes result shards that rank 0 '
            'reads: put --work-dir on a filesystem every node mounts at the same path '
            '(docs/cluster.md, "Requirements of a multi-node run").')
