"""Writing files so that a reader, or a crash, never sees half of one.

One durability policy for the whole kit: write a temporary file in the target's directory (the
rename must not cross file systems), fsync it, ``os.replace`` it over the target (atomic on
POSIX), then fsync the directory so the rename itself survives a power cut. Standard library only.
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Optional, Union

PathLike = Union[str, os.PathLike]


def _fsync_path(path: Path, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, 'O_DIRECTORY', 0) if directory else 0))
    except OSError:
        return  # e.g. a directory that cannot be opened on this platform: rename still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and /dev/shm) do not support fsync on directories
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: PathLike, suffix: str = '') -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for the caller (or a library: ``torch.save``,
    ``savefig``) to write; when the block ends without an error it replaces ``path`` durably,
    else it is removed and ``path`` is left as it was. ``suffix`` keeps an extension that the
    writer reads the format from (``'.png'``). Parent directories are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp{suffix}')
    try:
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    _fsync_path(path.parent, directory=True)


@contextmanager
def atomic_write(path: PathLike, mode: str = 'w', encoding: Optional[str] = 'utf-8',
                 newline: Optional[str] = None) -> Iterator[IO]:
    """``open(path, mode)`` for writing, through :func:`atomic_path`."""
    if 'b' in mode:
        encoding = None
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding, newline=newline) as f:
            yield f


def write_text_atomic(path: PathLike, text: str) -> Path:
    with atomic_write(path) as f:
        f.write(text)
    return Path(path)


def write_bytes_atomic(path: PathLike, data: bytes) -> Path:
    with atomic_write(path, 'wb') as f:
        f.write(data)
    return Path(path)


def write_json_atomic(path: PathLike, obj, indent: Optional[int] = 2) -> Path:
    """``obj`` as JSON (indented, with a final newline)."""
    return write_text_atomic(path, json.dumps(obj, indent=indent) + '\n')


def sha256_file(path: PathLike, block: int = 1 << 20) -> str:
    """The hex sha256 of a file, read ``block`` bytes at a time."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(block), b''):
            h.update(chunk)
    return h.hexdigest()
