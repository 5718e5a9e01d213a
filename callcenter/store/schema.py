"""Schema migrations: an ordered list of functions, each applied once, in its own
transaction, and recorded in ``schema_migrations``.

Append new migrations at the end; never edit or reorder applied ones. Table definitions
use plain SQL that PostgreSQL also accepts.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlite_utils

from callcenter.store.errors import SchemaTooNewError
from callcenter.store.records import CallDirection, Disposition, HangupBy

__all__ = ["MIGRATIONS", "Migration", "applied_versions", "migrate"]

Migration = Callable[[sqlite_utils.Database], None]


def _sql_in(values: type[CallDirection] | type[Disposition] | type[HangupBy]) -> str:
    return ", ".join(f"'{member.value}'" for member in values)


def _create_cdr(db: sqlite_utils.Database) -> None:
    db.execute(
        f"""
        CREATE TABLE cdr (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL,
            caller TEXT NOT NULL,
            callee TEXT NOT NULL,
            caller_display TEXT,
            direction TEXT NOT NULL CHECK (direction IN ({_sql_in(CallDirection)})),
            start_time REAL NOT NULL,
            answer_time REAL,
            end_time REAL NOT NULL,
            duration_s REAL NOT NULL CHECK (duration_s >= 0),
            billsec_s REAL NOT NULL CHECK (billsec_s >= 0),
            disposition TEXT NOT NULL CHECK (disposition IN ({_sql_in(Disposition)})),
            sip_code INTEGER,
            sip_reason TEXT,
            hangup_by TEXT CHECK (hangup_by IS NULL OR hangup_by IN ({_sql_in(HangupBy)})),
            trunk TEXT
        )
        """
    )
    db.execute("CREATE INDEX cdr_start_time ON cdr (start_time)")
    db.execute("CREATE INDEX cdr_call_id ON cdr (call_id)")


def _create_registrations(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE registrations (
            aor TEXT NOT NULL,
            contact TEXT NOT NULL,
            expires_at REAL NOT NULL,
            call_id TEXT NOT NULL,
            cseq INTEGER NOT NULL,
            source TEXT NOT NULL,
            user_agent TEXT,
            instance TEXT,
            q REAL NOT NULL DEFAULT 1.0 CHECK (q >= 0 AND q <= 1),
            PRIMARY KEY (aor, contact)
        )
        """
    )
    db.execute("CREATE INDEX registrations_expires_at ON registrations (expires_at)")


MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("create cdr", _create_cdr),
    ("create registrations", _create_registrations),
)
"""(name, function) in order; the version of entry ``i`` is ``i + 1``."""


def applied_versions(db: sqlite_utils.Database) -> list[int]:
    """Versions recorded in ``schema_migrations``, ascending."""
    rows = db.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [int(row[0]) for row in rows]


def migrate(
    db: sqlite_utils.Database, migrations: tuple[tuple[str, Migration], ...] = MIGRATIONS
) -> list[int]:
    """Apply the migrations not yet applied; return the versions applied now."""
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at REAL NOT NULL
        )
        """
    )
    done = set(applied_versions(db))
    if done and max(done) > len(migrations):
        raise SchemaTooNewError(
            f"database schema version {max(done)} is newer than this software"
            f" (knows up to {len(migrations)})"
        )
    applied: list[int] = []
    for version, (name, migration) in enumerate(migrations, start=1):
        if version in done:
            continue
        with db.atomic():
            migration(db)
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [version, name, time.time()],
            )
        applied.append(version)
    return applied
