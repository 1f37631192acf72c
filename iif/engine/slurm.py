"""``--launcher slurm``: torch.distributed's environment from the variables srun sets.

One srun task per process (mmdetection's convention): RANK, LOCAL_RANK and WORLD_SIZE come
from SLURM_PROCID, SLURM_LOCALID and SLURM_NTASKS; MASTER_ADDR is the first host of the step's
node list, where task 0 runs; MASTER_PORT is derived from the job id, so every node computes
the same port without talking to the others (mmcv's SLURM init picks "29500 if free locally,
else a random port", which can differ between nodes, and fails without CUDA). MASTER_ADDR and
MASTER_PORT already in the environment win. Torch-free, so it can be tested without a cluster.
"""
from __future__ import annotations

import os
import re
import subprocess
from typing import Dict, List, Mapping, Optional

from iif.errors import UserError

# MASTER_PORT = PORT_BASE + job id % PORT_SPAN: below Linux's ephemeral range (32768-60999),
# so outgoing connections never hold it, and two jobs sharing a node differ unless their ids
# are PORT_SPAN apart.
PORT_BASE = 20000
PORT_SPAN = 10000

_NODELIST_VARS = ('SLURM_STEP_NODELIST', 'SLURM_JOB_NODELIST', 'SLURM_NODELIST')
_TASK_VARS = {'RANK': 'SLURM_PROCID', 'LOCAL_RANK': 'SLURM_LOCALID', 'WORLD_SIZE': 'SLURM_NTASKS'}


def port_for_job(job_id: str) -> int:
    if not str(job_id).isdigit():
        raise UserError(f'SLURM_JOB_ID={job_id!r} is not a number: set MASTER_PORT yourself')
    return PORT_BASE + int(job_id) % PORT_SPAN


def _split_top_level(nodelist: str) -> List[str]:
    """'a[1-2],b3' -> ['a[1-2]', 'b3'] (commas inside brackets belong to the range)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(nodelist):
        depth += ch == '['
        depth -= ch == ']'
        if ch == ',' and depth == 0:
            parts.append(nodelist[start:i])
            start = i + 1
    parts.append(nodelist[start:])
    return [p.strip() for p in parts if p.strip()]


def expand_nodelist(nodelist: str) -> List[str]:
    """Host names of a SLURM node list: 'node[1-2]', 'gpu[01-03,7],login1', 'n1,n2'.

    A fallback for `scontrol show hostnames` (one bracket group per name, as SLURM writes
    them for ordinary clusters); anything else is an error naming the list."""
    hosts: List[str] = []
    for part in _split_top_level(nodelist):
        m = re.fullmatch(r'([^\[\]]*)\[([^\[\]]+)\]([^\[\]]*)', part)
        if m is None:
            if '[' in part or ']' in part:
                raise UserError(f'cannot read the SLURM node list {nodelist!r}: '
                                'set MASTER_ADDR to the first node\'s address')
            hosts.append(part)
            continue
        prefix, ranges, suffix = m.groups()
        for item in ranges.split(','):
            lo, _, hi = item.partition('-')
            if not lo.isdigit() or (hi and not hi.isdigit()):
                raise UserError(f'cannot read the SLURM node list {nodelist!r}: '
                                'set MASTER_ADDR to the first node\'s address')
            for n in range(int(lo), int(hi or lo) + 1):
                hosts.append(f'{prefix}{str(n).zfill(len(lo))}{suffix}')
    if not hosts:
        raise UserError(f'the SLURM node list {nodelist!r} names no host')
    return hosts


def first_host(nodelist: str) -> str:
    """The first host of a node list: scontrol's answer where it runs, else the parser's."""
    try:
        out = subprocess.run(['scontrol', 'show', 'hostnames', nodelist], capture_output=True,
                             text=True, timeout=30)
        if out.returncode == 0 and out.stdout.split():
            return out.stdout.split()[0]
    except (OSError, subprocess.SubprocessError):
        pass
    return expand_nodelist(nodelist)[0]


def torch_env_from_slurm(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT for this srun task."""
    env = os.environ if environ is None else environ
    missing = [v for v in _TASK_VARS.values() if v not in env]
    nodelist = next((env[v] for v in _NODELIST_VARS if env.get(v)), None)
    if missing or nodelist is None:
        raise UserError(
            '--launcher slurm runs one process per srun task, but '
            f'{", ".join(missing or ["SLURM_JOB_NODELIST"])} is unset: start it with '
            'tools/slurm_train.sh / tools/slurm_test.sh, or `srun ... python tools/train.py '
            'CONFIG --launcher slurm` inside an allocation')
    out = {k: str(int(env[v])) for k, v in _TASK_VARS.items()}
    out['MASTER_ADDR'] = env.get('MASTER_ADDR') or first_host(nodelist)
    out['MASTER_PORT'] = env.get('MASTER_PORT') or str(port_for_job(env.get('SLURM_JOB_ID', '')))
    return out


def export_torch_env() -> Dict[str, str]:
    """Put this task's torch.distributed variables into os.environ (before anything reads
    RANK or WORLD_SIZE); returns them."""
    values = torch_env_from_slurm()
    os.environ.update(values)
    return values
