"""Trunks: inbound matching, digest credentials toward a provider, outbound registration."""

from __future__ import annotations

import itertools

import pytest
from switch_harness import (
    CARRIER,
    PSTN,
    SECURE,
    SECURE_PASSWORD,
    SECURE_USER,
    SWITCH,
    Phone,
    World,
    answers,
)

from callcenter.sip.transaction import Endpoint
from callcenter.switch.call import Disposition
from callcenter.switch.trunkreg import RegistrationState, TrunkRegistration

PROVIDER_REALM = "provider.test"


def provider(w: World, password: str = SECURE_PASSWORD) -> Phone:
    secure = w.trunk("secure", SECURE, answers())
    secure.protect(PROVIDER_REALM, {SECURE_USER: password})
    return secure


def test_provider_challenge_is_answered_with_trunk_credentials() -> None:
    w = World()
    secure = provider(w)
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("85551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    invites = secure.requests("INVITE")
    assert len(invites) == 2
    first, second = invites
    assert first.headers.get("Proxy-Authorization") is None
    credentials = second.headers.get("Proxy-Authorization") or ""
    assert f'username="{SECURE_USER}"' in credentials
    assert f'realm="{PROVIDER_REALM}"' in credentials
    assert SECURE_PASSWORD not in credentials
    assert second.cseq.seq == first.cseq.seq + 1
    assert second.top_via.branch != first.top_via.branch
    assert (second.call_id, second.from_.tag) == (first.call_id, first.from_.tag)
    assert second.body == first.body
    assert 407 not in call.statuses()  # the provider's challenge is not the caller's business
    assert len(secure.requests("ACK")) == 2  # ACK for the 407 (same branch), ACK for the 200
    assert secure.requests("ACK")[0].top_via.branch == first.top_via.branch
    call.bye()
    w.assert_idle()
    assert w.cdr().trunk == "secure"


def test_wrong_trunk_credentials_give_503() -> None:
    w = World()
    provider(w, password="something-else")
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("85551234")
    assert w.net.run_until(lambda: call.final is not None, 5)
    assert call.status == 503
    assert w.cdr().disposition is Disposition.FAILED
    w.assert_idle()


def test_trunk_without_credentials_relays_nothing_of_the_challenge() -> None:
    w = World()
    carrier = w.trunk("carrier", CARRIER)
    carrier.protect(PROVIDER_REALM, {})
    pstn = w.trunk("pstn", PSTN)
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.final is not None, 5)
    assert call.status == 503
    assert len(carrier.requests("INVITE")) == 1
    w.assert_idle()


def test_inbound_trunk_matches_source_port() -> None:
    """A peer on the trunk's host but another port is not the trunk: it must authenticate."""
    w = World()
    impostor = w.phone("impostor", PSTN.host, 5099, user="pstn", password="")
    call = impostor.call("95551234")
    assert w.net.run_until(lambda: call.final is not None, 2)
    assert call.status == 401


def registration(w: World, expires: int = 120) -> TrunkRegistration:
    reg = TrunkRegistration(
        name="secure",
        registrar=SECURE,
        domain=PROVIDER_REALM,
        username=SECURE_USER,
        password=SECURE_PASSWORD,
        expires=expires,
        transactions=w.txl,
        timers=w.b2bua.timers,
        local=lambda transport: Endpoint(transport, SWITCH.host, SWITCH.port),
    )
    reg.start(w.net.now)
    return reg


def test_trunk_registration_authenticates_and_refreshes() -> None:
    w = World()
    secure = provider(w)
    reg = registration(w, expires=120)
    assert w.net.run_until(lambda: reg.state is RegistrationState.REGISTERED, 5)
    registers = secure.registers
    assert len(registers) == 2
    assert registers[0].headers.get("Authorization") is None
    assert registers[1].headers.get("Authorization")
    assert registers[1].cseq.seq == registers[0].cseq.seq + 1
    assert registers[1].headers.get("Expires") == "120"
    assert reg.expires_at == pytest.approx(120.0)
    # refreshed at 85 % of the granted time, with the same Call-ID and a higher CSeq
    assert w.net.run_until(lambda: len(secure.registers) == 4, 200)
    assert w.net.now == pytest.approx(102.0)
    assert w.net.run_until(lambda: reg.state is RegistrationState.REGISTERED, 5)
    assert {r.call_id for r in secure.registers} == {registers[0].call_id}
    assert [r.cseq.seq for r in secure.registers] == [1, 2, 3, 4]


def test_trunk_registration_backs_off_on_failure() -> None:
    w = World()
    secure = provider(w)
    secure.register_status = 503
    reg = registration(w)
    assert w.net.run_until(lambda: len(secure.registers) == 8, 100)
    assert reg.state is RegistrationState.FAILED
    # each attempt is challenged, answered, refused; then 5, 10, 20 s of back-off
    attempts = [x.at for x in w.net.sent("switch", to="secure") if x.is_request("REGISTER")]
    starts = attempts[::2]
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [5.0, 10.0, 20.0]
    secure.register_status = None
    assert w.net.run_until(lambda: reg.state is RegistrationState.REGISTERED, 100)


def test_trunk_registration_timeout_backs_off() -> None:
    w = World()
    reg = registration(w)  # nobody listens at the registrar
    w.net.nodes.pop(("udp", SECURE.host, SECURE.port), None)
    assert w.net.run_until(lambda: reg.state is RegistrationState.FAILED, 40)
    assert w.net.now == pytest.approx(32.0)  # timer F
    assert w.b2bua.get_timer() is not None  # the retry is scheduled


def test_trunk_unregisters_on_stop() -> None:
    w = World()
    secure = provider(w)
    reg = registration(w)
    assert w.net.run_until(lambda: reg.state is RegistrationState.REGISTERED, 5)
    reg.stop(w.net.now)
    assert reg.state is RegistrationState.UNREGISTERED
    w.net.settle(100)
    unregisters = [r for r in secure.registers if r.headers.get("Expires") == "0"]
    assert len(unregisters) == 2  # challenged, then authorised
    assert unregisters[1].headers.get("Authorization")
    ok = [x for x in w.net.sent("secure", to="switch") if x.is_response(200, "REGISTER")]
    assert len(ok) == 2  # the binding, and its removal
    assert w.b2bua.get_timer() is None  # no refresh left behind


def test_trunk_stopped_while_registering_removes_the_binding_it_got() -> None:
    w = World(latency=0.05)
    secure = provider(w)
    reg = registration(w)
    assert w.net.run_until(lambda: len(secure.registers) == 2, 5)  # authorised REGISTER out
    reg.stop(w.net.now)
    w.net.settle(100)
    expires = [r.headers.get("Expires") for r in secure.registers]
    assert expires == ["120", "120", "0", "0"]
    assert reg.state is RegistrationState.UNREGISTERED
    assert w.b2bua.get_timer() is None


def test_trunk_registration_granted_zero_seconds_backs_off() -> None:
    w = World()
    secure = provider(w)
    secure.grant_expires = 0
    reg = registration(w)
    w.net.run_for(30.0)
    assert reg.state is RegistrationState.FAILED
    assert len(secure.registers) == 6  # at 0, 5 and 15 s: no busy loop
