"""Fail the test session on any skip not listed in ALLOWED_SKIPS.

The stack is pinned (lvis, pycocotools, mmdet, ...), so a test that skips means a missing
package or an environment problem hiding a test: the suite must go red, not quietly pass.
Loaded by tests/conftest.py, so it applies inside the image, on a host and to tests/container.
"""
from __future__ import annotations

import pytest

# test node id (or a prefix of it) -> why skipping it is expected. Empty: every test runs.
ALLOWED_SKIPS: dict[str, str] = {}

_unexpected: list[str] = []


def _allowed(nodeid: str) -> bool:
    return any(nodeid.startswith(prefix) for prefix in ALLOWED_SKIPS)


def _record(report) -> None:
    if report.skipped and not hasattr(report, 'wasxfail') and not _allowed(report.nodeid):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        _unexpected.append(f'{report.nodeid or "<collection>"}: {reason}')


def pytest_collectreport(report) -> None:
    _record(report)


def pytest_runtest_logreport(report) -> None:
    _record(report)


def pytest_sessionfinish(session, exitstatus) -> None:
    if not _unexpected:
        return
    reporter = session.config.pluginmanager.get_plugin('terminalreporter')
    if reporter is not None:
        reporter.write('\n')
        reporter.write_sep('=', 'unexpected skips (tests/skip_policy.py)', red=True)
        for line in _unexpected:
            reporter.write_line(line)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
