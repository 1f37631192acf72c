"""Errors of the reproduce queue."""
from iif.errors import UserError


class ReproduceError(UserError, ValueError):
    """A problem the user can fix (bad option, unknown variant, another queue running)."""


class QueueBusy(ReproduceError):
    """Another queue holds the work root's lock."""
