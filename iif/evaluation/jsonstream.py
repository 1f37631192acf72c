"""Streaming reader of results JSON: a list of results read ~1 MB at a time.

A results JSON (one file or several per-rank shards) is split at top-level ``}, {`` boundaries
and each piece is parsed with orjson (or read into columns by a scanner such as
:func:`iif.evaluation.scan.segm_columns`), so only one piece exists as Python objects at a time.
A split that falls inside a string or a nested value makes that piece invalid JSON; the reader
then falls back to parsing the whole file (stdlib ``json``, which also accepts the ``NaN`` that
``json.dump`` writes, so that validation can name it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from iif.errors import MissingFileError

from .common import PathLike, ResultsFormatError, is_path, parse_json_file, orjson

# Results are parsed and converted ~1 MB at a time: small pieces keep the freshly made Python
# objects in cache while their fields are extracted and reuse freed memory (measured ~3x faster
# than 64 MB pieces), and bound the memory held by Python objects.
CHUNK_BYTES = 1 << 20        # bytes of results JSON parsed at a time
READ_BYTES = 16 << 20        # bytes read from the file at a time
CHUNK_ENTRIES = 8192         # entries of an in-memory result list handled at a time


def result_sources(results) -> Tuple[Optional[List[PathLike]], Optional[list]]:
    """Split ``results`` into (shard paths, None) or (None, in-memory list)."""
    if is_path(results):
        return [results], None
    if isinstance(results, tuple):
        results = list(results)
    if not isinstance(results, list):
        raise TypeError('results must be a path, a list of paths (shards) or a list of result '
                        f'dicts, not {type(results).__name__}')
    if results and all(is_path(r) for r in results):
        return results, None
    if any(is_path(r) for r in results):
        raise TypeError('results mixes file paths and result dicts')
    return None, results


def check_files(paths: Sequence[PathLike]) -> None:
    missing = [os.fspath(p) for p in paths if not os.path.isfile(p)]
    if missing:
        raise MissingFileError(f'results file not found: {", ".join(missing)}')


@dataclass
class Chunk:
    entries: list
    offset: int                  # index of entries[0] in the concatenated results
    source: Optional[str]        # shard file, or None for an in-memory list
    source_offset: int           # index of entries[0] inside that file


def _split_point(buf: bytearray, start: int, end: int) -> int:
    """Position just after the last ``}`` in buf[start:end] that is followed by ``,`` and ``{``.

    Returns -1 when none is found. Whether it is really between two top-level entries is
    checked by parsing the piece (see the module docstring).
    """
    n = len(buf)
    pos = min(end, n)
    while True:
        pos = buf.rfind(b'}', start, pos)
        if pos < 0:
            return -1
        j = pos + 1
        while j < n and buf[j] in b' \t\r\n':
            j += 1
        if j < n and buf[j] == 0x2C:  # ','
            j += 1
            while j < n and buf[j] in b' \t\r\n':
                j += 1
            if j < n and buf[j] == 0x7B:  # '{'
                return pos + 1


def _whole_list(path: PathLike) -> list:
    whole = parse_json_file(path, 'results', ResultsFormatError)
    if not isinstance(whole, list):
        raise ResultsFormatError(f'results file {os.fspath(path)} must contain a JSON list of '
                                 f'results, got {type(whole).__name__}')
    return whole


@dataclass
class ScannedPiece:
    """A piece of a results file read into columns by a scanner (no dict per entry)."""
    columns: tuple
    size: int

    def __len__(self) -> int:
        return self.size


class WholeFileNeeded(Exception):
    """A piece of the file could not be read on its own (see :func:`iter_file_entries`)."""


def iter_file_entries(path: PathLike, chunk_bytes: Optional[int] = None, scan=None,
                      only=None) -> Iterator[Union[list, ScannedPiece, None]]:
    """Yield the entries of a JSON list file in pieces of about chunk_bytes.

    Pieces are parsed in place: the byte before a piece (the list's ``[`` or the separating
    ``,``) and the one after its last ``}`` are overwritten with ``[`` and ``]`` and orjson reads a
    memoryview, so the file's bytes are never copied. ``scan`` (bytes of the entries -> columns
    tuple or None, e.g. :func:`iif.evaluation.scan.segm_columns`) is tried first on each piece;
    where it gives columns, a :class:`ScannedPiece` is yielded instead of a list.

    ``only`` (piece number -> bool) reads a share of the pieces, for reading a file in several
    processes: every piece is yielded, in order, those it rejects as None without scanning or
    parsing them (the cuts between pieces do not depend on their contents), and where the whole
    file would have to be parsed instead, :class:`WholeFileNeeded` is raised.
    """
    if not os.path.isfile(path):
        raise MissingFileError(f'results file not found: {os.fspath(path)}')
    yielded = 0
    piece = -1
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    read_bytes = max(chunk_bytes, READ_BYTES)
    with open(path, 'rb') as f:
        buf = bytearray(f.read(read_bytes))
        lead = len(buf) - len(buf.lstrip())
        if orjson is None or buf[lead:lead + 1] != b'[':
            if only is not None:
                raise WholeFileNeeded(path)
            yield _whole_list(path)
            return
        start = lead + 1  # first byte of the list body; buf[start - 1] is '['
        eof = False
        while True:
            while not eof and len(buf) - start < chunk_bytes:
                more = f.read(read_bytes)
                if not more:
                    eof = True
                    break
                del buf[:start - 1]  # O(1) for a bytearray's head
                start = 1
                buf += more
            cut = _split_point(buf, start, start + chunk_bytes) if not eof else -1
            if cut < 0 and not eof:
                cut = _split_point(buf, start, len(buf))
                if cut < 0:  # no boundary yet (a huge entry): read on
                    more = f.read(read_bytes)
                    eof = not more
                    buf += more
                    continue
            piece += 1
            if only is not None and not only(piece):
                yield None
                if cut < 0:
                    return
                start = buf.index(b',', cut) + 1
                continue
            buf[start - 1] = 0x5B  # '['
            if cut >= 0:
                comma = buf.index(b',', cut)
                buf[cut] = 0x5D  # ']'
                stop = cut + 1
            else:
                stop = len(buf)
            if scan is not None:
                with memoryview(buf) as mv:
                    body = bytes(mv[start:cut if cut >= 0 else stop])
                if cut < 0:  # the last piece: entries, then the list's ']'
                    body = body.rstrip(b' \t\r\n')
                    body = body[:-1] if body.endswith(b']') else b''
                cols = scan(body) if body else None
                del body
                if cols is not None:
                    n = len(cols[0])
                    yield ScannedPiece(cols, n)
                    yielded += n
                    if cut < 0:
                        return
                    start = comma + 1
                    continue
            with memoryview(buf) as mv:
                try:
                    entries = orjson.loads(mv[start - 1:stop])
                except orjson.JSONDecodeError:
                    entries = None
            if not isinstance(entries, list):
                break  # fall back below
            if entries or only is not None:
                yield entries
                yielded += len(entries)
            del entries
            if cut < 0:
                return
            start = comma + 1
    # fallback: the split guess failed or the file is not plain JSON (NaN, trailing data, ...)
    if only is not None:
        raise WholeFileNeeded(path)
    whole = _whole_list(path)
    if yielded > len(whole):  # cannot happen with a consistent file
        raise ResultsFormatError(f'results file {os.fspath(path)} changed while being read')
    rest = whole[yielded:]
    del whole
    if rest:
        yield rest


def iter_chunks(results, chunk_bytes: Optional[int] = None,
                chunk_entries: Optional[int] = None, scan=None) -> Iterator[Chunk]:
    paths, items = result_sources(results)
    chunk_entries = chunk_entries or CHUNK_ENTRIES
    offset = 0
    if paths is not None:
        check_files(paths)
        for path in paths:
            local = 0
            for entries in iter_file_entries(path, chunk_bytes, scan):
                n = len(entries)
                chunk = Chunk(entries, offset, os.fspath(path), local)
                del entries  # the consumer clears chunk.entries when done with them
                yield chunk
                del chunk
                offset += n
                local += n
    else:
        for s in range(0, len(items), chunk_entries):
            yield Chunk(items[s:s + chunk_entries], s, None, s)
