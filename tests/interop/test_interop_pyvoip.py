"""pyVoIP registers to the switch as extension 1002 and calls a SIPp callee through it.

pyVoIP quirks met here: it sends all SIP to (server, port), its INVITE is
``sip:2000@127.0.0.1`` (no port), it answers only 401 challenges (with ``Authorization``, MD5,
no qop, the branch of the first INVITE and the next CSeq), and its ACK carries a To-tag of
its own. It runs in a child process with a hard deadline (see ``run_pyvoip_call``).
"""

from __future__ import annotations

import pytest

from callcenter.testing import (
    SippOptions,
    SippRunner,
    SwitchProcess,
    free_port,
    require_peer,
    run_pyvoip_call,
)

pytestmark = [pytest.mark.interop, pytest.mark.integration]


def test_pyvoip_registers_and_calls_through_the_switch(
    switch: SwitchProcess, sipp: SippRunner, uas_port: int
) -> None:
    require_peer("pyVoIP")
    rtp = free_port(span=10)
    answering = SippOptions("uas_answer.xml", local_port=uas_port, calls=1, timeout_s=90)
    with sipp.start(answering) as uas:
        report = run_pyvoip_call(
            server=switch.sip_address,
            number="2000",
            username="1002",
            password="secret1002",
            local_port=free_port(),
            rtp_ports=(rtp, rtp + 9),
            hold_s=1.0,
        )
        called = uas.wait(30)
    assert report.registered, report.describe()
    assert report.answered and report.hung_up, report.describe()
    assert report.stage == "done", report.describe()
    assert called.ok, called.describe()
    rows = switch.wait_for_rows("SELECT caller, disposition FROM cdr")
    assert [row["disposition"] for row in rows] == ["answered"]
    assert "1002" in rows[0]["caller"]
