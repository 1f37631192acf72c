"""The queue's state file and lock.

``<work root>/reproduce_state.json`` records every run (pending / running / done / failed, its
attempts, times, logs and result) and is replaced atomically on each change, so a reader (``iif
reproduce status``) or a killed queue never leaves half a file. ``<work root>/reproduce.lock`` is
held with ``flock`` by the running queue; the kernel drops it when the queue's processes die,
so a SIGKILL leaves no stale lock behind.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

from iif.clock import now
from iif.fsutil import write_json_atomic

from .errors import QueueBusy, ReproduceError

STATE_FILE = 'reproduce_state.json'
LOCK_FILE = 'reproduce.lock'
STATUSES = ('pending', 'running', 'done', 'failed')
STATE_VERSION = 1


def run_key(variant: str, seed: int) -> str:
    return f'{variant}/seed{seed}'


class QueueState:
    """The state file's content: ``{'version', 'work_root', 'queue': {...}, 'runs': {key: run}}``.

    A run: variant, seed, config, work_dir, status, attempts (list of {started, ended, phase,
    exit_code, resumed_from, seconds, outcome}), seconds (time spent over all attempts),
    log, result (metrics.json path), error.
    """

    def __init__(self, work_root: Path, data: Optional[dict] = None):
        self.work_root = Path(work_root)
        self.path = self.work_root / STATE_FILE
        self.data = data or dict(version=STATE_VERSION, work_root=str(self.work_root),
                                 queue={}, runs={})

    @classmethod
    def load(cls, work_root: Path) -> 'QueueState':
        path = Path(work_root) / STATE_FILE
        if not path.is_file():
            return cls(work_root)
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, ValueError) as e:
            raise ReproduceError(
                f'state file {path} cannot be read ({e}). Move it aside and start the queue '
                'again: finished runs are found again from their run directories.') from e
        if not isinstance(data, dict) or data.get('version') != STATE_VERSION \
                or not isinstance(data.get('runs'), dict):
            raise ReproduceError(f'state file {path} is not a reproduce state (version '
                                 f'{STATE_VERSION}); move it aside and start the queue again')
        return cls(work_root, data)

    @property
    def runs(self) -> Dict[str, dict]:
        return self.data['runs']

    @property
    def queue(self) -> dict:
        return self.data.setdefault('queue', {})

    def save(self) -> None:
        self.data['updated'] = now()
        self.work_root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, self.data)

    def resolve(self, path: str) -> Path:
        """A path recorded in the state, found from this process: paths under the recorded
        work root are re-based onto the work root this state was loaded from (so `report`
        works from another directory, or with the work root mounted elsewhere); other
        relative paths are relative to the directory the queue ran in (queue.cwd)."""
        p = Path(path)
        recorded = Path(self.data.get('work_root') or self.work_root)
        try:
            return self.work_root / p.relative_to(recorded)
        except ValueError:
            pass
        if p.is_absolute():
            return p
        cwd = self.queue.get('cwd')
        return Path(cwd) / p if cwd else p

    def ordered_runs(self) -> List[dict]:
        return list(self.runs.values())


# ------------------------------------------------------------------------------------- lock
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class QueueLock:
    """An exclusive, non-blocking ``flock`` on ``<work root>/reproduce.lock``.

    The file holds the owner's PID, host, start time and command line (informative only: the
    flock is the lock). The descriptor is inheritable, so the training processes the queue
    starts hold the lock too: if the queue is SIGKILLed while they shut down, a new queue waits
    for them instead of training into the same run directory at the same time.
    """

    def __init__(self, work_root: Path):
        self.path = Path(work_root) / LOCK_FILE
        self.fd: Optional[int] = None

    def holder(self) -> dict:
        try:
            text = self.path.read_text(encoding='utf-8')
            return json.loads(text) if text.strip() else {}
        except (OSError, ValueError):
            return {}

    def _try(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise

    def acquire(self, command: str, wait_orphans_s: float = 120.0,
                say: Callable[[str], None] = print) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = None
        said = False
        # `status` takes a shared lock for an instant; do not mistake it for a queue
        grace = time.time() + 2.0
        while not self._try(fd):
            if time.time() < grace:
                time.sleep(0.2)
                continue
            info = self.holder()
            pid, host = info.get('pid'), info.get('host')
            same_host = host == socket.gethostname()
            if isinstance(pid, int) and same_host and not _pid_alive(pid):
                # The queue is gone but processes it started still hold the lock: they are
                # shutting down (a killed queue's training gets SIGTERM). Wait for them.
                deadline = deadline or time.time() + wait_orphans_s
                if time.time() < deadline:
                    if not said:
                        say(f'the queue that held {self.path} (PID {pid}) has ended; waiting up '
                            f'to {wait_orphans_s:.0f} s for the processes it started to exit')
                        said = True
                    time.sleep(1.0)
                    continue
            os.close(fd)
            raise QueueBusy(self._busy_message(info))
        os.set_inheritable(fd, True)
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(dict(pid=os.getpid(), host=socket.gethostname(),
                                       started=now(), command=command)) + '\n').encode(), 0)
        self.fd = fd

    def _busy_message(self, info: dict) -> str:
        pid = info.get('pid', 'unknown')
        where = f' on host {info["host"]}' if info.get('host') else ''
        since = f', started {info["started"]}' if info.get('started') else ''
        cmd = f'\n  its command: {info["command"]}' if info.get('command') else ''
        work_root = self.path.parent
        return (f'another reproduce queue is running on {work_root} (PID {pid}{where}{since}); '
                f'two queues would train into the same run directories.{cmd}\n'
                f'  Watch it with `iif reproduce status --work-root {work_root}`, wait for it to '
                f'finish, or stop it (kill {pid}) and start this command again: it resumes '
                'where the other one stopped. For an independent queue pass another --work-root.')

    def release(self) -> None:
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None

    def held_by_someone(self) -> bool:
        """True while a queue (or processes it started) holds the lock; for `status`."""
        if not self.path.is_file():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return True
                raise
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)
