"""Calls through the switch between SIPp peers: answered, cancelled, refused; and the CDRs.

The SIPp caller uses trunk ``uac``'s port (trusted, no challenge) unless it plays an
extension; the SIPp callee listens on trunk ``uas``'s port, where ``^(2\\d{3})$`` routes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import StartSwitch

from callcenter.testing import (
    LOOPBACK,
    SippOptions,
    SippRunner,
    SwitchProcess,
    free_port,
    route,
    switch_config,
    trunk,
)

pytestmark = [pytest.mark.interop, pytest.mark.integration]

CDRS = "SELECT * FROM cdr ORDER BY start_time"


def caller(switch: SwitchProcess, scenario: str, port: int, service: str) -> SippOptions:
    """One call from SIPp on ``port`` to ``service`` at the switch, held 300 ms if answered."""
    return SippOptions(
        scenario,
        remote=(LOOPBACK, switch.sip_port),
        local_port=port,
        service=service,
        calls=1,
        hold_ms=300,
        timeout_s=30,
    )


def callee(scenario: str, port: int, calls: int = 1) -> SippOptions:
    return SippOptions(scenario, local_port=port, calls=calls, timeout_s=30)


def test_answered_call_is_relayed_and_recorded(
    switch: SwitchProcess, sipp: SippRunner, uac_port: int, uas_port: int
) -> None:
    with sipp.start(callee("uas_answer.xml", uas_port)) as uas:
        calling = sipp.run(caller(switch, "uac_call.xml", uac_port, "2000"))
        called = uas.wait(timeout=20)
    assert calling.ok, calling.describe()
    assert called.ok, called.describe()
    assert len(calling.response_times_ms) == 1
    rows = switch.wait_for_rows(CDRS)
    assert len(rows) == 1, rows
    cdr = rows[0]
    assert cdr["disposition"] == "answered"
    assert cdr["sip_code"] == 200
    assert "2000" in cdr["callee"]
    assert cdr["start_time"] <= cdr["answer_time"] <= cdr["end_time"]


def test_cancel_before_answer(
    switch: SwitchProcess, sipp: SippRunner, uac_port: int, uas_port: int
) -> None:
    with sipp.start(callee("uas_ring.xml", uas_port)) as uas:
        calling = sipp.run(caller(switch, "uac_cancel.xml", uac_port, "2000"))
        called = uas.wait(timeout=20)
    assert calling.ok, calling.describe()
    assert called.ok, called.describe()
    rows = switch.wait_for_rows(CDRS)
    assert [row["disposition"] for row in rows] == ["cancelled"]
    assert rows[0]["answer_time"] is None


def test_unknown_number_gets_404(switch: SwitchProcess, sipp: SippRunner, uac_port: int) -> None:
    calling = sipp.run(caller(switch, "uac_expect_404.xml", uac_port, "9999"))
    assert calling.ok, calling.describe()


def test_busy_callee_gives_486(
    switch: SwitchProcess, sipp: SippRunner, uac_port: int, uas_port: int
) -> None:
    with sipp.start(callee("uas_busy.xml", uas_port)) as uas:
        calling = sipp.run(caller(switch, "uac_expect_486.xml", uac_port, "2000"))
        called = uas.wait(timeout=20)
    assert calling.ok, calling.describe()
    assert called.ok, called.describe()


def test_extension_that_is_not_registered_gives_480(
    switch: SwitchProcess, sipp: SippRunner, uac_port: int
) -> None:
    calling = sipp.run(caller(switch, "uac_expect_480.xml", uac_port, "1003"))
    assert calling.ok, calling.describe()


def test_registered_extension_calls_out_through_the_trunk(
    switch: SwitchProcess, sipp: SippRunner, uas_port: int
) -> None:
    phone_port = free_port()  # not a trunk: the switch must authenticate it
    registering = sipp.run(
        SippOptions(
            "register_ok.xml",
            remote=switch.sip_address,
            local_port=phone_port,
            calls=1,
            timeout_s=15,
        )
    )
    assert registering.ok, registering.describe()
    with sipp.start(callee("uas_answer.xml", uas_port)) as uas:
        calling = sipp.run(caller(switch, "uac_auth_call.xml", phone_port, "2000"))
        called = uas.wait(timeout=20)
    assert calling.ok, calling.describe()
    assert called.ok, called.describe()
    rows = switch.wait_for_rows(CDRS)
    assert [row["disposition"] for row in rows] == ["answered"]
    assert "1002" in rows[0]["caller"]


def test_call_over_tcp_on_both_legs(
    start_switch: StartSwitch, sipp: SippRunner, uac_port: int, uas_port: int
) -> None:
    """SIPp over TCP (-t t1) on both sides: the switch accepts the caller's connection,
    answers on it, and opens its own connection to the TCP trunk."""
    switch = start_switch(
        switch_config(
            trunks=[
                trunk("uac", uac_port, transport="tcp", match_source_port=False),
                trunk("uas", uas_port, transport="tcp"),
            ],
            routes=[route(r"^(2\d{3})$", "uas")],
        )
    )
    over_tcp = {"transport": "t1"}
    with sipp.start(replace(callee("uas_answer.xml", uas_port), **over_tcp)) as uas:
        calling = sipp.run(replace(caller(switch, "uac_call.xml", uac_port, "2000"), **over_tcp))
        called = uas.wait(timeout=20)
    assert calling.ok, calling.describe()
    assert called.ok, called.describe()
    rows = switch.wait_for_rows(CDRS)
    assert [r["disposition"] for r in rows] == ["answered"]
    assert rows[0]["trunk"] == "uas"
