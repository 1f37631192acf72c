"""What ``iif data download`` leaves on disk to know what it has done: a ``NAME.verified`` stamp
beside a checked archive (sha256, size, mtime: later runs need not hash 19 GB again), a marker
``ROOT/.iif_extracted/NAME.json`` per extracted archive, and ``NAME.bad-<time>`` for a file
that failed its check (kept for inspection, never read)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import List, Optional

from iif.clock import file_stamp, now
from iif.fsutil import write_json_atomic

from .catalog import MARKER_DIR, ArchiveSpec


def read_json(path: Path) -> Optional[dict]:
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------ extracted trees
def marker_path(root: Path, spec: ArchiveSpec) -> Path:
    return Path(root) / MARKER_DIR / f'{spec.name}.json'


def targets(root: Path, spec: ArchiveSpec) -> List[Path]:
    """The files and folders that ``spec`` puts into the data root."""
    return [Path(root) / spec.dest / p for p in spec.provides]


def is_extracted(root: Path, spec: ArchiveSpec, sha256: str) -> bool:
    """Extracted from the archive with ``sha256``, and its targets still there."""
    marker = read_json(marker_path(root, spec))
    return (marker is not None and marker.get('sha256') == sha256
            and all(t.exists() for t in targets(root, spec)))


def write_marker(root: Path, spec: ArchiveSpec, sha256: str) -> None:
    write_json_atomic(marker_path(root, spec), dict(
        archive=spec.name, sha256=sha256, dest=spec.dest or '.', provides=list(spec.provides),
        extracted_at=now()), indent=1)


# ------------------------------------------------------------------ checked archives
def stamp_path(archive: Path) -> Path:
    return archive.with_name(archive.name + '.verified')


def stamp_ok(archive: Path, sha256: str) -> bool:
    """The archive was checked against ``sha256`` and has not changed since."""
    stamp = read_json(stamp_path(archive))
    try:
        st = archive.stat()
    except OSError:
        return False
    return (stamp is not None and stamp.get('sha256') == sha256
            and stamp.get('size') == st.st_size and stamp.get('mtime_ns') == st.st_mtime_ns)


def write_stamp(archive: Path, sha256: str) -> None:
    st = archive.stat()
    write_json_atomic(stamp_path(archive),
                      dict(sha256=sha256, size=st.st_size, mtime_ns=st.st_mtime_ns), indent=1)


def move_aside(path: Path) -> Path:
    """Keep a file that failed its check for inspection, under a name nothing reads."""
    base = path.name[:-len('.part')] if path.name.endswith('.part') else path.name
    bad = path.with_name(f'{base}.bad-{file_stamp()}')
    n = 1
    while bad.exists():
        bad = path.with_name(f'{base}.bad-{file_stamp()}-{n}')
        n += 1
    os.replace(path, bad)
    stamp_path(path).unlink(missing_ok=True)
    return bad
