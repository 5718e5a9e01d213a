"""Store: migrations, group commit through the single writer, reads, lifetime."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
import sqlite_utils

from callcenter.store import (
    MIGRATIONS,
    CallDirection,
    CdrRecord,
    Disposition,
    HangupBy,
    RegistrationRow,
    SchemaTooNewError,
    Store,
    StoreClosedError,
    migrate,
)

WAIT = 10.0  # seconds; a bound on waiting for the writer thread, never a sleep


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "callcenter.db") as opened:
        yield opened


def cdr(n: int, **changes: object) -> CdrRecord:
    values: dict[str, object] = {
        "call_id": f"call-{n}",
        "caller": "1001",
        "callee": "1002",
        "direction": CallDirection.INTERNAL,
        "start_time": 1000.0 + n,
        "end_time": 1010.0 + n,
        "duration_s": 10.0,
        "billsec_s": 0.0,
        "disposition": Disposition.NO_ANSWER,
        "sip_code": 480,
        "sip_reason": "Temporarily Unavailable",
    }
    values.update(changes)
    return CdrRecord(**values)  # type: ignore[arg-type]


def registration(contact: str = "sip:1001@10.0.0.5:5062", **changes: object) -> RegistrationRow:
    values: dict[str, object] = {
        "aor": "sip:1001@pbx.example.com",
        "contact": contact,
        "expires_at": 5000.0,
        "call_id": "reg-1",
        "cseq": 1,
        "source": "udp:10.0.0.5:5062",
    }
    values.update(changes)
    return RegistrationRow(**values)  # type: ignore[arg-type]


class Gate:
    """Holds the writer thread inside one operation until released."""

    def __init__(self, store: Store) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.future = store.submit_write(self._hold)
        assert self.started.wait(WAIT)

    def _hold(self, db: sqlite_utils.Database) -> None:
        self.started.set()
        assert self.release.wait(WAIT)

    def open(self) -> None:
        self.release.set()
        self.future.result(WAIT)


def test_migrations_apply_once(tmp_path: Path) -> None:
    path = tmp_path / "callcenter.db"
    Store.open(path).close()
    db = sqlite_utils.Database(path)
    versions = [row["version"] for row in db.query("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    assert {"cdr", "registrations", "schema_migrations"} <= set(db.table_names())
    assert migrate(db) == []
    Store.open(path).close()
    assert db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
    assert db.journal_mode == "wal"
    db.close()


def test_migrate_applies_only_missing_ones(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "x.db")
    assert migrate(db, MIGRATIONS[:1]) == [1]
    assert migrate(db) == list(range(2, len(MIGRATIONS) + 1))
    assert "registrations" in db.table_names()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "callcenter.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="version 99"):
        Store.open(path)


def test_writer_connection_settings(store: Store) -> None:
    def pragmas(db: sqlite_utils.Database) -> tuple[int, int, str]:
        sync = db.execute("PRAGMA synchronous").fetchone()[0]
        fks = db.execute("PRAGMA foreign_keys").fetchone()[0]
        return sync, fks, db.journal_mode

    assert store.submit_write(pragmas).result(WAIT) == (2, 1, "wal")  # 2 = FULL


def test_queued_writes_share_one_transaction(store: Store) -> None:
    gate = Gate(store)
    futures = [store.write_cdr(cdr(n)) for n in range(200)]
    assert not any(f.done() for f in futures)
    gate.open()
    ids = [f.result(WAIT) for f in futures]
    assert ids == list(range(1, 201))
    assert store.writer_stats.batches == 2  # the gate's batch, then all 200 at once
    assert store.writer_stats.operations == 201


def test_batches_are_bounded(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db", max_batch=50) as store:
        gate = Gate(store)
        futures = [store.write_cdr(cdr(n)) for n in range(200)]
        gate.open()
        for future in futures:
            future.result(WAIT)
        assert store.writer_stats.batches == 1 + 4


def test_a_failing_write_fails_alone(store: Store) -> None:
    gate = Gate(store)
    good_before = store.write_cdr(cdr(1))
    bad = store.write_cdr(cdr(2, duration_s=-1.0))
    good_after = store.write_cdr(cdr(3))
    gate.open()
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        bad.result(WAIT)
    good_before.result(WAIT)
    good_after.result(WAIT)
    assert [r.call_id for r in store.query_cdrs()] == ["call-3", "call-1"]
    assert store.writer_stats.batches == 2


def test_cancelled_write_is_skipped(store: Store) -> None:
    gate = Gate(store)
    doomed = store.write_cdr(cdr(1))
    kept = store.write_cdr(cdr(2))
    assert doomed.cancel()
    gate.open()
    kept.result(WAIT)
    assert [r.call_id for r in store.query_cdrs()] == ["call-2"]


def test_resolved_write_is_visible_to_other_connections(store: Store) -> None:
    store.write_cdr(cdr(7)).result(WAIT)
    with sqlite3.connect(store.path) as other:
        assert other.execute("SELECT call_id FROM cdr").fetchall() == [("call-7",)]
    other.close()


def test_cdr_round_trip(store: Store) -> None:
    record = cdr(
        1,
        caller_display="Alice Agent",
        direction=CallDirection.OUTBOUND,
        answer_time=1002.5,
        billsec_s=8.5,
        disposition=Disposition.ANSWERED,
        sip_code=200,
        sip_reason="OK",
        hangup_by=HangupBy.CALLEE,
        trunk="provider",
    )
    row_id = store.write_cdr(record).result(WAIT)
    [loaded] = store.query_cdrs()
    assert loaded == dataclasses.replace(record, id=row_id)


def test_query_cdrs_filters_and_pages(store: Store) -> None:
    futures: list[Future[int]] = [
        store.write_cdr(cdr(n, callee="2000" if n % 2 else "1002")) for n in range(10)
    ]
    futures.append(store.write_cdr(cdr(10, direction=CallDirection.INBOUND, caller="+4930")))
    for future in futures:
        future.result(WAIT)
    assert [r.call_id for r in store.query_cdrs(limit=3)] == ["call-10", "call-9", "call-8"]
    assert [r.call_id for r in store.query_cdrs(limit=2, offset=2)] == ["call-8", "call-7"]
    assert [r.call_id for r in store.query_cdrs(party="2000", since=1005)] == [
        "call-9",
        "call-7",
        "call-5",
    ]
    assert [r.call_id for r in store.query_cdrs(until=1002)] == ["call-1", "call-0"]
    assert [r.call_id for r in store.query_cdrs(direction=CallDirection.INBOUND)] == ["call-10"]
    assert store.query_cdrs(call_id="call-4")[0].callee == "1002"
    assert store.query_cdrs(disposition=Disposition.BUSY) == []


def test_registrations(store: Store) -> None:
    store.save_registration(registration()).result(WAIT)
    store.save_registration(registration("sip:1001@10.0.0.6", expires_at=100.0)).result(WAIT)
    updated = registration(cseq=2, expires_at=6000.0, user_agent="Phone/1.0", q=0.5)
    store.save_registration(updated).result(WAIT)
    assert store.load_registrations(now=200.0) == [updated]
    assert len(store.load_registrations(now=50.0)) == 2
    assert store.delete_expired_registrations(now=100.0).result(WAIT) == 1
    assert store.delete_registration(updated.aor, "sip:other").result(WAIT) == 0
    assert store.delete_registration(updated.aor, updated.contact).result(WAIT) == 1
    assert store.load_registrations(now=0.0) == []


def test_flush_waits_for_queued_writes(store: Store) -> None:
    gate = Gate(store)
    futures = [store.write_cdr(cdr(n)) for n in range(5)]
    opener = threading.Thread(target=gate.open)
    opener.start()
    store.flush(WAIT)
    assert all(f.done() for f in futures)
    opener.join(WAIT)


def test_close_commits_queued_writes(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = Store.open(path)
    futures = [store.write_cdr(cdr(n)) for n in range(100)]
    store.close()
    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(StoreClosedError):
        store.write_cdr(cdr(101))
    store.close()  # idempotent
    assert store.closed
    with Store.open(path) as reopened:
        assert len(reopened.query_cdrs(limit=1000)) == 100
