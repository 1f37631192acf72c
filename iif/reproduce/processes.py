"""Starting a launch as its own process group, and cleaning up after it (Linux; elsewhere the
queue still works, less tidily)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import IO, Callable, Dict, List, Optional, Sequence


def free_port() -> int:
    """A TCP port free on this host now (for torchrun's master)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def die_with_parent(parent: int) -> Callable[[], None]:
    """preexec_fn: the launch (bash, then torchrun by exec) gets its own process group, so its
    leftovers can be found, and SIGTERM if the queue dies, even by SIGKILL; torchrun then stops
    its workers. Without it they would keep training."""
    def _set() -> None:
        os.setpgid(0, 0)
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 - not Linux: the queue still works, less tidily
            return
        if os.getppid() != parent:  # the queue died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)
    return _set


def start_launch(argv: Sequence[str], out: IO, env: Dict[str, str],
                 keep_fds: Sequence[int] = ()) -> subprocess.Popen:
    """Start ``argv`` with stdout and stderr to ``out``, no stdin, leading its own process
    group (its pid is the group id) and stopped if this process dies; ``keep_fds`` are
    inherited (the queue's lock)."""
    return subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=env,
                            stdin=subprocess.DEVNULL, pass_fds=tuple(keep_fds),
                            preexec_fn=die_with_parent(os.getpid()))


def group_members(pgid: int, marker: str) -> List[int]:
    """PIDs in process group ``pgid`` whose command line contains ``marker`` (Linux /proc)."""
    found = []
    for entry in Path('/proc').iterdir() if Path('/proc').is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
            # the fields after the command name (which may hold spaces): state ppid pgrp ...
            if int(stat.rsplit(')', 1)[1].split()[2]) != pgid:
                continue
            if marker in (entry / 'cmdline').read_bytes().replace(b'\0', b' ').decode('utf-8',
                                                                                    'replace'):
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile, or not ours to read
    return found


def reap_leftovers(pgid: Optional[int], marker: str) -> List[int]:
    """SIGKILL what a launch left behind in its process group: a training process killed
    mid-epoch can leave DataLoader workers that never exit (they wait on a pipe nobody reads).
    Only processes of that group whose command line names the run directory are touched."""
    if not pgid:
        return []
    pids = group_members(pgid, marker)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids
