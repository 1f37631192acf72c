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


class RLEStrings:
    """n compressed RLE strings in one bytes buffer: string i is ``data[start[i]:stop[i]]``.

    Segm results hold hundreds of thousands of strings; as one buffer with offsets they are
    selected, checked and reordered with numpy, and a Python bytes object is made only for a
    string that pycocotools reads (``strings[i]``).

    ``pairs``: set on a view into JSON text whose strings still hold escaped backslashes
    (``\\\\``, the only escape allowed there); ``pairs[i]`` is how many string i holds.
    :meth:`take` and ``strings[i]`` undo them.
    """

    __slots__ = ('data', 'start', 'stop', 'pairs')

    def __init__(self, data: bytes, start: np.ndarray, stop: np.ndarray, pairs=None):
        self.data, self.start, self.stop, self.pairs = data, start, stop, pairs

    @classmethod
    def from_strings(cls, strings: Sequence) -> 'RLEStrings':
        """From str/bytes objects (str as UTF-8: non-ASCII text is kept, to be rejected)."""
        parts = [s if isinstance(s, bytes) else s.encode('utf-8', 'surrogatepass')
                 for s in strings]
        lens = np.fromiter(map(len, parts), np.int64, len(parts))
        stop = np.cumsum(lens)
        return cls(b''.join(parts), stop - lens, stop)

    @classmethod
    def concat(cls, parts: Sequence['RLEStrings']) -> 'RLEStrings':
        """One buffer of several compact (:meth:`take`-made) parts, in order."""
        if not parts:
            return cls(b'', np.zeros(0, np.int64), np.zeros(0, np.int64))
        shift = np.cumsum([0] + [len(p.data) for p in parts[:-1]])
        return cls(b''.join(p.data for p in parts),
                   np.concatenate([p.start + s for p, s in zip(parts, shift.tolist())]),
                   np.concatenate([p.stop + s for p, s in zip(parts, shift.tolist())]))

    def __len__(self) -> int:
        return self.start.size

    def __getitem__(self, i: int) -> bytes:
        s = self.data[self.start[i]:self.stop[i]]
        return s if self.pairs is None or not self.pairs[i] else s.replace(b'\\\\', b'\\')

    def tolist(self) -> List[bytes]:
        return [self[i] for i in range(len(self))]

    def take(self, idx: np.ndarray) -> 'RLEStrings':
        """Strings ``idx`` (in that order) copied into a new contiguous, unescaped buffer."""
        idx = np.asarray(idx, np.int64)
        d = self.data
        # slices and one join: faster than a numpy gather of every byte (~150 per string)
        parts = [d[a:b] for a, b in zip(self.start[idx].tolist(), self.stop[idx].tolist())]
        lens = self.stop[idx] - self.start[idx]
        data = b''.join(parts)
        del parts
        if self.pairs is not None:
            pairs = self.pairs[idx]
            if pairs.any():
                # every backslash run is even within each string, and so across neighbours:
                # replace() pairs them as a JSON parser does
                data = data.replace(b'\\\\', b'\\')
                lens = lens - pairs
        stop = np.cumsum(lens)
        return RLEStrings(data, stop - lens, stop)

    def reordered(self, order: np.ndarray) -> 'RLEStrings':
        """The same buffer, strings in the order ``order`` (no copy of the bytes)."""
        assert self.pairs is None
        return RLEStrings(self.data, self.start[order], self.stop[order])

    def joined(self) -> Tuple[bytes, np.ndarray]:
        """(all strings one after the other, each one's length)."""
        view = self
        contiguous = (self.pairs is None and (self.start.size == 0 or self.start[0] == 0)
                      and np.array_equal(self.start[1:], self.stop[:-1]))
        if not contiguous:
            view = self.take(np.arange(len(self)))
        total = int(view.stop[-1]) if len(view) else 0
        return view.data[:total], view.stop - view.start


def check_counts(counts, areas: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Check compressed RLE strings against their mask sizes, all at once.

    Args:
        counts: n strings (str or bytes), or :class:`RLEStrings`.
        areas: n integers, height * width of each mask.

    Returns:
        (problem, total): per string a code (``OK`` or a key of :data:`PROBLEMS`) and the sum of
        its decoded run lengths (meaningful where the problem is OK or WRONG_TOTAL).
    """
    n = len(counts)
    problem = np.zeros(n, np.int8)
    total = np.zeros(n, np.int64)
    if n == 0:
        return problem, total
    if isinstance(counts, RLEStrings):
        data, lens = counts.joined()  # non-ASCII bytes are >= 128: BAD_CHARACTER below
    else:
        data, lens, non_ascii = _as_bytes(counts)
        problem[non_ascii] = BAD_CHARACTER
    areas = np.asarray(areas, np.int64)
    c = np.frombuffer(data, np.uint8) - np.uint8(48)  # bytes below '0' wrap above 63
    str_end = np.cumsum(lens)
    nonempty = np.flatnonzero(lens)
    if c.size == 0:
        problem[(problem == OK) & (areas != 0)] = WRONG_TOTAL
        return problem, total

    def owner_of(char_pos: np.ndarray) -> np.ndarray:
        return np.searchsorted(str_end, char_pos, side='right')

    def flag(strings: np.ndarray, code: int) -> None:
        strings = np.unique(strings)
        problem[strings[problem[strings] == OK]] = code

    if c.max() > 63:
        flag(owner_of(np.flatnonzero(c > 63)), BAD_CHARACTER)
        c = np.where(c > 63, np.uint8(0), c)  # decode the rest as if fine; already rejected
    term = c < 32                         # no continuation bit: the last character of a run
    last = str_end[nonempty] - 1
    cut = ~term[last]
    if cut.any():
        flag(nonempty[cut], TRUNCATED)
        term[last] = True                 # close those runs so others decode undisturbed
    ends = np.flatnonzero(term)
    # runs per string: terminators inside each non-empty string
    nruns = np.zeros(n, np.int64)
    nruns[nonempty] = np.add.reduceat(term, str_end[nonempty] - lens[nonempty], dtype=np.int64)
    # value of each run: its last character carries the sign (5-bit two's complement) and the
    # highest bits; earlier characters of a multi-character run add the lower bits
    value = ((c[ends] & 0x1f) ^ 0x10).astype(np.int64) - 0x10
    long_runs = np.flatnonzero(np.diff(ends, prepend=-1) > 1)
    if long_runs.size:
        e = ends[long_runs]
        start = np.r_[0, ends[:-1] + 1][long_runs]
        width = e - start + 1
        too_long = width > MAX_CHARS_PER_RUN
        if too_long.any():
            flag(owner_of(e[too_long]), RUN_TOO_LONG)
            width = np.minimum(width, MAX_CHARS_PER_RUN)
            start = e - width + 1
        v = value[long_runs] << (5 * (width - 1))
        for k in range(int(width.max()) - 1):
            part = k < width - 1
            v[part] += (c[start[part] + k] & 0x1f).astype(np.int64) << (5 * k)
        value[long_runs] = v
    # undo the delta coding: run[m] = value[m] + run[m - 2] from m = 3 on, i.e. per string the
    # odd runs are running sums of odd values, and the even runs from m = 2 of even values
    first = np.cumsum(nruns) - nruns
    has = np.flatnonzero(nruns)
    heads = first[has]
    mark = np.zeros(ends.size, np.int64)  # owner (among strings with runs) of each run
    mark[heads[1:]] = 1
    owner = np.cumsum(mark)
    m = np.arange(ends.size) - heads[owner]
    odd = (m & 1).astype(bool)
    c_odd = np.cumsum(np.where(odd, value, 0))
    c_even = np.cumsum(np.where(odd | (m == 0), 0, value))
    # the cumulative sums just before each string's first run
    b_odd = np.r_[0, c_odd[heads[1:] - 1]]
    b_even = np.r_[0, c_even[heads[1:] - 1]]
    runs = np.where(odd, c_odd - b_odd[owner], c_even - b_even[owner])
    runs[heads] = value[heads]
    bad = (runs < 0) | (runs >= UINT_LIMIT)
    if bad.any():
        flag(owner_of(ends[np.flatnonzero(bad)]), BAD_RUN)
    total[has] = np.add.reduceat(runs, heads)
    problem[(problem == OK) & (total != areas)] = WRONG_TOTAL
    return problem, total
