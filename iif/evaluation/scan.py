"""Columns of segm results read straight from the JSON bytes, without a dict per result.

Parsing a results file into Python dicts and pulling the fields back out was about half of segm
evaluation time. Result files have a regular shape (mmdet's and the kit's writers emit the same
keys in the same order for every entry), so a piece of the file cut at every ``"`` is periodic:
keys, the text between keys (``:0.5,``), the RLE string, and the text between entries. The
tokens are kept as offsets (the positions of ``"`` in the piece), not as bytes objects. This module
recognises that shape from the first entry and checks every other entry against it:

* every key token equals the first entry's key at that position, and the structural tokens
  (``:{``, ``:``, ``}}, {``) are identical in every entry (JSON whitespace allowed, but the same);
* each value token is ``<prefix> value <suffix>`` with the first entry's prefix and suffix, holds
  exactly the expected colons, commas and brackets, and only bytes of JSON numbers and whitespace;
  the values of one field, for all entries, are then parsed by orjson as one JSON list of numbers
  (so the number grammar and its rounding are orjson's, the same as on the general path);
* RLE strings hold no control or non-ASCII bytes. They stay in the piece as an
  :class:`iif.evaluation.rle.RLEStrings` view (offsets); the evaluator copies out only the strings
  it keeps. Backslashes in them are JSON escapes: where every run of backslashes in the piece has
  even length they are escaped backslashes (common: ``\\`` is an RLE character), undone when a
  string is copied out; otherwise each string with a backslash is decoded by orjson as a JSON
  string (an odd escape or a lone trailing backslash fails there).

Anything else (other keys or key orders, a value of another type, NaN, varying whitespace, a piece
with one entry) returns None and the caller parses the piece with orjson as before, so the result
is the same as the general path's for any input; this path only makes the common case faster.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

import numpy as np

from .rle import RLEStrings

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in the lock file
    orjson = None

_WS = rb'[ \t\n\r]*'
_OPEN = re.compile(_WS + rb'\{' + _WS)
_JOINT = re.compile(_WS + rb'\}' + _WS + rb'\}' + _WS + rb',' + _WS + rb'\{' + _WS)
_CLOSE = re.compile(_WS + rb'\}' + _WS + rb'\}' + _WS)
_SEG_OPEN = re.compile(_WS + rb':' + _WS + rb'\{' + _WS)
_COLON = re.compile(_WS + rb':' + _WS)
_SCALAR = re.compile(rb'(' + _WS + rb':' + _WS + rb')[^,:\[\]{}]+?(' + _WS + rb',' + _WS + rb')')
_ARRAY = re.compile(rb'(' + _WS + rb':' + _WS + rb'\[' + _WS + rb')[^:\[\]{}]+?('
                    + _WS + rb'\]' + _WS + rb',' + _WS + rb')')

# bytes that may appear in the value tokens of numbers: digits, sign, point, exponent, JSON
# whitespace, and the structural ',', ':', '[', ']' whose counts and places are checked apart
_NUMBER_BYTES = np.zeros(256, bool)
_NUMBER_BYTES[np.frombuffer(b'0123456789+-.eE \t\n\r,:[]', np.uint8)] = True

_BLANK_STRUCTURE = bytes.maketrans(b':[]', b'   ')

TOP_KEYS = {b'image_id', b'category_id', b'score'}


def _value_token_shape(tok: bytes, array: bool) -> Optional[Tuple[bytes, bytes]]:
    m = (_ARRAY if array else _SCALAR).fullmatch(tok)
    return (m.group(1), m.group(2)) if m else None


def _gather(a: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> bytes:
    """The byte ranges ``a[starts[i]:starts[i] + lens[i]]``, one after the other."""
    ends = np.cumsum(lens)
    total = int(ends[-1]) if ends.size else 0
    return a[np.repeat(starts - (ends - lens), lens) + np.arange(total)].tobytes()


def _numbers(s: bytes, lens: np.ndarray, prefix: bytes, suffix: bytes, per_token: int,
             integer: bool) -> Optional[np.ndarray]:
    """The numbers of value tokens ``prefix a, b, ... suffix`` (per_token each) as one array.

    ``s``: the tokens one after the other; ``lens``: each token's length. ``integer``: int64 of
    JSON integers only (None if any value has a fraction or exponent, or does not fit);
    otherwise float64 of any JSON numbers.
    """
    n = lens.size
    a = np.frombuffer(s, np.uint8)
    if not _NUMBER_BYTES[a].all():
        return None
    if integer and (b'.' in s or b'e' in s or b'E' in s):
        return None  # floats where ints belong: the general path judges them
    ends = np.cumsum(lens)
    starts = ends - lens
    if (lens < len(prefix) + len(suffix) + 1).any():
        return None
    for j, c in enumerate(prefix):
        if not (a[starts + j] == c).all():
            return None
    for j, c in enumerate(suffix):
        if not (a[ends - len(suffix) + j] == c).all():
            return None
    # the prefix's and suffix's structural bytes are the only ones, so the values between them
    # hold no ':' '[' ']', and (per token) exactly per_token - 1 commas
    for c in b':[]':
        if s.count(bytes([c])) != n * prefix.count(bytes([c])) + n * suffix.count(bytes([c])):
            return None
    commas = np.add.reduceat((a == 0x2C).astype(np.int64), starts)
    if not (commas == per_token - 1 + suffix.count(b',') + prefix.count(b',')).all():
        return None
    # with ':' '[' ']' blanked, the tokens read "v, v, v,": values separated by the commas
    body = s[:len(s) - len(suffix)].translate(_BLANK_STRUCTURE)
    try:
        values = orjson.loads(b'[' + body + b']')
    except orjson.JSONDecodeError:
        return None
    if len(values) != n * per_token:
        return None
    # the bytes allow only numbers, so orjson gave ints and floats (ints only if ``integer``);
    # fromiter converts them as np.array(values).astype() would, without the type inference
    try:
        return np.fromiter(values, np.int64 if integer else np.float64, len(values))
    except OverflowError:
        return None  # ints past int64: the general path judges them


def _decoded_strings(toks: List[bytes]) -> Optional[RLEStrings]:
    """RLE string tokens with escapes other than ``\\\\`` (rare), each decoded by orjson."""
    out = list(toks)
    for i, t in enumerate(toks):
        if b'\\' in t:
            try:
                out[i] = orjson.loads(b'"' + t + b'"').encode('ascii')
            except (orjson.JSONDecodeError, UnicodeEncodeError):
                return None
    return RLEStrings.from_strings(out)


def segm_columns(body: bytes):
    """Columns of a piece ``{...}, {...}`` of a segm results list, or None (see module doc).

    Returns (image_id, category_id, score, bbox or None, size, counts, entries with a bbox):
    the tuple :func:`iif.evaluation.results._fast_columns` returns, counts as
    :class:`iif.evaluation.rle.RLEStrings` (a view into ``body``).
    """
    if orjson is None or b'"segmentation"' not in body[:4096]:
        return None
    a = np.frombuffer(body, np.uint8)
    # token t is body[quote[t - 1] + 1:quote[t]] (token 0 before the first quote, the last one
    # after the last quote): the piece split at every '"', as offsets instead of bytes objects
    quote = np.flatnonzero(a == 0x22)
    ntok = quote.size + 1
    if ntok < 18:
        return None
    tok_start = np.r_[0, quote + 1]
    tok_stop = np.r_[quote, len(body)]

    def tok(t: int) -> bytes:
        return body[tok_start[t]:tok_stop[t]]

    if not _OPEN.fullmatch(tok(0)):
        return None
    keys = []
    i = 1
    while i < ntok and tok(i) in TOP_KEYS | {b'bbox'} and tok(i) not in keys:
        keys.append(tok(i))
        i += 2
    if not (TOP_KEYS <= set(keys) and i + 4 < ntok and tok(i) == b'segmentation'
            and tok(i + 2) == b'size' and tok(i + 4) == b'counts'):
        return None
    period = i + 7  # tokens per entry: keys and values, segmentation, size, counts, joint
    n, rest = divmod(ntok - 1, period)
    if rest or n < 2:
        return None
    if not (_SEG_OPEN.fullmatch(tok(i + 1)) and _COLON.fullmatch(tok(i + 5))
            and _JOINT.fullmatch(tok(period)) and _CLOSE.fullmatch(tok(ntok - 1))):
        return None
    tok_len = tok_stop - tok_start
    # tokens that are the same in every entry: keys and structure (the last entry's joint is
    # the piece's end, checked above)
    constant = [k for k in range(1, period + 1) if k % 2 == 1 and k < i] + [
        i, i + 1, i + 2, i + 4, i + 5, period]
    for k in constant:
        ts = np.arange(k, ntok - 1 if k == period else ntok, period)
        ref = tok(k)
        if not (tok_len[ts] == len(ref)).all():
            return None
        got = a[tok_start[ts][:, None] + np.arange(len(ref))]
        if not (got == np.frombuffer(ref, np.uint8)).all():
            return None
    # only JSON text of numbers, keys and RLE strings: non-ASCII bytes are in none of them, and
    # control bytes (JSON whitespace in the structure excepted) not in the RLE strings
    if not body.isascii():
        return None
    rle_tok = np.arange(i + 6, ntok, period)
    if a.min() < 0x20:  # compact JSON has none: skip the search
        ctrl = np.flatnonzero(a < 0x20)
        if ((np.searchsorted(quote, ctrl) - (i + 6)) % period == 0).any():
            return None

    def column(k, array, per_token, integer):
        shape = _value_token_shape(tok(k), array)
        if shape is None:
            return None
        ts = np.arange(k, ntok, period)
        return _numbers(_gather(a, tok_start[ts], tok_len[ts]), tok_len[ts], *shape, per_token,
                        integer)

    cols = {}
    for j, key in enumerate(keys):
        values = column(2 + 2 * j, key == b'bbox', 4 if key == b'bbox' else 1,
                        key in (b'image_id', b'category_id'))
        if values is None:
            return None
        cols[key] = values
    size = column(i + 3, True, 2, True)
    if size is None:
        return None
    # RLE strings: a view into the piece. Backslashes can only be JSON escapes there: runs of
    # even length are escaped backslashes (common, as '\\' is an RLE character); any other
    # escape is decoded by orjson, string by string
    counts = RLEStrings(body, tok_start[rle_tok], tok_stop[rle_tok])
    if b'\\' in body:
        bs = np.flatnonzero(a == 0x5C)
        run_start = np.flatnonzero(np.r_[True, np.diff(bs) != 1])
        run_len = np.diff(np.r_[run_start, bs.size])
        if (run_len % 2 == 0).all():
            owner = np.searchsorted(counts.start, bs, side='right') - 1
            counts.pairs = np.bincount(owner, minlength=n) // 2
        else:
            counts = _decoded_strings([tok(t) for t in rle_tok.tolist()])
            if counts is None:
                return None
    img, cat, score = cols[b'image_id'], cols[b'category_id'], cols[b'score']
    size = size.reshape(n, 2)
    if not np.isfinite(score).all() or (size < 0).any():
        return None
    bbox = None
    if b'bbox' in cols:
        bbox = cols[b'bbox'].reshape(n, 4)
        if not np.isfinite(bbox).all():
            return None
    return img, cat, score, bbox, size, counts, n if bbox is not None else 0
