"""DigestServer: challenges, stateless nonces, verification outcomes, replays, uri checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from callcenter.sip.auth import (
    AuthResult,
    AuthStatus,
    DigestAlgorithm,
    DigestChallenge,
    DigestClient,
    DigestCredentials,
    DigestServer,
    compute_ha1,
    parse_challenge,
    parse_credentials,
    uri_matches,
)

REALM = "switch.example"
KEY = b"k" * 32
OTHER_KEY = b"o" * 32
PASSWORD = "correct horse battery staple"
T0 = 1_700_000_000.0
ALL_ALGORITHMS = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")


class Directory:
    """A user store keeping HA1 per base algorithm, recording what it was asked."""

    def __init__(self, users: dict[str, str], realm: str = REALM) -> None:
        self.ha1 = {
            (user, algorithm): compute_ha1(user, realm, password, algorithm)
            for user, password in users.items()
            for algorithm in ("MD5", "SHA-256")
        }
        self.asked: list[tuple[str, str]] = []

    def __call__(self, username: str, algorithm: str) -> str | None:
        self.asked.append((username, algorithm))
        return self.ha1.get((username, algorithm))


@pytest.fixture
def lookup() -> Directory:
    return Directory({"alice": PASSWORD})


def make_server(**kwargs: object) -> DigestServer:
    return DigestServer(REALM, KEY, **kwargs)  # type: ignore[arg-type]


def answer(
    server: DigestServer,
    *,
    now: float = T0,
    username: str = "alice",
    password: str = PASSWORD,
    algorithm: str | None = None,
    method: str = "REGISTER",
    uri: str = f"sip:{REALM}",
    client: DigestClient | None = None,
) -> DigestCredentials:
    """Challenge at ``now`` and answer with a client (picking ``algorithm`` if given)."""
    values = server.challenge(now)
    if algorithm is None:
        challenge = (client or DigestClient(username, password)).choose_challenge(values)
    else:
        challenge = next(c for c in map(parse_challenge, values) if c.algorithm == algorithm)
    client = client or DigestClient(username, password)
    return parse_credentials(client.authorize(challenge, method=method, uri=uri))


def verify(
    server: DigestServer,
    credentials: DigestCredentials,
    lookup: Callable[[str, str], str | None],
    *,
    now: float = T0 + 1,
    method: str = "REGISTER",
    request_uri: str | None = None,
) -> AuthResult:
    return server.verify(
        credentials, method=method, now=now, lookup=lookup, request_uri=request_uri
    )


# -- challenges --------------------------------------------------------------------------------


def test_challenges_follow_the_configured_order() -> None:
    server = DigestServer(REALM, KEY, algorithms=("MD5", "SHA-256"))
    assert [parse_challenge(v).algorithm for v in server.challenge(T0)] == ["MD5", "SHA-256"]


def test_challenge_offers_sha256_first_with_qop_auth_and_opaque() -> None:
    server = DigestServer(REALM, KEY)
    values = server.challenge(T0)
    challenges = [parse_challenge(value) for value in values]
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    assert all(c.realm == REALM and c.qop == ("auth",) and c.opaque for c in challenges)
    assert all(not c.stale for c in challenges)
    assert len({c.nonce for c in challenges}) == 1
    assert len({c.opaque for c in challenges}) == 1
    assert 'qop="auth"' in values[0] and "algorithm=SHA-256," in values[0]


def test_stale_challenge() -> None:
    challenges = [parse_challenge(value) for value in make_server().challenge(T0, stale=True)]
    assert all(c.stale for c in challenges)
    assert "stale=true" in make_server().challenge(T0, stale=True)[0]


def test_each_challenge_has_a_new_nonce() -> None:
    server = make_server()
    nonces = {parse_challenge(server.challenge(T0)[0]).nonce for _ in range(50)}
    assert len(nonces) == 50


def test_challenges_objects_match_the_values() -> None:
    server = make_server(algorithms=ALL_ALGORITHMS)
    objects = server.challenges(T0)
    assert [c.algorithm for c in objects] == ["SHA-256", "SHA-256-sess", "MD5", "MD5-sess"]
    assert all(isinstance(c, DigestChallenge) for c in objects)


@pytest.mark.parametrize(
    ("realm", "key", "kwargs"),
    [
        (REALM, b"short", {}),
        (REALM, KEY, {"nonce_ttl": 0}),
        (REALM, KEY, {"algorithms": ()}),
        (REALM, KEY, {"algorithms": ("SHA-512-256",)}),
        (REALM, KEY, {"replay_cache_size": 0}),
        ("bad\r\nrealm", KEY, {}),
    ],
)
def test_constructor_validation(realm: str, key: bytes, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DigestServer(realm, key, **kwargs)  # type: ignore[arg-type]


def test_repr_shows_no_key() -> None:
    server = DigestServer(REALM, b"\x01secret-key-bytes-here")
    assert "secret" not in repr(server)
    assert REALM in repr(server)


# -- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALL_ALGORITHMS)
def test_round_trip_for_each_algorithm(algorithm: str, lookup: Directory) -> None:
    server = make_server(algorithms=ALL_ALGORITHMS)
    credentials = answer(server, algorithm=algorithm)
    assert credentials.algorithm == algorithm
    result = verify(server, credentials, lookup, request_uri=f"sip:{REALM}")
    assert result == AuthResult(AuthStatus.OK, "authenticated", "alice")
    assert result.ok
    base = DigestAlgorithm.lookup(algorithm)
    assert base is not None
    assert lookup.asked == [("alice", base.base.value)]


def test_client_picks_sha256_from_the_default_server(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server)
    assert credentials.algorithm == "SHA-256"
    assert verify(server, credentials, lookup).ok


def test_a_later_request_with_the_same_nonce_and_next_nc_is_ok(lookup: Directory) -> None:
    server = make_server()
    client = DigestClient("alice", PASSWORD)
    challenge = client.choose_challenge(server.challenge(T0))
    for expected_nc in ("00000001", "00000002", "00000003"):
        value = client.authorize(challenge, method="INVITE", uri="sip:bob@switch.example")
        credentials = parse_credentials(value)
        assert credentials.nc == expected_nc
        assert verify(server, credentials, lookup, method="INVITE").ok


def test_method_is_part_of_the_response(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server, method="REGISTER")
    assert verify(server, credentials, lookup, method="INVITE").status is AuthStatus.INVALID


def test_uppercase_hex_from_the_peer_is_accepted(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server)
    shouted = dataclasses.replace(credentials, response=credentials.response.upper())
    assert verify(server, shouted, lookup).ok


# -- failures ----------------------------------------------------------------------------------


def test_wrong_password_is_invalid(lookup: Directory) -> None:
    server = make_server()
    result = verify(server, answer(server, password="wrong"), lookup)
    assert result.status is AuthStatus.INVALID
    assert result.reason == "response mismatch"
    assert result.username == "alice"
    assert not result.ok


def test_unknown_user_is_invalid_like_a_wrong_password(lookup: Directory) -> None:
    server = make_server()
    result = verify(server, answer(server, username="mallory"), lookup)
    assert result.status is AuthStatus.INVALID
    assert result.reason == "unknown user"


def test_reasons_never_carry_secrets(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server, password="my-guess")
    results = [
        verify(server, credentials, lookup),
        verify(server, answer(server, username="nobody"), lookup),
        verify(server, dataclasses.replace(credentials, realm="x"), lookup),
    ]
    secrets = [PASSWORD, "my-guess", credentials.response, *lookup.ha1.values()]
    for result in results:
        assert not any(secret in result.reason for secret in secrets)
        assert not any(secret in repr(result) for secret in secrets)


def test_expired_nonce_with_the_right_password_is_stale(lookup: Directory) -> None:
    server = make_server(nonce_ttl=300)
    credentials = answer(server, now=T0)
    assert verify(server, credentials, lookup, now=T0 + 299).ok
    late = answer(server, now=T0)
    result = verify(server, late, lookup, now=T0 + 301)
    assert result.status is AuthStatus.STALE
    assert result.reason == "nonce expired"


def test_expired_nonce_with_the_wrong_password_is_invalid(lookup: Directory) -> None:
    server = make_server(nonce_ttl=300)
    credentials = answer(server, now=T0, password="wrong")
    assert verify(server, credentials, lookup, now=T0 + 301).status is AuthStatus.INVALID


def test_nonce_from_the_future_is_invalid(lookup: Directory) -> None:
    server = make_server(clock_skew=30)
    assert verify(server, answer(server, now=T0 + 20), lookup, now=T0).ok
    result = verify(server, answer(server, now=T0 + 60), lookup, now=T0)
    assert result.status is AuthStatus.INVALID


def forge(nonce: str) -> str:
    """Flip one character in the middle of a nonce (keeps it valid base64url)."""
    middle = len(nonce) // 2
    return nonce[:middle] + ("A" if nonce[middle] != "A" else "B") + nonce[middle + 1 :]


@pytest.mark.parametrize(
    "make_nonce",
    [
        forge,
        lambda nonce: nonce[:-1],
        lambda nonce: nonce + "A",
        lambda nonce: "not-a-nonce",
        lambda nonce: "",
        lambda nonce: "=" * 48,
        lambda nonce: "é" * 48,
    ],
)
def test_forged_nonce_is_invalid(make_nonce: Callable[[str], str], lookup: Directory) -> None:
    """A nonce this key did not issue is INVALID (re-challenge, count a failure), even when
    the client computed a correct response over it."""
    server = make_server()
    challenge = DigestClient("alice", PASSWORD).choose_challenge(server.challenge(T0))
    forged = dataclasses.replace(challenge, nonce=make_nonce(challenge.nonce))
    value = DigestClient("alice", PASSWORD).authorize(forged, method="REGISTER", uri="sip:x")
    result = verify(server, parse_credentials(value), lookup)
    assert result.status is AuthStatus.INVALID
    assert result.reason == "nonce not issued by this server"
    assert lookup.asked == []


def test_nonce_timestamp_cannot_be_moved() -> None:
    server = make_server()
    nonce = server.new_nonce(T0)
    assert server.nonce_issued_at(nonce) == pytest.approx(T0)
    for index in range(8):  # the first 8 characters carry the issue time
        changed = nonce[:index] + ("B" if nonce[index] == "A" else "A") + nonce[index + 1 :]
        assert server.nonce_issued_at(changed) is None


def test_another_key_rejects_the_nonce(lookup: Directory) -> None:
    issuer = make_server()
    stranger = DigestServer(REALM, OTHER_KEY)
    result = verify(stranger, answer(issuer), lookup)
    assert result.status is AuthStatus.INVALID


def test_a_nonce_is_bound_to_its_realm() -> None:
    one = DigestServer("one.example", KEY)
    two = DigestServer("two.example", KEY)
    challenge = DigestClient("alice", PASSWORD).choose_challenge(one.challenge(T0))
    moved = dataclasses.replace(challenge, realm="two.example")
    value = DigestClient("alice", PASSWORD).authorize(moved, method="REGISTER", uri="sip:x")
    result = two.verify(
        parse_credentials(value),
        method="REGISTER",
        now=T0,
        lookup=Directory({"alice": PASSWORD}, realm="two.example"),
    )
    assert result.status is AuthStatus.INVALID


def test_same_key_after_restart_or_on_a_peer_switch_accepts_the_nonce(lookup: Directory) -> None:
    credentials = answer(make_server())
    restarted = make_server()
    assert verify(restarted, credentials, lookup).ok


def test_opaque_from_elsewhere_is_invalid(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server)
    assert verify(server, dataclasses.replace(credentials, opaque="x"), lookup).status is (
        AuthStatus.INVALID
    )
    assert verify(server, dataclasses.replace(credentials, opaque=None), lookup).ok


# -- replays -----------------------------------------------------------------------------------


def test_replayed_nonce_count_is_refused(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server)
    assert verify(server, credentials, lookup).ok
    replay = verify(server, credentials, lookup, now=T0 + 2)
    assert replay.status is AuthStatus.STALE
    assert replay.reason == "nonce count reused"
    same_count = dataclasses.replace(
        credentials, nc=credentials.nc.upper() if credentials.nc else ""
    )
    assert verify(server, same_count, lookup).status is AuthStatus.STALE


def test_a_failed_attempt_does_not_use_up_the_nonce_count(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server)
    assert verify(server, credentials, lookup, method="INVITE").status is AuthStatus.INVALID
    assert verify(server, credentials, lookup).ok


def test_requests_arriving_out_of_order_are_accepted(lookup: Directory) -> None:
    server = make_server()
    client = DigestClient("alice", PASSWORD)
    challenge = client.choose_challenge(server.challenge(T0))
    first, second, third = (
        parse_credentials(client.authorize(challenge, method="REGISTER", uri=f"sip:{REALM}"))
        for _ in range(3)
    )
    for credentials in (third, first, second):
        assert verify(server, credentials, lookup).ok


def test_replay_cache_is_bounded(lookup: Directory) -> None:
    server = make_server(replay_cache_size=2)
    remembered = [answer(server) for _ in range(3)]
    for credentials in remembered:
        assert verify(server, credentials, lookup).ok
    assert verify(server, remembered[2], lookup).status is AuthStatus.STALE
    # The oldest pair was pushed out; its nonce is still fresh, so the bound is what limits it.
    assert verify(server, remembered[0], lookup).ok


def test_rfc2069_clients_have_no_nonce_count_to_replay(lookup: Directory) -> None:
    server = make_server(algorithms=("MD5",))
    challenge = dataclasses.replace(
        DigestClient("alice", PASSWORD).choose_challenge(server.challenge(T0)), qop=None
    )
    value = DigestClient("alice", PASSWORD).authorize(challenge, method="REGISTER", uri="sip:x")
    credentials = parse_credentials(value)
    assert credentials.qop is None and credentials.nc is None
    assert verify(server, credentials, lookup).ok
    assert verify(server, credentials, lookup).ok  # only the nonce lifetime bounds this
    strict = make_server(algorithms=("MD5",), allow_rfc2069=False)
    assert verify(strict, credentials, lookup).status is AuthStatus.MALFORMED


# -- malformed ---------------------------------------------------------------------------------


def malformed_variants(credentials: DigestCredentials) -> dict[str, DigestCredentials]:
    replace = dataclasses.replace
    return {
        "realm mismatch": replace(credentials, realm="other.example"),
        "empty username": replace(credentials, username=""),
        "unsupported algorithm": replace(credentials, algorithm="SHA-512-256"),
        "algorithm not offered": replace(credentials, algorithm="MD5-sess"),
        "auth-int": replace(credentials, qop="auth-int"),
        "unknown qop": replace(credentials, qop="auth-conf"),
        "sha-256 without qop": replace(credentials, qop=None, nc=None, cnonce=None),
        "nc missing": replace(credentials, nc=None),
        "nc too short": replace(credentials, nc="0001"),
        "nc not hex": replace(credentials, nc="0000000g"),
        "cnonce missing": replace(credentials, cnonce=None),
        "cnonce empty": replace(credentials, cnonce=""),
        "response too short": replace(credentials, response=credentials.response[:-1]),
        "response not hex": replace(credentials, response="z" * 64),
        "md5-length response": replace(credentials, response="0" * 32),
    }


def test_malformed_credentials(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server)
    for name, variant in malformed_variants(credentials).items():
        result = verify(server, variant, lookup)
        assert result.status is AuthStatus.MALFORMED, name
    assert lookup.asked == []  # malformed credentials never reach the user store


def test_algorithm_absent_means_md5_and_must_be_offered(lookup: Directory) -> None:
    server = make_server(algorithms=("SHA-256",))
    md5_server = make_server(algorithms=("MD5",))
    credentials = dataclasses.replace(answer(md5_server, algorithm="MD5"), algorithm=None)
    assert verify(md5_server, credentials, lookup).ok
    assert verify(server, credentials, lookup).status is AuthStatus.MALFORMED


def test_unusable_stored_ha1_is_invalid() -> None:
    server = make_server()
    credentials = answer(server)
    result = verify(server, credentials, lambda username, algorithm: "0" * 32)
    assert result.status is AuthStatus.INVALID
    assert result.reason == "stored HA1 unusable for the algorithm"


# -- request-URI -------------------------------------------------------------------------------


def test_uri_must_match_the_request_uri_when_given(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server, uri="sip:bob@Switch.Example;transport=tcp")
    assert verify(
        server, credentials, lookup, request_uri="SIP:bob@switch.example;transport=tcp"
    ).ok
    other = answer(server, uri="sip:bob@switch.example")
    result = verify(server, other, lookup, request_uri="sip:bob@elsewhere.example")
    assert result.status is AuthStatus.MALFORMED


@pytest.mark.parametrize(
    ("credentials_uri", "request_uri"),
    [
        ("sip:bob@example.com", "sip:bob@example.com"),
        ("sip:bob@Example.COM", "sip:bob@example.com"),
        ("SIP:bob@example.com", "sip:bob@example.com"),
        ("sips:EXAMPLE.com:5061", "SIPS:example.com:5061"),
        ("sip:bob@[2001:DB8::1]:5060;transport=udp", "sip:bob@[2001:db8::1]:5060;transport=udp"),
        ("sip:+1555;phone-context=x@Host.example", "sip:+1555;phone-context=x@host.example"),
        ("tel:+15551234", "TEL:+15551234"),
        ("/dir/index.html", "/dir/index.html"),
    ],
)
def test_uri_matches(credentials_uri: str, request_uri: str) -> None:
    assert uri_matches(credentials_uri, request_uri)
    assert uri_matches(request_uri, credentials_uri)


@pytest.mark.parametrize(
    ("credentials_uri", "request_uri"),
    [
        ("sip:bob@example.com;transport=tcp", "sip:bob@example.com"),
        ("sip:127.0.0.1;transport=UDP", "sip:127.0.0.1"),  # what pyVoIP sends
        ("sip:127.0.0.1:5060", "sip:2000@127.0.0.1:5060"),  # what SIPp sends
        ("sip:bob@example.com?Subject=A", "sip:bob@example.com?Subject=a"),
    ],
)
def test_uri_parameters_and_headers_are_not_compared(
    credentials_uri: str, request_uri: str
) -> None:
    assert uri_matches(credentials_uri, request_uri)


@pytest.mark.parametrize(
    ("credentials_uri", "request_uri"),
    [
        ("sip:bob@example.com", "sips:bob@example.com"),
        ("sip:bob@example.com:5060", "sip:bob@example.com"),
        ("sip:bob@example.com", "sip:bob@example.org"),
        ("/dir/index.html", "/DIR/index.html"),
        ("", "sip:bob@example.com"),
    ],
)
def test_uri_does_not_match(credentials_uri: str, request_uri: str) -> None:
    assert not uri_matches(credentials_uri, request_uri)


def test_odd_text_from_the_peer_fails_cleanly(lookup: Directory) -> None:
    server = make_server()
    credentials = answer(server)
    text = "x\udc80\ud800y"
    for odd in (
        dataclasses.replace(credentials, uri=text),
        dataclasses.replace(credentials, cnonce=text),
        dataclasses.replace(credentials, opaque=text),
    ):
        assert verify(server, odd, lookup).status is AuthStatus.INVALID
    odd_user = dataclasses.replace(credentials, username="\udc80")
    assert verify(server, odd_user, lookup).reason == "unknown user"


def test_replay_at_the_last_fresh_instant_is_still_refused(lookup: Directory) -> None:
    server = make_server(nonce_ttl=300)
    credentials = answer(server, now=T0)
    issued = server.nonce_issued_at(credentials.nonce)
    assert issued is not None
    assert verify(server, credentials, lookup, now=issued + 10).ok
    replay = verify(server, credentials, lookup, now=issued + 300)
    assert replay == AuthResult(AuthStatus.STALE, "nonce count reused", "alice")
