"""Fixtures for driving real SIP peers (SIPp, pyVoIP) against the switch, all on 127.0.0.1.

- ``sipp``: a :class:`SippRunner` writing into the test's tmp folder, scenarios resolved
  from ``scenarios/``; ``CALLCENTER_SIPP_TRACE=1`` adds full message traces.
- ``uac_port`` / ``uas_port``: the SIP ports of the SIPp caller and callee, which the
  standard config declares as trunks ``uac`` (trusted caller) and ``uas`` (route target).
- ``standard_config``: extensions 1001-1003 with passwords ``secret<number>``, both trunks,
  and the route ``^(2\\d{3})$`` to ``uas``.
- ``start_switch``: starts a switch for a config; stopped (exit status 0 checked) after the
  test. ``switch``: one started with the standard config.

When a test fails, the tail of the logs of every switch it used (through ``start_switch`` or
as a fixture value) is added to the report.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from callcenter.testing import (
    SippRunner,
    SwitchError,
    SwitchProcess,
    extension,
    free_port,
    require_peer,
    route,
    switch_config,
    trunk,
)

SCENARIOS = Path(__file__).parent / "scenarios"
PASSWORDS = {"1001": "secret1001", "1002": "secret1002", "1003": "secret1003"}

SWITCHES = pytest.StashKey[list[SwitchProcess]]()

StartSwitch = Callable[..., SwitchProcess]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        started: list[SwitchProcess] = item.stash.get(SWITCHES, [])
        switches = list(started)
        funcargs = getattr(item, "funcargs", {})
        switches += [v for v in funcargs.values() if isinstance(v, SwitchProcess)]
        for switch in dict.fromkeys(switches):
            report.sections.append((f"switch log ({switch.work_dir})", switch.log_tail()))
    return report


@pytest.fixture(scope="session")
def sipp_binary() -> str:
    return require_peer("sipp")


@pytest.fixture
def sipp(tmp_path: Path, sipp_binary: str) -> Iterator[SippRunner]:
    runner = SippRunner(tmp_path / "sipp", binary=sipp_binary, scenario_dir=SCENARIOS)
    yield runner
    runner.close()


@pytest.fixture
def uac_port() -> int:
    return free_port()


@pytest.fixture
def uas_port() -> int:
    return free_port()


@pytest.fixture
def standard_config(uac_port: int, uas_port: int) -> dict[str, Any]:
    return switch_config(
        extensions=[extension(n, password=p) for n, p in PASSWORDS.items()],
        trunks=[trunk("uac", uac_port), trunk("uas", uas_port)],
        routes=[route(r"^(2\d{3})$", "uas")],
        # SIPp 3.6 answers only the first challenge and only with MD5 (RFC 8760 order would
        # put SHA-256 first); both are still offered.
        auth={"algorithms": ["MD5", "SHA-256"]},
    )


@pytest.fixture
def start_switch(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StartSwitch]:
    started: list[SwitchProcess] = []
    request.node.stash[SWITCHES] = started

    def start(config: Mapping[str, Any], **options: Any) -> SwitchProcess:
        switch = SwitchProcess(tmp_path / f"switch{len(started) + 1}", config, **options)
        started.append(switch)
        return switch.start()

    yield start
    errors = []
    for switch in started:
        if switch.ready:  # a switch that never got ready was killed already
            try:
                switch.stop()
            except SwitchError as exc:
                errors.append(str(exc))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def switch(start_switch: StartSwitch, standard_config: dict[str, Any]) -> SwitchProcess:
    return start_switch(standard_config)
