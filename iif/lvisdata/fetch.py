"""Resumable HTTP download of one archive into its ``.part`` file.

A transfer resumes with a Range request; a server that ignores Range sends the whole file,
which then replaces the partial one. The sha256 is computed as the bytes are written, so a
finished download needs no second read. Connection problems and HTTP 5xx are retried with
back-off; an answer that can never succeed (HTTP 4xx, a file of another size) is a DataError.
"""
from __future__ import annotations

import hashlib
import http.client
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Optional
from urllib.error import HTTPError, URLError
from urllib.request import Request, build_opener

from .catalog import DataError
from .plan import Planned
from .progress import Progress, human_bytes
from .state import move_aside

CHUNK = 1 << 20
USER_AGENT = 'iif-data/0.1 (+python-urllib)'


class _Transient(Exception):
    """A failed attempt worth retrying (connection refused/reset/cut short, HTTP 5xx)."""


def _content_range(value: Optional[str]):
    """'bytes START-END/TOTAL' -> (START, TOTAL or None); (-1, None) when unparsable."""
    try:
        unit, spec = (value or '').split(' ', 1)
        span, total = spec.split('/', 1)
        return int(span.split('-', 1)[0]), (None if total.strip() == '*' else int(total))
    except ValueError:
        return -1, None


class PartFile:
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


class Fetcher:
    """Brings ``Planned.part`` files to their full size over HTTP(S) (or file://)."""

    def __init__(self, checksums_path: Path, progress: Progress, retries: int = 5,
                 timeout: float = 60.0, retry_wait: float = 2.0,
                 log: Optional[Callable[[str], None]] = None):
        self.checksums_path = checksums_path  # named in messages about a wrong file
        self.progress = progress
        self.retries = retries
        self.timeout = timeout
        self.retry_wait = retry_wait
        self.log = log or progress.message
        self._opener = build_opener()  # honours http(s)_proxy / no_proxy from the environment

    def fetch(self, p: Planned) -> str:
        """Bring ``p.part`` to ``p.size`` bytes; return its sha256 (hashed as it is written)."""
        state = PartFile(p.part)
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

    def _transfer(self, p: Planned, state: PartFile) -> None:
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
        bad = move_aside(p.part)
        state.forget()
        raise DataError(self._wrong_size(p, f'more than {p.size}')
                        + f' (partial data moved to {bad})')

    def _restart(self, p: Planned, state: PartFile, why: str) -> None:
        self.progress.message(f'{p.spec.name}: {why}; downloading the whole file again')
        state.truncate()
        self.progress.reset(0)

    def _wrong_size(self, p: Planned, got) -> str:
        return (f'{p.spec.name}: {p.url} serves {got} bytes but {self.checksums_path} expects '
                f'{p.size}: the host or mirror has another file under this name. To fix: '
                f'check the URL / --mirror, or the size in the TSV.')
