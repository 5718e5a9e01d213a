"""The single writer: a thread that owns the write connection and group-commits.

Callers enqueue write operations (functions of a ``sqlite_utils.Database``) and get a
``concurrent.futures.Future`` back at once. The thread takes whatever is queued (up to
``max_batch`` operations), runs each inside its own savepoint of one transaction and
commits once, so a burst of writes costs one fsync, and the asyncio loop never waits for
the disk. A future resolves only after the commit that holds its operation: with
``synchronous=FULL`` in WAL mode, a resolved write survives the process being killed.

An operation that raises is rolled back alone (its savepoint) and fails its own future;
the rest of the batch commits.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from callcenter.store.errors import StoreError
from callcenter.store.schema import migrate

__all__ = ["WriteOp", "WriterStats", "WriterThread", "connect"]

_log = logging.getLogger(__name__)
WriteOp = Callable[[sqlite_utils.Database], Any]
BUSY_TIMEOUT_MS = 5000


def connect(path: Path, *, read_only: bool = False) -> sqlite_utils.Database:
    """A connection with the store's settings (explicit transactions, WAL, FULL sync)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys = ON")
    if read_only:
        db.execute("PRAGMA query_only = ON")
    else:
        db.enable_wal()
        db.execute("PRAGMA synchronous = FULL")
    return db


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters since the writer started."""

    batches: int
    """Transactions committed."""
    operations: int
    """Operations run (committed or failed)."""


@dataclass(frozen=True, slots=True)
class _Job:
    op: WriteOp
    future: Future[Any]


class WriterThread(threading.Thread):
    """Owns the write connection; see the module docstring."""

    def __init__(self, path: Path, *, max_batch: int = 1000) -> None:
        super().__init__(name="store-writer", daemon=True)
        self._path = path
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.ready: Future[None] = Future()
        """Resolves once the database is open and migrated (or fails with why not)."""
        self._batches = 0
        self._operations = 0

    @property
    def stats(self) -> WriterStats:
        """Counters since start."""
        return WriterStats(self._batches, self._operations)

    def submit(self, op: WriteOp) -> Future[Any]:
        """Queue ``op``; the future resolves with its result once committed."""
        job = _Job(op, Future())
        self._queue.put(job)
        return job.future

    def stop(self) -> None:
        """Ask the thread to finish what is queued and exit."""
        self._queue.put(None)

    def run(self) -> None:
        try:
            db = connect(self._path)
            migrate(db)
        except BaseException as exc:
            self.ready.set_exception(exc)
            return
        self.ready.set_result(None)
        try:
            self._serve(db)
        finally:
            db.close()
            self._fail_queued(StoreError("store writer stopped"))

    def _serve(self, db: sqlite_utils.Database) -> None:
        while True:
            batch, stopping = self._next_batch()
            if batch:
                self._commit(db, batch)
            if stopping:
                return

    def _next_batch(self) -> tuple[list[_Job], bool]:
        batch: list[_Job] = []
        item = self._queue.get()
        while item is not None:
            batch.append(item)
            if len(batch) >= self._max_batch:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _commit(self, db: sqlite_utils.Database, batch: list[_Job]) -> None:
        jobs = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not jobs:
            return
        try:
            outcomes = self._run_batch(db, jobs)
        except Exception as exc:
            _log.error("store batch of %d writes failed: %s", len(jobs), exc)
            error = exc if isinstance(exc, StoreError) else StoreError(f"commit failed: {exc}")
            for job in jobs:
                job.future.set_exception(error)
            return
        self._batches += 1
        self._operations += len(jobs)
        for job, failure, result in outcomes:
            if failure is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(failure)

    def _run_batch(
        self, db: sqlite_utils.Database, jobs: list[_Job]
    ) -> list[tuple[_Job, Exception | None, Any]]:
        outcomes: list[tuple[_Job, Exception | None, Any]] = []
        with db.atomic():
            for job in jobs:
                outcome = self._run_one(db, job)
                outcomes.append(outcome)
                if not db.conn.in_transaction:
                    raise StoreError("a write aborted the batch transaction") from outcome[1]
        return outcomes

    @staticmethod
    def _run_one(db: sqlite_utils.Database, job: _Job) -> tuple[_Job, Exception | None, Any]:
        try:
            with db.atomic():
                return job, None, job.op(db)
        except Exception as exc:
            return job, exc, None

    def _fail_queued(self, error: StoreError) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None and item.future.set_running_or_notify_cancel():
                item.future.set_exception(error)
