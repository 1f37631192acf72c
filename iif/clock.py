"""The kit's timestamps: UTC ISO-8601 in records, local time in file and directory names."""
from __future__ import annotations

import datetime as _dt
import time
from typing import Optional


def now() -> str:
    """The current time in UTC, ISO-8601 to the second (``2026-01-31T12:00:00+00:00``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')


def parse_time(text: Optional[str]) -> Optional[float]:
    """A :func:`now` string as a POSIX timestamp (None for an empty value)."""
    if not text:
        return None
    return _dt.datetime.fromisoformat(text).timestamp()


def file_stamp() -> str:
    """Local time for names of files and directories (``20260131_120000``): sorts by time."""
    return time.strftime('%Y%m%d_%H%M%S', time.localtime())


def format_duration(seconds: Optional[float]) -> str:
    """``H:MM:SS`` (``-`` for None)."""
    if seconds is None:
        return '-'
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'
