"""CANCEL: from the caller before answer, relayed to the callee only after a provisional."""

from __future__ import annotations

from switch_harness import CARRIER, PSTN, Behaviour, Step, World, answers, rings

from callcenter.switch.call import Disposition


def test_cancel_after_ringing() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, rings())
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: 180 in call.statuses(), 1)
    w.net.run_for(3.0)
    call.cancel()
    assert w.net.run_until(lambda: call.final is not None, 1)
    assert call.status == 487
    assert pstn.statuses("CANCEL") == [200]
    assert call.responses[-1].to.tag == call.responses[1].to.tag
    callee = carrier.incoming[0]
    assert callee.cancelled and callee.status == 487
    assert len(carrier.requests("CANCEL")) == 1
    assert w.net.run_until(lambda: bool(carrier.requests("ACK")), 1)
    cancel = carrier.requests("CANCEL")[0]
    assert cancel.top_via.branch == callee.invite.top_via.branch  # §9.1
    assert cancel.cseq.seq == callee.invite.cseq.seq
    cdr = w.cdr()
    assert cdr.disposition is Disposition.CANCELLED
    assert cdr.sip_code == 487
    assert cdr.hangup_by == "caller"
    assert cdr.ended_at == 3.0
    w.assert_idle()


def test_cancel_waits_for_the_callees_first_provisional() -> None:
    """RFC 3261 §9.1: no CANCEL before a provisional; it goes out once the 180 arrives."""
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, Behaviour((Step(4.0, 180),)))
    call = pstn.call("95551234")
    w.net.run_for(0.2)
    call.cancel()
    w.net.run_for(0.1)
    # the caller's leg may be cancelled at once...
    assert call.status == 487
    assert w.cdr().disposition is Disposition.CANCELLED
    # ...but the callee sees no CANCEL before its 180
    assert w.net.run_until(lambda: bool(carrier.requests("CANCEL")), 10)
    assert w.net.now == 4.0
    assert carrier.incoming[0].status == 487
    assert w.net.run_until(lambda: bool(carrier.requests("ACK")), 1)
    w.assert_idle()


def test_cancel_waits_for_100_trying_too() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, Behaviour((Step(2.0, 100), Step(30.0, 180))))
    call = pstn.call("95551234")
    w.net.run_for(0.2)
    call.cancel()
    assert w.net.run_until(lambda: bool(carrier.requests("CANCEL")), 10)
    assert w.net.now == 2.0
    assert call.status == 487
    w.assert_idle()


def test_cancel_before_callee_responds_and_callee_never_does() -> None:
    """Without any provisional the callee leg ends with timer B; still one CDR."""
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, Behaviour(()))
    call = pstn.call("95551234")
    w.net.run_for(0.2)
    call.cancel()
    w.assert_idle()
    assert call.status == 487
    assert carrier.requests("CANCEL") == []
    assert len(w.cdrs) == 1


def test_callee_answers_after_cancel_gets_ack_and_bye() -> None:
    """The callee's 200 crosses the CANCEL: the switch ACKs it and hangs up that leg."""
    w = World(latency=0.05)
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    call = pstn.call("95551234")
    w.net.run_for(1.02)  # the CANCEL reaches the switch at 1.07, the callee's 200 at 1.15
    call.cancel()
    assert w.net.run_until(lambda: call.final is not None, 1)
    assert call.status == 487
    callee = carrier.incoming[0]
    assert w.net.run_until(lambda: callee.state == "ended", 1)
    assert len(callee.acks) == 1
    assert [r.method for r in callee.requests] == ["BYE"]
    assert w.cdr().disposition is Disposition.CANCELLED
    w.assert_idle()


def test_cancel_after_answer_changes_nothing() -> None:
    w = World(latency=0.05)
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    call = pstn.call("95551234")
    w.net.run_for(1.16)  # the 200 is on its way to the caller; the CANCEL crosses it
    call.cancel()
    assert w.net.run_until(lambda: call.state == "confirmed", 1)
    w.net.run_for(1.0)
    assert pstn.statuses("CANCEL") == [200]
    assert w.cdrs == []
    assert carrier.incoming[0].state == "confirmed"
    call.bye()
    w.assert_idle()
    assert w.cdr().disposition is Disposition.ANSWERED


def test_retransmitted_cancel_is_answered_again() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, rings())
    w.net.duplicate(lambda wire: wire.is_request("CANCEL") and wire.source == "pstn")
    call = pstn.call("95551234")
    w.net.run_for(1.0)
    call.cancel()
    assert w.net.run_until(lambda: call.final is not None, 1)
    w.net.run_for(1.0)
    assert pstn.statuses("CANCEL") == [200, 200]
    assert len(carrier.requests("CANCEL")) == 1
    w.assert_idle()
    assert len(w.cdrs) == 1
