"""Calls that fail, and requests the switch refuses outright."""

from __future__ import annotations

import pytest
from switch_harness import CARRIER, PSTN, World, rejects, rings, silent

from callcenter.switch.call import Disposition


@pytest.mark.parametrize(
    ("status", "disposition"),
    [
        (486, Disposition.BUSY),
        (600, Disposition.BUSY),
        (603, Disposition.REJECTED),
        (403, Disposition.REJECTED),
        (404, Disposition.FAILED),
        (503, Disposition.FAILED),
    ],
)
def test_callee_failure_is_relayed(status: int, disposition: Disposition) -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, rejects(status))
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.final is not None, 5)
    assert call.statuses() == [100, 180, status]
    assert call.responses[1].to.tag == call.responses[2].to.tag
    callee = carrier.incoming[0]
    assert callee.state == "ended"
    # the callee's non-2xx is acknowledged by the switch's transaction layer
    assert w.net.run_until(lambda: bool(carrier.requests("ACK")), 1)
    cdr = w.cdr()
    assert cdr.disposition is disposition
    assert cdr.sip_code == status
    assert cdr.answered_at is None
    w.assert_idle()


def test_unknown_number_is_404() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("12345")
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.statuses() == [100, 404]
    assert w.cdr().sip_code == 404
    assert w.cdr().disposition is Disposition.FAILED
    w.assert_idle()


def test_unregistered_extension_is_480() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1002")
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.status == 480
    assert w.cdr().sip_code == 480
    w.assert_idle()


def test_no_answer_timeout_cancels_the_callee() -> None:
    w = World(no_answer_timeout=20.0)
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, rings())
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.final is not None, 30)
    assert w.net.now == 20.0
    assert call.status == 480
    callee = carrier.incoming[0]
    assert callee.cancelled
    assert len(carrier.requests("CANCEL")) == 1
    assert w.net.run_until(lambda: bool(carrier.requests("ACK")), 1)  # ACK for its 487
    cdr = w.cdr()
    assert cdr.disposition is Disposition.NO_ANSWER
    assert cdr.sip_code == 480
    w.assert_idle()


def test_silent_callee_times_out_with_408() -> None:
    """No provisional at all: timer B ends the callee leg, the caller gets 408."""
    w = World()
    pstn = w.trunk("pstn", PSTN)
    w.trunk("carrier", CARRIER, silent())
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.final is not None, 40)
    assert call.status == 408
    assert w.net.now == pytest.approx(32.0)
    assert w.cdr().disposition is Disposition.NO_ANSWER
    w.assert_idle()


def test_max_forwards_zero_is_483() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER)
    call = pstn.call("95551234", max_forwards=0)
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.statuses() == [483]
    assert carrier.received == []
    assert w.cdrs == []
    w.assert_idle()


def test_invite_looping_back_is_482() -> None:
    """An INVITE carrying the Call-ID of one of the switch's own callee legs is a loop."""
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, rings())
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: bool(carrier.incoming), 1)
    looped = carrier.call("95551234", call_id=carrier.incoming[0].call_id)
    assert w.net.run_until(lambda: looped.final is not None, 2)
    assert looped.status == 482
    assert len(w.b2bua.calls) == 1
    call.cancel()
    w.assert_idle()
    assert len(w.cdrs) == 1


def test_unsupported_require_is_420() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("95551234", extra=[("Require", "100rel, foo, bar")])
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.status == 420
    assert call.final is not None
    assert call.final.headers.get("Unsupported") == "bar, foo"
    assert w.cdrs == []
    w.assert_idle()


def test_unknown_method_is_501() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    exchange = pstn.request("FROBNICATE")
    assert w.net.run_until(lambda: exchange.final is not None, 2)
    assert exchange.status == 501
    assert exchange.final is not None and "INVITE" in (exchange.final.headers.get("Allow") or "")
    w.assert_idle()


def test_out_of_dialog_bye_is_481() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    exchange = pstn.request("BYE", to_tag="nosuchtag")
    other = pstn.request("BYE")
    assert w.net.run_until(lambda: exchange.final is not None and other.final is not None, 2)
    assert exchange.status == other.status == 481
    w.assert_idle()


def test_options_is_200_with_allow() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    exchange = pstn.request("OPTIONS")
    assert w.net.run_until(lambda: exchange.final is not None, 2)
    assert exchange.status == 200
    final = exchange.final
    assert final is not None
    allow = {m.strip() for m in (final.headers.get("Allow") or "").split(",")}
    assert {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "PRACK"} <= allow
    w.assert_idle()


def test_invite_without_contact_is_400() -> None:
    """A dialog cannot be built without the caller's Contact: refuse before routing."""
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER)
    call = pstn.call("95551234", contact=False)
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.status == 400
    assert carrier.received == []
    w.assert_idle()


def test_error_while_routing_still_answers_and_ends_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)

    def broken(number: str) -> None:
        raise RuntimeError("dialplan is broken")

    w.b2bua.dialplan.resolve = broken  # type: ignore[method-assign,assignment]
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.statuses() == [100, 500]
    assert w.cdr().sip_code == 500
    assert w.b2bua.counters["event_errors"] == 1
    w.b2bua.counters.pop("event_errors")
    w.assert_idle()
    assert "dialplan is broken" in caplog.text


def test_error_in_a_request_without_call_is_answered_500() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)

    def broken(tx: object, now: float) -> None:
        raise RuntimeError("boom")

    w.b2bua._on_options = broken  # type: ignore[method-assign]
    exchange = pstn.request("OPTIONS")
    assert w.net.run_until(lambda: exchange.final is not None, 2)
    assert exchange.status == 500
    w.b2bua.counters.pop("event_errors")
    w.assert_idle()


def test_failing_hooks_do_not_break_calls_or_registrations() -> None:
    w = World()

    def broken(*args: object) -> None:
        raise RuntimeError("store is down")

    w.b2bua.on_registration = broken
    w.b2bua.on_call_ended = broken
    phone = w.phone("alice", "10.0.0.20", user="1001", behaviour=rejects(486))
    assert w.register(phone).status == 200
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1001")
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.status == 486
    w.assert_idle()


def test_transport_failure_toward_the_callee_fails_the_call_at_once() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    w.trunk("carrier", CARRIER, rings())
    call = pstn.call("95551234")
    w.net.run_for(1.0)
    now = w.net.now
    w.b2bua.handle_events(w.txl.transport_error(CARRIER, now), now)  # as SwitchPump does
    assert w.net.run_until(lambda: call.final is not None, 0.1)
    assert call.status == 503
    assert w.cdr().sip_code == 503
    w.assert_idle()


def test_transport_failure_toward_the_caller_releases_the_callee() -> None:
    w = World()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, rings())
    pstn.call("95551234")
    w.net.run_for(1.0)
    now = w.net.now
    w.b2bua.handle_events(w.txl.transport_error(PSTN, now), now)
    assert w.net.run_until(lambda: carrier.incoming[0].cancelled, 1)
    assert w.cdr().disposition is Disposition.FAILED
    w.assert_idle()
