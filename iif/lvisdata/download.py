"""Download, check and extract the LVIS v1 annotations and the COCO 2017 images.

Every archive goes through the same steps, each of which is skipped when already done:

1. fetch into ``ROOT/archives/NAME.part`` (:mod:`.fetch`: resumed with an HTTP Range request),
2. check its size and sha256 against the downloads TSV; a mismatch is moved aside to
   ``NAME.bad-<time>`` and never used; a match is renamed to ``ROOT/archives/NAME`` and stamped
   (``NAME.verified``, :mod:`.state`) so that later runs need not hash 19 GB again,
3. extract it (:mod:`.extract`) without ever leaving a half tree where the configs look,
4. with ``keep_archives=False``, delete the archive.

Before any of it, :mod:`.plan` works out what each archive needs and checks the disk. Nothing
that this module did not write is replaced: a target that exists without a matching marker
stops the run before anything is fetched.
"""
from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from . import plan as planning
from .catalog import (ARCHIVE_DIR, ArchiveSpec, DataError, PathLike, default_checksums_path,
                      load_checksums, select_archives)
from .extract import extract_archive
from .fetch import CHUNK, Fetcher
from .plan import Planned
from .progress import Progress
from .state import marker_path, move_aside, stamp_ok, stamp_path, write_stamp


@dataclass
class DownloadResult:
    problems: List[str] = field(default_factory=list)
    done: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Downloader:
    def __init__(self, root: PathLike, only: Optional[Sequence[str]] = None,
                 mirror: Optional[str] = None, checksums: Optional[PathLike] = None,
                 keep_archives: bool = True, retries: int = 5, timeout: float = 60.0,
                 retry_wait: float = 2.0, progress: Optional[Progress] = None,
                 log: Optional[Callable[[str], None]] = None):
        self.root = Path(root)
        self.archive_dir = self.root / ARCHIVE_DIR
        self.specs = select_archives(only)
        self.mirror = mirror.rstrip('/') if mirror else None
        self.checksums_path = Path(checksums) if checksums else default_checksums_path()
        self.keep_archives = keep_archives
        self.progress = progress or Progress()
        self.log = log or self.progress.message
        self.fetcher = Fetcher(self.checksums_path, self.progress, retries=retries,
                               timeout=timeout, retry_wait=retry_wait, log=self.log)

    # ---------------------------------------------------------------- planning
    def marker_path(self, spec: ArchiveSpec) -> Path:
        return marker_path(self.root, spec)

    def plan(self) -> List[Planned]:
        return planning.make_plan(self.root, self.archive_dir, self.specs,
                                  load_checksums(self.checksums_path), self.checksums_path,
                                  self.mirror)

    def conflicts(self, plan: List[Planned]) -> List[Tuple[str, str]]:
        return planning.conflicts(self.root, plan)

    def check_disk(self, plan: List[Planned]) -> str:
        return planning.check_disk(self.root, plan, self.keep_archives)

    def describe(self, p: Planned) -> str:
        return planning.describe(self.root, p)

    # ---------------------------------------------------------------- running
    @contextmanager
    def _lock(self) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform; run unguarded
            yield
            return
        path = self.root / '.iif_download.lock'
        with open(path, 'a') as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise DataError(f'another `iif data download` is running on {self.root} (it holds '
                                f'{path}); wait for it to finish or stop it, then rerun') from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def run(self, dry_run: bool = False) -> DownloadResult:
        if dry_run:
            plan = self.plan()
            for p in plan:
                self.log(self.describe(p))
            problems = [f'{m}: a real run would stop here' for _, m in self.conflicts(plan)]
            try:
                self.log(self.check_disk(plan))
            except DataError as e:
                problems.append(str(e))
            return DownloadResult(problems=problems)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            plan = self.plan()
            conflicts = self.conflicts(plan)
            if conflicts:
                blocked = {name for name, _ in conflicts}
                keep = [p.spec.name for p in plan if p.spec.name not in blocked]
                raise DataError(
                    'nothing was changed, because these would be overwritten:\n  '
                    + '\n  '.join(m for _, m in conflicts)
                    + '\nTo fix: if it is complete (e.g. your own copy of COCO), '
                    + (f'leave it out with `--only {" ".join(keep)}` and ' if keep else '')
                    + 'check the tree with `iif data verify`; otherwise move it away and rerun.')
            self.log(self.check_disk(plan))
            result = DownloadResult()
            for p in plan:
                self.log(self.describe(p))
                if p.action == 'done':
                    self._maybe_delete_archive(p, result)
                    continue
                try:
                    if self._ensure_archive(p, result):
                        extract_archive(self.root, p, self.progress, self.log)
                        result.done.append(f'{p.spec.name}: extracted into '
                                           f'{self.root / p.spec.dest}')
                        self._maybe_delete_archive(p, result)
                except DataError as e:
                    result.problems.append(str(e))
            return result

    def _maybe_delete_archive(self, p: Planned, result: DownloadResult) -> None:
        if self.keep_archives or not p.archive.exists():
            return
        p.archive.unlink()
        stamp_path(p.archive).unlink(missing_ok=True)
        result.done.append(f'{p.spec.name}: archive deleted (--delete-archives)')

    def _ensure_archive(self, p: Planned, result: DownloadResult) -> bool:
        """Make ``p.archive`` a file with the expected sha256; False (with a problem recorded)
        when that failed."""
        if p.archive.is_file():
            if stamp_ok(p.archive, p.sha256):
                return True
            size = p.archive.stat().st_size
            digest = self._hash_file(p.archive, p.size) if size == p.size else f'(size {size})'
            if digest == p.sha256:
                write_stamp(p.archive, p.sha256)
                return True
            bad = move_aside(p.archive)
            self.log(f'warning: {p.archive} does not match the expected sha256 (got {digest}, '
                     f'expected {p.sha256}); moved to {bad} and not used; downloading it again')
        digest = self.fetcher.fetch(p)
        if digest != p.sha256:
            bad = move_aside(p.part)
            result.problems.append(
                f'{p.spec.name}: checksum mismatch: sha256 {digest}, expected {p.sha256} '
                f'(from {self.checksums_path}). The file was moved to {bad} and not used. '
                f'To fix: rerun to download it again; if it fails again, the host or mirror '
                f'({p.url}) serves a different file: check it or use another --mirror.')
            return False
        os.replace(p.part, p.archive)
        write_stamp(p.archive, p.sha256)
        result.done.append(f'{p.spec.name}: downloaded and verified (sha256 {p.sha256[:12]}...)')
        return True

    def _hash_file(self, path: Path, size: int, label: str = 'verify') -> str:
        h = hashlib.sha256()
        self.progress.start(f'{label} {path.name}', size)
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(CHUNK), b''):
                h.update(chunk)
                self.progress.update(len(chunk))
        self.progress.finish()
        return h.hexdigest()


def download(root: PathLike, **kwargs) -> DownloadResult:
    """Python entry point: ``download(root, only=None, mirror=None, checksums=None,
    keep_archives=True, dry_run=False, ...)``; raises DataError for setup problems and returns
    the per-archive problems (checksum mismatches, failed transfers) in the result."""
    dry_run = kwargs.pop('dry_run', False)
    return Downloader(root, **kwargs).run(dry_run=dry_run)
