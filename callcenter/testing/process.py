"""Run the switch as a child process, the way an operator would, and watch it from outside.

:class:`SwitchProcess` picks free ports, writes a YAML config into a work folder, starts
``python -m callcenter run --config FILE --data-dir DIR --sip-listen 127.0.0.1:PORT
--log-format json`` and waits until the switch answers ``OPTIONS`` over UDP with a 200.
Its stdout and stderr go to files in the work folder, so a failing test can show their tail.
``stop()`` sends SIGTERM and checks the exit status (0 unless told otherwise)::

    config = switch_config(
        extensions=[extension("1002", password="secret1002")],
        trunks=[trunk("uas", 5070)],
        routes=[route(r"^(2\\d{3})$", "uas")],
    )
    with SwitchProcess(tmp_path / "switch", config) as switch:
        print(switch.sip_port, switch.pid)
        rows = switch.wait_for_rows("SELECT * FROM cdr", min_count=1)

The switch listens on UDP and TCP ``127.0.0.1:sip_port`` and TLS on ``sip_port + 1``; the
web port and the RTP port range are chosen here too, so several switches can run at once.

Also here: the small builders of config entries (:func:`extension`, :func:`trunk`,
:func:`route`, :func:`switch_config`) and :func:`process_cpu_seconds`, CPU accounting read
from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import yaml

from callcenter.testing.peers import sip_options_ping
from callcenter.testing.sipp import LOOPBACK, free_port

__all__ = [
    "SwitchError",
    "SwitchExitError",
    "SwitchProcess",
    "SwitchStartError",
    "extension",
    "process_cpu_seconds",
    "route",
    "switch_config",
    "trunk",
]

# RTP ranges handed to switches: blocks above the signalling ports and below the Linux
# ephemeral range, so parallel switches rarely share one.
_RTP_RANGE = (21_000, 29_999)
_RTP_BLOCK = 200

_T = TypeVar("_T")

READY_POLL_S = 0.05
DB_FILE = "callcenter.db"
PID_FILE = "callcenter.pid"


class SwitchError(RuntimeError):
    """Base of the errors raised by :class:`SwitchProcess`."""


class SwitchStartError(SwitchError):
    """The switch exited, or did not answer OPTIONS, before the ready timeout."""


class SwitchExitError(SwitchError):
    """The switch did not stop in time, or stopped with an unexpected exit status."""


# --- config ----------------------------------------------------------------------------


def _rtp_port_range() -> str:
    low, high = _RTP_RANGE
    blocks = (high - low + 1) // _RTP_BLOCK
    first = low + random.randrange(blocks) * _RTP_BLOCK
    return f"{first}-{first + _RTP_BLOCK - 1}"


def extension(
    number: str, *, password: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """One ``extensions`` entry of the switch config."""
    entry: dict[str, Any] = {"number": number}
    if name is not None:
        entry["name"] = name
    if password is not None:
        entry["password"] = password
    return entry


def trunk(
    name: str,
    port: int,
    *,
    host: str = LOOPBACK,
    transport: str = "udp",
    match_source_port: bool = True,
) -> dict[str, Any]:
    """One ``trunks`` entry: a static peer whose requests are trusted (no digest challenge)."""
    return {
        "name": name,
        "host": host,
        "port": port,
        "transport": transport,
        "match_source_port": match_source_port,
    }


def route(pattern: str, trunk_name: str, *, rewrite: str | None = None) -> dict[str, Any]:
    """One ``routes`` entry of the dialplan."""
    entry: dict[str, Any] = {"pattern": pattern, "trunk": trunk_name}
    if rewrite is not None:
        entry["rewrite"] = rewrite
    return entry


def switch_config(
    *,
    extensions: Sequence[Mapping[str, Any]] = (),
    trunks: Sequence[Mapping[str, Any]] = (),
    routes: Sequence[Mapping[str, Any]] = (),
    sip: Mapping[str, Any] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """A config mapping; listen addresses left out are filled in by :class:`SwitchProcess`."""
    config: dict[str, Any] = {"sip": {"domain": LOOPBACK, **(sip or {})}}
    config.update(sections)
    config["extensions"] = [dict(e) for e in extensions]
    config["trunks"] = [dict(t) for t in trunks]
    config["routes"] = [dict(r) for r in routes]
    return config


# --- CPU accounting ----------------------------------------------------------------------------


def process_cpu_seconds(pid: int, *, include_descendants: bool = True) -> float:
    """User + system CPU seconds of ``pid`` (and of its live descendants) from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = _proc_stats()
    pids = {pid}
    if include_descendants:
        pids |= _descendants(pid, stats)
    return sum(stats[p][1] for p in pids if p in stats) / tick


def _proc_stats() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime + stime in clock ticks) for every readable process."""
    found: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Field 2 (comm) is in parentheses and may hold spaces: split after the last ")".
        fields = raw[raw.rindex(")") + 2 :].split()
        found[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return found


def _descendants(pid: int, stats: Mapping[int, tuple[int, int]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for child, (parent, _) in stats.items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


# --- the process -----------------------------------------------------------------------


class SwitchProcess:
    """The switch as a child process: config written, started, ready, stopped and checked.

    ``config`` is a mapping as produced by :func:`switch_config`; ``sip.listen``,
    ``web.listen`` and ``media.rtp_ports`` are filled in when absent. ``command`` replaces
    ``[sys.executable, "-m", "callcenter"]`` (the ``run ...`` arguments are appended).
    ``cpu_affinity`` pins the child to those cores. Usable as a context manager (sync or
    async); leaving the block stops the switch and, unless an exception is already on its
    way, checks the exit status.
    """

    def __init__(
        self,
        work_dir: Path,
        config: Mapping[str, Any] | None = None,
        *,
        sip_port: int | None = None,
        command: Sequence[str] | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cpu_affinity: Collection[int] | None = None,
        ready_timeout: float = 20.0,
        stop_timeout: float = 15.0,
        expect_exit_code: int | None = 0,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.data_dir = self.work_dir / "data"
        self.config_path = self.work_dir / "callcenter.yaml"
        self.stdout_path = self.work_dir / "switch.stdout.log"
        self.stderr_path = self.work_dir / "switch.stderr.log"
        self.sip_port = sip_port if sip_port is not None else free_port(span=2)
        self.tls_port = self.sip_port + 1
        self.web_port = free_port()
        self.config = self._complete_config(config or switch_config())
        self.command = list(command or [sys.executable, "-m", "callcenter"])
        self.extra_args = list(extra_args)
        self.env = dict(env) if env is not None else None
        self.cpu_affinity = set(cpu_affinity) if cpu_affinity is not None else None
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.expect_exit_code = expect_exit_code
        self._proc: subprocess.Popen[bytes] | None = None
        self.ready = False
        """True once the switch answered OPTIONS with 200 after ``start()``."""

    # -- paths and state

    @property
    def db_path(self) -> Path:
        """The switch's SQLite database."""
        return self.data_dir / DB_FILE

    @property
    def pid_file(self) -> Path:
        return self.data_dir / PID_FILE

    @property
    def pid(self) -> int:
        return self._running().pid

    @property
    def sip_address(self) -> tuple[str, int]:
        return (LOOPBACK, self.sip_port)

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def argv(self) -> list[str]:
        """The full command line the switch is started with."""
        return [
            *self.command,
            "run",
            "--config",
            str(self.config_path),
            "--data-dir",
            str(self.data_dir),
            "--sip-listen",
            f"{LOOPBACK}:{self.sip_port}",
            "--log-format",
            "json",
            *self.extra_args,
        ]

    # -- lifecycle

    def start(self) -> Self:
        """Write the config, start the child and wait until it answers OPTIONS with 200."""
        if self._proc is not None:
            raise SwitchError("switch already started")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.work_dir,
                env=env,
                start_new_session=True,
            )
        if self.cpu_affinity:
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(self._proc.pid, self.cpu_affinity)
        try:
            self.wait_ready(self.ready_timeout)
        except BaseException:
            self.kill()
            raise
        self.ready = True
        return self

    def wait_ready(self, timeout: float) -> None:
        """Poll OPTIONS every 50 ms until a 200 comes back; raise SwitchStartError otherwise."""
        proc = self._running()
        deadline = time.monotonic() + timeout
        last: int | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SwitchStartError(
                    f"switch exited with status {proc.returncode} before it was ready\n"
                    + self.diagnostics()
                )
            last = sip_options_ping(self.sip_port, timeout=READY_POLL_S)
            if last == 200:
                return
            if last is not None:
                time.sleep(READY_POLL_S)
        raise SwitchStartError(
            f"switch did not answer OPTIONS with 200 within {timeout:.1f} s"
            f" (last answer: {last})\n" + self.diagnostics()
        )

    def stop(self, *, check: bool = True, timeout: float | None = None) -> int:
        """SIGTERM, wait (bounded), and check the exit status against ``expect_exit_code``.

        Returns the exit status. With ``check=False`` (or ``expect_exit_code=None`` given to
        the constructor) any status is accepted. A switch that outlives the timeout is
        killed and SwitchExitError is raised.
        """
        proc = self._proc
        if proc is None:
            raise SwitchError("switch was never started")
        expected = self.expect_exit_code if check else None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise SwitchExitError(
                    "switch did not exit within the stop timeout after SIGTERM; killed\n"
                    + self.diagnostics()
                ) from None
        code = proc.returncode
        if expected is not None and code != expected:
            raise SwitchExitError(
                f"switch exited with status {code}, expected {expected}\n" + self.diagnostics()
            )
        return code

    def kill(self) -> None:
        """SIGKILL the child's whole process group and reap it."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5.0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.stop()
            return
        # Already failing: stop without letting a second error hide the first one.
        if self._proc is not None:
            with contextlib.suppress(SwitchError):
                self.stop(check=False, timeout=5.0)

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.__exit__, exc_type, exc, tb)

    # -- diagnostics

    def log_text(self) -> str:
        """Everything the switch wrote to stdout and stderr so far."""
        return _read(self.stdout_path) + _read(self.stderr_path)

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            tail = _read(path).splitlines()[-lines:]
            parts.append(f"--- switch {label} (last {len(tail)} lines) ---")
            parts.extend(tail)
        return "\n".join(parts)

    def diagnostics(self) -> str:
        return f"command: {' '.join(self.argv())}\n{self.log_tail()}"

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the switch and its live child processes."""
        return process_cpu_seconds(self.pid)

    # -- database

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read query on the switch's database; [] while it or the table is absent."""
        if not self.db_path.exists():
            return []
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=5.0)) as db:
            db.row_factory = sqlite3.Row
            try:
                return [dict(row) for row in db.execute(sql, tuple(params))]
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise

    def wait_for_rows(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        min_count: int = 1,
        timeout: float = 10.0,
        poll: float = 0.1,
    ) -> list[dict[str, Any]]:
        """Poll ``query`` until it returns at least ``min_count`` rows (bounded); the last rows."""
        return _poll_until(
            lambda: self.query(sql, params), lambda rows: len(rows) >= min_count, timeout, poll
        )

    # -- internals

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise SwitchError("switch was never started")
        return self._proc

    def _complete_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        full = {
            key: (dict(value) if isinstance(value, Mapping) else value)
            for key, value in config.items()
        }
        sip = full.setdefault("sip", {})
        sip.setdefault("domain", LOOPBACK)
        sip.setdefault(
            "listen",
            {
                "udp": f"{LOOPBACK}:{self.sip_port}",
                "tcp": f"{LOOPBACK}:{self.sip_port}",
                "tls": f"{LOOPBACK}:{self.tls_port}",
            },
        )
        full.setdefault("web", {}).setdefault("listen", f"{LOOPBACK}:{self.web_port}")
        full.setdefault("media", {}).setdefault("rtp_ports", _rtp_port_range())
        return full


def _poll_until(
    read: Callable[[], _T], done: Callable[[_T], bool], timeout: float, poll: float
) -> _T:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(poll)
        value = read()
    return value


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
