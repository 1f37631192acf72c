"""Device choice and process-group set-up that work with and without CUDA.

mmcv's ``init_dist`` calls ``torch.cuda.set_device`` and mmdet's ``build_ddp`` asserts CUDA,
so the kit sets up torch.distributed itself: NCCL on GPUs, gloo on CPU processes.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist

from iif.errors import UserError

DEVICE_ENV = 'IIF_DEVICE'  # auto | cuda | cpu
# How long a collective waits (torch's default: 30 min). Rank 0 evaluates alone while the
# other ranks wait at a barrier: lvis-api (--eval-backend lvis) on full LVIS v1 val takes
# ~26 min for bbox + segm at the rate measured in docs/evaluation.md (350 s + 427 s per
# 10000 images on 2 cores) and needs ~12 GB, slower on a busy node; 3 h covers several times
# that, while a rank that really died is still reported the same day.
# IIF_DIST_TIMEOUT_MIN overrides it.
DIST_TIMEOUT_ENV = 'IIF_DIST_TIMEOUT_MIN'
DEFAULT_DIST_TIMEOUT_MIN = 180


@dataclass
class DistInfo:
    distributed: bool
    rank: int
    world_size: int
    local_rank: int
    device: str  # 'cuda' or 'cpu'

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def requested_device() -> str:
    value = os.environ.get(DEVICE_ENV, 'auto').strip().lower() or 'auto'
    if value not in ('auto', 'cuda', 'cpu'):
        raise UserError(f'{DEVICE_ENV}={value!r} is not valid: use auto, cuda or cpu')
    return value


def resolve_device() -> str:
    """'cuda' when GPUs are visible (and not overridden), 'cpu' otherwise.

    IIF_DEVICE=cpu also hides the GPUs from this process and its children
    (CUDA_VISIBLE_DEVICES=''), so that nothing initialises CUDA behind the kit's back (mmcv's
    logger reads GPU memory, DataParallel moves the model to cuda:0 whenever CUDA is
    available). Effective when called before the first CUDA query, as the entry points do."""
    want = requested_device()
    if want == 'cpu':
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
        return 'cpu'
    if torch.cuda.is_available():
        return 'cuda'
    if want == 'cuda':
        raise UserError(f'{DEVICE_ENV}=cuda but no GPU is visible to this process '
                        '(torch.cuda.is_available() is False). Check the NVIDIA driver and, in '
                        'containers, the NVIDIA Container Toolkit (`docker run --gpus all ...`).')
    return 'cpu'


def check_process_count(gpus: int) -> str:
    """Validate the GPUS argument of the launch scripts; return the device the run will use.

    On GPU machines GPUS may not exceed the visible GPUs. Without GPUs, GPUS CPU processes are
    started only when IIF_DEVICE=cpu says so: a GPU job that silently fell back to the CPU
    would otherwise run for weeks.
    """
    if gpus < 1:
        raise UserError(f'GPUS must be a positive number of processes, got {gpus}')
    device = resolve_device()
    visible = torch.cuda.device_count() if device == 'cuda' else 0
    if device == 'cuda' and gpus > visible:
        raise UserError(
            f'{gpus} GPUs requested but only {visible} visible '
            f'(CUDA_VISIBLE_DEVICES={os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")}). '
            f'Pass GPUS <= {visible}, or expose more GPUs (compose: GPU_COUNT in .env).')
    if device == 'cpu' and requested_device() != 'cpu':
        raise UserError(
            f'{gpus} GPU(s) requested but no GPU is visible (torch.cuda.device_count() == 0). '
            'Check the NVIDIA driver and the NVIDIA Container Toolkit, or set IIF_DEVICE=cpu '
            'to run this many CPU processes instead (compose: use compose.cpu.yaml).')
    return device


def dist_timeout() -> datetime.timedelta:
    value = os.environ.get(DIST_TIMEOUT_ENV, '').strip()
    if not value:
        return datetime.timedelta(minutes=DEFAULT_DIST_TIMEOUT_MIN)
    try:
        minutes = float(value)
    except ValueError:
        minutes = -1
    if minutes <= 0:
        raise UserError(f'{DIST_TIMEOUT_ENV}={value!r} is not a positive number of minutes')
    return datetime.timedelta(minutes=minutes)


# What gloo, NCCL and the c10d store say when another process of the run is gone (its socket
# closed) or silent past the process-group timeout.
_LOST_PEER = ('closed by peer', 'reset by peer', 'broken pipe', 'connection refused',
              'timed out waiting', 'pair closure', 'collective operation timeout',
              'communicator was aborted', 'ncclremoteerror', 'socket timeout')


def lost_peer_error(exc: BaseException) -> Optional[str]:
    """The message for a collective that failed because another process of the run died or
    went silent (a dead node); None for any other error, which keeps its traceback."""
    text = str(exc)
    if not isinstance(exc, RuntimeError) or not dist.is_available() \
            or not dist.is_initialized() or not any(p in text.lower() for p in _LOST_PEER):
        return None
    minutes = dist_timeout().total_seconds() / 60
    return (f'rank {dist.get_rank()} of {dist.get_world_size()} lost contact with another '
            f'process of the run: {text.strip().splitlines()[0][:300]}\n'
            '  A node or process of this run ended (its own log shows the first error) or the '
            'network between the nodes failed; a silent peer is given up on after the '
            f'process-group timeout, {DIST_TIMEOUT_ENV}={minutes:g} minutes.\n'
            '  Fix: bring the nodes back and start the same command on every node; training '
            'with --auto-resume continues from the last epoch_N.pth in the work dir.')


def init_distributed(launcher: str) -> DistInfo:
    """Set up the process group for ``--launcher pytorch`` (torchrun's environment) or
    ``--launcher slurm`` (the same variables, from srun's: iif.engine.slurm)."""
    device = resolve_device()
    if launcher == 'none':
        return DistInfo(False, 0, 1, 0, device)
    if launcher == 'slurm' and 'RANK' not in os.environ:
        from .slurm import export_torch_env
        export_torch_env()
    elif launcher not in ('pytorch', 'slurm'):
        raise UserError(f'launcher {launcher!r} is not supported: use none, pytorch (torchrun) '
                        'or slurm (srun)')
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise UserError(f'--launcher pytorch needs torchrun\'s environment ({", ".join(missing)} '
                        'unset): start it with tools/dist_train.sh / tools/dist_test.sh')
    rank, world, local_rank = (int(os.environ[k]) for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'))
    if device == 'cuda':
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    if not dist.is_initialized():
        dist.init_process_group(backend='nccl' if device == 'cuda' else 'gloo',
                                timeout=dist_timeout())
    return DistInfo(world > 1, rank, world, local_rank, device)


def torch_device(info: DistInfo) -> torch.device:
    """This process's device: its own GPU under torchrun, or the CPU."""
    if info.device == 'cuda':
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast_int(value: int, info: DistInfo) -> int:
    """Rank 0's value on every rank (for the seed)."""
    if not info.distributed:
        return value
    t = torch.tensor([value], dtype=torch.int64,
                     device=f'cuda:{torch.cuda.current_device()}' if info.device == 'cuda'
                     else 'cpu')
    dist.broadcast(t, src=0)
    return int(t.item())
