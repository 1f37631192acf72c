"""The kit's user-facing errors: problems the user can fix (bad input, missing data, a config
that does not fit). Entry points print them as ``error: ...`` and exit with status 2; any other
exception is a bug in the kit and shows its traceback.

No imports: ``iif.models``, ``iif.weights``, ``iif.lvisdata`` and ``iif.evaluation`` derive
their errors from here without pulling in torch or the engine.
"""


class UserError(Exception):
    """Bad input or environment: the message names the problem and the fix."""

    exit_code = 2


class MissingFileError(UserError, FileNotFoundError):
    """An input file the user named does not exist (still a FileNotFoundError for callers)."""
