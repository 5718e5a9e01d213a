"""In-dialog requests: re-INVITE (hold/resume, late offer), INFO, glare, and the late-offer
initial INVITE."""

from __future__ import annotations

from switch_harness import (
    CARRIER,
    PSTN,
    Behaviour,
    Phone,
    SipCall,
    Step,
    World,
    answers,
    direction_of,
)

from callcenter.switch.call import Disposition


def connected(
    w: World, callee_behaviour: Behaviour | None = None
) -> tuple[Phone, Phone, SipCall, SipCall]:
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, callee_behaviour or answers())
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    callee = carrier.incoming[0]
    assert w.net.run_until(lambda: bool(callee.acks), 1)
    return pstn, carrier, call, callee


def test_caller_puts_callee_on_hold_and_resumes() -> None:
    w = World()
    pstn, carrier, call, callee = connected(w)
    hold = call.reinvite(pstn.sdp("sendonly"))
    assert w.net.run_until(lambda: hold.status is not None, 2)
    assert hold.status == 200
    relayed = callee.requests[-1]
    assert relayed.method == "INVITE"
    assert relayed.call_id == callee.call_id
    assert relayed.body == pstn.sdp("sendonly")
    assert relayed.to.tag == callee.local_tag
    final = hold.final
    assert final is not None and direction_of(final.body) == "recvonly"
    assert final.body == carrier.sdp("recvonly")
    assert w.net.run_until(lambda: len(callee.acks) == 2, 1)
    assert callee.acks[-1].cseq.seq == relayed.cseq.seq

    resume = call.reinvite(pstn.sdp("sendrecv"))
    assert w.net.run_until(lambda: resume.status is not None and len(callee.acks) == 3, 2)
    assert callee.requests[-1].body == pstn.sdp("sendrecv")
    assert callee.requests[-1].cseq.seq > relayed.cseq.seq
    call.bye()
    w.assert_idle()
    assert w.cdr().disposition is Disposition.ANSWERED


def test_callee_puts_caller_on_hold() -> None:
    w = World()
    pstn, carrier, call, callee = connected(w)
    hold = callee.reinvite(carrier.sdp("sendonly"))
    assert w.net.run_until(lambda: hold.status is not None, 2)
    assert hold.status == 200
    relayed = call.requests[-1]
    assert relayed.method == "INVITE" and relayed.body == carrier.sdp("sendonly")
    assert relayed.call_id == call.call_id and relayed.to.tag == call.local_tag
    assert hold.final is not None and hold.final.body == pstn.sdp("recvonly")
    assert w.net.run_until(lambda: len(call.acks) == 1, 1)  # the switch ACKs the caller's 200
    w.net.run_for(10.0)
    assert len(pstn.requests("INVITE")) == 1  # the caller's 200 was ACKed: no retransmission
    callee.bye()
    w.assert_idle()


def test_reinvite_without_sdp_carries_the_answer_in_the_ack() -> None:
    w = World()
    pstn, carrier, call, callee = connected(w)
    answer = pstn.sdp("sendonly")
    refresh = call.reinvite(None, ack_body=answer)
    assert w.net.run_until(lambda: refresh.status is not None, 2)
    assert callee.requests[-1].body == b""
    assert refresh.final is not None and refresh.final.body == carrier.sdp()  # the offer
    assert w.net.run_until(lambda: len(callee.acks) == 2, 1)
    assert callee.acks[-1].body == answer
    assert callee.acks[-1].headers.get("Content-Type") == "application/sdp"
    w.net.run_for(10.0)
    assert len(carrier.responses("INVITE")) == 0
    call.bye()
    w.assert_idle()


def test_rejected_reinvite_is_relayed_and_the_call_goes_on() -> None:
    w = World()
    behaviour = answers()
    behaviour.reinvite_status = 488
    pstn, carrier, call, callee = connected(w, behaviour)
    offer = call.reinvite(pstn.sdp("sendonly"))
    assert w.net.run_until(lambda: offer.status is not None, 2)
    assert offer.status == 488
    w.net.run_for(1.0)
    assert carrier.requests("ACK")[-1].cseq.seq == callee.requests[-1].cseq.seq
    bye = call.bye()
    assert w.net.run_until(lambda: bye.status == 200, 2)
    w.assert_idle()


def test_info_is_relayed_with_its_body() -> None:
    w = World()
    _pstn, _carrier, call, callee = connected(w)
    info = call.info()
    assert w.net.run_until(lambda: info.status is not None, 2)
    assert info.status == 200
    relayed = callee.requests[-1]
    assert relayed.method == "INFO"
    assert relayed.body == b"Signal=5\r\nDuration=160\r\n"
    assert relayed.headers.get("Content-Type") == "application/dtmf-relay"
    back = callee.info(b"Signal=#\r\nDuration=100\r\n")
    assert w.net.run_until(lambda: back.status is not None, 2)
    assert call.requests[-1].method == "INFO"
    call.bye()
    w.assert_idle()


def test_glare_is_491() -> None:
    """Both sides re-INVITE at once: the switch refuses the one that arrives second."""
    w = World(latency=0.05)
    pstn, carrier, call, callee = connected(w)
    first = call.reinvite(pstn.sdp("sendonly"))
    second = callee.reinvite(carrier.sdp("sendonly"))
    assert w.net.run_until(lambda: first.status is not None and second.status is not None, 3)
    assert second.status == 491
    assert first.status == 200
    assert all(r.method != "INVITE" for r in call.requests)
    w.net.run_for(1.0)
    again = callee.reinvite(carrier.sdp("sendonly"))  # after the back-off it goes through
    assert w.net.run_until(lambda: again.status is not None, 3)
    assert again.status == 200
    call.bye()
    w.assert_idle()


def test_second_reinvite_before_the_first_is_answered_is_500() -> None:
    w = World()
    behaviour = answers()
    behaviour.reinvite_delay = 2.0
    pstn, _carrier, call, callee = connected(w, behaviour)
    first = call.reinvite(pstn.sdp("sendonly"))
    w.net.run_for(0.5)
    second = call.reinvite(pstn.sdp("inactive"))
    assert w.net.run_until(lambda: first.status is not None and second.status is not None, 5)
    assert (first.status, second.status) == (200, 500)
    assert second.final is not None and second.final.headers.get("Retry-After")
    assert len([r for r in callee.requests if r.method == "INVITE"]) == 1
    call.bye()
    w.assert_idle()


def test_reinvite_toward_a_leg_that_has_not_acked_is_491() -> None:
    """The caller's ACK is lost: its INVITE transaction is still in progress (§14.1)."""
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers())
    w.net.drop(lambda wire: wire.is_request("ACK") and wire.source == "pstn")
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    callee = carrier.incoming[0]
    hold = callee.reinvite(carrier.sdp("sendonly"))
    assert w.net.run_until(lambda: hold.status is not None, 1)
    assert hold.status == 491
    assert w.net.run_until(lambda: len(pstn.responses("INVITE")) > 3, 2)  # 200 retransmitted
    later = callee.reinvite(carrier.sdp("sendonly"))
    assert w.net.run_until(lambda: later.status is not None, 2)
    assert later.status == 200
    call.bye()
    w.assert_idle()


def test_late_offer_initial_invite() -> None:
    """No SDP in the INVITE: the callee's 200 offer goes to the caller, its ACK answer back."""
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers())
    call = pstn.call("95551234", offer=False)
    call.ack_body = pstn.sdp()
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    callee = carrier.incoming[0]
    assert callee.invite.body == b""
    assert callee.invite.headers.get("Content-Type") is None
    assert call.final is not None and call.final.body == carrier.sdp()
    assert w.net.run_until(lambda: bool(callee.acks), 1)
    assert callee.acks[0].body == pstn.sdp()
    assert callee.acks[0].cseq.seq == callee.invite.cseq.seq
    call.bye()
    w.assert_idle()


def test_late_offer_with_early_media() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, Behaviour((Step(0.0, 183, sdp=True), Step(1.0, 200))))
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    early = call.responses[1]
    assert early.status_code == 183 and early.body == carrier.sdp()
    call.bye()
    w.assert_idle()


def test_in_dialog_request_with_old_cseq_is_500() -> None:
    w = World()
    _pstn, _carrier, call, callee = connected(w)
    assert call.dialog is not None
    first = call.info()
    assert w.net.run_until(lambda: first.status is not None, 2)
    assert first.request.cseq.seq == 2
    call.dialog.local_cseq = 0  # the next request goes out with CSeq 1, below the last one
    info = call.info()
    assert w.net.run_until(lambda: info.status is not None, 2)
    assert info.status == 500
    assert len(callee.requests) == 1  # only the first INFO was relayed
    call.dialog.local_cseq = 10
    call.bye()
    w.assert_idle()


def test_bye_while_a_reinvite_is_relayed_answers_it_487() -> None:
    """§15.1.2: pending requests of a dialog that ends are answered 487 at once."""
    w = World()
    behaviour = answers()
    behaviour.reinvite_delay = 2.0
    pstn, _carrier, call, callee = connected(w, behaviour)
    hold = call.reinvite(pstn.sdp("sendonly"))
    w.net.run_for(0.5)
    bye = call.bye()
    sent_at = w.net.now
    assert w.net.run_until(lambda: hold.status is not None and bye.status is not None, 1)
    assert (hold.status, bye.status) == (487, 200)
    assert w.net.now == sent_at  # not when the callee gets round to answering
    # the callee answers its re-INVITE after the BYE: the 2xx still gets its ACK
    assert w.net.run_until(lambda: len(callee.acks) == 2, 3)
    assert callee.acks[-1].cseq.seq == callee.requests[0].cseq.seq
    w.assert_idle()
    assert w.cdr().hangup_by == "caller"


def test_update_is_relayed() -> None:
    w = World()
    pstn, _carrier, call, callee = connected(w)
    update = call.send("UPDATE", pstn.sdp("sendonly"))
    assert w.net.run_until(lambda: update.status is not None, 2)
    assert update.status == 200
    assert callee.requests[-1].method == "UPDATE"
    assert callee.requests[-1].body == pstn.sdp("sendonly")
    call.bye()
    w.assert_idle()
