"""Basic calls through the B2BUA: trunk to trunk, answered, hung up from either side."""

from __future__ import annotations

from switch_harness import (
    CARRIER,
    DOMAIN,
    PSTN,
    SWITCH_HOST,
    Phone,
    SipCall,
    World,
    answers,
    host_of,
)

from callcenter.switch.call import Disposition


def answered_call(w: World, number: str = "95551234") -> tuple[Phone, Phone, SipCall, SipCall]:
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    call = pstn.call(number)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    callee = carrier.incoming[0]
    assert w.net.run_until(lambda: bool(callee.acks), 1)
    return pstn, carrier, call, callee


def test_trunk_to_trunk_call_hung_up_by_caller() -> None:
    w = World()
    _pstn, carrier, call, callee = answered_call(w)
    assert call.statuses() == [100, 180, 200]
    ringing, ok = call.responses[1], call.responses[2]
    assert ringing.to.tag is not None
    assert ringing.to.tag == ok.to.tag  # one dialog with the caller
    assert ringing.to.tag != callee.local_tag  # the switch's tag, not the callee's
    assert ok.body == carrier.sdp()
    assert ok.headers.get("Content-Type") == "application/sdp"
    assert host_of(ok.contacts[0].uri) == SWITCH_HOST
    assert callee.state == "confirmed" and len(callee.acks) == 1

    w.net.run_for(30.0)
    bye = call.bye()
    assert w.net.run_until(lambda: bye.status is not None, 2)
    assert bye.status == 200
    assert callee.state == "ended"
    assert [r.method for r in callee.requests] == ["BYE"]
    assert any(wire.is_response(200, "BYE") for wire in w.net.sent("carrier", to="switch"))

    cdr = w.cdr()
    assert cdr.disposition is Disposition.ANSWERED
    assert cdr.sip_code == 200
    assert cdr.hangup_by == "caller"
    assert cdr.answered_at == 1.0
    assert cdr.ended_at is not None and cdr.ended_at > 30.0
    assert (cdr.caller, cdr.callee, cdr.trunk, cdr.direction) == (
        "pstn",
        "95551234",
        "carrier",
        "inbound",
    )
    w.assert_idle()


def test_trunk_to_trunk_call_hung_up_by_callee() -> None:
    w = World()
    _pstn, _carrier, call, callee = answered_call(w)
    bye = callee.bye()
    assert w.net.run_until(lambda: bye.status is not None, 2)
    assert bye.status == 200
    assert call.state == "ended"
    assert [r.method for r in call.requests] == ["BYE"]
    assert w.net.run_until(lambda: bool(w.cdrs), 1)
    cdr = w.cdr()
    assert cdr.disposition is Disposition.ANSWERED
    assert cdr.hangup_by == "callee"
    w.assert_idle()


def test_callee_leg_is_a_new_dialog() -> None:
    w = World()
    pstn, _carrier, call, callee = answered_call(w)
    a, b = call.invite, callee.invite
    assert b.call_id != a.call_id
    assert b.from_.tag != a.from_.tag
    assert b.top_via.host == SWITCH_HOST
    assert b.top_via.branch != a.top_via.branch
    assert len(b.vias) == 1  # the caller's Via does not leak into the callee leg
    assert b.body == a.body == pstn.sdp()
    assert b.headers.get("Content-Type") == "application/sdp"
    assert b.header_int("Max-Forwards") == 69
    assert b.sip_uri.user == "5551234"  # the route's rewrite
    assert b.from_.uri.user == "pstn"
    assert host_of(b.from_.uri) == DOMAIN
    assert host_of(b.contacts[0].uri) == SWITCH_HOST
    call.bye()
    w.assert_idle()


def test_max_forwards_is_decremented_from_the_callers_value() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers())
    call = pstn.call("95551234", max_forwards=5)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    assert carrier.incoming[0].invite.header_int("Max-Forwards") == 4
    call.bye()
    w.assert_idle()


def test_in_dialog_requests_reach_the_remote_targets() -> None:
    """The BYE to each side goes to its Contact URI, the CSeq grows in each dialog."""
    w = World()
    _pstn, _carrier, call, callee = answered_call(w)
    callee.bye()
    assert w.net.run_until(lambda: bool(call.requests), 2)
    bye = call.requests[0]
    assert bye.sip_uri.user == "pstn"  # the caller's Contact
    assert bye.from_.tag == call.responses[-1].to.tag
    assert bye.to.tag == call.local_tag
    w.assert_idle()


def test_two_calls_at_once_keep_apart() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=2.0))
    first = pstn.call("95550001")
    w.net.run_for(0.5)
    second = pstn.call("95550002")
    assert w.net.run_until(lambda: first.state == second.state == "confirmed", 5)
    assert len(w.b2bua.calls) == 2
    numbers = sorted(c.invite.sip_uri.user or "" for c in carrier.incoming)
    assert numbers == ["5550001", "5550002"]
    second.bye()
    assert w.net.run_until(lambda: len(w.cdrs) == 1, 2)
    assert carrier.incoming[1].state == "ended" and carrier.incoming[0].state == "confirmed"
    first.bye()
    w.assert_idle()
    assert sorted(c.callee for c in w.cdrs) == ["95550001", "95550002"]


def test_record_route_of_a_proxy_in_front_is_honoured() -> None:
    """RFC 3261 §12.1.1: with a proxy (e.g. a load balancer) record-routing in front of the
    switch, the caller's 180/200 carry its Record-Route and the switch's BYE is routed to it."""
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    route = f"<sip:{PSTN.host}:{PSTN.port};lr>"
    call = pstn.call("95551234", extra=[("Record-Route", route)])
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    ringing, ok = call.responses[1], call.responses[2]
    assert ringing.headers.get_all("Record-Route") == [route]
    assert ok.headers.get_all("Record-Route") == [route]
    callee = carrier.incoming[0]
    assert w.net.run_until(lambda: bool(callee.acks), 1)
    callee.bye()
    assert w.net.run_until(lambda: any(r.method == "BYE" for r in call.requests), 2)
    bye = next(r for r in call.requests if r.method == "BYE")
    assert bye.headers.get_all("Route") == [route]
