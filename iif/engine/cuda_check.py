"""Fail-closed checks before a GPU run: mmcv's ops were compiled with CUDA, and every visible
GPU can run the compiled kernels (its compute capability is covered by the image's arch list).

Without them an image built on a base without nvcc, or for other GPUs, starts a run that dies
later inside RoIAlign or NMS ("not compiled with GPU support", "no kernel image is available").
The probes are gathered in :class:`CudaProbe` so that tests can fake them.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from iif.errors import UserError

# The arch list the image's mmcv ops were compiled for (docker/Dockerfile sets it from the
# build argument TORCH_CUDA_ARCH_LIST; also the label io.iif.cuda-arch-list).
ARCH_LIST_ENV = 'IIF_CUDA_ARCH_LIST'
REBUILD_HINT = ('Rebuild the image with CUDA ops for your GPUs: make build '
                'TORCH_CUDA_ARCH_LIST="{archs}" (on a CUDA devel base image, or with '
                'CUDA_TOOLKIT=debian; see docs/cuda.md)')

Capability = Tuple[int, int]


@dataclass
class GpuInfo:
    index: int
    name: str
    capability: Capability


@dataclass
class CudaProbe:
    """What the checks look at. ``compiled_cuda``: mmcv.ops.get_compiling_cuda_version()
    ('not available' for CPU-only ops); ``arch_list``: the image's TORCH_CUDA_ARCH_LIST (None
    outside the image: not checked); ``gpus``: the visible GPUs."""
    compiled_cuda: str
    arch_list: Optional[str]
    gpus: List[GpuInfo] = field(default_factory=list)


def probe_cuda() -> CudaProbe:
    """The real probes (imports mmcv.ops and queries the GPUs: call only when using CUDA)."""
    import torch
    try:
        from mmcv.ops import get_compiling_cuda_version
        compiled = str(get_compiling_cuda_version())
    except (ImportError, OSError, AttributeError) as e:  # _ext missing or not loadable
        compiled = f'not available (mmcv.ops does not load: {e})'
    gpus = [GpuInfo(i, torch.cuda.get_device_name(i), tuple(torch.cuda.get_device_capability(i)))
            for i in range(torch.cuda.device_count())]
    return CudaProbe(compiled, os.environ.get(ARCH_LIST_ENV), gpus)


def parse_arch_list(text: str) -> List[Tuple[Capability, bool]]:
    """'7.0;8.0 9.0+PTX' -> [((7, 0), False), ((8, 0), False), ((9, 0), True)] (True: PTX)."""
    archs = []
    for item in re.split(r'[;\s,]+', text.strip()):
        if not item:
            continue
        m = re.fullmatch(r'(\d+)\.(\d+)a?(\+PTX)?', item, flags=re.IGNORECASE)
        if not m:
            raise UserError(f'{ARCH_LIST_ENV}={text!r}: {item!r} is not an arch like 8.0 or '
                            '8.6+PTX')
        archs.append(((int(m.group(1)), int(m.group(2))), bool(m.group(3))))
    return archs


def arch_covers(archs: Sequence[Tuple[Capability, bool]], gpu: Capability) -> bool:
    """A cubin for sm_XY runs on GPUs of the same major X and minor >= Y; PTX for XY is
    compiled by the driver for any GPU >= XY."""
    return any((cap[0] == gpu[0] and cap[1] <= gpu[1]) or (ptx and cap <= gpu)
               for cap, ptx in archs)


def _fmt(cap: Capability) -> str:
    return f'{cap[0]}.{cap[1]}'


def cuda_problems(probe: CudaProbe) -> List[str]:
    problems = []
    if not re.match(r'\d', probe.compiled_cuda):
        problems.append(f"mmcv's ops were compiled without CUDA "
                        f'(mmcv.ops.get_compiling_cuda_version(): {probe.compiled_cuda}): '
                        'RoIAlign and NMS cannot run on the GPU')
    elif probe.arch_list is not None:
        archs = parse_arch_list(probe.arch_list)
        for gpu in probe.gpus:
            if not arch_covers(archs, gpu.capability):
                problems.append(f'GPU {gpu.index} ({gpu.name}) has compute capability '
                                f'{_fmt(gpu.capability)}, which the image\'s CUDA ops were not '
                                f'compiled for (TORCH_CUDA_ARCH_LIST="{probe.arch_list}")')
    return problems


def check_cuda_build(probe: Optional[CudaProbe] = None) -> None:
    """Raise a UserError naming the rebuild command when a GPU run could not use mmcv's ops."""
    probe = probe if probe is not None else probe_cuda()
    problems = cuda_problems(probe)
    if problems:
        wanted = sorted({_fmt(g.capability) for g in probe.gpus}
                        | {_fmt(cap) for cap, _ in parse_arch_list(probe.arch_list or '')})
        archs = ' '.join(wanted) or '7.0 7.5 8.0 8.6 8.9 9.0'
        raise UserError('this image cannot run on the GPU:\n  - ' + '\n  - '.join(problems)
                        + '\n' + REBUILD_HINT.format(archs=archs)
                        + '. Or run on CPU processes with IIF_DEVICE=cpu.')
