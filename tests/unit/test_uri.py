"""SIP/SIPS URIs, other absolute URIs and name-addr / addr-spec values (RFC 3261 §19.1, §20)."""

from __future__ import annotations

import pytest

from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.grammar import quote, unescape, unquote
from callcenter.sip.uri import AbsoluteURI, Address, SipURI, parse_uri

# -- SipURI ------------------------------------------------------------------------------


def test_full_sip_uri() -> None:
    uri = SipURI.parse("sips:alice:secret@Example.COM:5071;transport=TCP;lr;x=Y?subject=hi&a=")
    assert uri == SipURI(
        host="Example.COM",
        user="alice",
        password="secret",
        port=5071,
        scheme="sips",
        params={"transport": "TCP", "lr": None, "x": "Y"},
        headers="subject=hi&a=",
    )
    assert uri.transport == "tcp"
    assert uri.lr
    assert uri.effective_port == 5071
    assert uri.host_bare == "example.com"
    assert str(uri) == "sips:alice:secret@Example.COM:5071;transport=TCP;lr;x=Y?subject=hi&a="


def test_minimal_sip_uri_defaults() -> None:
    uri = SipURI.parse("sip:192.0.2.1")
    assert (uri.user, uri.password, uri.port, uri.params, uri.headers) == (
        None,
        None,
        None,
        {},
        None,
    )
    assert uri.transport == "udp"
    assert uri.effective_port == 5060
    assert not uri.lr
    sips = SipURI.parse("SIPS:h.example.com")
    assert (sips.scheme, sips.transport, sips.effective_port) == ("sips", "tls", 5061)


def test_parameter_names_are_lower_cased_values_kept() -> None:
    uri = SipURI.parse("sip:h;Transport=UDP;MADDR=239.0.0.1;User=Phone")
    assert uri.params == {"transport": "UDP", "maddr": "239.0.0.1", "user": "Phone"}
    assert str(uri) == "sip:h;transport=UDP;maddr=239.0.0.1;user=Phone"


@pytest.mark.parametrize(
    ("text", "user", "unescaped"),
    [
        ("sip:%61lice@h", "%61lice", "alice"),
        ("sip:user;par=u%40example.net@h", "user;par=u%40example.net", "user;par=u@example.net"),
        ("sip:+1-212-555-1212@h;user=phone", "+1-212-555-1212", "+1-212-555-1212"),
        ("sip:a&b=c+d$e,f;g?h/i@h", "a&b=c+d$e,f;g?h/i", "a&b=c+d$e,f;g?h/i"),
        ("sip:%C3%A9t%C3%A9@h", "%C3%A9t%C3%A9", "été"),
        ("sip:%ff@h", "%ff", "\ufffd"),
    ],
)
def test_user_parts(text: str, user: str, unescaped: str) -> None:
    uri = SipURI.parse(text)
    assert uri.user == user
    assert uri.user_unescaped == unescaped
    assert str(uri) == text


def test_password_may_be_empty() -> None:
    uri = SipURI.parse("sip:u:@h")
    assert uri.password == ""
    assert str(uri) == "sip:u:@h"


@pytest.mark.parametrize(
    "text",
    ["sip:[2001:db8::1]", "sip:u@[2001:db8::1]:5070;transport=tcp", "sip:[::ffff:192.0.2.1]"],
)
def test_ipv6_references(text: str) -> None:
    uri = SipURI.parse(text)
    assert uri.host.startswith("[")
    assert str(uri) == text


def test_ipv6_host_bare_for_sockets() -> None:
    assert SipURI.parse("sip:[2001:DB8::1]:5070").host_bare == "2001:db8::1"


@pytest.mark.parametrize("port", [0, 1, 5060, 65535])
def test_ports(port: int) -> None:
    assert SipURI.parse(f"sip:h:{port}").port == port


@pytest.mark.parametrize(
    "text",
    [
        "sip:",
        "sip:@h",
        "sip:u@",
        "sip:h:",
        "sip:h:65536",
        "sip:h:123456",
        "sip:h:-1",
        "sip:h;",
        "sip:h;a=",
        "sip:h;=a",
        "sip:h;a b",
        "sip:h?",
        "sip:h?x",
        "sip:h?=x",
        "sip:a@b@c",
        "sip:u@h x",
        "sip: u@h",
        "sip:u@h;lr ",
        "sip:u @h",
        "sip:%GGuser@h",
        "sip:user%4@h",
        "sip:u@h;p=%zz",
        "sip:u@ho_st",
        "sip:u@-host",
        "sip:u@[::zz]",
        "sip:u@[1.2.3.4]",
        "sip:u@h\x00",
        "sip:u\u00e9@h",
        'sip:u@h;p="q"',
        "sipx:u@h",
        "sipu@h",
        "sip",
        "u@h",
        "tel:+1",
        "",
    ],
)
def test_invalid_sip_uris(text: str) -> None:
    with pytest.raises(SipSyntaxError):
        SipURI.parse(text)


def test_copy_changes_fields_and_never_shares_params() -> None:
    uri = SipURI.parse("sip:u@h;lr")
    other = uri.copy(port=5080)
    other.params["x"] = "1"
    assert uri.params == {"lr": None}
    assert str(other) == "sip:u@h:5080;lr;x=1"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("sip:%75se%72@Example.com", "sip:user@example.com:5070;transport=tcp"),
        ("sip:null-%00-null@h", "sip:null-%00-null@H"),
        ("sip:a%2fb@h", "sip:a/b@h"),
        ("sip:a%3Cb@h", "sip:a%3cb@h"),  # "<" stays escaped; hex case does not matter
    ],
)
def test_aor_equal(a: str, b: str) -> None:
    assert SipURI.parse(a).aor() == SipURI.parse(b).aor()


@pytest.mark.parametrize(
    ("a", "b"),
    [("sip:null-%00-null@h", "sip:null-@h"), ("sip:%00@h", "sip:%00%00@h"), ("sip:a@h", "sip:A@h")],
)
def test_aor_distinct(a: str, b: str) -> None:
    assert SipURI.parse(a).aor() != SipURI.parse(b).aor()


def test_aor_without_user() -> None:
    assert SipURI.parse("sips:Example.COM:5061").aor() == "sip:example.com"


# -- other URIs ---------------------------------------------------------------------------


def test_tel_uri() -> None:
    uri = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert uri == AbsoluteURI("tel", "+1-201-555-0123;phone-context=example.com")
    assert uri.user == "+1-201-555-0123"
    assert str(uri) == "tel:+1-201-555-0123;phone-context=example.com"


def test_other_schemes_are_opaque_and_lower_cased() -> None:
    assert parse_uri("URN:service:sos") == AbsoluteURI("urn", "service:sos")
    assert parse_uri("http://www.example.com/x?y=1") == AbsoluteURI(
        "http", "//www.example.com/x?y=1"
    )
    assert AbsoluteURI("urn", "x").user is None


def test_parse_uri_dispatches_sip_schemes_in_any_case() -> None:
    assert isinstance(parse_uri("SiP:h"), SipURI)
    assert isinstance(parse_uri("sips:h"), SipURI)


@pytest.mark.parametrize(
    "text", ["tel:", "tel:+1 2", "tel:<1>", 'tel:"1"', "tel:\u00e91", "1tel:x", ":x", "nocolon"]
)
def test_invalid_absolute_uris(text: str) -> None:
    with pytest.raises(SipSyntaxError):
        parse_uri(text)


# -- Address --------------------------------------------------------------------------------


def test_name_addr_with_quoted_display_name_and_params() -> None:
    a = Address.parse('"Alice \\"A\\" \\\\ Smith" <sip:alice@h;transport=tcp>;tag=x1;q=0.5')
    assert a.display_name == 'Alice "A" \\ Smith'
    assert a.uri == SipURI("h", "alice", params={"transport": "tcp"})
    assert a.params == {"tag": "x1", "q": "0.5"}
    assert a.tag == "x1"
    assert str(a) == '"Alice \\"A\\" \\\\ Smith" <sip:alice@h;transport=tcp>;tag=x1;q=0.5'


def test_quoted_display_name_may_hold_delimiters() -> None:
    a = Address.parse('"Bell, <Alexander>; Jr." <sip:a@h>')
    assert a.display_name == "Bell, <Alexander>; Jr."


def test_token_display_name_is_normalised_to_single_spaces() -> None:
    a = Address.parse("Alice   Agent\t<sip:a@h>")
    assert a.display_name == "Alice Agent"
    assert str(a) == '"Alice Agent" <sip:a@h>'


@pytest.mark.parametrize("text", ["<sip:a@h>", ' "" <sip:a@h>', "  <sip:a@h>  "])
def test_no_display_name(text: str) -> None:
    assert Address.parse(text).display_name is None


def test_addr_spec_parameters_belong_to_the_header() -> None:
    a = Address.parse("sip:a@h;tag=1;user=phone")
    assert a.uri == SipURI("h", "a")
    assert a.params == {"tag": "1", "user": "phone"}
    assert str(a) == "<sip:a@h>;tag=1;user=phone"


def test_addr_spec_with_lws_before_parameters() -> None:
    a = Address.parse(" sip:a@h ;  tag = 1 ")
    assert (a.uri, a.params) == (SipURI("h", "a"), {"tag": "1"})


def test_header_params_with_quoted_values() -> None:
    a = Address.parse('<sip:a@h>;+sip.instance="<urn:uuid:1;2,3>";reg-id=1')
    assert a.params == {"+sip.instance": '"<urn:uuid:1;2,3>"', "reg-id": "1"}
    assert str(a) == '<sip:a@h>;+sip.instance="<urn:uuid:1;2,3>";reg-id=1'


def test_name_addr_with_escaped_uri_takes_the_general_path() -> None:
    a = Address.parse('"X" <sip:%61@h;n%61me=v>;tag=1')
    assert a.sip_uri.user == "%61"
    assert a.sip_uri.params == {"n%61me": "v"}


def test_name_addr_with_another_scheme() -> None:
    a = Address.parse('"Tel" <tel:+123;ext=4>;tag=9')
    assert a.uri == AbsoluteURI("tel", "+123;ext=4")
    with pytest.raises(SipSyntaxError):
        a.sip_uri  # noqa: B018


def test_wildcard_contact() -> None:
    a = Address.parse(" * ")
    assert a.wildcard
    assert str(a) == "*"


def test_with_tag_returns_a_new_address() -> None:
    a = Address.parse("<sip:a@h>;tag=1;x")
    b = a.with_tag("2")
    assert (a.tag, b.tag) == ("1", "2")
    assert b.params == {"tag": "2", "x": None}


@pytest.mark.parametrize(
    "text",
    [
        "",
        '"unterminated <sip:a@h>',
        "Bell, Alexander <sip:a@h>",
        "Dr. (Who) <sip:a@h>",
        '"Q" junk <sip:a@h>',
        "<sip:a@h",
        "<sip:a@h>>",
        "<sip:a@h> trailing",
        "<sip:a@h>;",
        "<sip:a@h>;;tag=1",
        "<sip:a@h>;tag=",
        '<sip:a@h>;tag="open',
        "sip:a@h?x=y",
        "sip:a@h, sip:b@h",
        "sip:a @h",
        "<sip:a b@h>",
        "<>",
        "*;expires=0",
    ],
)
def test_invalid_addresses(text: str) -> None:
    with pytest.raises(SipSyntaxError):
        Address.parse(text)


# -- quoting helpers ----------------------------------------------------------------------------


def test_quote_escapes_and_cannot_break_a_line() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert quote("a\r\nVia: x") == '"a  Via: x"'
    assert quote("bell\x07") == '"bell\\\x07"'
    assert unquote(quote('x"\\y\x00')) == 'x"\\y\x00'


def test_unquote_leaves_tokens_alone_and_rejects_junk() -> None:
    assert unquote("token") == "token"
    with pytest.raises(SipSyntaxError):
        unquote('"a"b"')


def test_unescape() -> None:
    assert unescape("a%20b%2") == "a b%2"
    assert unescape("plain") == "plain"
