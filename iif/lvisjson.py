"""Read a (GB-sized) LVIS/COCO annotation JSON file without holding it in memory.

``json.load`` / ``orjson.loads`` of LVIS v1 train (1.1 GB, 1.27M annotations with polygons)
build ~5 GB of Python objects. :func:`stream_annotations` reads the file in chunks and hands
each element of the top-level ``annotations`` array to a callback, one at a time, returning the
other top-level keys (images, categories, ...) parsed as usual; the peak is one chunk plus the
largest other value plus what the callback keeps. The values are exactly what ``json.load``
gives (the standard library's decoder parses every value); ``tests/test_lvisjson.py`` compares.

Standard library only: ``iif weights`` and ``iif data verify`` use it without torch or mmdet.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Union

from iif.errors import UserError

_SPACE = re.compile(r'[ \t\n\r]*')
_DECODE = json.JSONDecoder().raw_decode
CHUNK_CHARS = 1 << 24  # 16 Mi characters read at a time (one value may need several)
# a decode error this close to the end of the text read so far may be a value cut by the chunk
# boundary (a literal, an escape); further back it is an error in the file
_CUT_MARGIN = 64


class AnnotationFileError(UserError, ValueError):
    """The file is not valid JSON or not a JSON object; ``detail`` says what and where."""

    def __init__(self, path, detail: str):
        self.path, self.detail = str(path), detail
        super().__init__(f'{path}: invalid JSON ({detail}); check the file or download it again')


@dataclass
class StreamedFile:
    top: Dict[str, Any]  # every top-level key except a streamed ``annotations`` list
    num_annotations: Optional[int]  # None: the file has no ``annotations`` list


class _Reader:
    """A window of the file's text with the position of the next character to parse."""

    def __init__(self, f, path, chunk_chars: int):
        self.f, self.path, self.chunk = f, path, chunk_chars
        self.buf, self.pos, self.base, self.eof = '', 0, 0, False

    def more(self) -> bool:
        """Drop the parsed text and read the next chunk (at least as much as is still
        unparsed, so one large value takes a few reads, not one per chunk); False at the end."""
        if self.eof:
            return False
        rest = self.buf[self.pos:]
        data = self.f.read(max(self.chunk, len(rest)))
        self.base += self.pos
        self.buf, self.pos = rest + data, 0
        self.eof = not data
        return bool(data)

    def error(self, what: str, pos: Optional[int] = None) -> AnnotationFileError:
        offset = self.base + (self.pos if pos is None else pos)
        return AnnotationFileError(self.path, f'{what} at character {offset}')

    def peek(self) -> str:
        """The next non-space character ('' at the end of the file), not consumed."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos:self.pos + 1]

    def expect(self, chars: str) -> str:
        char = self.peek()
        if not char:
            raise self.error('the file ends early (truncated?)')
        if char not in chars:
            raise self.error(f'expected {" or ".join(map(repr, chars))}, found {char!r}')
        self.pos += 1
        return char

    def value(self) -> Any:
        if not self.peek():
            raise self.error('the file ends early (truncated?)')
        while True:
            try:
                value, end = _DECODE(self.buf, self.pos)
            except json.JSONDecodeError as e:
                maybe_cut = (e.pos >= len(self.buf) - _CUT_MARGIN
                             or e.msg.startswith('Unterminated string'))
                if maybe_cut and self.more():
                    continue
                if maybe_cut:
                    raise self.error(f'{e.msg}; the file ends early (truncated?)', e.pos) from None
                raise self.error(e.msg, e.pos) from None
            # a number or literal that ends the text read so far may go on in the next chunk
            if end == len(self.buf) and self.more():
                continue
            self.pos = end
            return value


def stream_annotations(path: Union[str, os.PathLike], on_annotation: Callable[[Any], None],
                       chunk_chars: Optional[int] = None) -> StreamedFile:
    """Parse ``path`` like ``json.load``, but pass each element of the top-level
    ``annotations`` array to ``on_annotation`` (in file order) instead of keeping it.

    Raises :class:`AnnotationFileError` (a UserError and a ValueError) for invalid JSON or a
    top level that is not an object; a missing file raises FileNotFoundError.
    """
    try:
        return _stream(path, on_annotation, chunk_chars or CHUNK_CHARS)
    except UnicodeDecodeError as e:
        raise AnnotationFileError(path, f'not UTF-8 text: {e.reason} (byte {e.start} of a '
                                        f'chunk)') from None


def _stream(path, on_annotation: Callable[[Any], None], chunk_chars: int) -> StreamedFile:
    top: Dict[str, Any] = {}
    num_annotations: Optional[int] = None
    with open(path, encoding='utf-8') as f:
        r = _Reader(f, path, chunk_chars)
        if r.peek() != '{':
            raise r.error('not a JSON annotation file: the top level is not an object (an LVIS '
                          'file starts with "{")')
        r.pos += 1
        if r.peek() == '}':
            r.pos += 1
        else:
            while True:
                key = r.value()
                if not isinstance(key, str):
                    raise r.error('expected a key (a string)')
                r.expect(':')
                if key == 'annotations' and r.peek() == '[':
                    r.pos += 1
                    top.pop(key, None)  # a repeated key: the last one counts, as in json.load
                    num_annotations = 0
                    if r.peek() == ']':
                        r.pos += 1
                    else:
                        while True:
                            on_annotation(r.value())
                            num_annotations += 1
                            if r.expect(',]') == ']':
                                break
                else:
                    top[key] = r.value()
                    if key == 'annotations':
                        num_annotations = None
                if r.expect(',}') == '}':
                    break
        if r.peek():
            raise r.error('extra data after the JSON object')
    return StreamedFile(top, num_annotations)


__all__ = ['AnnotationFileError', 'CHUNK_CHARS', 'StreamedFile', 'stream_annotations']
