"""The engine's name for the kit's user-error base class (defined in :mod:`iif.errors`)."""
from iif.errors import MissingFileError, UserError

__all__ = ['MissingFileError', 'UserError']
