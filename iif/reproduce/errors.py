"""Errors of the reproduce queue."""


class ReproduceError(ValueError):
    """A problem the user can fix (bad option, unknown variant, another queue running)."""


class QueueBusy(ReproduceError):
    """Another queue holds the work root's lock."""
