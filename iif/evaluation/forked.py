"""A function run in a forked child process, its return value sent back pickled over a pipe.

The evaluator uses it to spread one IoU type over two cores (:mod:`iif.evaluation.fast`) and to
evaluate IoU types side by side (:mod:`iif.evaluation.api`). ``os.fork`` rather than
multiprocessing: the child shares the parent's arrays without pickling them, and a forked child
may fork again (a daemonic multiprocessing worker may not start children).
"""
from __future__ import annotations

import os
import pickle
import signal
import sys
import traceback

# the pipe ends of this process's own helpers and, in a forked child, the one it replies on:
# a child closes the others, so that a helper's death is seen (EOF) even while a grandchild runs
_OPEN_FDS: set = set()


class WorkerFailed(RuntimeError):
    """A helper process died, or failed with an error that is not an input error (a bug)."""


def fork_available() -> bool:
    return hasattr(os, 'fork')


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's or taskset's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _describe_end(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f'killed by signal {sig} ({name})'
    return f'exit code {os.waitstatus_to_exitcode(status)}'


class Forked:
    """``fn(*args)`` in a forked child; :meth:`result` waits for its value.

    Use as a context manager (or call :meth:`stop` in a ``finally``): a child still running when
    the caller leaves, e.g. because the caller failed, is killed and reaped.
    """

    def __init__(self, what: str, fn, *args):
        self.what = what
        read, write = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # unflushed text would be written twice
            try:
                stream.flush()
            except (AttributeError, ValueError):
                pass
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            raise
        if pid == 0:
            _child(read, write, fn, args)  # never returns
        os.close(write)
        self.pid, self._read = pid, read
        _OPEN_FDS.add(read)

    def result(self):
        """fn's return value; its exception re-raised (input errors, i.e. ``ValueError`` and
        ``OSError``, as they are; others as :class:`WorkerFailed` with the child's traceback).
        :class:`WorkerFailed` if the child ended without a reply (killed, out of memory)."""
        try:
            with os.fdopen(self._read, 'rb', closefd=False) as f:
                reply = pickle.load(f)
        except Exception:  # noqa: BLE001 - no reply, or a cut-off one: the child's end says why
            reply = None
        self._close()  # first: a child still writing then fails instead of waiting for a reader
        status = self._reap()
        if reply is None:
            raise WorkerFailed(f'{self.what} ended without a result ({_describe_end(status)}; '
                               'out of memory?)')
        if reply[0] == 'ok':
            return reply[1]
        exc, text = reply[1], reply[2]
        if isinstance(exc, (ValueError, OSError)):
            raise exc
        raise WorkerFailed(f'{self.what} failed:\n{text}')

    def stop(self) -> None:
        """Kill the child if it still runs, reap it and close the pipe (idempotent)."""
        self._close()
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap()

    def _reap(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        return status

    def _close(self) -> None:
        if self._read is not None:
            _OPEN_FDS.discard(self._read)
            os.close(self._read)
            self._read = None

    def __enter__(self) -> 'Forked':
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _child(read: int, write: int, fn, args) -> None:
    code = 1
    try:
        os.close(read)
        for fd in _OPEN_FDS:  # the parent's other pipes (see _OPEN_FDS)
            os.close(fd)
        _OPEN_FDS.clear()
        _OPEN_FDS.add(write)
        with os.fdopen(write, 'wb', closefd=False) as f:
            try:
                value = fn(*args)
            except BaseException as e:  # noqa: BLE001 - sent to the parent
                text = f'{type(e).__name__}: {e}\n{traceback.format_exc()}'
                try:
                    data = pickle.dumps(('error', e, text), pickle.HIGHEST_PROTOCOL)
                    pickle.loads(data)  # some exception classes pickle but do not unpickle
                except Exception:  # noqa: BLE001 - then its text only
                    data = pickle.dumps(('error', None, text), pickle.HIGHEST_PROTOCOL)
                f.write(data)
            else:
                # streamed, not pickled to one bytes object first: the value may be large
                pickle.dump(('ok', value), f, pickle.HIGHEST_PROTOCOL)
                code = 0
    finally:
        os._exit(code)  # never back into the parent's code (its finally blocks, atexit, tests)
