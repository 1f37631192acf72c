"""Planning a download before anything is fetched: what each archive still needs (nothing,
extraction, a download or a resumed one), what it would overwrite, and whether the disk holds
it all."""
from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .catalog import ArchiveSpec, ChecksumEntry, DataError
from .progress import human_bytes
from .state import is_extracted, marker_path, read_json, targets

BLOCK = 4096  # extracted files occupy whole filesystem blocks
DISK_MARGIN = 512 << 20  # headroom for logs, temporary files and estimate error


@dataclass
class Planned:
    spec: ArchiveSpec
    url: str
    size: int
    sha256: str
    archive: Path
    part: Path
    action: str           # 'done', 'extract', 'download', 'resume'
    fetch_bytes: int      # still to transfer
    extract_bytes: int    # disk the extracted tree will take (0 when already extracted)
    extract_exact: bool   # False: estimated from the archive size
    have_archive: bool    # an archive file is (or will be) under the final name


def checksum_entry(spec: ArchiveSpec, table: Dict[str, ChecksumEntry],
                   checksums_path: Path) -> ChecksumEntry:
    entry = table.get(spec.name)
    if entry is None:
        raise DataError(f'{checksums_path} has no row for {spec.name}; every archive '
                        f'needs a url, size_bytes and sha256 there')
    if not entry.sha256 or entry.size is None:
        raise DataError(f'{checksums_path}: the row for {spec.name} has no '
                        f'{"sha256" if not entry.sha256 else "size_bytes"}; refusing to '
                        f'download a file that cannot be checked')
    return entry


def zip_extracted_size(archive: Path) -> Optional[int]:
    try:
        with zipfile.ZipFile(archive) as zf:
            return sum(-(-i.file_size // BLOCK) * BLOCK for i in zf.infolist())
    except (OSError, zipfile.BadZipFile):
        return None


def make_plan(root: Path, archive_dir: Path, specs: Sequence[ArchiveSpec],
              table: Dict[str, ChecksumEntry], checksums_path: Path,
              mirror: Optional[str] = None) -> List[Planned]:
    plan = []
    for spec in specs:
        entry = checksum_entry(spec, table, checksums_path)
        url = f'{mirror}/{spec.name}' if mirror else entry.url
        archive = archive_dir / spec.name
        part = archive.with_name(spec.name + '.part')
        estimate = int(entry.size * spec.expand)
        if is_extracted(root, spec, entry.sha256):
            action, fetch, extract, exact = 'done', 0, 0, True
        elif archive.is_file() and archive.stat().st_size == entry.size:
            action, fetch, exact = 'extract', 0, True
            extract = zip_extracted_size(archive)
            if extract is None:  # unreadable: will fail its checksum and be fetched again
                fetch, extract, exact = entry.size, estimate, False
        else:
            have = part.stat().st_size if part.is_file() else 0
            have = have if have <= entry.size else 0
            action = 'resume' if have else 'download'
            fetch, extract, exact = entry.size - have, estimate, False
        plan.append(Planned(spec, url, entry.size, entry.sha256, archive, part, action,
                            fetch, extract, exact, archive.is_file() or action != 'done'))
    return plan


def conflicts(root: Path, plan: List[Planned]) -> List[Tuple[str, str]]:
    """(archive name, message) for targets that exist but were not extracted from the
    expected archive: extracting would overwrite them."""
    out = []
    for p in plan:
        if p.action == 'done':
            continue
        marker = read_json(marker_path(root, p.spec))
        for target in targets(root, p.spec):
            if not (target.exists() or target.is_symlink()):
                continue
            if marker is None:
                why = 'was not extracted by `iif data download` (no marker)'
            else:
                why = (f'was extracted from another {p.spec.name} (sha256 '
                       f'{str(marker.get("sha256"))[:12]}..., expected {p.sha256[:12]}...)')
            out.append((p.spec.name, f'{target} exists and {why}'))
    return out


def disk_needed(plan: List[Planned], keep_archives: bool) -> int:
    """Peak extra disk use of carrying out ``plan`` in order (without the margin)."""
    used = peak = 0
    for p in plan:
        used += p.fetch_bytes
        peak = max(peak, used)
        used += p.extract_bytes
        peak = max(peak, used)
        if not keep_archives and p.have_archive:
            used -= p.size  # the archive is deleted once extracted
    return peak


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(root: Path, plan: List[Planned], keep_archives: bool) -> str:
    """A line on the disk the plan needs; DataError (naming the fixes) when it does not fit."""
    probe = _existing_ancestor(root)
    free = shutil.disk_usage(str(probe)).free
    need = disk_needed(plan, keep_archives)
    fetch = sum(p.fetch_bytes for p in plan)
    extract = sum(p.extract_bytes for p in plan)
    guessed = any(not p.extract_exact for p in plan if p.extract_bytes)
    estimated = ' (estimated)' if guessed else ''
    if need == 0:
        return f'disk: nothing to add; {human_bytes(free)} free on {probe}'
    detail = (f'{human_bytes(fetch)} of archives to download + {human_bytes(extract)} '
              f'extracted{estimated}')
    if not keep_archives:
        detail += ', archives deleted after extraction'
    if need + DISK_MARGIN > free:
        hints = ['free some space', 'choose a larger disk with --root (or LVIS_ROOT)']
        if keep_archives:
            lean = disk_needed(plan, keep_archives=False)
            if lean < need:
                hints.append(f'use --delete-archives (needs {human_bytes(lean + DISK_MARGIN)})')
        hints.append('or fetch a part with --only')
        raise DataError(
            f'not enough free disk space for {root}: need '
            f'{human_bytes(need + DISK_MARGIN)} '
            f'({detail}, + {human_bytes(DISK_MARGIN)} margin) but only {human_bytes(free)} is '
            f'available on the filesystem of {probe}. To fix: {"; ".join(hints)}.')
    return (f'disk: need {human_bytes(need + DISK_MARGIN)} ({detail}, + '
            f'{human_bytes(DISK_MARGIN)} margin); {human_bytes(free)} free on {probe}')


def describe(root: Path, p: Planned) -> str:
    if p.action == 'done':
        return f'{p.spec.name}: already extracted (sha256 {p.sha256[:12]}...), nothing to do'
    if p.action == 'extract':
        return f'{p.spec.name}: archive present, check and extract into {root / p.spec.dest}'
    if p.action == 'resume':
        return (f'{p.spec.name}: resume at {human_bytes(p.size - p.fetch_bytes)} of '
                f'{human_bytes(p.size)} from {p.url}')
    return f'{p.spec.name}: download {human_bytes(p.size)} from {p.url}'
