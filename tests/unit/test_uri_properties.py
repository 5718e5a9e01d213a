"""Property tests: SipURI, Address and Via read back what they write (``parse(str(x)) == x``).

The strategies build values in canonical form (lower-case parameter names, a lower-case
scheme, no empty display name), which is exactly what ``parse`` returns; they are reused by
``test_parser_properties.py`` to build whole messages.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.sip.grammar import quote
from callcenter.sip.headers import Via
from callcenter.sip.uri import URI, AbsoluteURI, Address, SipURI

TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
LOWER_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~"
ESCAPE = r"%[0-9A-F]{2}"
UNRESERVED = r"A-Za-z0-9\-_.!~*'()"

tokens = st.text(TOKEN_CHARS, min_size=1, max_size=10)
lower_tokens = st.text(LOWER_TOKEN_CHARS, min_size=1, max_size=10)

hostnames = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?){0,3}\.?",
    fullmatch=True,
)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda ip: f"[{ipaddress.IPv6Address(ip).compressed}]")
hosts = st.one_of(hostnames, ipv4, ipv6)
ports = st.none() | st.integers(0, 65535)

users = st.from_regex(rf"([{UNRESERVED}&=+$,;?/]|{ESCAPE}){{1,12}}", fullmatch=True)
passwords = st.none() | st.from_regex(rf"([{UNRESERVED}&=+$,]|{ESCAPE}){{0,8}}", fullmatch=True)
PARAMCHAR = rf"([{UNRESERVED.replace('A-Z', '')}\[\]/:&+$]|%[0-9a-f]{{2}})"
uri_param_names = st.from_regex(rf"{PARAMCHAR}{{1,8}}", fullmatch=True)
uri_param_values = st.none() | st.from_regex(
    rf"([{UNRESERVED}\[\]/:&+$]|{ESCAPE}){{1,8}}", fullmatch=True
)
uri_headers = st.none() | st.from_regex(
    rf"[{UNRESERVED}\[\]/?:+$]{{1,6}}=[{UNRESERVED}\[\]/?:+$]{{0,6}}"
    rf"(&[{UNRESERVED}\[\]/?:+$]{{1,6}}=[{UNRESERVED}\[\]/?:+$]{{0,6}}){{0,2}}",
    fullmatch=True,
)

sip_uris = st.builds(
    SipURI,
    host=hosts,
    user=st.none() | users,
    password=passwords,
    port=ports,
    scheme=st.sampled_from(["sip", "sips"]),
    params=st.dictionaries(uri_param_names, uri_param_values, max_size=4),
    headers=uri_headers,
).map(lambda u: u if u.user is not None else u.copy(password=None))

absolute_uris = st.builds(
    AbsoluteURI,
    scheme=st.sampled_from(["tel", "urn", "http", "mailto"]),
    rest=st.from_regex(r"[A-Za-z0-9\-_.!~*'();/?:@&=+$,]{1,20}", fullmatch=True),
)
uris: st.SearchStrategy[URI] = st.one_of(sip_uris, absolute_uris)

# Display names: any text but CR/LF (which quote() turns into spaces); never empty.
display_names = st.none() | st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    min_size=1,
    max_size=12,
)
header_param_values = st.one_of(
    st.none(),
    st.text(TOKEN_CHARS + "[]:", min_size=1, max_size=10),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=8).map(
        quote
    ),
)
header_params = st.dictionaries(lower_tokens, header_param_values, max_size=4)
addresses = st.builds(Address, uri=uris, display_name=display_names, params=header_params)

via_params = st.dictionaries(
    lower_tokens.filter(lambda name: name != "rport"),
    st.none() | st.text(TOKEN_CHARS + "[]:", min_size=1, max_size=12),
    max_size=4,
).flatmap(
    lambda params: st.one_of(
        st.just(params),
        (st.none() | st.integers(0, 65535).map(str)).map(lambda r: {**params, "rport": r}),
    )
)
vias = st.builds(
    Via,
    transport=st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "X-NEW"]),
    host=hosts,
    port=ports,
    params=via_params,
    protocol=st.sampled_from(["SIP/2.0", "SIP/2.0", "SIP/3.0"]),
)


@settings(max_examples=300)
@given(sip_uris)
def test_sip_uri_reads_back_what_it_writes(uri: SipURI) -> None:
    assert SipURI.parse(str(uri)) == uri


@settings(max_examples=200)
@given(uris)
def test_any_uri_reads_back_what_it_writes(uri: URI) -> None:
    from callcenter.sip.uri import parse_uri

    assert parse_uri(str(uri)) == uri


@settings(max_examples=300)
@given(addresses)
def test_address_reads_back_what_it_writes(address: Address) -> None:
    assert Address.parse(str(address)) == address


@settings(max_examples=300)
@given(vias)
def test_via_reads_back_what_it_writes(via: Via) -> None:
    assert Via.parse(str(via)) == via


plain_users = st.from_regex(rf"[{UNRESERVED}&=+$,;?/]{{1,12}}", fullmatch=True)


@settings(max_examples=200)
@given(plain_users, hosts, st.data())
def test_aor_is_stable_under_escaping(user: str, host: str, data: st.DataObject) -> None:
    """RFC 3261 §19.1.4: an escaped character equals the character (in either hex case)."""
    escaped = "".join(
        data.draw(st.sampled_from([c, f"%{ord(c):02x}", f"%{ord(c):02X}"])) for c in user
    )
    assert SipURI(host, escaped).aor() == SipURI(host, user).aor()
    assert SipURI.parse(f"sip:{escaped}@{host}").user_unescaped == user
