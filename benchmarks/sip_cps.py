"""Calls per second: SIPp caller -> switch -> SIPp callee, against SIPp -> SIPp directly.

Each step places ``rate x duration`` calls at ``rate`` calls/s. A call is answered at once
(180, 200), held 1 s, then the caller hangs up; INVITE->200 is timed (SIPp ``rtd``). A step
is sustained when every call succeeded on both the caller and the callee side and SIPp kept
the rate; a 180 arriving after the 200 aborts a SIPp call but counts as a warning, not a
failure. Rates go up until a step fails. The switch runs pinned to one core and SIPp (and
this script) to another, so the switch's CPU share is a share of one core.

    .venv/bin/python benchmarks/sip_cps.py                 # 60 s steps, 100 ... 5000 calls/s
    .venv/bin/python benchmarks/sip_cps.py --quick         # 5 s steps at 100, 200, 400
    .venv/bin/python benchmarks/sip_cps.py --rates 50,100 --duration 20 --direct-only

See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from callcenter.testing import (
    LOOPBACK,
    SippOptions,
    SippResult,
    SippRunner,
    SwitchError,
    SwitchProcess,
    free_port,
    require_peer,
    route,
    switch_config,
    trunk,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "interop" / "scenarios"
DEFAULT_RATES = (100, 200, 400, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000)
QUICK_RATES = (100, 200, 400)
HOLD_MS = 1000
# SIPp must keep at least this share of the asked rate for a step to count as sustained.
MIN_RATE_SHARE = 0.95
# Slack added to SIPp's own run budget: hold time, callee's 2 s timewait, teardown.
STEP_SLACK_S = 60.0

DIRECT = "direct"
SWITCH = "switch"


@dataclass(frozen=True)
class Step:
    """One rate on one path (``direct``: SIPp -> SIPp; ``switch``: SIPp -> switch -> SIPp)."""

    path: str
    rate: int
    calls: int
    caller: SippResult
    callee: SippResult
    wall_s: float
    switch_cpu_s: float | None
    """Switch CPU seconds over the whole step (first INVITE to last answer of SIPp)."""
    switch_steady_share: float | None
    """Switch CPU share of one core while calls are placed and hung up at the full rate."""
    error: str | None = None

    @property
    def achieved_cps(self) -> float:
        stamps = sorted(self.caller.response_stamps_ms)
        if len(stamps) < 2 or stamps[-1] <= stamps[0]:
            return 0.0
        return (len(stamps) - 1) * 1000.0 / (stamps[-1] - stamps[0])

    @property
    def sustained(self) -> bool:
        caller, callee = self.caller, self.callee
        return (
            self.error is None
            and not caller.timed_out
            and not callee.timed_out
            and caller.failed_excluding_late_provisional == 0
            and callee.failed == 0
            and caller.successful + caller.late_provisional == self.calls
            and callee.successful == self.calls
            and self.achieved_cps >= MIN_RATE_SHARE * self.rate
        )

    @property
    def switch_cpu_share(self) -> float | None:
        return self.switch_steady_share

    @property
    def cpu_ms_per_call(self) -> float | None:
        if self.switch_cpu_s is None or self.calls == 0:
            return None
        return self.switch_cpu_s * 1000.0 / self.calls

    @property
    def sipp_cpu_share(self) -> float:
        return (self.caller.cpu_s + self.callee.cpu_s) / self.wall_s if self.wall_s else 0.0

    @property
    def median_ms(self) -> float | None:
        times = self.caller.response_times_ms
        return statistics.median(times) if times else None

    @property
    def p95_ms(self) -> float | None:
        times = sorted(self.caller.response_times_ms)
        return times[max(0, math.ceil(0.95 * len(times)) - 1)] if times else None

    def outcome(self) -> str:
        if self.sustained:
            return "ok"
        if self.error:
            return f"FAILED ({self.error})"
        sides = ", ".join(
            f"{name} {r.successful} ok/{r.failed} failed/{r.current} unfinished, exit {r.exit_code}"
            for name, r in (("caller", self.caller), ("callee", self.callee))
        )
        return (
            f"FAILED ({sides}; achieved {self.achieved_cps:.0f}/s;"
            f" see {self.caller.work_dir.parent})"
        )


class Bench:
    """Runs the steps; owns the SIPp runner, the ports and (for the switch path) the switch."""

    def __init__(self, args: argparse.Namespace, work_dir: Path) -> None:
        self.args = args
        self.work_dir = work_dir
        # Each path has its own SIPp ports, so a late retransmission from the switch (after a
        # failed step, say) can never reach the SIPp of a direct step.
        self.ports = {path: (free_port(), free_port()) for path in (DIRECT, SWITCH)}
        sipp_core, self.switch_core = pin_cores(args.sipp_core, args.switch_core)
        self.sipp = SippRunner(
            work_dir / "sipp",
            binary=require_sipp(),
            scenario_dir=SCENARIOS,
            trace=False,
            cpu_affinity={sipp_core} if sipp_core is not None else None,
        )
        self.switch: SwitchProcess | None = None

    def start_switch(self) -> str | None:
        """Start the switch; None when ready, otherwise why not."""
        uac_port, uas_port = self.ports[SWITCH]
        config = switch_config(
            trunks=[trunk("uac", uac_port), trunk("uas", uas_port)],
            routes=[route(r"^(2\d{3})$", "uas")],
        )
        # every call anchors its media on two port pairs: room for 10,000 calls at once
        config["media"] = {"rtp_ports": "20000-59999"}
        switch = SwitchProcess(
            self.work_dir / "switch",
            config,
            cpu_affinity={self.switch_core} if self.switch_core is not None else None,
            ready_timeout=30.0,
        )
        try:
            self.switch = switch.start()
        except (SwitchError, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"{first} (logs in {switch.work_dir})"
        return None

    def stop_switch(self) -> None:
        if self.switch is not None:
            try:
                self.switch.stop()
            except SwitchError as exc:
                print(f"note: {str(exc).splitlines()[0]}", file=sys.stderr)

    def run_step(self, path: str, rate: int) -> Step:
        duration = self.args.duration
        calls = int(rate * duration)
        budget = duration + HOLD_MS / 1000 + STEP_SLACK_S
        switch = self.switch if path == SWITCH else None
        uac_port, uas_port = self.ports[path]
        target = switch.sip_port if switch is not None else uas_port
        answering = SippOptions(
            "uas_answer.xml", local_port=uas_port, calls=calls, timeout_s=budget
        )
        with self.sipp.start(answering) as uas:
            calling = self.sipp.prepare(
                SippOptions(
                    "uac_call.xml",
                    remote=(LOOPBACK, target),
                    local_port=uac_port,
                    service="2000",
                    calls=calls,
                    rate=rate,
                    rate_period_ms=1000,
                    call_limit=max(200, rate * 4),
                    hold_ms=HOLD_MS,
                    timeout_s=budget,
                )
            )
            cpu = CpuWindow(switch)
            calling.start(wait_bound=False)
            # Steady state: from when the first calls hang up until the last call is placed.
            cpu.sample_at(cpu.started + HOLD_MS / 1000 + 0.5)
            cpu.sample_at(cpu.started + duration)
            caller = calling.wait()
            cpu.sample_at(time.monotonic())
            callee = uas.stop(grace=15.0) if caller.timed_out else uas.wait(timeout=30.0)
        error = None
        if switch is not None and not switch.alive():
            error = f"switch exited with status {switch.returncode}"
        return Step(
            path,
            rate,
            calls,
            caller,
            callee,
            cpu.total_wall(),
            cpu.total(),
            cpu.steady_share(),
            error,
        )


class CpuWindow:
    """Samples the switch's CPU seconds at chosen moments of a step (none without a switch)."""

    def __init__(self, switch: SwitchProcess | None) -> None:
        self.switch = switch
        self.samples: list[tuple[float, float]] = []
        self.started = time.monotonic()
        self.samples.append((self.started, self._cpu()))

    def _cpu(self) -> float:
        if self.switch is None or not self.switch.alive():
            return self.samples[-1][1] if self.samples else 0.0
        return self.switch.cpu_seconds()

    def sample_at(self, moment: float) -> None:
        time.sleep(max(0.0, moment - time.monotonic()))
        self.samples.append((time.monotonic(), self._cpu()))

    def total_wall(self) -> float:
        return self.samples[-1][0] - self.samples[0][0]

    def total(self) -> float | None:
        return None if self.switch is None else self.samples[-1][1] - self.samples[0][1]

    def steady_share(self) -> float | None:
        """CPU share between the second and third samples (the steady-state window)."""
        if self.switch is None or len(self.samples) < 3:
            return None
        (t1, c1), (t2, c2) = self.samples[1], self.samples[2]
        return (c2 - c1) / (t2 - t1) if t2 > t1 else None


def pin_cores(sipp_core: int, switch_core: int) -> tuple[int | None, int | None]:
    """Pin this process (and so SIPp) to ``sipp_core``; the switch gets ``switch_core``."""
    allowed = os.sched_getaffinity(0)
    if sipp_core not in allowed or switch_core not in allowed or sipp_core == switch_core:
        print(
            f"note: cores {sipp_core} and {switch_core} are not both available"
            f" (allowed: {sorted(allowed)}); running unpinned",
            file=sys.stderr,
        )
        return None, None
    os.sched_setaffinity(0, {sipp_core})
    return sipp_core, switch_core


def require_sipp() -> str:
    try:
        return require_peer("sipp")
    except BaseException as exc:  # pytest's skip/fail outcomes outside pytest
        raise SystemExit(f"sip_cps: {exc}") from None


def run(args: argparse.Namespace, work_dir: Path) -> list[Step]:
    bench = Bench(args, work_dir)
    paths = [p for p in (DIRECT, SWITCH) if p not in args.skip]
    switch_note = None
    if SWITCH in paths:
        switch_note = bench.start_switch()
        if switch_note is not None:
            print(f"switch part skipped: the switch did not start: {switch_note}")
            paths.remove(SWITCH)
    steps: list[Step] = []
    try:
        for rate in args.rates:
            for path in list(paths):
                step = bench.run_step(path, rate)
                steps.append(step)
                print(progress_line(step), flush=True)
                if not step.sustained:
                    paths.remove(path)
            if not paths:
                break
    finally:
        bench.stop_switch()
    return steps


# --- report ----------------------------------------------------------------------------


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def fmt_ms(value: float | None) -> str:
    """SIPp times response in whole milliseconds: 0 means under 1 ms."""
    if value is None:
        return "-"
    return "<1 ms" if value < 1 else f"{value:.0f} ms"


def progress_line(step: Step) -> str:
    return (
        f"{step.path:>6} {step.rate:>5}/s  {step.calls:>7} calls  achieved"
        f" {step.achieved_cps:7.1f}/s  switch CPU {fmt(_pct(step.switch_cpu_share), '.1f', '%'):>7}"
        f"  {fmt(step.cpu_ms_per_call, '.2f', ' ms/call'):>13}  INVITE->200 p50"
        f" {fmt_ms(step.median_ms)} p95 {fmt_ms(step.p95_ms)}"
        f"  late 180 {step.caller.late_provisional}  retrans"
        f" {step.caller.retransmissions + step.callee.retransmissions}  {step.outcome()}"
    )


def _pct(share: float | None) -> float | None:
    return None if share is None else share * 100


def best(steps: Sequence[Step], path: str) -> Step | None:
    sustained = [s for s in steps if s.path == path and s.sustained]
    return max(sustained, key=lambda s: s.rate) if sustained else None


def summary_table(steps: Sequence[Step]) -> str:
    columns = [(SWITCH, "SIPp -> switch -> SIPp"), (DIRECT, "SIPp -> SIPp (tool ceiling)")]
    picked = [best(steps, path) for path, _ in columns]
    ran = [any(s.path == path for s in steps) for path, _ in columns]
    rows: list[tuple[str, ...]] = [("", *(title for _, title in columns))]

    def row(label: str, show: Callable[[Step], str]) -> None:
        cells = [
            show(step) if step is not None else "no rate sustained" if did else "not run"
            for step, did in zip(picked, ran, strict=True)
        ]
        rows.append((label, *cells))

    row("highest rate sustained", lambda s: f"{s.rate} calls/s ({s.calls} calls)")
    row("achieved rate", lambda s: f"{s.achieved_cps:.1f} calls/s")
    row("switch CPU (share of 1 core)", lambda s: fmt(_pct(s.switch_cpu_share), ".1f", " %"))
    row("switch CPU per call", lambda s: fmt(s.cpu_ms_per_call, ".2f", " ms"))
    row("SIPp CPU (caller + callee)", lambda s: f"{s.sipp_cpu_share * 100:.1f} %")
    row("INVITE->200 median", lambda s: fmt_ms(s.median_ms))
    row("INVITE->200 p95", lambda s: fmt_ms(s.p95_ms))
    row(
        "warnings: late 180 / retransmissions",
        lambda s: (
            f"{s.caller.late_provisional} / {s.caller.retransmissions + s.callee.retransmissions}"
        ),
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def as_json(steps: Sequence[Step]) -> list[dict[str, object]]:
    return [
        {
            "path": s.path,
            "rate": s.rate,
            "calls": s.calls,
            "sustained": s.sustained,
            "achieved_cps": round(s.achieved_cps, 2),
            "switch_cpu_share": s.switch_cpu_share,
            "cpu_ms_per_call": s.cpu_ms_per_call,
            "sipp_cpu_share": s.sipp_cpu_share,
            "invite_200_median_ms": s.median_ms,
            "invite_200_p95_ms": s.p95_ms,
            "caller_successful": s.caller.successful,
            "caller_failed": s.caller.failed,
            "late_180": s.caller.late_provisional,
            "callee_successful": s.callee.successful,
            "callee_failed": s.callee.failed,
            "retransmissions": s.caller.retransmissions + s.callee.retransmissions,
            "error": s.error,
        }
        for s in steps
    ]


# --- command line ----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", help="comma-separated call rates (calls/s), in order")
    parser.add_argument("--duration", type=float, help="seconds per step (default 60)")
    parser.add_argument("--quick", action="store_true", help="5 s steps at 100, 200, 400")
    parser.add_argument("--direct-only", action="store_true", help="SIPp -> SIPp only")
    parser.add_argument("--switch-only", action="store_true", help="through the switch only")
    parser.add_argument("--sipp-core", type=int, default=0, help="core for SIPp (default 0)")
    parser.add_argument(
        "--switch-core", type=int, default=1, help="core for the switch (default 1)"
    )
    parser.add_argument("--work-dir", type=Path, help="keep SIPp and switch files here")
    parser.add_argument("--json", type=Path, help="also write every step as JSON here")
    args = parser.parse_args(argv)
    if args.rates:
        args.rates = [int(r) for r in args.rates.split(",") if r.strip()]
    else:
        args.rates = list(QUICK_RATES if args.quick else DEFAULT_RATES)
    if args.duration is None:
        args.duration = 5.0 if args.quick else 60.0
    if args.direct_only and args.switch_only:
        parser.error("--direct-only and --switch-only exclude each other")
    args.skip = {SWITCH} if args.direct_only else {DIRECT} if args.switch_only else set()
    if not 1 <= len(args.rates) <= 50 or min(args.rates) <= 0 or args.duration <= 0:
        parser.error("give 1 to 50 positive rates and a positive duration")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="sip_cps-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"SIP calls/s benchmark: rates {args.rates}, {args.duration:g} s per step,"
        f" {HOLD_MS} ms calls, files in {work_dir}",
        flush=True,
    )
    steps = run(args, work_dir)
    print()
    print(summary_table(steps))
    if args.json:
        args.json.write_text(json.dumps(as_json(steps), indent=2))
    print(f"\nfiles (SIPp statistics, errors, response times; switch logs): {work_dir}")
    return 0 if any(s.sustained for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
