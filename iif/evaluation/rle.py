"""Checking COCO compressed RLE strings before pycocotools' C code sees them.

The format (COCO mask API, ``rleToString``): a mask of h x w pixels, read column by column, is a
list of run lengths that alternate background / foreground, starting with background, and sum to
h * w. Each run length is written as a signed integer in 5-bit chunks, least significant first,
one character per chunk: character = 48 + chunk, where a chunk is 6 bits ``c``: ``c & 0x1f`` is the
payload, ``c & 0x20`` says "another chunk follows", and in the last chunk ``c & 0x10`` is the
sign bit (two's complement over the chunks read). From the fourth run on (index > 2), the value
written is the difference to the run two places before.

pycocotools trusts the string: a string that ends inside a number makes it read past the end,
and run lengths that do not sum to h * w make ``iou`` loop forever (its merge walk stops only
when both masks are used up). So every string is decoded here first and rejected unless

* every character is in '0'..'o' (48..111),
* the last character of the string ends a number,
* no number takes more than 6 characters (pycocotools shifts a C ``int`` by 5 * k bits, so a
  7th chunk is undefined behaviour; 6 chunks hold any run of a mask under 2**29 pixels),
* every decoded run length is in [0, 2**32) (pycocotools keeps them as ``unsigned int``),
* the run lengths sum to h * w.

:func:`decode_counts` decodes one string in plain Python (the definition, used by the tests);
:func:`check_counts` checks many strings at once with numpy (what the evaluator runs).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

MAX_CHARS_PER_RUN = 6
UINT_LIMIT = 1 << 32

OK, BAD_CHARACTER, TRUNCATED, RUN_TOO_LONG, BAD_RUN, WRONG_TOTAL = range(6)
PROBLEMS = {
    BAD_CHARACTER: "a character outside '0'..'o'",
    TRUNCATED: 'the string ends inside a run length',
    RUN_TOO_LONG: f'a run length written with more than {MAX_CHARS_PER_RUN} characters',
    BAD_RUN: 'a decoded run length that is negative or not below 2**32',
    WRONG_TOTAL: 'decoded run lengths that do not sum to height x width',
}


class RLEStringError(ValueError):
    """A compressed RLE string that pycocotools could not read safely."""

    def __init__(self, code: int, detail: str = ''):
        super().__init__(PROBLEMS[code] + (f' ({detail})' if detail else ''))
        self.code = code


def decode_counts(counts) -> List[int]:
    """Run lengths of one compressed RLE string (str or bytes); RLEStringError if malformed.

    Does not check the total against the mask size (see :func:`check_counts`).
    """
    if isinstance(counts, str):
        if not counts.isascii():
            raise RLEStringError(BAD_CHARACTER)
        counts = counts.encode('ascii')
    runs: List[int] = []
    value = shift = nchars = 0
    for byte in counts:
        c = byte - 48
        if not 0 <= c < 64:
            raise RLEStringError(BAD_CHARACTER, f'{chr(byte)!r}')
        value |= (c & 0x1f) << shift
        shift += 5
        nchars += 1
        if nchars > MAX_CHARS_PER_RUN:
            raise RLEStringError(RUN_TOO_LONG)
        if c & 0x20:
            continue
        if c & 0x10:  # sign bit of the last chunk
            value -= 1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if not 0 <= value < UINT_LIMIT:
            raise RLEStringError(BAD_RUN, f'run {len(runs)} is {value}')
        runs.append(value)
        value = shift = nchars = 0
    if nchars:
        raise RLEStringError(TRUNCATED)
    return runs


def _as_bytes(counts: Sequence) -> Tuple[bytes, np.ndarray, np.ndarray]:
    """All strings joined as ASCII bytes, each one's length, and which held non-ASCII text."""
    n = len(counts)
    strs = [c if isinstance(c, str) else c.decode('latin-1') for c in counts]
    non_ascii = np.zeros(n, bool)
    joined = ''.join(strs)
    if not joined.isascii():
        for i, s in enumerate(strs):
            if not s.isascii():
                non_ascii[i] = True
                strs[i] = ''
        joined = ''.join(strs)
    lens = np.fromiter(map(len, strs), np.int64, n)
    return joined.encode('ascii'), lens, non_ascii


def check_counts(counts: Sequence, areas: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Check compressed RLE strings against their mask sizes, all at once.

    Args:
        counts: n strings (str or bytes).
        areas: n integers, height * width of each mask.

    Returns:
        (problem, total): per string a code (``OK`` or a key of :data:`PROBLEMS`; the first
        problem found in the order listed there) and the sum of its decoded run lengths (valid
        where the problem is OK or WRONG_TOTAL).
    """
    n = len(counts)
    problem = np.zeros(n, np.int8)
    total = np.zeros(n, np.int64)
    if n == 0:
        return problem, total
    data, lens, non_ascii = _as_bytes(counts)
    problem[non_ascii] = BAD_CHARACTER
    str_end = np.cumsum(lens)          # exclusive end of each string in data
    c = np.frombuffer(data, np.uint8) - np.uint8(48)  # bytes below '0' wrap above 63
    nchar = c.size
    if nchar == 0:
        total[:] = 0
        problem[(problem == OK) & (np.asarray(areas) != 0)] = WRONG_TOTAL
        return problem, total

    def flag(char_pos: np.ndarray, code: int) -> None:
        if char_pos.size:
            s = np.unique(np.searchsorted(str_end, char_pos, side='right'))
            s = s[problem[s] == OK]
            problem[s] = code

    flag(np.flatnonzero(c > 63), BAD_CHARACTER)
    last = str_end[lens > 0] - 1
    flag(last[(c[last] & 0x20) != 0], TRUNCATED)
    # a run ends at a character without the continuation bit, and at every string's end
    term = (c & 0x20) == 0
    term[last] = True
    ends = np.flatnonzero(term)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    width = ends - starts + 1
    flag(ends[width > MAX_CHARS_PER_RUN], RUN_TOO_LONG)
    width = np.minimum(width, MAX_CHARS_PER_RUN)  # those strings are rejected already
    payload = (c & 0x1f).astype(np.int64)
    value = payload[starts]
    for k in range(1, int(width.max())):
        more = np.flatnonzero(width > k)
        value[more] |= payload[starts[more] + k] << (5 * k)
    negative = (c[ends] & 0x10) != 0
    value[negative] -= np.left_shift(1, 5 * width[negative])
    # undo the delta coding: from index 3 on, run[m] = value[m] + run[m - 2]
    owner = np.searchsorted(str_end, ends, side='right')        # string of each run
    first = np.searchsorted(owner, np.arange(n), side='left')   # its first run
    m = np.arange(ends.size) - first[owner]                     # index of the run in its string
    runs = value
    for parity in (0, 1):
        idx = np.flatnonzero((m >= 1) & (m % 2 == parity))  # odd runs from 1, even from 2
        if idx.size == 0:
            continue
        csum = np.cumsum(value[idx])
        grp = np.flatnonzero(np.r_[True, owner[idx][1:] != owner[idx][:-1]])
        base = csum[grp] - value[idx][grp]
        runs[idx] = csum - np.repeat(base, np.diff(np.r_[grp, idx.size]))
    bad_run = (runs < 0) | (runs >= UINT_LIMIT)
    flag(ends[bad_run], BAD_RUN)
    cum = np.zeros(runs.size + 1, np.int64)
    np.cumsum(runs, out=cum[1:])
    nruns = np.bincount(owner, minlength=n)
    total[:] = cum[first + nruns] - cum[first]
    problem[(problem == OK) & (total != np.asarray(areas, np.int64))] = WRONG_TOTAL
    return problem, total
