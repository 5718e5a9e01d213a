"""Graceful shutdown: ``hangup_all`` releases every call, new calls are refused."""

from __future__ import annotations

from switch_harness import CARRIER, PSTN, Behaviour, Step, World, answers

from callcenter.switch.call import Disposition


def test_hangup_all_releases_answered_and_ringing_calls() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, Behaviour((Step(0.0, 180), Step(2.0, 200, sdp=True))))
    answered = pstn.call("95550001")
    assert w.net.run_until(lambda: answered.state == "confirmed", 5)
    carrier.behaviour = Behaviour((Step(0.0, 180),))
    ringing = pstn.call("95550002")
    assert w.net.run_until(lambda: 180 in ringing.statuses(), 1)
    carrier.behaviour = Behaviour(())
    silent = pstn.call("95550003")  # its callee has not answered anything yet
    w.net.run_for(0.1)

    w.b2bua.hangup_all(w.net.now)
    assert w.net.run_until(lambda: answered.state == "ended" and ringing.final is not None, 2)
    assert [r.method for r in answered.requests] == ["BYE"]
    first, second, third = carrier.incoming
    assert [r.method for r in first.requests] == ["BYE"]
    assert ringing.status == 503
    assert second.cancelled
    assert silent.status == 503
    assert third.state == "calling"  # no CANCEL before a provisional (§9.1)

    refused = pstn.call("95550004")
    assert w.net.run_until(lambda: refused.final is not None, 1)
    assert refused.status == 503
    assert refused.final is not None and refused.final.headers.get("Retry-After")

    w.assert_idle()
    by_number = {cdr.callee: cdr for cdr in w.cdrs}
    assert len(w.cdrs) == 3
    assert by_number["95550001"].disposition is Disposition.ANSWERED
    assert by_number["95550001"].hangup_by == "system"
    assert (by_number["95550002"].sip_code, by_number["95550002"].disposition) == (
        503,
        Disposition.FAILED,
    )
    assert by_number["95550003"].sip_code == 503


def test_hangup_all_during_late_offer_answer_acks_before_bye() -> None:
    """The callee's 200 (an offer) waits for the caller's ACK; shutdown ACKs it then BYEs."""
    w = World()
    w.net.drop(lambda wire: wire.is_request("ACK") and wire.source == "pstn", count=None)
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers())
    call = pstn.call("95551234", offer=False)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    callee = carrier.incoming[0]
    assert callee.acks == []
    w.b2bua.hangup_all(w.net.now)
    assert w.net.run_until(lambda: callee.state == "ended", 2)
    assert len(callee.acks) == 1
    assert [r.method for r in callee.requests] == ["BYE"]
    w.assert_idle()
