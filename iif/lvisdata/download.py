"""Download, check and extract the LVIS v1 annotations and the COCO 2017 images.

Every archive goes through the same steps, each of which is skipped when already done:

1. fetch into ``ROOT/archives/NAME.part`` (resumed with an HTTP Range request; a server that
   ignores Range sends the whole file, which then replaces the partial one),
2. check its size and sha256 against the downloads TSV; a mismatch is moved aside to
   ``NAME.bad-<time>`` and never used; a match is renamed to ``ROOT/archives/NAME`` and stamped
   (``NAME.verified``: sha256, size, mtime) so that later runs need not hash 19 GB again,
3. extract into a hidden folder next to the target and rename the wanted entries into place, so
   an interrupted extraction never leaves a half tree where the configs look; a marker
   ``ROOT/.iif_extracted/NAME.json`` records the archive's sha256,
4. with ``keep_archives=False``, delete the archive.

Nothing that this module did not write is replaced: a target that exists without a matching
marker stops the run before anything is fetched.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import http.client
import json
import os
import shutil
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple
from urllib.error import HTTPError, URLError
from urllib.request import Request, build_opener

from .catalog import (ARCHIVE_DIR, MARKER_DIR, ArchiveSpec, ChecksumEntry, DataError, PathLike,
                      default_checksums_path, load_checksums, select_archives)
from .progress import Progress, human_bytes

CHUNK = 1 << 20
BLOCK = 4096  # extracted files occupy whole filesystem blocks
DISK_MARGIN = 512 << 20  # headroom for logs, temporary files and estimate error
USER_AGENT = 'iif-data/0.1 (+python-urllib)'


class _Transient(Exception):
    """A failed attempt worth retrying (connection refused/reset/cut short, HTTP 5xx)."""


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


@dataclass
class DownloadResult:
    problems: List[str] = field(default_factory=list)
    done: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _timestamp() -> str:
    return _dt.datetime.now().strftime('%Y%m%d-%H%M%S')


def _unsafe_member(name: str) -> bool:
    parts = name.replace('\\', '/').split('/')
    return name.startswith(('/', '\\')) or '..' in parts or ':' in parts[0]


def _read_json(path: Path) -> Optional[dict]:
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=1)
        f.write('\n')
    os.replace(tmp, path)


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


class Downloader:
    def __init__(self, root: PathLike, only: Optional[Sequence[str]] = None,
                 mirror: Optional[str] = None, checksums: Optional[PathLike] = None,
                 keep_archives: bool = True, retries: int = 5, timeout: float = 60.0,
                 retry_wait: float = 2.0, progress: Optional[Progress] = None,
                 log: Optional[Callable[[str], None]] = None):
        self.root = Path(root)
        self.archive_dir = self.root / ARCHIVE_DIR
        self.marker_dir = self.root / MARKER_DIR
        self.specs = select_archives(only)
        self.mirror = mirror.rstrip('/') if mirror else None
        self.checksums_path = Path(checksums) if checksums else default_checksums_path()
        self.keep_archives = keep_archives
        self.retries = retries
        self.timeout = timeout
        self.retry_wait = retry_wait
        self.progress = progress or Progress()
        self.log = log or self.progress.message
        self._opener = build_opener()  # honours http(s)_proxy / no_proxy from the environment

    # ---------------------------------------------------------------- state on disk
    def marker_path(self, spec: ArchiveSpec) -> Path:
        return self.marker_dir / f'{spec.name}.json'

    def _targets(self, spec: ArchiveSpec) -> List[Path]:
        return [self.root / spec.dest / p for p in spec.provides]

    def _extracted(self, spec: ArchiveSpec, sha256: str) -> bool:
        marker = _read_json(self.marker_path(spec))
        return (marker is not None and marker.get('sha256') == sha256
                and all(t.exists() for t in self._targets(spec)))

    def _stamp_path(self, archive: Path) -> Path:
        return archive.with_name(archive.name + '.verified')

    def _stamp_ok(self, archive: Path, sha256: str) -> bool:
        stamp = _read_json(self._stamp_path(archive))
        try:
            st = archive.stat()
        except OSError:
            return False
        return (stamp is not None and stamp.get('sha256') == sha256
                and stamp.get('size') == st.st_size and stamp.get('mtime_ns') == st.st_mtime_ns)

    def _write_stamp(self, archive: Path, sha256: str) -> None:
        st = archive.stat()
        _write_json(self._stamp_path(archive),
                    dict(sha256=sha256, size=st.st_size, mtime_ns=st.st_mtime_ns))

    def _move_aside(self, path: Path) -> Path:
        """Keep a file that failed its check for inspection, under a name nothing reads."""
        base = path.name[:-len('.part')] if path.name.endswith('.part') else path.name
        bad = path.with_name(f'{base}.bad-{_timestamp()}')
        n = 1
        while bad.exists():
            bad = path.with_name(f'{base}.bad-{_timestamp()}-{n}')
            n += 1
        os.replace(path, bad)
        self._stamp_path(path).unlink(missing_ok=True)
        return bad

    # ---------------------------------------------------------------- planning
    def _entry(self, spec: ArchiveSpec, table: dict) -> ChecksumEntry:
        entry = table.get(spec.name)
        if entry is None:
            raise DataError(f'{self.checksums_path} has no row for {spec.name}; every archive '
                            f'needs a url, size_bytes and sha256 there')
        if not entry.sha256 or entry.size is None:
            raise DataError(f'{self.checksums_path}: the row for {spec.name} has no '
                            f'{"sha256" if not entry.sha256 else "size_bytes"}; refusing to '
                            f'download a file that cannot be checked')
        return entry

    def plan(self) -> List[Planned]:
        table = load_checksums(self.checksums_path)
        plan = []
        for spec in self.specs:
            entry = self._entry(spec, table)
            url = f'{self.mirror}/{spec.name}' if self.mirror else entry.url
            archive = self.archive_dir / spec.name
            part = archive.with_name(spec.name + '.part')
            estimate = int(entry.size * spec.expand)
            if self._extracted(spec, entry.sha256):
                action, fetch, extract, exact = 'done', 0, 0, True
            elif archive.is_file() and archive.stat().st_size == entry.size:
                action, fetch, exact = 'extract', 0, True
                extract = self._zip_extracted_size(archive)
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

    @staticmethod
    def _zip_extracted_size(archive: Path) -> Optional[int]:
        try:
            with zipfile.ZipFile(archive) as zf:
                return sum(-(-i.file_size // BLOCK) * BLOCK for i in zf.infolist())
        except (OSError, zipfile.BadZipFile):
            return None

    def conflicts(self, plan: List[Planned]) -> List[Tuple[str, str]]:
        """(archive name, message) for targets that exist but were not extracted from the
        expected archive: extracting would overwrite them."""
        out = []
        for p in plan:
            if p.action == 'done':
                continue
            marker = _read_json(self.marker_path(p.spec))
            for target in self._targets(p.spec):
                if not (target.exists() or target.is_symlink()):
                    continue
                if marker is None:
                    why = 'was not extracted by `iif data download` (no marker)'
                else:
                    why = (f'was extracted from another {p.spec.name} (sha256 '
                           f'{str(marker.get("sha256"))[:12]}..., expected {p.sha256[:12]}...)')
                out.append((p.spec.name, f'{target} exists and {why}'))
        return out

    def disk_needed(self, plan: List[Planned], keep_archives: Optional[bool] = None) -> int:
        """Peak extra disk use of carrying out ``plan`` in order (without the margin)."""
        keep = self.keep_archives if keep_archives is None else keep_archives
        used = peak = 0
        for p in plan:
            used += p.fetch_bytes
            peak = max(peak, used)
            used += p.extract_bytes
            peak = max(peak, used)
            if not keep and p.have_archive:
                used -= p.size  # the archive is deleted once extracted
        return peak

    def check_disk(self, plan: List[Planned]) -> str:
        probe = _existing_ancestor(self.root)
        free = shutil.disk_usage(str(probe)).free
        need = self.disk_needed(plan)
        fetch = sum(p.fetch_bytes for p in plan)
        extract = sum(p.extract_bytes for p in plan)
        guessed = any(not p.extract_exact for p in plan if p.extract_bytes)
        estimated = ' (estimated)' if guessed else ''
        if need == 0:
            return f'disk: nothing to add; {human_bytes(free)} free on {probe}'
        detail = (f'{human_bytes(fetch)} of archives to download + {human_bytes(extract)} '
                  f'extracted{estimated}')
        if not self.keep_archives:
            detail += ', archives deleted after extraction'
        if need + DISK_MARGIN > free:
            hints = ['free some space', 'choose a larger disk with --root (or LVIS_ROOT)']
            if self.keep_archives:
                lean = self.disk_needed(plan, keep_archives=False)
                if lean < need:
                    hints.append(f'use --delete-archives (needs {human_bytes(lean + DISK_MARGIN)})')
            hints.append('or fetch a part with --only')
            raise DataError(
                f'not enough free disk space for {self.root}: need '
                f'{human_bytes(need + DISK_MARGIN)} '
                f'({detail}, + {human_bytes(DISK_MARGIN)} margin) but only {human_bytes(free)} is '
                f'available on the filesystem of {probe}. To fix: {"; ".join(hints)}.')
        return (f'disk: need {human_bytes(need + DISK_MARGIN)} ({detail}, + '
                f'{human_bytes(DISK_MARGIN)} margin); {human_bytes(free)} free on {probe}')

    def describe(self, p: Planned) -> str:
        if p.action == 'done':
            return f'{p.spec.name}: already extracted (sha256 {p.sha256[:12]}...), nothing to do'
        if p.action == 'extract':
            return (f'{p.spec.name}: archive present, check and extract into '
                    f'{self.root / p.spec.dest}')
        if p.action == 'resume':
            return (f'{p.spec.name}: resume at {human_bytes(p.size - p.fetch_bytes)} of '
                    f'{human_bytes(p.size)} from {p.url}')
        return f'{p.spec.name}: download {human_bytes(p.size)} from {p.url}'

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
                        self._extract(p)
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
        self._stamp_path(p.archive).unlink(missing_ok=True)
        result.done.append(f'{p.spec.name}: archive deleted (--delete-archives)')

    def _ensure_archive(self, p: Planned, result: DownloadResult) -> bool:
        """Make ``p.archive`` a file with the expected sha256; False (with a problem recorded)
        when that failed."""
        if p.archive.is_file():
            if self._stamp_ok(p.archive, p.sha256):
                return True
            size = p.archive.stat().st_size
            digest = self._hash_file(p.archive, p.size) if size == p.size else f'(size {size})'
            if digest == p.sha256:
                self._write_stamp(p.archive, p.sha256)
                return True
            bad = self._move_aside(p.archive)
            self.log(f'warning: {p.archive} does not match the expected sha256 (got {digest}, '
                     f'expected {p.sha256}); moved to {bad} and not used; downloading it again')
        digest = self._fetch(p)
        if digest != p.sha256:
            bad = self._move_aside(p.part)
            result.problems.append(
                f'{p.spec.name}: checksum mismatch: sha256 {digest}, expected {p.sha256} '
                f'(from {self.checksums_path}). The file was moved to {bad} and not used. '
                f'To fix: rerun to download it again; if it fails again, the host or mirror '
                f'({p.url}) serves a different file: check it or use another --mirror.')
            return False
        os.replace(p.part, p.archive)
        self._write_stamp(p.archive, p.sha256)
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

    def _fetch(self, p: Planned) -> str:
        """Bring ``p.part`` to ``p.size`` bytes; return its sha256 (hashed as it is written)."""
        state = _PartFile(p.part)
        if state.size > p.size:
            self.log(f'{p.part} is larger than {p.spec.name} should be; starting over')
            state.truncate()
        if state.size:
            self.log(f'{p.spec.name}: hashing the {human_bytes(state.size)} already downloaded')
            state.rehash()
        self.progress.start(p.spec.name, p.size, initial=state.size)
        failures = 0
        while state.size < p.size:
            before = state.size
            try:
                self._transfer(p, state)
                error = 'the server closed the connection early'
            except _Transient as e:
                error = str(e)
            except BaseException:
                self.progress.finish('stopped')
                raise
            if state.size >= p.size:
                break
            if state.size > before:
                failures = 0  # a cut connection that made progress: resume at once
                self.progress.message(f'{p.spec.name}: transfer interrupted at '
                                      f'{human_bytes(state.size)} of {human_bytes(p.size)} '
                                      f'({error}); resuming')
                continue
            failures += 1
            if failures > self.retries:
                self.progress.finish('failed')
                raise DataError(
                    f'{p.spec.name}: could not download {p.url}: {error} (after {failures} '
                    f'attempts). The partial file {p.part} ({human_bytes(state.size)} of '
                    f'{human_bytes(p.size)}) is kept: rerun to resume. To fix: check the network '
                    f'or proxy (http_proxy/https_proxy), or use --mirror BASE_URL.')
            wait = min(self.retry_wait * 2 ** (failures - 1), 60.0)
            self.progress.message(f'{p.spec.name}: {error}; retry {failures}/{self.retries} '
                                  f'in {wait:.0f}s')
            time.sleep(wait)
        self.progress.finish()
        return state.hexdigest()

    def _transfer(self, p: Planned, state: '_PartFile') -> None:
        """One HTTP request: append what the server sends to the part file."""
        headers = {'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity'}
        if state.size:
            headers['Range'] = f'bytes={state.size}-'
        try:
            resp = self._opener.open(Request(p.url, headers=headers), timeout=self.timeout)
        except HTTPError as e:
            e.close()
            if e.code == 416 and state.size:  # our part is not a prefix the server knows
                self._restart(p, state, 'the server refused to resume (HTTP 416)')
                raise _Transient('HTTP 416 on resume') from None
            if e.code < 500 and e.code not in (408, 429):
                raise DataError(f'{p.spec.name}: {p.url} answered HTTP {e.code} {e.reason}. '
                                f'To fix: '
                                f'check the URL in {self.checksums_path}, or the --mirror / '
                                f'IIF_DATA_MIRROR base URL (it must serve {p.spec.name})') from None
            raise _Transient(f'HTTP {e.code} {e.reason}') from None
        except (URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, 'reason', None) or e
            raise _Transient(f'cannot reach {p.url}: {reason}') from None
        with resp:
            status = getattr(resp, 'status', None) or 200  # file:// responses have no status
            if status == 206:
                start, total = _content_range(resp.headers.get('Content-Range'))
                if total is not None and total != p.size:
                    raise DataError(self._wrong_size(p, total))
                if start != state.size:
                    self._restart(p, state, f'the server answered Range {state.size}- from {start}')
                    raise _Transient('resume offset mismatch')
            elif status == 200:
                start = 0
            else:
                raise _Transient(f'unexpected HTTP {status}')
            length = resp.headers.get('Content-Length')
            if length is not None and length.isdigit() and start + int(length) != p.size:
                raise DataError(self._wrong_size(p, start + int(length)))
            if start == 0 and state.size:
                self._restart(p, state, 'the server ignored the Range request')
            with state.open() as f:
                while True:
                    try:
                        chunk = resp.read(CHUNK)
                    except (OSError, http.client.HTTPException) as e:
                        raise _Transient(f'connection lost: {e}') from None
                    if not chunk:
                        return
                    if len(chunk) > p.size - state.size:
                        break  # longer than the expected file: not the file we want
                    state.write(f, chunk)
                    self.progress.update(len(chunk))
        bad = self._move_aside(p.part)
        state.forget()
        raise DataError(self._wrong_size(p, f'more than {p.size}')
                        + f' (partial data moved to {bad})')

    def _restart(self, p: Planned, state: '_PartFile', why: str) -> None:
        self.progress.message(f'{p.spec.name}: {why}; downloading the whole file again')
        state.truncate()
        self.progress.reset(0)

    def _wrong_size(self, p: Planned, got) -> str:
        return (f'{p.spec.name}: {p.url} serves {got} bytes but {self.checksums_path} expects '
                f'{p.size}: the host or mirror has another file under this name. To fix: '
                f'check the URL / --mirror, or the size in the TSV.')

    def _extract(self, p: Planned) -> None:
        dest = self.root / p.spec.dest
        dest.mkdir(parents=True, exist_ok=True)
        tmp = dest / f'.{p.spec.name}.extracting'
        if tmp.exists():  # left by an interrupted run of ours
            shutil.rmtree(tmp)
        self.marker_path(p.spec).unlink(missing_ok=True)
        try:
            with zipfile.ZipFile(p.archive) as zf:
                infos = zf.infolist()
                unsafe = [i.filename for i in infos if _unsafe_member(i.filename)]
                if unsafe:
                    raise DataError(f'{p.archive} has entries outside its folder (e.g. '
                                    f'{unsafe[0]!r}); refusing to extract it')
                tops = {i.filename.replace('\\', '/').split('/')[0] for i in infos}
                missing = [e for e in p.spec.provides if e not in tops]
                if missing:
                    raise DataError(f'{p.archive} does not contain {", ".join(missing)} (its top '
                                    f'level: {", ".join(sorted(tops)[:10])}); it is not the '
                                    f'expected archive')
                self.progress.start(f'extract {p.spec.name}', sum(i.file_size for i in infos))
                for info in infos:
                    zf.extract(info, tmp)
                    self.progress.update(info.file_size)
                self.progress.finish()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError(f'{p.archive} cannot be extracted ({e}) although its sha256 matched; '
                            f'move it away and rerun') from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for entry in p.spec.provides:
            target = dest / entry
            if target.exists() or target.is_symlink():  # appeared while we were extracting
                raise DataError(f'{target} appeared during extraction; the extracted copy is left '
                                f'in {tmp}: compare, move one away and rerun')
            os.rename(tmp / entry, target)
        extras = sorted(tops - set(p.spec.provides))
        if extras:
            self.log(f'{p.spec.name}: ignored entries not used by the layout: {", ".join(extras)}')
        shutil.rmtree(tmp)
        _write_json(self.marker_path(p.spec), dict(
            archive=p.spec.name, sha256=p.sha256, dest=p.spec.dest or '.',
            provides=list(p.spec.provides),
            extracted_at=_dt.datetime.now().isoformat(timespec='seconds')))


def _content_range(value: Optional[str]):
    """'bytes START-END/TOTAL' -> (START, TOTAL or None); (-1, None) when unparsable."""
    try:
        unit, spec = (value or '').split(' ', 1)
        span, total = spec.split('/', 1)
        return int(span.split('-', 1)[0]), (None if total.strip() == '*' else int(total))
    except ValueError:
        return -1, None


class _PartFile:
    """A ``.part`` file with the sha256 of the bytes it holds, kept up to date as it grows."""

    def __init__(self, path: Path):
        self.path = path
        self.size = path.stat().st_size if path.is_file() else 0
        self._hash = hashlib.sha256()

    def rehash(self) -> None:
        self._hash = hashlib.sha256()
        with open(self.path, 'rb') as f:
            for chunk in iter(lambda: f.read(CHUNK), b''):
                self._hash.update(chunk)

    def forget(self) -> None:
        """The file was moved away."""
        self.size = 0
        self._hash = hashlib.sha256()

    def truncate(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, 'wb'):
            pass
        self.size = 0
        self._hash = hashlib.sha256()

    @contextmanager
    def open(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, 'ab') as f:
            yield f

    def write(self, f, chunk: bytes) -> None:
        f.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def download(root: PathLike, **kwargs) -> DownloadResult:
    """Python entry point: ``download(root, only=None, mirror=None, checksums=None,
    keep_archives=True, dry_run=False, ...)``; raises DataError for setup problems and returns
    the per-archive problems (checksum mismatches, failed transfers) in the result."""
    dry_run = kwargs.pop('dry_run', False)
    return Downloader(root, **kwargs).run(dry_run=dry_run)
