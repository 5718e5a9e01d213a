"""Random call scenarios: whatever the callees do, whenever the caller gives up, whichever
retransmittable message is lost, duplicated or reordered, every call ends with exactly one CDR
and the switch forgets it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from switch_harness import CARRIER, PSTN, Behaviour, Phone, SipCall, Step, Wire, World

from callcenter.sip.message import Request, Response
from callcenter.switch.call import Disposition

CALLEE_BEHAVIOURS: dict[str, Callable[[float], Behaviour]] = {
    "answer": lambda t: Behaviour((Step(0.0, 180), Step(t, 200, sdp=True))),
    "answer_at_once": lambda t: Behaviour((Step(0.0, 200, sdp=True),)),
    "early_media": lambda t: Behaviour((Step(0.0, 183, sdp=True), Step(t, 200, sdp=True))),
    "reliable": lambda t: Behaviour((Step(0.0, 180, reliable=True), Step(t, 200, sdp=True))),
    "busy": lambda t: Behaviour((Step(0.0, 180), Step(t, 486))),
    "decline": lambda t: Behaviour((Step(t, 603),)),
    "ring_forever": lambda t: Behaviour((Step(0.0, 180),)),
    "slow": lambda t: Behaviour((Step(t, 100), Step(t + 2.0, 180), Step(t + 4.0, 200, sdp=True))),
    "silent": lambda t: Behaviour(()),
}

PEERS = ("pstn", "switch", "carrier", "desk", "soft")
KINDS = ("INVITE", "ACK", "BYE", "CANCEL", "PRACK", "2xx-INVITE", "final-INVITE", "2xx")
MessageKind = tuple[str, str]  # (who sent it, what it is); all of these are retransmitted


def kind_of(message: Request | Response) -> str:
    if isinstance(message, Request):
        return message.method
    if message.cseq.method == "INVITE":
        if 200 <= message.status_code < 300:
            return "2xx-INVITE"
        return "final-INVITE" if message.status_code >= 300 else "provisional"
    return "2xx" if message.status_code < 300 else "final"


def matching(kind: MessageKind) -> Callable[[Wire], bool]:
    return lambda wire: wire.source == kind[0] and kind_of(wire.message) == kind[1]


@dataclass
class Scenario:
    callees: list[tuple[str, float]]
    """One callee: the carrier trunk; two: extension 1002 registered from two devices."""
    caller_action: str
    caller_at: float
    callee_bye_at: float | None
    late_offer: bool
    require_100rel: bool
    caller_pracks: bool
    reinvite_at: float | None
    reinvite_by: str
    reinvite_offer: bool
    drops: list[MessageKind]
    duplicates: list[MessageKind]
    latency: float
    jitter: float
    seed: int
    no_answer_timeout: float


callee = st.tuples(st.sampled_from(sorted(CALLEE_BEHAVIOURS)), st.floats(0.0, 6.0))
kinds = st.tuples(st.sampled_from(PEERS), st.sampled_from(KINDS))
scenarios = st.builds(
    Scenario,
    callees=st.lists(callee, min_size=1, max_size=2),
    caller_action=st.sampled_from(["none", "cancel", "bye"]),
    caller_at=st.floats(0.0, 10.0),
    callee_bye_at=st.none() | st.floats(0.0, 12.0),
    late_offer=st.booleans(),
    require_100rel=st.booleans(),
    caller_pracks=st.booleans(),
    reinvite_at=st.none() | st.floats(0.0, 10.0),
    reinvite_by=st.sampled_from(["caller", "callee", "both"]),
    reinvite_offer=st.booleans(),
    drops=st.lists(kinds, max_size=4),
    duplicates=st.lists(kinds, max_size=2),
    latency=st.sampled_from([0.0, 0.01, 0.2]),
    jitter=st.sampled_from([0.0, 0.05, 0.3]),
    seed=st.integers(0, 2**16),
    no_answer_timeout=st.sampled_from([5.0, 60.0]),
)


def caller_acts(call: SipCall, action: str) -> None:
    if action == "cancel" and call.final is None:
        call.cancel()
    elif action == "bye" and call.state == "confirmed":
        call.bye()


def reinvite(phone: Phone, offer: bool) -> None:
    for side in (*phone.calls, *phone.incoming):
        if side.state == "confirmed":
            if offer:
                side.reinvite(phone.sdp("sendonly"))
            else:
                side.reinvite(None, ack_body=phone.sdp("sendonly"))


def reinvite_at(phone: Phone, offer: bool, now: float) -> None:
    reinvite(phone, offer)


def hang_up_at(phone: Phone, now: float) -> None:
    hang_up([phone])


def hang_up(phones: list[Phone]) -> None:
    for phone in phones:
        for side in (*phone.calls, *phone.incoming):
            if side.state == "confirmed":
                side.bye()


def callees_of(w: World, s: Scenario) -> tuple[str, list[Phone]]:
    if len(s.callees) == 1:
        name, after = s.callees[0]
        return "95551234", [w.trunk("carrier", CARRIER, CALLEE_BEHAVIOURS[name](after))]
    devices = []
    for (name, after), (device, host) in zip(
        s.callees, [("desk", "10.0.0.21"), ("soft", "10.0.0.22")], strict=True
    ):
        phone = w.phone(device, host, user="1002", behaviour=CALLEE_BEHAVIOURS[name](after))
        w.register(phone)
        devices.append(phone)
    return "1002", devices


def run(s: Scenario) -> tuple[World, SipCall, list[Phone]]:
    w = World(
        latency=s.latency, jitter=s.jitter, seed=s.seed, no_answer_timeout=s.no_answer_timeout
    )
    pstn = w.trunk("pstn", PSTN)
    number, callees = callees_of(w, s)
    for kind in s.drops:
        w.net.drop(matching(kind))
    for kind in s.duplicates:
        w.net.duplicate(matching(kind))
    extra = [("Require", "100rel")] if s.require_100rel else []
    call = pstn.call(number, offer=not s.late_offer, extra=extra)
    call.prack = s.caller_pracks
    if s.late_offer:
        call.ack_body = pstn.sdp()
    pstn.at(s.caller_at, lambda now: caller_acts(call, s.caller_action))
    if s.reinvite_at is not None:
        sides = {"caller": [pstn], "callee": callees, "both": [pstn, *callees]}[s.reinvite_by]
        for phone in sides:
            phone.at(s.reinvite_at, partial(reinvite_at, phone, s.reinvite_offer))
    if s.callee_bye_at is not None:
        for phone in callees:
            phone.at(s.callee_bye_at, partial(hang_up_at, phone))
    w.net.run_for(20.0)
    hang_up([pstn, *callees])
    w.net.run_for(5.0)
    return w, call, callees


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_every_call_ends_with_one_cdr_and_nothing_left(s: Scenario) -> None:
    w, call, callees = run(s)
    w.assert_idle(max_time=1000.0)
    assert len(w.cdrs) == 1, w.cdrs
    cdr = w.cdrs[0]
    assert cdr.ended_at is not None and cdr.disposition is not None
    if call.status is not None and 200 <= call.status < 300:
        assert cdr.disposition is Disposition.ANSWERED
        assert cdr.answered_at is not None
        assert cdr.hangup_by in ("caller", "callee", "system")
    elif call.status is not None:
        assert cdr.sip_code == call.status
        assert cdr.disposition is not Disposition.ANSWERED
    for phone in callees:
        check_switch_output(w, phone.name)
    check_acks(w, "pstn")


def check_switch_output(w: World, peer: str) -> None:
    """What the switch sent to a callee obeys RFC 3261 whatever happened."""
    requests = [x.message for x in w.net.sent("switch", to=peer) if isinstance(x.message, Request)]
    byes = {m.top_via.branch for m in requests if m.method == "BYE"}
    assert len(byes) <= 1, "one BYE per dialog (retransmissions share the branch)"
    wire = w.net.wire
    first_provisional = next(
        (i for i, x in enumerate(wire) if x.source == peer and kind_of(x.message) == "provisional"),
        None,
    )
    cancels = [i for i, x in enumerate(wire) if x.destination == peer and x.is_request("CANCEL")]
    if cancels:
        assert first_provisional is not None and first_provisional < cancels[0], "early CANCEL"
    check_acks(w, peer)


def check_acks(w: World, peer: str) -> None:
    """Every 2xx *peer* sent to an INVITE of the switch got an ACK (§13.2.2.4)."""
    sent = [x.message for x in w.net.sent("switch", to=peer) if isinstance(x.message, Request)]
    invites = {m.top_via.branch for m in sent if m.method == "INVITE"}
    acked = {
        (m.to.tag, m.cseq.seq)
        for m in sent
        if m.method == "ACK" and m.top_via.branch not in invites
    }
    answered = {
        (m.to.tag, m.cseq.seq)
        for m in (x.message for x in w.net.sent(peer, to="switch"))
        if kind_of(m) == "2xx-INVITE"
    }
    assert answered <= acked, f"a 2xx from {peer} was never ACKed"
