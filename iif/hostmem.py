"""Host-memory settings of glibc's allocator for the data path (standard library only).

glibc serves a request above ``M_MMAP_THRESHOLD`` with its own mmap and unmaps it on free,
but by default it raises that threshold (up to 32 MB) whenever such a block is freed. The
training pipeline allocates 5-13 MB image arrays of varying sizes, so after the first few the
threshold is above them and they come from the heap, whose free space stays resident and
fragments: each DataLoader worker's private memory then creeps up with iterations (measured in
docs/data-scale.md: 125-170 MB -> 450 MB per worker over 150 iterations at default settings,
flat at 30-95 MB with a fixed threshold). A fixed threshold keeps large arrays on mmap.
"""
from __future__ import annotations

import ctypes
import os
from typing import Optional

MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, made fixed
_M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h
ENV_VARIABLE = 'MALLOC_MMAP_THRESHOLD_'  # glibc reads it at start-up; a set value wins


def _libc() -> Optional[ctypes.CDLL]:
    try:
        return ctypes.CDLL('libc.so.6')
    except OSError:  # not glibc (musl, macOS): nothing to tune
        return None


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold in this process and in the DataLoader workers it forks later
    (fork copies the setting). Does nothing when ``MALLOC_MMAP_THRESHOLD_`` is set (the user's
    choice, already applied by glibc) or off glibc. True when this call set it."""
    if os.environ.get(ENV_VARIABLE):
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


__all__ = ['ENV_VARIABLE', 'MMAP_THRESHOLD_BYTES', 'fix_mmap_threshold', 'release_freed_memory']
