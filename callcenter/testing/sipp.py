"""Drive SIPp (the SIP traffic generator) from Python, with bounded runs and parsed results.

A run is described by :class:`SippOptions`, turned into a command line by
:func:`sipp_command`, executed in its own folder (statistics, errors, response times and,
when asked, message traces land there) and summed up as a :class:`SippResult`::

    runner = SippRunner(tmp_path / "sipp")
    with runner.start(SippOptions("uas_answer.xml", local_port=uas_port, calls=1)) as uas:
        caller = runner.run(
            SippOptions("uac_call.xml", remote=("127.0.0.1", port), service="2000", calls=1)
        )
        callee = uas.wait(timeout=15)
    assert caller.ok, caller.describe()

Every run carries ``-timeout`` with ``-timeout_error`` and a subprocess deadline a little
later, ``-nostdin``, ``-buff_size 4194304``, and binds only to 127.0.0.1 (the control socket
too, ``-ci``). Set ``CALLCENTER_SIPP_TRACE=1`` to add ``-trace_msg``/``-trace_shortmsg``
to every run of a :class:`SippRunner`.

SIPp's exit status: 0 all calls successful, 1 some failed, 97 exit on an internal command,
99 normal exit without calls processed, 255 fatal error (a global timeout with
``-timeout_error`` is one), 254 cannot bind a socket.
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = [
    "DEFAULT_BUFF_SIZE",
    "EXIT_ALL_OK",
    "EXIT_BIND_ERROR",
    "EXIT_FATAL",
    "EXIT_INTERNAL_COMMAND",
    "EXIT_NO_CALLS",
    "EXIT_SOME_FAILED",
    "LOOPBACK",
    "SippOptions",
    "SippProcess",
    "SippResult",
    "SippRunner",
    "UnexpectedMessage",
    "free_port",
    "parse_errors",
    "parse_rtt_csv",
    "parse_stat_csv",
    "port_is_free",
    "run_sipp",
    "sipp_command",
    "wait_until_bound",
]

LOOPBACK = "127.0.0.1"
DEFAULT_BUFF_SIZE = 4_194_304

EXIT_ALL_OK = 0
EXIT_SOME_FAILED = 1
EXIT_INTERNAL_COMMAND = 97
EXIT_NO_CALLS = 99
EXIT_FATAL = 255
EXIT_BIND_ERROR = 254

TRACE_ENV = "CALLCENTER_SIPP_TRACE"
STAT_FILE = "stat.csv"
ERROR_FILE = "errors.log"
MESSAGE_FILE = "messages.log"
LOG_FILE = "actions.log"
SCREEN_FILE = "screen.log"
STDERR_FILE = "stderr.log"

# After SIPp's own -timeout, how long the subprocess may still take before it is killed.
_HARD_TIMEOUT_MARGIN_S = 15.0
_WAIT_POLL_S = 0.02
_TAIL_LINES = 40

# --- ports -----------------------------------------------------------------------------

# Ports come from below the Linux ephemeral range (32768-60999), so an outgoing socket of
# another program cannot take one between our check and the child's bind.
_PORT_RANGE = (10_000, 19_999)
_PORT_ATTEMPTS = 200
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when both a UDP and a TCP socket can bind ``host:port`` right now."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


def free_port(host: str = LOOPBACK, *, span: int = 1) -> int:
    """A port P such that P .. P+span-1 are all free for UDP and TCP on ``host``.

    One process never hands out a port twice, so two calls give different ports even before
    anything binds them. Raises ``RuntimeError`` when none is found.
    """
    low, high = _PORT_RANGE
    for _ in range(_PORT_ATTEMPTS):
        first = random.randint(low, high - span + 1)
        candidates = range(first, first + span)
        with _handed_out_lock:
            if any(port in _handed_out for port in candidates):
                continue
            if all(port_is_free(port, host) for port in candidates):
                _handed_out.update(candidates)
                return first
    raise RuntimeError(f"no {span} consecutive free UDP+TCP ports on {host}")


def wait_until_bound(port: int, host: str = LOOPBACK, *, timeout: float = 5.0) -> bool:
    """Wait (bounded) until a UDP socket is bound to ``host:port``; False on timeout.

    Reads ``/proc/net/udp`` rather than probing with bind(), which could steal the port
    from the very process being waited for.
    """
    wanted = _proc_net_address(host, port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wanted in _bound_udp_addresses():
            return True
        time.sleep(0.02)
    return False


def _proc_net_address(host: str, port: int) -> str:
    """``host:port`` as /proc/net/udp writes it: little-endian hex address, hex port."""
    packed = socket.inet_aton(host)
    return f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"


def _bound_udp_addresses() -> set[str]:
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return set()
    return {line.split()[1] for line in lines if len(line.split()) > 1}


# --- options and command line -----------------------------------------------------------


@dataclass(frozen=True)
class SippOptions:
    """One SIPp run. ``scenario`` is an XML file or the name of a built-in (``uac``, ``uas``)."""

    scenario: str | Path
    remote: tuple[str, int] | None = None
    """Where requests go (UAC side); None for an answering peer."""
    local_port: int | None = None
    """``-p``: SIPp's own SIP port (the trunk port a switch config refers to)."""
    local_ip: str = LOOPBACK
    service: str | None = None
    """``-s``: the user part ``[service]`` of the Request-URI."""
    calls: int | None = None
    """``-m``: stop after this many calls (UAC: placed; UAS: handled)."""
    rate: float | None = None
    """``-r``: calls per ``rate_period_ms`` (default per second)."""
    rate_period_ms: int | None = None
    call_limit: int | None = None
    """``-l``: most simultaneous calls."""
    hold_ms: int | None = None
    """``-d``: length of a bare ``<pause/>`` in the scenario."""
    timeout_s: float = 30.0
    """``-timeout`` (with ``-timeout_error``): the whole run's budget."""
    transport: str = "u1"
    auth_username: str | None = None
    auth_password: str | None = field(default=None, repr=False)
    media_port: int | None = None
    rtp_echo: bool = False
    trace_msg: bool = False
    buff_size: int = DEFAULT_BUFF_SIZE
    cpu_affinity: frozenset[int] | None = None
    extra_args: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """A short name for folders and messages: the scenario's file stem or built-in name."""
        return Path(self.scenario).stem if _is_file_scenario(self.scenario) else str(self.scenario)


def _is_file_scenario(scenario: str | Path) -> bool:
    return isinstance(scenario, Path) or scenario.endswith(".xml") or "/" in scenario


def sipp_command(options: SippOptions, work_dir: Path, binary: str = "sipp") -> list[str]:
    """The argument list for ``options``; every output file goes into ``work_dir``."""
    o = options
    args = [binary]
    if _is_file_scenario(o.scenario):
        args += ["-sf", str(Path(o.scenario).resolve())]
    else:
        args += ["-sn", str(o.scenario)]
    if o.remote is not None:
        args.append(f"{o.remote[0]}:{o.remote[1]}")
    args += ["-i", o.local_ip, "-ci", o.local_ip, "-t", o.transport]
    args += _optional("-p", o.local_port) + _optional("-s", o.service)
    args += _optional("-m", o.calls) + _optional("-r", _number(o.rate))
    args += _optional("-rp", o.rate_period_ms) + _optional("-l", o.call_limit)
    args += _optional("-d", o.hold_ms) + _optional("-mp", o.media_port)
    args += _optional("-au", o.auth_username) + _optional("-ap", o.auth_password)
    if o.rtp_echo:
        args.append("-rtp_echo")
    args += ["-timeout", f"{_number(o.timeout_s)}s", "-timeout_error", "-nostdin"]
    args += ["-buff_size", str(o.buff_size)]
    args += ["-trace_stat", "-stf", str(work_dir / STAT_FILE), "-fd", "1"]
    args += ["-trace_err", "-error_file", str(work_dir / ERROR_FILE)]
    args += ["-trace_rtt", "-rtt_freq", "1"]
    args += ["-trace_logs", "-log_file", str(work_dir / LOG_FILE)]
    if o.trace_msg:
        args += ["-trace_msg", "-message_file", str(work_dir / MESSAGE_FILE), "-trace_shortmsg"]
    return args + list(o.extra_args)


def _optional(flag: str, value: object) -> list[str]:
    return [] if value is None else [flag, str(value)]


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


def _redacted(command: list[str]) -> tuple[str, ...]:
    shown = list(command)
    for i, arg in enumerate(shown[:-1]):
        if arg == "-ap":
            shown[i + 1] = "***"
    return tuple(shown)


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UnexpectedMessage:
    """A call SIPp aborted because a message arrived that its scenario did not expect."""

    call_id: str
    during: str
    """What the call was doing: ``pausing``, ``sending``, ``waiting``..."""
    index: int
    first_line: str

    @property
    def is_provisional_response(self) -> bool:
        return re.match(r"SIP/2\.0 1\d\d\b", self.first_line) is not None


@dataclass(frozen=True)
class SippResult:
    """What one SIPp run did, from its exit status, stat CSV, error log and rtt trace."""

    exit_code: int
    successful: int
    failed: int
    created: int
    current: int
    retransmissions: int
    failed_unexpected: int
    dead_call_messages: int
    out_of_call_messages: int
    unexpected: tuple[UnexpectedMessage, ...]
    response_times_ms: tuple[float, ...]
    """Each ``rtd`` measurement (e.g. INVITE to 200), in SIPp's 1 ms resolution."""
    response_stamps_ms: tuple[float, ...]
    """When each measurement ended, in ms since SIPp started."""
    timed_out: bool
    elapsed_s: float
    cpu_s: float
    stderr_tail: str
    errors_tail: str
    messages_tail: str
    command: tuple[str, ...]
    work_dir: Path
    stats: Mapping[str, str] = field(repr=False)

    @property
    def ok(self) -> bool:
        """SIPp ended on its own with status 0, no call failed and none was left unfinished."""
        return (
            self.exit_code == EXIT_ALL_OK
            and self.failed == 0
            and self.current == 0
            and not self.timed_out
        )

    @property
    def late_provisional(self) -> int:
        """Calls aborted by a provisional response (e.g. 180) that came after the final one."""
        return sum(1 for u in self.unexpected if u.is_provisional_response)

    @property
    def failed_excluding_late_provisional(self) -> int:
        return max(0, self.failed - self.late_provisional)

    def describe(self) -> str:
        """A multi-line account for assertion messages."""
        lines = [
            f"sipp {self.work_dir.name}: exit {self.exit_code}, successful {self.successful},"
            f" failed {self.failed} (unexpected {self.failed_unexpected}), created"
            f" {self.created}, current {self.current}, retransmissions {self.retransmissions},"
            f" timed out {self.timed_out}, {self.elapsed_s:.1f} s",
            f"command: {' '.join(self.command)}",
        ]
        for title, text in (
            ("stderr", self.stderr_tail),
            ("errors", self.errors_tail),
            ("messages", self.messages_tail),
        ):
            if text.strip():
                lines += [f"--- {title} (tail) ---", text]
        return "\n".join(lines)


def parse_stat_csv(path: Path) -> dict[str, str]:
    """The last row of a ``-trace_stat`` CSV (';'-separated) by column name; {} if absent."""
    try:
        with path.open(newline="", errors="replace") as handle:
            rows = [row for row in csv.reader(handle, delimiter=";") if row]
    except FileNotFoundError:
        return {}
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def parse_rtt_csv(path: Path) -> list[tuple[float, float]]:
    """(stamp_ms, response_time_ms) pairs of a ``-trace_rtt`` file."""
    pairs: list[tuple[float, float]] = []
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return pairs
    for line in text.splitlines()[1:]:
        fields = line.split(";")
        with contextlib.suppress(ValueError, IndexError):
            pairs.append((float(fields[0]), float(fields[1])))
    return pairs


_UNEXPECTED = re.compile(
    r"Aborting call on unexpected message for Call-Id '(?P<call_id>[^']*)': "
    r"while (?P<during>[^(]*?) \(index (?P<index>\d+)\), received '(?P<first>[^\r\n]*)"
)


def parse_errors(text: str) -> tuple[UnexpectedMessage, ...]:
    """The "unexpected message" aborts recorded in a ``-trace_err`` file."""
    return tuple(
        UnexpectedMessage(m["call_id"], m["during"], int(m["index"]), m["first"].strip())
        for m in _UNEXPECTED.finditer(text)
    )


def _stat(stats: Mapping[str, str], name: str) -> int:
    try:
        return int(float(stats.get(name, "0") or "0"))
    except ValueError:
        return 0


def _tail(path: Path, lines: int = _TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _collect(
    work_dir: Path,
    command: list[str],
    exit_code: int,
    *,
    forced: bool,
    elapsed_s: float,
    cpu_s: float,
) -> SippResult:
    stats = parse_stat_csv(work_dir / STAT_FILE)
    rtt = [pair for path in sorted(work_dir.glob("*_rtt.csv")) for pair in parse_rtt_csv(path)]
    stderr_tail = _tail(work_dir / STDERR_FILE)
    try:
        errors_text = (work_dir / ERROR_FILE).read_text(errors="replace")
    except FileNotFoundError:
        errors_text = ""
    return SippResult(
        exit_code=exit_code,
        successful=_stat(stats, "SuccessfulCall(C)"),
        failed=_stat(stats, "FailedCall(C)"),
        created=_stat(stats, "TotalCallCreated"),
        current=_stat(stats, "CurrentCall"),
        retransmissions=_stat(stats, "Retransmissions(C)"),
        failed_unexpected=_stat(stats, "FailedUnexpectedMessage(C)"),
        dead_call_messages=_stat(stats, "DeadCallMsgs(C)"),
        out_of_call_messages=_stat(stats, "OutOfCallMsgs(C)"),
        unexpected=parse_errors(errors_text),
        response_times_ms=tuple(ms for _, ms in rtt),
        response_stamps_ms=tuple(stamp for stamp, _ in rtt),
        timed_out=forced or "timed out after" in stderr_tail,
        elapsed_s=elapsed_s,
        cpu_s=cpu_s,
        stderr_tail=stderr_tail,
        errors_tail="\n".join(errors_text.splitlines()[-_TAIL_LINES:]),
        messages_tail=_tail(work_dir / MESSAGE_FILE, 80),
        command=_redacted(command),
        work_dir=work_dir,
        stats=stats,
    )


# --- processes -------------------------------------------------------------------------


class SippProcess:
    """One SIPp child process, foreground or background, with bounded waits.

    ``start()`` launches it (``wait_bound`` waits until its SIP port is bound, for an
    answering peer); ``wait()`` lets it finish on its own; ``stop()`` asks it to finish
    (SIGUSR1: no new calls, let current calls end), then SIGTERM, then SIGKILL.
    """

    def __init__(self, options: SippOptions, work_dir: Path, *, binary: str = "sipp") -> None:
        if options.local_port is None:
            # SIPp would take 5060 (or whatever is free next to it): give it a port of its own.
            options = replace(options, local_port=free_port(options.local_ip))
        self.options = options
        self.work_dir = Path(work_dir)
        self.binary = binary
        self.command = sipp_command(options, self.work_dir, binary)
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._reaped: tuple[int, float] | None = None
        self._result: SippResult | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("sipp not started")
        return self._proc.pid

    def start(self, *, wait_bound: bool = True) -> Self:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with (
            (self.work_dir / SCREEN_FILE).open("wb") as out,
            (self.work_dir / STDERR_FILE).open("wb") as err,
        ):
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.work_dir,
                start_new_session=True,
            )
        self._started = time.monotonic()
        if self.options.cpu_affinity:
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(self._proc.pid, self.options.cpu_affinity)
        if wait_bound and self.options.local_port is not None:
            wait_until_bound(self.options.local_port, self.options.local_ip)
        return self

    def running(self) -> bool:
        return self._proc is not None and self._poll(0) is None

    @property
    def started(self) -> bool:
        return self._proc is not None

    @property
    def finished(self) -> bool:
        """True once a result has been collected (by ``wait`` or ``stop``)."""
        return self._result is not None

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for SIPp to end by itself; past the deadline it is terminated and the result
        marked ``timed_out``. The default deadline is its ``-timeout`` plus a margin."""
        if timeout is None:
            timeout = self.options.timeout_s + _HARD_TIMEOUT_MARGIN_S
        return self._finish(timeout, soft_signal=None)

    def stop(self, grace: float = 10.0) -> SippResult:
        """Ask SIPp to finish (SIGUSR1: no new calls, current ones run to their end); past
        ``grace`` SIGTERM, then SIGKILL, and the result is marked ``timed_out``."""
        return self._finish(grace, soft_signal=signal.SIGUSR1)

    def __enter__(self) -> Self:
        return self if self._proc is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._result is None and self._proc is not None:
            self.stop(grace=2.0 if exc_type is not None else 10.0)

    def _finish(self, timeout: float, soft_signal: signal.Signals | None) -> SippResult:
        if self._result is not None:
            return self._result
        proc = self._proc
        if proc is None:
            raise RuntimeError("sipp not started")
        if soft_signal is not None:
            self._signal(soft_signal)
        ended = self._poll(timeout)
        forced = ended is None  # it did not end by itself (or when asked) in time
        if ended is None:
            self._signal(signal.SIGTERM)  # SIPp still writes its final statistics
            ended = self._poll(5.0)
        if ended is None:
            self._signal(signal.SIGKILL)
            ended = self._poll(5.0)
        code, cpu_s = ended if ended is not None else (-int(signal.SIGKILL), 0.0)
        self._result = _collect(
            self.work_dir,
            self.command,
            code,
            forced=forced,
            elapsed_s=time.monotonic() - self._started,
            cpu_s=cpu_s,
        )
        return self._result

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._reaped is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._proc.pid, sig)

    def _poll(self, timeout: float) -> tuple[int, float] | None:
        """Reap the child within ``timeout``: (exit status, CPU seconds) or None."""
        proc = self._proc
        assert proc is not None
        if self._reaped is not None:
            return self._reaped
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                # Popen must not wait for it again: it would find no child and report 0.
                proc.returncode = os.waitstatus_to_exitcode(status)
                self._reaped = (proc.returncode, usage.ru_utime + usage.ru_stime)
                return self._reaped
            if time.monotonic() >= deadline:
                return None
            time.sleep(_WAIT_POLL_S)


def run_sipp(
    options: SippOptions, work_dir: Path, *, binary: str = "sipp", timeout: float | None = None
) -> SippResult:
    """Run SIPp in the foreground until it ends (bounded) and return its result."""
    return SippProcess(options, work_dir, binary=binary).start(wait_bound=False).wait(timeout)


class SippRunner:
    """Runs SIPp in numbered sub-folders of one work folder; stops leftovers on ``close()``.

    ``scenario_dir`` resolves bare scenario file names; ``trace`` (default: the
    ``CALLCENTER_SIPP_TRACE`` environment variable) turns on message traces for every run.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        binary: str = "sipp",
        scenario_dir: Path | None = None,
        trace: bool | None = None,
        cpu_affinity: Collection[int] | None = None,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.binary = binary
        self.scenario_dir = scenario_dir
        self.trace = os.environ.get(TRACE_ENV, "") not in ("", "0") if trace is None else trace
        self.cpu_affinity = frozenset(cpu_affinity) if cpu_affinity else None
        self._count = 0
        self._processes: list[SippProcess] = []

    def prepare(self, options: SippOptions) -> SippProcess:
        """A SippProcess for ``options`` in a fresh folder, not started yet."""
        self._count += 1
        scenario = options.scenario
        if (
            self.scenario_dir is not None
            and isinstance(scenario, str)
            and scenario.endswith(".xml")
        ):
            scenario = self.scenario_dir / scenario
        options = replace(
            options,
            scenario=scenario,
            trace_msg=options.trace_msg or self.trace,
            cpu_affinity=options.cpu_affinity or self.cpu_affinity,
        )
        work_dir = self.work_dir / f"{self._count:02d}-{options.label}"
        process = SippProcess(options, work_dir, binary=self.binary)
        self._processes.append(process)
        return process

    def start(self, options: SippOptions) -> SippProcess:
        """Start SIPp in the background (an answering peer, usually)."""
        return self.prepare(options).start()

    def run(self, options: SippOptions, *, timeout: float | None = None) -> SippResult:
        """Run SIPp in the foreground until it ends (bounded)."""
        return self.prepare(options).start(wait_bound=False).wait(timeout)

    def close(self) -> None:
        """Stop every process this runner started that is still running."""
        for process in self._processes:
            if process.started and not process.finished:
                process.stop(grace=2.0)
