"""Reliable provisional responses (RFC 3262) on both legs."""

from __future__ import annotations

import pytest
from switch_harness import CARRIER, PSTN, World, answers, rings

from callcenter.switch.call import Disposition

REQUIRE_100REL = [("Require", "100rel")]


def test_caller_requiring_100rel_gets_reliable_ringing() -> None:
    w = World()
    w.net.drop(lambda wire: wire.is_request("PRACK") and wire.source == "pstn")
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=3.0))
    call = pstn.call("95551234", extra=REQUIRE_100REL)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    ringing = [r for r in call.responses if r.status_code == 180]
    assert len(ringing) >= 2  # retransmitted until the (retransmitted) PRACK arrived
    assert {r.header_int("RSeq") for r in ringing} == {ringing[0].header_int("RSeq")}
    assert all("100rel" in r.option_tags("Require") for r in ringing)
    assert [x.at for x in w.net.sent("switch", to="pstn") if x.is_response(180)] == [0.0, 0.5]
    assert call.pracks_sent == 1
    prack = next(e for e in pstn.exchanges if e.request.method == "PRACK")
    assert prack.status == 200
    assert prack.request.headers.get("RAck") == f"{ringing[0].header_int('RSeq')} 1 INVITE"
    call.bye()
    w.assert_idle()
    assert w.cdr().disposition is Disposition.ANSWERED
    assert carrier.incoming[0].state == "ended"


def test_no_prack_fails_the_invite_after_64_t1() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, rings())
    call = pstn.call("95551234", extra=REQUIRE_100REL)
    call.prack = False
    assert w.net.run_until(lambda: call.final is not None, 40)
    assert call.status == 500
    assert w.net.now == pytest.approx(32.0)
    times = [x.at for x in w.net.sent("switch", to="pstn") if x.is_response(180)]
    assert times[:4] == [0.0, 0.5, 1.5, 3.5]  # T1 doubling (RFC 3262 §3)
    assert carrier.incoming[0].cancelled
    cdr = w.cdr()
    assert (cdr.disposition, cdr.sip_code) == (Disposition.FAILED, 500)
    w.assert_idle()


def test_answer_waits_for_the_prack_of_the_reliable_ringing() -> None:
    """RFC 3262 §3: the caller's 200 is held until its reliable 180 is acknowledged."""
    w = World()
    w.net.drop(lambda wire: wire.is_request("PRACK") and wire.source == "pstn")
    pstn = w.trunk("pstn", PSTN)
    w.trunk("carrier", CARRIER, answers(after=0.2))
    call = pstn.call("95551234", extra=REQUIRE_100REL)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    assert w.net.now == 0.5  # the PRACK retransmission came at T1; the 200 right after it
    ok = [x for x in w.net.sent("switch", to="pstn") if x.is_response(200, "INVITE")]
    prack_ok = [x for x in w.net.sent("switch", to="pstn") if x.is_response(200, "PRACK")]
    assert prack_ok[0].at <= ok[0].at
    call.bye()
    w.assert_idle()


def test_caller_cancels_while_the_answer_waits_for_prack() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=0.2))
    call = pstn.call("95551234", extra=REQUIRE_100REL)
    call.prack = False
    w.net.run_for(1.0)
    call.cancel()
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.status == 487
    callee = carrier.incoming[0]
    assert w.net.run_until(lambda: callee.state == "ended", 2)
    assert [r.method for r in callee.requests] == ["BYE"]
    assert w.cdr().disposition is Disposition.CANCELLED
    w.assert_idle()


def test_reliable_ringing_from_the_callee_is_pracked() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0, reliable=True))
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    callee = carrier.incoming[0]
    assert callee.sender is not None and not callee.sender.pending
    pracks = carrier.requests("PRACK")
    assert len(pracks) == 1
    ringing = next(r for r in w.net.sent("carrier") if r.is_response(180)).message
    assert pracks[0].headers.get("RAck") == f"{ringing.header_int('RSeq')} 1 INVITE"
    assert pracks[0].to.tag == callee.local_tag
    # the caller did not ask for 100rel: its 180 is unreliable
    relayed = next(r for r in call.responses if r.status_code == 180)
    assert relayed.headers.get("RSeq") is None
    bye = call.bye()
    assert w.net.run_until(lambda: bye.status is not None and callee.state == "ended", 2)
    assert callee.requests[-1].method == "BYE"
    assert callee.requests[-1].cseq.seq > pracks[0].cseq.seq  # one CSeq space per dialog
    w.assert_idle()


def test_retransmitted_reliable_ringing_is_not_pracked_twice() -> None:
    w = World()
    w.net.drop(lambda wire: wire.is_response(200, "PRACK") and wire.source == "carrier")
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=3.0, reliable=True))
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    pracks = carrier.requests("PRACK")
    assert len(pracks) == 2  # the PRACK transaction's own retransmission
    assert pracks[0].top_via.branch == pracks[1].top_via.branch
    call.bye()
    w.assert_idle()


def test_callee_hangs_up_while_the_answer_waits_for_prack() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=0.2))
    call = pstn.call("95551234", extra=REQUIRE_100REL)
    call.prack = False
    assert w.net.run_until(lambda: any(c.state == "confirmed" for c in carrier.incoming), 2)
    w.net.run_for(1.0)
    carrier.incoming[0].bye()
    assert w.net.run_until(lambda: call.final is not None, 1)
    assert call.status == 487  # never answered, as far as the caller knows
    cdr = w.cdr()
    assert (cdr.hangup_by, cdr.disposition) == ("callee", Disposition.FAILED)
    w.assert_idle()


def test_caller_merely_supporting_100rel_gets_unreliable_ringing() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    w.trunk("carrier", CARRIER, answers())
    call = pstn.call("95551234")  # Supported: 100rel, no Require
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    assert all(r.headers.get("RSeq") is None for r in call.responses)
    assert call.pracks_sent == 0
    call.bye()
    w.assert_idle()
