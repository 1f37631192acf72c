"""Host-memory settings of glibc's allocator for the data path (standard library only).

glibc serves a request above ``M_MMAP_THRESHOLD`` with its own mmap and unmaps it on free,
but by default it raises that threshold (up to 32 MB) whenever such a block is freed. The
training pipeline allocates 5-13 MB image arrays of varying sizes, so after the first few the
threshold is above them and they come from the heap, whose free space stays resident and
fragments: each DataLoader worker's private memory then creeps up with iterations (measured in
docs/data-scale.md: 125-170 MB -> 450 MB per worker over 150 iterations at default settings,
flat at 30-150 MB with a fixed threshold). A fixed threshold keeps large arrays on mmap.
The price is CPU: every large array is a fresh mapping, faulted in and zeroed by the kernel
(measured: 55-80 ms of system time per training image on the 2-core dev VM). Set
``IIF_MMAP_THRESHOLD=0`` to keep glibc's default (faster loader, growing memory), or a byte
count for another fixed threshold.
"""
from __future__ import annotations

import ctypes
import os
from typing import Optional

from iif.errors import UserError

MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, made fixed
_M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h
ENV_VARIABLE = 'MALLOC_MMAP_THRESHOLD_'  # glibc reads it at start-up; a set value wins
KIT_VARIABLE = 'IIF_MMAP_THRESHOLD'  # bytes; 0 keeps glibc's dynamic default


def _libc() -> Optional[ctypes.CDLL]:
    try:
        return ctypes.CDLL('libc.so.6')
    except OSError:  # not glibc (musl, macOS): nothing to tune
        return None


def fix_mmap_threshold(threshold: Optional[int] = None) -> bool:
    """Fix glibc's mmap threshold in this process and in the DataLoader workers it forks later
    (fork copies the setting): ``threshold`` bytes, else ``IIF_MMAP_THRESHOLD``, else 128 KiB.
    Does nothing for 0, when ``MALLOC_MMAP_THRESHOLD_`` is set (the user's choice, already
    applied by glibc) or off glibc. True when this call set it."""
    if threshold is None:
        value = os.environ.get(KIT_VARIABLE, '').strip() or str(MMAP_THRESHOLD_BYTES)
        try:
            threshold = int(value)
        except ValueError:
            raise UserError(f'{KIT_VARIABLE}={value!r}: expected a number of bytes (0 keeps '
                            f"glibc's default)") from None
        if threshold < 0:
            raise UserError(f'{KIT_VARIABLE}={value!r}: expected a number of bytes >= 0 (0 '
                            f"keeps glibc's default)")
    if threshold == 0 or os.environ.get(ENV_VARIABLE):
        return False
    libc = _libc()
    mallopt = getattr(libc, 'mallopt', None)
    return bool(mallopt and mallopt(_M_MMAP_THRESHOLD, int(threshold)) == 1)


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc only), so a
    GB-sized parse does not stay in the resident size of every process."""
    import gc
    gc.collect()
    libc = _libc()
    if libc is not None and hasattr(libc, 'malloc_trim'):
        libc.malloc_trim(0)


__all__ = ['ENV_VARIABLE', 'KIT_VARIABLE', 'MMAP_THRESHOLD_BYTES', 'fix_mmap_threshold',
           'release_freed_memory']
