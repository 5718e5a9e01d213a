"""SwitchProcess against a stand-in switch (fake_switch.py): start, ready, stop, failures."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.testing import (
    SwitchExitError,
    SwitchProcess,
    SwitchStartError,
    sip_options_ping,
    switch_config,
    trunk,
)

pytestmark = [pytest.mark.interop, pytest.mark.integration]

FAKE = Path(__file__).parent / "fake_switch.py"


def fake(tmp_path: Path, *, env: dict[str, str] | None = None, **options: Any) -> SwitchProcess:
    return SwitchProcess(
        tmp_path / "fake",
        switch_config(trunks=[trunk("uac", 5999)]),
        command=[sys.executable, str(FAKE)],
        env={**os.environ, **(env or {})},
        **options,
    )


def test_starts_when_options_answers_and_stops_with_status_0(tmp_path: Path) -> None:
    switch = fake(tmp_path)
    with switch:
        assert switch.alive()
        assert switch.ready
        assert int(switch.pid_file.read_text()) == switch.pid
        assert sip_options_ping(switch.sip_port) == 200
        written = yaml.safe_load(switch.config_path.read_text())
        assert written["sip"]["listen"] == {
            "udp": f"127.0.0.1:{switch.sip_port}",
            "tcp": f"127.0.0.1:{switch.sip_port}",
            "tls": f"127.0.0.1:{switch.sip_port + 1}",
        }
        assert written["web"]["listen"] == f"127.0.0.1:{switch.web_port}"
        assert written["trunks"][0]["port"] == 5999
        assert "--sip-listen" in switch.argv() and "json" in switch.argv()
    assert switch.returncode == 0
    assert '"stopped"' in switch.log_text()


def test_an_unexpected_exit_status_is_an_error(tmp_path: Path) -> None:
    switch = fake(tmp_path, env={"FAKE_SWITCH_EXIT": "2"}).start()
    with pytest.raises(SwitchExitError, match="status 2, expected 0"):
        switch.stop()


def test_the_expected_status_can_be_changed(tmp_path: Path) -> None:
    switch = fake(tmp_path, env={"FAKE_SWITCH_EXIT": "2"}, expect_exit_code=2).start()
    assert switch.stop() == 2


def test_a_crash_at_start_shows_the_log(tmp_path: Path) -> None:
    switch = fake(tmp_path, env={"FAKE_SWITCH_CRASH": "1"})
    with pytest.raises(SwitchStartError, match="crashing on purpose"):
        switch.start()
    assert not switch.ready


def test_a_silent_switch_times_out_and_is_killed(tmp_path: Path) -> None:
    switch = fake(tmp_path, env={"FAKE_SWITCH_SILENT": "1"}, ready_timeout=0.5)
    with pytest.raises(SwitchStartError, match="did not answer OPTIONS"):
        switch.start()
    assert not switch.alive()


def test_a_switch_ignoring_sigterm_is_killed_and_reported(tmp_path: Path) -> None:
    switch = fake(tmp_path, env={"FAKE_SWITCH_IGNORE_TERM": "1"}, stop_timeout=0.5).start()
    with pytest.raises(SwitchExitError, match="did not exit"):
        switch.stop()
    assert not switch.alive()


def test_cpu_affinity_is_applied_to_the_child(tmp_path: Path) -> None:
    core = min(os.sched_getaffinity(0))
    with fake(tmp_path, cpu_affinity={core}) as switch:
        assert os.sched_getaffinity(switch.pid) == {core}
        assert switch.cpu_seconds() >= 0


def test_async_context_manager(tmp_path: Path) -> None:
    async def scenario() -> int | None:
        async with fake(tmp_path) as switch:
            assert sip_options_ping(switch.sip_port) == 200
        return switch.returncode

    assert asyncio.run(scenario()) == 0


def test_database_queries_wait_for_rows(tmp_path: Path) -> None:
    switch = fake(tmp_path)
    assert switch.query("SELECT * FROM cdr") == []
    switch.data_dir.mkdir(parents=True)
    with sqlite3.connect(switch.db_path) as db:
        db.execute("CREATE TABLE cdr (call_id TEXT, disposition TEXT)")
        db.execute("INSERT INTO cdr VALUES ('a', 'answered')")
    db.close()
    assert switch.query("SELECT * FROM registrations") == []
    rows = switch.wait_for_rows("SELECT * FROM cdr", min_count=2, timeout=0.3)
    assert rows == [{"call_id": "a", "disposition": "answered"}]
