"""Digest computations against the RFCs' printed examples, and the client side."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from callcenter.sip.auth import (
    AuthParseError,
    DigestAlgorithm,
    DigestChallenge,
    DigestClient,
    UnsupportedDigestError,
    choose_challenge,
    compute_ha1,
    compute_response,
    parse_challenge,
    parse_credentials,
)

# RFC 7616 §3.9.1 (password with a lower-case "of", erratum 4495).
RFC7616_REALM = "http-auth@example.org"
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}


def rfc7616_challenge(algorithm: str) -> str:
    return (
        f'Digest realm="{RFC7616_REALM}", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"'
    )


def rfc7616_authorization(algorithm: str) -> str:
    """The Authorization value RFC 7616 §3.9.1 prints for each algorithm."""
    return (
        f'Digest username="Mufasa", realm="{RFC7616_REALM}", uri="/dir/index.html", '
        f'algorithm={algorithm}, nonce="{RFC7616_NONCE}", nc=00000001, '
        f'cnonce="{RFC7616_CNONCE}", qop=auth, response="{RFC7616_RESPONSES[algorithm]}", '
        f'opaque="{RFC7616_OPAQUE}"'
    )


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_vectors_with_compute_response(algorithm: str) -> None:
    ha1 = compute_ha1("Mufasa", RFC7616_REALM, "Circle of Life", algorithm)
    response = compute_response(
        ha1,
        algorithm=algorithm,
        method="GET",
        uri="/dir/index.html",
        nonce=RFC7616_NONCE,
        qop="auth",
        nc="00000001",
        cnonce=RFC7616_CNONCE,
    )
    assert response == RFC7616_RESPONSES[algorithm]


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_vectors_with_the_client(algorithm: str) -> None:
    client = DigestClient("Mufasa", "Circle of Life", cnonce_factory=lambda: RFC7616_CNONCE)
    value = client.authorize(rfc7616_challenge(algorithm), method="GET", uri="/dir/index.html")
    assert parse_credentials(value) == parse_credentials(rfc7616_authorization(algorithm))


def test_rfc7616_password_case_matters() -> None:
    ha1 = compute_ha1("Mufasa", RFC7616_REALM, "Circle Of Life", "MD5")
    response = compute_response(
        ha1,
        algorithm="MD5",
        method="GET",
        uri="/dir/index.html",
        nonce=RFC7616_NONCE,
        qop="auth",
        nc="00000001",
        cnonce=RFC7616_CNONCE,
    )
    assert response != RFC7616_RESPONSES["MD5"]


# RFC 2617 §3.5: the qop=auth example, and its inputs without qop (RFC 2069 form).
RFC2617 = {
    "username": "Mufasa",
    "realm": "testrealm@host.com",
    "password": "Circle Of Life",
    "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    "opaque": "5ccc069c403ebaf9f0171e9517f40e41",
}


def test_rfc2617_vector() -> None:
    ha1 = compute_ha1(RFC2617["username"], RFC2617["realm"], RFC2617["password"])
    response = compute_response(
        ha1,
        algorithm=DigestAlgorithm.MD5,
        method="GET",
        uri="/dir/index.html",
        nonce=RFC2617["nonce"],
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_rfc2069_style_response_without_qop() -> None:
    ha1 = compute_ha1(RFC2617["username"], RFC2617["realm"], RFC2617["password"])
    response = compute_response(
        ha1, algorithm="MD5", method="GET", uri="/dir/index.html", nonce=RFC2617["nonce"]
    )
    # H(HA1 ":" nonce ":" H(A2)), computed independently with hashlib.
    assert response == "670fd8c2df070c60b045671b8b24ff02"


def test_client_answers_an_rfc2069_challenge_without_qop() -> None:
    challenge = (
        f'Digest realm="{RFC2617["realm"]}", nonce="{RFC2617["nonce"]}", '
        f'opaque="{RFC2617["opaque"]}"'
    )
    client = DigestClient(RFC2617["username"], RFC2617["password"])
    credentials = parse_credentials(
        client.authorize(challenge, method="GET", uri="/dir/index.html")
    )
    assert credentials.response == "670fd8c2df070c60b045671b8b24ff02"
    assert (credentials.qop, credentials.nc, credentials.cnonce) == (None, None, None)
    assert credentials.algorithm is None  # not invented when the challenge had none
    assert credentials.opaque == RFC2617["opaque"]


def H(algorithm: str, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.new(algorithm, data).hexdigest()


@pytest.mark.parametrize(
    ("algorithm", "hash_name"), [("MD5-sess", "md5"), ("SHA-256-sess", "sha256")]
)
def test_session_algorithms_fold_nonce_and_cnonce_into_ha1(algorithm: str, hash_name: str) -> None:
    ha1 = compute_ha1("u", "r", "p", algorithm)
    assert ha1 == H(hash_name, "u:r:p")  # the storable part is the plain one
    response = compute_response(
        ha1,
        algorithm=algorithm,
        method="INVITE",
        uri="sip:x",
        nonce="N",
        qop="auth",
        nc="00000001",
        cnonce="C",
    )
    session_ha1 = H(hash_name, f"{ha1}:N:C")
    expected = H(hash_name, f"{session_ha1}:N:00000001:C:auth:{H(hash_name, 'INVITE:sip:x')}")
    assert response == expected


def test_auth_int_hashes_the_body() -> None:
    ha1 = compute_ha1("u", "r", "p", "SHA-256")
    body = b"v=0\r\n"
    response = compute_response(
        ha1,
        algorithm="SHA-256",
        method="INVITE",
        uri="sip:x",
        nonce="N",
        qop="auth-int",
        nc="00000001",
        cnonce="C",
        body=body,
    )
    body_hash = H("sha256", body)
    ha2 = H("sha256", f"INVITE:sip:x:{body_hash}")
    assert response == H("sha256", f"{ha1}:N:00000001:C:auth-int:{ha2}")


def test_stored_ha1_case_does_not_matter() -> None:
    ha1 = compute_ha1("u", "r", "p")
    lower = compute_response(ha1, algorithm="MD5", method="REGISTER", uri="sip:r", nonce="n")
    upper = compute_response(
        ha1.upper(), algorithm="MD5", method="REGISTER", uri="sip:r", nonce="n"
    )
    assert lower == upper


@pytest.mark.parametrize(
    ("algorithm", "qop", "nc", "cnonce"),
    [
        ("SHA-512-256", None, None, None),
        ("MD5", "auth-conf", "00000001", "c"),
        ("MD5", "auth", None, None),
        ("MD5-sess", None, None, None),
    ],
)
def test_compute_response_refuses_what_it_cannot_compute(
    algorithm: str, qop: str | None, nc: str | None, cnonce: str | None
) -> None:
    with pytest.raises(UnsupportedDigestError):
        compute_response(
            "0" * 32,
            algorithm=algorithm,
            method="GET",
            uri="/",
            nonce="n",
            qop=qop,
            nc=nc,
            cnonce=cnonce,
        )


def test_compute_ha1_refuses_unknown_algorithm() -> None:
    with pytest.raises(UnsupportedDigestError):
        compute_ha1("u", "r", "p", "SHA-512-256")


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (None, DigestAlgorithm.MD5),
        ("MD5", DigestAlgorithm.MD5),
        ("md5", DigestAlgorithm.MD5),
        ("sha-256", DigestAlgorithm.SHA_256),
        ("SHA-256-SESS", DigestAlgorithm.SHA_256_SESS),
        ("md5-sess", DigestAlgorithm.MD5_SESS),
        ("SHA-512-256", None),
        ("AKAv1-MD5", None),
    ],
)
def test_algorithm_lookup(token: str | None, expected: DigestAlgorithm | None) -> None:
    assert DigestAlgorithm.lookup(token) is expected


def test_algorithm_properties() -> None:
    assert DigestAlgorithm.SHA_256_SESS.base is DigestAlgorithm.SHA_256
    assert DigestAlgorithm.MD5_SESS.base is DigestAlgorithm.MD5
    assert DigestAlgorithm.MD5_SESS.is_session and not DigestAlgorithm.MD5.is_session
    assert (DigestAlgorithm.MD5.hex_length, DigestAlgorithm.SHA_256.hex_length) == (32, 64)
    assert DigestAlgorithm.SHA_256.preference > DigestAlgorithm.MD5.preference


# -- choosing a challenge --------------------------------------------------------------------


def challenge_value(algorithm: str | None, qop: str | None = '"auth"') -> str:
    value = 'Digest realm="r", nonce="n"'
    if algorithm is not None:
        value += f", algorithm={algorithm}"
    if qop is not None:
        value += f", qop={qop}"
    return value


@pytest.mark.parametrize("order", list(itertools.permutations(["MD5", "SHA-256", "SHA-512-256"])))
def test_choose_challenge_prefers_sha256_whatever_the_order(order: tuple[str, ...]) -> None:
    chosen = choose_challenge([challenge_value(algorithm) for algorithm in order])
    assert chosen.algorithm == "SHA-256"


def test_choose_challenge_skips_what_it_cannot_answer() -> None:
    values = [
        'Basic realm="r"',
        "garbage",
        challenge_value("SHA-512-256"),
        challenge_value("SHA-256", qop='"auth-conf"'),
        challenge_value("SHA-256-sess", qop=None),
        challenge_value(None),
    ]
    chosen = choose_challenge(values)
    assert chosen.algorithm is None  # the MD5 one, algorithm implied
    assert DigestClient("u", "p").choose_challenge(values) == chosen


def test_choose_challenge_with_nothing_usable() -> None:
    with pytest.raises(UnsupportedDigestError):
        choose_challenge(['Basic realm="r"', challenge_value("SHA-512-256")])
    with pytest.raises(UnsupportedDigestError):
        choose_challenge([])


# -- the client ------------------------------------------------------------------------------


def test_client_counts_nc_per_nonce_with_fresh_cnonces() -> None:
    client = DigestClient("alice", "secret")
    first = parse_credentials(
        client.authorize(challenge_value("SHA-256"), method="REGISTER", uri="sip:r")
    )
    second = parse_credentials(
        client.authorize(challenge_value("SHA-256"), method="REGISTER", uri="sip:r")
    )
    other = DigestChallenge(realm="r", nonce="other", qop=("auth",))
    third = parse_credentials(client.authorize(other, method="INVITE", uri="sip:bob@r"))
    assert (first.nc, second.nc, third.nc) == ("00000001", "00000002", "00000001")
    assert first.cnonce and second.cnonce and first.cnonce != second.cnonce
    assert first.response != second.response
    assert (first.qop, first.algorithm) == ("auth", "SHA-256")


def test_client_prefers_auth_and_falls_back_to_auth_int() -> None:
    client = DigestClient("u", "p", cnonce_factory=lambda: "C")
    both = parse_credentials(
        client.authorize(challenge_value("MD5", '"auth-int,auth"'), method="M", uri="u")
    )
    assert both.qop == "auth"
    only_int = client.authorize(
        challenge_value("MD5", '"auth-int"'), method="M", uri="u", body=b"x"
    )
    credentials = parse_credentials(only_int)
    assert credentials.qop == "auth-int"
    expected = compute_response(
        compute_ha1("u", "r", "p"),
        algorithm="MD5",
        method="M",
        uri="u",
        nonce="n",
        qop="auth-int",
        nc=credentials.nc,
        cnonce="C",
        body=b"x",
    )
    assert credentials.response == expected


@pytest.mark.parametrize(
    "challenge",
    [
        challenge_value("SHA-512-256"),
        challenge_value("MD5", '"auth-conf"'),
        challenge_value("MD5-sess", None),
    ],
)
def test_client_refuses_challenges_it_cannot_answer(challenge: str) -> None:
    with pytest.raises(UnsupportedDigestError):
        DigestClient("u", "p").authorize(challenge, method="REGISTER", uri="sip:r")


def test_client_reports_unparsable_challenges() -> None:
    with pytest.raises(AuthParseError):
        DigestClient("u", "p").authorize('Basic realm="r"', method="REGISTER", uri="sip:r")


def test_client_escapes_odd_usernames() -> None:
    client = DigestClient('we"ird\\user', "p")
    value = client.authorize(challenge_value("MD5"), method="REGISTER", uri="sip:r")
    assert parse_credentials(value).username == 'we"ird\\user'


def test_client_never_shows_the_password() -> None:
    client = DigestClient("alice", "hunter2-very-secret")
    assert "hunter2" not in repr(client)
    assert "hunter2" not in str(client)
    assert "hunter2" not in f"{client!r} {client}"
    assert "alice" in repr(client)
    assert not hasattr(client, "__dict__")
    value = client.authorize(challenge_value("SHA-256"), method="REGISTER", uri="sip:r")
    assert "hunter2" not in value


def test_client_accepts_a_parsed_challenge() -> None:
    client = DigestClient("u", "p", cnonce_factory=lambda: "C")
    text = client.authorize(challenge_value("SHA-256"), method="REGISTER", uri="sip:r")
    again = DigestClient("u", "p", cnonce_factory=lambda: "C")
    parsed = again.authorize(
        parse_challenge(challenge_value("SHA-256")), method="REGISTER", uri="sip:r"
    )
    assert text == parsed


def test_errors_are_value_errors() -> None:
    assert issubclass(AuthParseError, ValueError)
    assert issubclass(UnsupportedDigestError, ValueError)
    with pytest.raises(ValueError):
        choose_challenge(['Basic realm="r"'])
