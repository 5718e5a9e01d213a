"""Parsing and serializing Digest challenge and credentials values (RFC 3261 §25.1, RFC 7616)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.sip.auth import (
    AuthParseError,
    DigestChallenge,
    DigestCredentials,
    parse_challenge,
    parse_credentials,
)

RFC7616_CHALLENGE = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
# RFC 3261 §20.7's Authorization example.
RFC3261_CREDENTIALS = (
    'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
    'uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", '
    'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
MINIMAL_CREDENTIALS = 'Digest username="u", realm="r", nonce="n", uri="sip:r", response="00"'


def test_parse_rfc7616_challenge() -> None:
    challenge = parse_challenge(RFC7616_CHALLENGE)
    assert challenge == DigestChallenge(
        realm="http-auth@example.org",
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        algorithm="SHA-256",
        qop=("auth", "auth-int"),
        opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    )
    assert challenge.stale is False


def test_parse_rfc3261_credentials() -> None:
    credentials = parse_credentials(RFC3261_CREDENTIALS)
    assert credentials == DigestCredentials(
        username="bob",
        realm="biloxi.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="sip:bob@biloxi.com",
        response="6629fae49393a05397450978507c4ef1",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
        opaque="5ccc069c403ebaf9f0171e9517f40e41",
    )
    assert credentials.algorithm is None


def test_classmethod_parse_and_str_match_the_functions() -> None:
    assert DigestChallenge.parse(RFC7616_CHALLENGE) == parse_challenge(RFC7616_CHALLENGE)
    credentials = DigestCredentials.parse(RFC3261_CREDENTIALS)
    assert str(credentials) == credentials.serialize()
    assert parse_credentials(str(credentials)) == credentials


def test_response_is_not_in_repr() -> None:
    credentials = parse_credentials(RFC3261_CREDENTIALS)
    assert "6629fae4" not in repr(credentials)
    assert "bob" in repr(credentials)


@pytest.mark.parametrize("scheme", ["Digest", "digest", "DIGEST", "dIgEsT"])
def test_scheme_is_case_insensitive(scheme: str) -> None:
    assert parse_challenge(f'{scheme} realm="r", nonce="n"').realm == "r"


def test_parameter_names_are_case_insensitive() -> None:
    challenge = parse_challenge('Digest REALM="r", Nonce="n", QOP="auth", Algorithm=md5')
    assert (challenge.realm, challenge.nonce, challenge.qop) == ("r", "n", ("auth",))
    assert challenge.algorithm == "md5"  # kept as received; DigestAlgorithm.lookup folds case


def test_escaped_quotes_and_backslashes() -> None:
    challenge = parse_challenge(r'Digest realm="a \"quoted\" realm \\ here", nonce="\n\o"')
    assert challenge.realm == 'a "quoted" realm \\ here'
    assert challenge.nonce == "no"  # a quoted-pair stands for the character itself
    assert parse_challenge(challenge.serialize()) == challenge
    assert r'realm="a \"quoted\" realm \\ here"' in challenge.serialize()


def test_commas_and_equals_inside_quoted_strings() -> None:
    challenge = parse_challenge('Digest realm="a, b=c", nonce="x,y", opaque=","')
    assert (challenge.realm, challenge.nonce, challenge.opaque) == ("a, b=c", "x,y", ",")


@pytest.mark.parametrize(
    "value",
    [
        'Digest realm="r",nonce="n"',
        'Digest   realm = "r" ,   nonce\t=\t"n"  ',
        '  Digest\trealm="r",\tnonce="n"',
        'Digest realm="r",\r\n nonce="n"',
        'Digest\r\n\trealm="r"\r\n ,\r\n  nonce\r\n =\r\n "n"',
    ],
)
def test_linear_white_space(value: str) -> None:
    assert parse_challenge(value) == DigestChallenge(realm="r", nonce="n")


def test_fold_inside_quoted_string_keeps_the_white_space() -> None:
    assert parse_challenge('Digest realm="a\r\n b", nonce="n"').realm == "a b"


def test_tokens_and_quoted_strings_are_both_accepted_for_any_parameter() -> None:
    quoted = parse_credentials(
        'Digest username="u", realm="r", nonce="n", uri="sip:r", response="00", '
        'algorithm="MD5", qop="auth", nc="00000001"'
    )
    bare = parse_credentials(
        'Digest username=u, realm=r, nonce=n, uri="sip:r", response=00, algorithm=MD5, '
        "qop=auth, nc=00000001"
    )
    assert quoted == bare
    assert parse_challenge('Digest realm="r", nonce="n", qop=auth').qop == ("auth",)


def test_qop_options_list() -> None:
    assert parse_challenge('Digest realm="r", nonce="n", qop="auth,auth-int"').qop == (
        "auth",
        "auth-int",
    )
    assert parse_challenge('Digest realm="r", nonce="n", qop=" auth , , auth-int "').qop == (
        "auth",
        "auth-int",
    )
    assert parse_challenge('Digest realm="r", nonce="n", qop=""').qop == ()
    assert parse_challenge('Digest realm="r", nonce="n"').qop is None
    with pytest.raises(AuthParseError):
        parse_challenge('Digest realm="r", nonce="n", qop="auth auth-int"')


@pytest.mark.parametrize(("text", "stale"), [("TRUE", True), ("true", True), ('"false"', False)])
def test_stale_flag(text: str, stale: bool) -> None:
    assert parse_challenge(f'Digest realm="r", nonce="n", stale={text}').stale is stale


def test_unknown_parameters_are_kept_in_order() -> None:
    challenge = parse_challenge(
        'Digest realm="r", X-Thing="a b", nonce="n", charset=UTF-8, userhash=false'
    )
    assert challenge.extensions == (("x-thing", "a b"), ("charset", "UTF-8"), ("userhash", "false"))
    assert challenge.serialize().endswith('x-thing="a b", charset=UTF-8, userhash=false')
    assert parse_challenge(challenge.serialize()) == challenge
    credentials = parse_credentials(MINIMAL_CREDENTIALS + ", auth-param=token")
    assert credentials.extensions == (("auth-param", "token"),)


@pytest.mark.parametrize(
    "value",
    [
        'Digest realm="r", realm="s", nonce="n"',
        'Digest realm="r", REALM="r", nonce="n"',
        'Digest realm="r", nonce="n", x=1, X=2',
    ],
)
def test_duplicate_parameters_are_rejected(value: str) -> None:
    with pytest.raises(AuthParseError, match="duplicate"):
        parse_challenge(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "Digest",
        "Digest ",
        'Digestrealm="r", nonce="n"',
        'Basic realm="r", nonce="n"',
        'Digest realm="r"',
        'Digest nonce="n"',
        'Digest realm="r", nonce="n",',
        'Digest , realm="r", nonce="n"',
        'Digest realm="r",, nonce="n"',
        'Digest realm="r" nonce="n"',
        'Digest realm="r", nonce=',
        'Digest realm="r", nonce="n',
        'Digest realm="r", nonce="n\\',
        'Digest realm, nonce="n"',
        'Digest realm="r", nonce=n/1',
        'Digest realm="r", nonce="n", stale=maybe',
        'Digest realm="r\nx", nonce="n"',
        'Digest realm="r\r\nx", nonce="n"',
        'Digest realm="r\\\r\n x", nonce="n"',
        'Digest realm="r\x00", nonce="n"',
        'Digest realm="r\\\x01", nonce="n"',
        'Digest realm="r", nonce="n"\r\n',
        'Digest realm="r", nonce="n", algorithm=""',
    ],
)
def test_invalid_challenges(value: str) -> None:
    with pytest.raises(AuthParseError):
        parse_challenge(value)


@pytest.mark.parametrize("missing", ["username", "realm", "nonce", "uri", "response"])
def test_credentials_require_the_rfc7616_fields(missing: str) -> None:
    fields = {"username": "u", "realm": "r", "nonce": "n", "uri": "sip:r", "response": "00"}
    del fields[missing]
    value = "Digest " + ", ".join(f'{name}="{text}"' for name, text in fields.items())
    with pytest.raises(AuthParseError, match=missing):
        parse_credentials(value)


def test_errors_do_not_echo_header_contents() -> None:
    with pytest.raises(AuthParseError) as basic:
        parse_credentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert "QWxhZGRpbjpvcGVu" not in str(basic.value)
    with pytest.raises(AuthParseError) as broken:
        parse_credentials('Digest username="u", response="secretresponse')
    assert "secretresponse" not in str(broken.value)


def test_non_str_input_is_a_parse_error() -> None:
    with pytest.raises(AuthParseError):
        parse_challenge(b'Digest realm="r", nonce="n"')  # type: ignore[arg-type]


def test_challenge_serialization_quoting() -> None:
    challenge = DigestChallenge(
        realm="r", nonce="n", algorithm="SHA-256", qop=("auth", "auth-int"), opaque="o", stale=True
    )
    assert challenge.serialize() == (
        'Digest realm="r", nonce="n", opaque="o", algorithm=SHA-256, qop="auth,auth-int", '
        "stale=true"
    )
    assert str(DigestChallenge(realm="r", nonce="n")) == 'Digest realm="r", nonce="n"'


def test_credentials_serialization_quoting() -> None:
    credentials = DigestCredentials(
        username="u",
        realm="r",
        nonce="n",
        uri="sip:r",
        response="ab",
        algorithm="MD5",
        qop="auth",
        nc="00000001",
        cnonce="c",
        opaque="o",
    )
    assert credentials.serialize() == (
        'Digest username="u", realm="r", nonce="n", uri="sip:r", response="ab", algorithm=MD5, '
        'cnonce="c", opaque="o", qop=auth, nc=00000001'
    )


@pytest.mark.parametrize("bad", ["a\r\nVia: x", "a\nb", "a\x00"])
def test_values_that_would_inject_header_lines_are_refused(bad: str) -> None:
    with pytest.raises(AuthParseError):
        DigestChallenge(realm=bad, nonce="n")
    with pytest.raises(AuthParseError):
        DigestCredentials(username=bad, realm="r", nonce="n", uri="u", response="00")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"algorithm": "SHA 256"},
        {"algorithm": ""},
        {"qop": ("auth int",)},
        {"extensions": (("realm", "x"),)},
        {"extensions": (("X", "x"),)},
        {"extensions": (("x", "1"), ("x", "2"))},
        {"extensions": (("a b", "x"),)},
    ],
)
def test_challenge_constructor_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(AuthParseError):
        DigestChallenge(realm="r", nonce="n", **kwargs)  # type: ignore[arg-type]


# -- properties --------------------------------------------------------------------------------

TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
tokens = st.text(alphabet=TOKEN_ALPHABET, min_size=1, max_size=12)
# Anything a quoted-string can carry: no control characters but HTAB, no surrogates.
texts = st.text(
    alphabet=st.characters(
        exclude_categories=["Cs"],
        exclude_characters="".join(map(chr, [*range(0, 9), *range(10, 32), 127])),
    ),
    max_size=20,
)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_*", min_size=1, max_size=10)


def extensions(known: set[str]) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    return st.lists(
        st.tuples(names.filter(lambda name: name not in known), texts),
        max_size=3,
        unique_by=lambda pair: pair[0],
    ).map(tuple)


challenges = st.builds(
    DigestChallenge,
    realm=texts,
    nonce=texts,
    algorithm=st.none() | tokens,
    qop=st.none() | st.lists(tokens, max_size=3).map(tuple),
    opaque=st.none() | texts,
    domain=st.none() | texts,
    stale=st.booleans(),
    extensions=extensions({"realm", "nonce", "algorithm", "qop", "opaque", "domain", "stale"}),
)
credentials_values = st.builds(
    DigestCredentials,
    username=texts,
    realm=texts,
    nonce=texts,
    uri=texts,
    response=texts,
    algorithm=st.none() | tokens,
    qop=st.none() | tokens,
    nc=st.none() | tokens,
    cnonce=st.none() | texts,
    opaque=st.none() | texts,
    extensions=extensions(
        {"username", "realm", "nonce", "uri", "response"}
        | {"algorithm", "qop", "nc", "cnonce", "opaque"}
    ),
)


@given(challenges)
def test_challenge_round_trip(challenge: DigestChallenge) -> None:
    assert parse_challenge(challenge.serialize()) == challenge


@given(credentials_values)
def test_credentials_round_trip(credentials: DigestCredentials) -> None:
    assert parse_credentials(credentials.serialize()) == credentials


def _parses_or_parse_error(value: str) -> None:
    for parse in (parse_challenge, parse_credentials):
        with contextlib.suppress(AuthParseError):
            parse(value)


@given(st.text(max_size=200))
def test_random_text_raises_only_parse_errors(value: str) -> None:
    _parses_or_parse_error(value)
    _parses_or_parse_error("Digest " + value)


# Fragments that reach deep into the grammar, glued at random.
fragments = st.sampled_from(
    [
        "Digest",
        " ",
        "\t",
        "\r\n ",
        "\r",
        "\n",
        ",",
        "=",
        '"',
        "\\",
        "realm",
        "nonce",
        "username",
        "uri",
        "response",
        "qop",
        "nc",
        "stale",
        "algorithm",
        "auth",
        "true",
        "x",
        "\x00",
        "é",
    ]
)


@settings(max_examples=300)
@given(st.lists(fragments | st.text(max_size=3), max_size=40).map("".join))
def test_fragment_soup_raises_only_parse_errors(value: str) -> None:
    _parses_or_parse_error(value)
