"""Timers: 2xx retransmission until ACK (RFC 3261 §13.3.1.4), re-ACK of retransmitted 2xx,
lost requests, the no-answer timer, and the switch's timer heap."""

from __future__ import annotations

import itertools

import pytest
from switch_harness import CARRIER, PSTN, Phone, SipCall, Wire, World, answers, rings

from callcenter.switch.call import Disposition
from callcenter.switch.timers import TimerHeap


def caller_ack(wire: Wire) -> bool:
    return wire.is_request("ACK") and wire.source == "pstn"


def ok_times(w: World) -> list[float]:
    return [x.at for x in w.net.sent("switch", to="pstn") if x.is_response(200, "INVITE")]


def setup_call(w: World) -> tuple[Phone, Phone, SipCall]:
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    return pstn, carrier, pstn.call("95551234")


def test_lost_ack_makes_the_switch_retransmit_its_200() -> None:
    w = World()
    w.net.drop(caller_ack, count=2)
    _pstn, _carrier, call = setup_call(w)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    w.net.run_for(20.0)
    # 200 at 1.0, then T1 and 2*T1 later; the third ACK gets through
    assert ok_times(w) == [1.0, 1.5, 2.5]
    assert len(w.net.sent("pstn", to="switch")) == 1 + 3  # INVITE + three ACKs
    assert w.cdrs == []
    call.bye()
    w.assert_idle()


def test_no_ack_at_all_releases_the_call_after_64_t1() -> None:
    w = World()
    w.net.drop(caller_ack, count=None)
    _pstn, carrier, call = setup_call(w)
    assert w.net.run_until(lambda: bool(w.cdrs), 60)
    times = ok_times(w)
    intervals = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert intervals[:4] == [0.5, 1.0, 2.0, 4.0]
    assert set(intervals[4:]) == {4.0}  # capped at T2
    assert w.net.now == pytest.approx(1.0 + 64 * 0.5)  # released at 64*T1
    assert times[-1] < w.net.now
    callee = carrier.incoming[0]
    assert w.net.run_until(lambda: callee.state == "ended" and bool(call.requests), 2)
    assert [r.method for r in call.requests] == ["BYE"]
    assert [r.method for r in callee.requests] == ["BYE"]
    cdr = w.cdr()
    assert cdr.disposition is Disposition.ANSWERED
    assert cdr.hangup_by == "system"
    w.assert_idle()


def test_retransmitted_200_from_the_callee_is_acked_again() -> None:
    w = World()
    w.net.drop(lambda wire: wire.is_request("ACK") and wire.source == "switch")
    pstn, carrier, call = setup_call(w)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    callee = carrier.incoming[0]
    assert w.net.run_until(lambda: bool(callee.acks), 2)
    acks = [x.message for x in w.net.sent("switch", to="carrier") if x.is_request("ACK")]
    assert len(acks) == 2
    assert bytes(acks[0]) == bytes(acks[1])  # the same ACK again (§13.2.2.4)
    assert len(carrier.responses()) == 0
    assert len([x for x in w.net.sent("carrier") if x.is_response(200, "INVITE")]) == 2
    # the caller saw one 200 only: retransmissions are not relayed
    assert pstn.statuses("INVITE").count(200) == 1
    call.bye()
    w.assert_idle()


def test_late_200_retransmission_after_the_call_ended_is_only_acked() -> None:
    w = World()
    _pstn, carrier, call = setup_call(w)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    callee = carrier.incoming[0]
    bye = call.bye()
    assert w.net.run_until(lambda: bye.status is not None and callee.state == "ended", 2)
    callee.resend_final()  # a 2xx retransmission that crossed the BYE
    w.net.run_for(1.0)
    to_carrier = [x.message for x in w.net.sent("switch", to="carrier")]
    methods = [m.method for m in to_carrier if hasattr(m, "method")]
    assert methods == ["INVITE", "ACK", "BYE", "ACK"]
    w.assert_idle()


def test_lost_invite_is_retransmitted_and_duplicates_make_one_call() -> None:
    w = World()
    w.net.drop(lambda wire: wire.is_request("INVITE") and wire.source == "pstn")
    w.net.duplicate(lambda wire: wire.is_request("INVITE") and wire.source == "pstn")
    pstn, carrier, call = setup_call(w)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    assert len(pstn.requests("INVITE")) == 0
    assert len(carrier.incoming) == 1
    assert carrier.incoming[0].invite.top_via.branch
    call.bye()
    w.assert_idle()
    assert len(w.cdrs) == 1


def test_lost_bye_is_retransmitted() -> None:
    w = World()
    w.net.drop(lambda wire: wire.is_request("BYE") and wire.source == "switch")
    _pstn, carrier, call = setup_call(w)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    callee = carrier.incoming[0]
    bye = call.bye()
    assert w.net.run_until(lambda: callee.state == "ended", 2)
    assert bye.status == 200
    assert w.net.now == pytest.approx(1.5)  # timer E, T1 after the first attempt
    w.assert_idle()


def test_no_answer_timer_is_dropped_when_the_call_is_answered() -> None:
    w = World(no_answer_timeout=60.0)
    _pstn, _carrier, call = setup_call(w)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    call.bye()
    assert w.net.run_until(lambda: bool(w.cdrs), 2)
    assert len(w.b2bua.timers) == 0
    w.net.settle()
    assert w.net.now < 60.0  # nothing waited for the no-answer deadline


def test_no_answer_timer_is_dropped_when_the_call_fails() -> None:
    w = World(no_answer_timeout=60.0)
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, rings())
    call = pstn.call("95551234")
    w.net.run_for(2.0)
    call.cancel()
    assert w.net.run_until(lambda: bool(w.cdrs), 2)
    assert len(w.b2bua.timers) == 0
    assert carrier.incoming[0].cancelled


def test_timer_heap_orders_cancels_and_runs_due() -> None:
    heap = TimerHeap()
    fired: list[tuple[str, float]] = []
    heap.schedule(2.0, lambda now: fired.append(("b", now)))
    first = heap.schedule(1.0, lambda now: fired.append(("a", now)))
    heap.schedule(2.0, lambda now: fired.append(("c", now)))
    assert heap.next_deadline() == 1.0 and len(heap) == 3
    first.cancel()
    assert heap.next_deadline() == 2.0 and len(heap) == 2
    heap.run_due(1.9)
    assert fired == []
    heap.run_due(2.5)
    assert fired == [("b", 2.5), ("c", 2.5)]  # same deadline: scheduling order
    assert heap.next_deadline() is None and len(heap) == 0


def test_timer_heap_callbacks_may_schedule_more() -> None:
    heap = TimerHeap()
    fired: list[float] = []

    def again(now: float) -> None:
        fired.append(now)
        if len(fired) < 3:
            heap.schedule(now + 1.0, again)

    heap.schedule(1.0, again)
    while (deadline := heap.next_deadline()) is not None:
        heap.run_due(deadline)
    assert fired == [1.0, 2.0, 3.0]
