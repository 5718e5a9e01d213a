"""Store errors.

::

    StoreError
    +-- StoreClosedError     a write was attempted after close()
    +-- SchemaTooNewError    the database was migrated by newer software
"""

from __future__ import annotations

__all__ = ["SchemaTooNewError", "StoreClosedError", "StoreError"]


class StoreError(Exception):
    """Base of store errors."""


class StoreClosedError(StoreError):
    """The store is closed; nothing more can be written."""


class SchemaTooNewError(StoreError):
    """The database schema is newer than this software knows."""
