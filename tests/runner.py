"""Running a command as a user would, and showing what it printed when an assertion fails.
Standard library only: the in-image suite, the host-driven service tests and the cluster tests
(whose driver has only pytest) all use it."""
from __future__ import annotations

import subprocess


def run_command(cmd, cwd, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``cmd`` (any path-like items allowed) with its output kept for assertions."""
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


def explain(result: subprocess.CompletedProcess) -> str:
    """The exit status and the end of both streams, for an assertion message."""
    return f'exit {result.returncode}\n--- stdout ---\n{result.stdout[-4000:]}\n' \
           f'--- stderr ---\n{result.stderr[-4000:]}'
