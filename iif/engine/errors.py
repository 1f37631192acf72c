"""One exception type for problems the user can fix; entry points print it without a traceback."""


class UserError(Exception):
    """Bad input or environment: the message names the problem and the fix."""

    exit_code = 2
