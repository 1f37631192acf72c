"""Progress display for long transfers: bytes, rate and ETA on stderr.

On a terminal one line is redrawn a few times a second; elsewhere (logs, CI, `docker compose
run` without a TTY) a plain line is written every ``interval`` seconds so that logs stay short.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import Deque, Optional, TextIO, Tuple


def human_bytes(n: float) -> str:
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(n) < 1024 or unit == 'GiB':
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1024
    raise AssertionError('unreachable')


def human_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f'{seconds}s'
    if seconds < 3600:
        return f'{seconds // 60}m{seconds % 60:02d}s'
    return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'


class Progress:
    WINDOW_S = 10.0  # the rate is measured over the last seconds, so the ETA follows the link

    def __init__(self, stream: Optional[TextIO] = None, tty: Optional[bool] = None,
                 interval: Optional[float] = None, clock=time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval if interval is not None else (0.25 if self.tty else 5.0)
        self.clock = clock
        self.label = ''
        self.total = 0
        self.done = 0
        self._samples: Deque[Tuple[float, int]] = deque()
        self._last_draw = 0.0
        self._start = 0.0
        self._initial = 0

    def start(self, label: str, total: int, initial: int = 0) -> None:
        self.label, self.total, self.done = label, total, initial
        self._start = self._last_draw = self.clock()
        self._initial = initial
        self._samples = deque([(self._start, initial)])

    def reset(self, done: int = 0) -> None:
        """The transfer restarted from ``done`` bytes (a server that ignored Range)."""
        self.done = done
        self._samples = deque([(self.clock(), done)])

    def update(self, n: int) -> None:
        self.done += n
        now = self.clock()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.WINDOW_S:
            self._samples.popleft()
        if now - self._last_draw >= self.interval:
            self._last_draw = now
            self._write(self._line())

    def finish(self, note: str = '') -> None:
        elapsed = max(self.clock() - self._start, 1e-9)
        moved = self.done - self._initial
        line = (f'{self.label}: {human_bytes(self.done)} in {human_duration(elapsed)} '
                f'({human_bytes(moved / elapsed)}/s){" " + note if note else ""}')
        self._write(line, final=True)

    def rate(self) -> float:
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def _line(self) -> str:
        rate = self.rate()
        pct = f'{100.0 * self.done / self.total:5.1f}%' if self.total else '     '
        eta = (human_duration((self.total - self.done) / rate)
               if rate > 0 and self.total >= self.done else '?')
        return (f'{self.label}: {human_bytes(self.done)} / {human_bytes(self.total)} {pct} '
                f'{human_bytes(rate)}/s ETA {eta}')

    def _write(self, line: str, final: bool = False) -> None:
        if self.tty:
            # \r redraws in place; \x1b[K clears what a longer previous line left behind
            self.stream.write('\r' + line + '\x1b[K' + ('\n' if final else ''))
        else:
            self.stream.write(line + '\n')
        self.stream.flush()

    def message(self, text: str) -> None:
        """A log line that does not get mixed into a redrawn progress line."""
        if self.tty:
            self.stream.write('\r\x1b[K')
        self.stream.write(text + '\n')
        self.stream.flush()
