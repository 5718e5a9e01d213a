"""Registration with digest authentication, lock-out, and authenticated calls from phones."""

from __future__ import annotations

from switch_harness import (
    CARRIER,
    DOMAIN,
    PASSWORDS,
    PSTN,
    SWITCH_HOST,
    Phone,
    World,
    answers,
    parse_challenge_algorithms,
)

from callcenter.sip.auth import AuthLockout, DigestClient
from callcenter.sip.transaction import Endpoint
from callcenter.switch.call import Disposition
from callcenter.switch.registrar import Binding

NAT = Endpoint("udp", "10.0.0.20", 40000)


def alice(w: World) -> Phone:
    """Extension 1001 on 192.168.1.20:5062, behind a NAT that shows it as 10.0.0.20:40000."""
    return w.phone("alice", "192.168.1.20", 5062, user="1001", public=NAT, behaviour=answers())


def test_register_challenge_then_ok() -> None:
    w = World()
    phone = alice(w)
    exchange = w.register(phone, expires=600)
    assert phone.statuses("REGISTER") == [401, 200]
    challenge = phone.responses("REGISTER")[0]
    values = challenge.headers.get_all("WWW-Authenticate")
    assert parse_challenge_algorithms(values) == ["SHA-256", "MD5"]
    assert all(f'realm="{DOMAIN}"' in v for v in values)
    ok = exchange.final
    assert ok is not None and exchange.status == 200
    assert (exchange.request.headers.get("Authorization") or "").startswith("Digest ")
    assert exchange.request.cseq.seq == 2  # the retry is a new request of the same Call-ID
    contacts = ok.contacts
    assert len(contacts) == 1
    assert str(contacts[0].uri) == "sip:1001@192.168.1.20:5062"
    assert contacts[0].params.get("expires") == "600"
    assert ok.headers.get("Date")
    saved, removed = w.registrations[0]
    assert removed == []
    assert isinstance(saved[0], Binding) and saved[0].source == "udp:10.0.0.20:40000"
    w.assert_idle()


def test_register_for_unknown_extension_is_404() -> None:
    w = World()
    phone = w.phone("mallory", "10.0.0.66", user="4444", password="x")
    exchange = phone.register()
    assert w.net.run_until(lambda: exchange.final is not None, 2)
    assert exchange.status == 404


def test_register_with_someone_elses_credentials_is_403() -> None:
    w = World()
    phone = w.phone("bob", "10.0.0.21", user="1002")
    phone.user = "1001"  # registers 1001 with 1002's credentials
    exchange = phone.register()
    assert w.net.run_until(lambda: exchange.final is not None, 2)
    assert exchange.status == 403
    assert w.location.all_bindings(w.net.now) == []


def test_wrong_password_is_challenged_again_then_locked_out() -> None:
    w = World(lockout=AuthLockout(max_failures=3, window=300.0, base_delay=2.0, max_delay=60.0))
    phone = w.phone("alice", "10.0.0.20", user="1001", password="wrong")
    for _ in range(3):
        exchange = phone.register()
        assert w.net.run_until(lambda e=exchange: e.final is not None, 2)  # type: ignore[misc]
        assert exchange.status == 401
    assert phone.statuses("REGISTER") == [401] * 6
    blocked = phone.register()
    assert w.net.run_until(lambda: blocked.final is not None, 2)
    assert blocked.status == 403
    assert blocked.final is not None
    assert blocked.final.headers.get("Retry-After") == "2"
    assert blocked.final.headers.get("WWW-Authenticate") is None
    # the right password is refused too while the block lasts, accepted after it
    phone.auth_client = DigestClient("1001", PASSWORDS["1001"])
    still = phone.register()
    assert w.net.run_until(lambda: still.final is not None, 1)
    assert still.status == 403
    w.net.run_for(2.0)
    ok = phone.register()
    assert w.net.run_until(lambda: ok.final is not None, 1)
    assert ok.status == 200


def test_call_reaches_the_registered_contact_through_the_nat() -> None:
    w = World()
    phone = alice(w)
    w.register(phone)
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1001")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    incoming = phone.incoming[0]
    assert str(incoming.invite.uri) == "sip:1001@192.168.1.20:5062"
    inbound = [wire for wire in w.net.sent("switch", to="alice") if wire.is_request("INVITE")]
    assert inbound[0].to == NAT  # sent to the REGISTER's source, not the private Contact
    assert incoming.invite.from_.uri.user == "pstn"
    call.bye()
    w.assert_idle()
    cdr = w.cdr()
    assert (cdr.direction, cdr.callee, cdr.disposition) == ("inbound", "1001", Disposition.ANSWERED)


def test_unregister_then_calls_get_480() -> None:
    w = World()
    phone = alice(w)
    w.register(phone)
    gone = w.register(phone, expires=0)
    assert gone.status == 200
    assert gone.final is not None and gone.final.contacts == []
    assert w.registrations[-1][0] == [] and len(w.registrations[-1][1]) == 1
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1001")
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.status == 480
    assert phone.incoming == []
    w.assert_idle()


def test_expired_registration_is_not_called() -> None:
    w = World()
    phone = alice(w)
    w.register(phone, expires=60)
    w.net.run_for(61.0)
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("1001")
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.status == 480


def test_invite_from_a_phone_needs_credentials() -> None:
    w = World()
    stranger = w.phone("stranger", "10.0.0.77", user="1001", password="")
    call = stranger.call("95551234")
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.statuses() == [401]
    assert call.final is not None
    values = call.final.headers.get_all("WWW-Authenticate")
    assert parse_challenge_algorithms(values) == ["SHA-256", "MD5"]
    assert w.cdrs == []
    w.assert_idle()


def test_authenticated_outbound_call() -> None:
    w = World()
    phone = w.phone("alice", "10.0.0.20", user="1001")
    carrier = w.trunk("carrier", CARRIER, answers())
    call = phone.call("95551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    assert phone.statuses("INVITE") == [401, 100, 180, 200]
    assert call.invite.cseq.seq == 2
    assert call.invite.headers.get("Authorization")
    assert carrier.incoming[0].invite.headers.get("Authorization") is None
    assert carrier.incoming[0].invite.from_.display_name == "alice"
    call.bye()
    w.assert_idle()
    cdr = w.cdr()
    assert (cdr.caller, cdr.direction, cdr.trunk) == ("1001", "outbound", "carrier")


def test_credentials_of_another_user_are_403() -> None:
    w = World()
    phone = w.phone("alice", "10.0.0.20", user="1001")
    call = phone.call("95551234", from_user="1002")  # From says 1002, credentials say 1001
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert phone.statuses("INVITE") == [401, 403]
    assert w.cdrs == []
    w.assert_idle()


def test_internal_call_between_registered_phones() -> None:
    w = World()
    a = w.phone("alice", "10.0.0.20", user="1001")
    b = w.phone("bob", "10.0.0.21", user="1002", behaviour=answers(after=2.0))
    w.register(b)
    call = a.call("1002")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    incoming = b.incoming[0]
    assert incoming.invite.from_.display_name == "alice"
    assert incoming.invite.from_.uri.user == "1001"
    assert incoming.invite.headers.get("Authorization") is None
    incoming.bye()
    w.assert_idle()
    cdr = w.cdr()
    assert (cdr.direction, cdr.hangup_by, cdr.answered_at) == ("internal", "callee", 2.0)
    assert SWITCH_HOST in str(incoming.invite.top_via)
