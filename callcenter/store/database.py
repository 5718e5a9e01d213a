"""``Store``: the switch's SQLite database (WAL), one writer thread, one read connection.

Writes never block the caller: ``write_cdr`` and friends queue the write and return a
``concurrent.futures.Future`` that resolves once the write is committed and durable
(``await asyncio.wrap_future(fut)`` from a coroutine). Reads are synchronous, on a
separate connection that WAL lets run beside the writer; they are short indexed queries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import sqlite_utils

from callcenter.store.errors import StoreClosedError
from callcenter.store.records import (
    CallDirection,
    CdrRecord,
    Disposition,
    RegistrationRow,
)
from callcenter.store.writer import WriterStats, WriterThread, connect

__all__ = ["Store"]

T = TypeVar("T")
_UPSERT_REGISTRATION = """
    INSERT INTO registrations
        (aor, contact, expires_at, call_id, cseq, source, user_agent, instance, q)
    VALUES
        (:aor, :contact, :expires_at, :call_id, :cseq, :source, :user_agent, :instance, :q)
    ON CONFLICT (aor, contact) DO UPDATE SET
        expires_at = excluded.expires_at, call_id = excluded.call_id, cseq = excluded.cseq,
        source = excluded.source, user_agent = excluded.user_agent,
        instance = excluded.instance, q = excluded.q
"""


class Store:
    """The database. Build with ``Store.open(path)``; ``close()`` when done."""

    def __init__(self, path: Path, writer: WriterThread, reader: sqlite_utils.Database) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._read_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, path: Path, *, max_batch: int = 1000) -> Store:
        """Open (creating and migrating as needed) the database at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = WriterThread(path, max_batch=max_batch)
        writer.start()
        try:
            writer.ready.result()
        except BaseException:
            writer.join()
            raise
        return cls(path, writer, connect(path, read_only=True))

    # -- writes ---------------------------------------------------------------------------

    def submit_write(self, op: Callable[[sqlite_utils.Database], T]) -> Future[T]:
        """Run ``op(db)`` in the writer thread, inside the next batch transaction.

        ``op`` must only issue SQL (no waiting); if it raises, only its own changes are
        rolled back and its future fails.
        """
        with self._state_lock:
            if self._closed:
                raise StoreClosedError("the store is closed")
            return self._writer.submit(op)

    def write_cdr(self, record: CdrRecord) -> Future[int]:
        """Insert a CDR; the future resolves with its row id."""
        row = record.to_row()

        def insert(db: sqlite_utils.Database) -> int:
            cursor = db.execute(
                f"INSERT INTO cdr ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
            return int(cursor.lastrowid or 0)

        return self.submit_write(insert)

    def save_registration(self, registration: RegistrationRow) -> Future[None]:
        """Insert or replace the binding (aor, contact)."""
        row = registration.to_row()
        return self.submit_write(lambda db: _execute(db, _UPSERT_REGISTRATION, row))

    def delete_registration(self, aor: str, contact: str) -> Future[int]:
        """Remove one binding; the future resolves with the number of rows removed."""
        sql = "DELETE FROM registrations WHERE aor = ? AND contact = ?"
        return self.submit_write(lambda db: _rowcount(db, sql, [aor, contact]))

    def delete_expired_registrations(self, now: float) -> Future[int]:
        """Remove bindings with ``expires_at <= now``; resolves with how many."""
        sql = "DELETE FROM registrations WHERE expires_at <= ?"
        return self.submit_write(lambda db: _rowcount(db, sql, [now]))

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far is committed."""
        self.submit_write(lambda db: None).result(timeout)

    @property
    def writer_stats(self) -> WriterStats:
        """Batches and operations committed so far."""
        return self._writer.stats

    # -- reads ----------------------------------------------------------------------------

    def load_registrations(self, now: float) -> list[RegistrationRow]:
        """Bindings that have not expired at ``now``."""
        rows = self._query(
            "SELECT * FROM registrations WHERE expires_at > ? ORDER BY aor, contact", [now]
        )
        return [RegistrationRow.from_row(row) for row in rows]

    def query_cdrs(
        self,
        limit: int = 100,
        offset: int = 0,
        *,
        since: float | None = None,
        until: float | None = None,
        call_id: str | None = None,
        party: str | None = None,
        direction: CallDirection | None = None,
        disposition: Disposition | None = None,
    ) -> list[CdrRecord]:
        """CDRs, newest first. ``since``/``until`` bound ``start_time`` (until exclusive);
        ``party`` matches caller or callee."""
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("start_time >= ?", since),
            ("start_time < ?", until),
            ("call_id = ?", call_id),
            ("direction = ?", None if direction is None else direction.value),
            ("disposition = ?", None if disposition is None else disposition.value),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if party is not None:
            where.append("(caller = ? OR callee = ?)")
            params += [party, party]
        sql = "SELECT * FROM cdr"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time DESC, id DESC LIMIT ? OFFSET ?"
        rows = self._query(sql, [*params, max(0, limit), max(0, offset)])
        return [CdrRecord.from_row(row) for row in rows]

    def _query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with self._read_lock:
            return list(self._reader.query(sql, params))

    # -- lifetime -------------------------------------------------------------------------

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued, stop the writer and close both connections."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._writer.stop()
        self._writer.join(timeout)
        with self._read_lock:
            self._reader.close()

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _execute(db: sqlite_utils.Database, sql: str, params: dict[str, Any]) -> None:
    db.execute(sql, params)


def _rowcount(db: sqlite_utils.Database, sql: str, params: list[Any]) -> int:
    return int(db.execute(sql, params).rowcount)
