"""Forking: an extension registered from two devices rings both; the first 2xx wins."""

from __future__ import annotations

from switch_harness import PSTN, Behaviour, Phone, Step, World, answers, rejects, rings

from callcenter.switch.call import Disposition


def two_devices(w: World, desk: Behaviour, soft: Behaviour) -> tuple[Phone, Phone]:
    a = w.phone("desk", "10.0.0.21", user="1002", behaviour=desk)
    b = w.phone("soft", "10.0.0.22", user="1002", behaviour=soft)
    w.register(a)
    w.register(b)
    assert len(w.location.lookup("sip:1002@pbx.test", w.net.now)) == 2
    return a, b


def test_both_ring_first_answer_wins_other_is_cancelled() -> None:
    w = World()
    desk, soft = two_devices(w, answers(after=2.0), rings())
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1002")
    assert w.net.run_until(lambda: bool(desk.incoming) and bool(soft.incoming), 1)
    assert desk.incoming[0].call_id != soft.incoming[0].call_id
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    ringing = [r for r in call.responses if r.status_code == 180]
    assert {r.to.tag for r in ringing} == {call.responses[-1].to.tag}  # one dialog upstream
    assert w.net.run_until(lambda: soft.incoming[0].cancelled, 1)
    cancel = soft.requests("CANCEL")[0]
    assert "Call completed elsewhere" in (cancel.headers.get("Reason") or "")
    assert desk.incoming[0].state == "confirmed"
    call.bye()
    w.assert_idle()
    cdr = w.cdr()
    assert cdr.disposition is Disposition.ANSWERED


def test_late_200_from_the_other_fork_is_acked_then_released() -> None:
    w = World(latency=0.01)
    desk, soft = two_devices(w, answers(after=1.0), answers(after=1.0))
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1002")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    losers = [c for c in (desk.incoming[0], soft.incoming[0]) if c.requests]
    assert len(losers) == 1
    loser = losers[0]
    assert w.net.run_until(lambda: loser.state == "ended", 1)
    assert len(loser.acks) == 1
    assert [r.method for r in loser.requests] == ["BYE"]
    winner = soft.incoming[0] if loser is desk.incoming[0] else desk.incoming[0]
    assert winner.state == "confirmed"
    assert call.statuses().count(200) == 1
    call.bye()
    w.assert_idle()
    assert len(w.cdrs) == 1


def test_all_forks_fail_best_response_wins() -> None:
    w = World()
    two_devices(w, rejects(404, after=0.5), rejects(486, after=1.0))
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1002")
    assert w.net.run_until(lambda: call.final is not None, 5)
    assert call.status == 486
    assert w.net.now == 1.0  # waited for every fork
    assert w.cdr().disposition is Disposition.BUSY
    w.assert_idle()


def test_4xx_is_preferred_over_5xx() -> None:
    w = World()
    two_devices(w, rejects(503, after=0.5), rejects(480, after=1.0))
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1002")
    assert w.net.run_until(lambda: call.final is not None, 5)
    assert call.status == 480
    w.assert_idle()


def test_6xx_stops_forking() -> None:
    w = World()
    _desk, soft = two_devices(w, rejects(603, after=0.5), rings())
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1002")
    assert w.net.run_until(lambda: call.final is not None, 5)
    assert call.status == 603
    assert w.net.now == 0.5
    assert w.net.run_until(lambda: soft.incoming[0].cancelled, 1)
    assert w.cdr().disposition is Disposition.REJECTED
    w.assert_idle()


def test_caller_cancel_cancels_every_fork() -> None:
    w = World()
    desk, soft = two_devices(w, rings(), Behaviour((Step(0.0, 183, sdp=True),)))
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1002")
    w.net.run_for(2.0)
    call.cancel()
    assert w.net.run_until(lambda: desk.incoming[0].cancelled and soft.incoming[0].cancelled, 1)
    assert call.status == 487
    w.assert_idle()
    assert len(w.cdrs) == 1


def test_one_fork_busy_other_answers() -> None:
    w = World()
    _desk, _soft = two_devices(w, rejects(486, after=0.2), answers(after=1.0))
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1002")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    assert 486 not in call.statuses()
    call.bye()
    w.assert_idle()
    assert w.cdr().disposition is Disposition.ANSWERED
