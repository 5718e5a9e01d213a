"""SQLite storage (WAL) through sqlite-utils, with schema migrations and one writer.

``Store.open(path)`` migrates the database and starts the writer thread. Writes are
queued and group-committed; each returns a ``concurrent.futures.Future`` resolved once
durable. Reads go through a separate connection. Rows are frozen dataclasses
(``records``); migrations live in ``schema``.
"""

from callcenter.store.database import Store
from callcenter.store.errors import SchemaTooNewError, StoreClosedError, StoreError
from callcenter.store.records import (
    CallDirection,
    CdrRecord,
    Disposition,
    HangupBy,
    RegistrationRow,
)
from callcenter.store.schema import MIGRATIONS, migrate
from callcenter.store.writer import WriterStats

__all__ = [
    "MIGRATIONS",
    "CallDirection",
    "CdrRecord",
    "Disposition",
    "HangupBy",
    "RegistrationRow",
    "SchemaTooNewError",
    "Store",
    "StoreClosedError",
    "StoreError",
    "WriterStats",
    "migrate",
]
