"""Property tests for parse_message, StreamFramer and the serializer.

(a) Any input — random bytes, or valid messages mutated by bit flips, truncation, inserted
    CR/LF/NUL and other delimiters, duplicated or dropped lines — is either accepted or
    rejected with :class:`SipParseError`, fed whole to ``parse_message`` or byte by byte to a
    ``StreamFramer``; and whatever is accepted serializes to a message that parses the same.
(b) Generated valid requests and responses survive ``bytes`` → ``parse_message`` with their
    start line, headers and body unchanged, and serializing the result gives the same bytes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_uri_properties import TOKEN_CHARS, absolute_uris, addresses, sip_uris, tokens, vias

from callcenter.sip.errors import SipParseError
from callcenter.sip.headers import canonical_name
from callcenter.sip.message import Headers, Request, Response
from callcenter.sip.parser import Limits, StreamFramer, parse_message
from callcenter.sip.uri import SipURI

VECTORS = Path(__file__).parent / "vectors" / "rfc4475"
CORPUS = [p.read_bytes() for p in sorted(VECTORS.glob("*.dat"))]
SMALL = Limits(max_message_size=4096, max_headers=64, max_header_line=2048)
SPECIAL = [b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b":", b";", b",", b'"', b"<", b">"]
SPECIAL += [b"%", b"\\", b"@", b"=", b"\r\n ", b"\r\n\r\n", b"\xff", b"\xc3"]


def without_content_length(message: Request | Response) -> list[tuple[str, str]]:
    return [(n, v) for n, v in message.headers if n != "Content-Length"]


def check_accepted_message_reserializes(message: Request | Response) -> None:
    again = parse_message(bytes(message))
    assert type(again) is type(message)
    assert without_content_length(again) == without_content_length(message)
    assert again.body == message.body
    assert bytes(again) == bytes(message)


def parse_or_reject(data: bytes, *, datagram: bool = True) -> None:
    try:
        message = parse_message(data, datagram=datagram)
    except SipParseError as exc:
        assert 400 <= exc.status_code <= 599
        if exc.partial is not None:
            assert exc.partial.method != "ACK"
            exc.partial.top_via  # noqa: B018 - a partial can always be answered
        return
    check_accepted_message_reserializes(message)


def frame_byte_by_byte(data: bytes) -> None:
    framer = StreamFramer(SMALL)
    for i in range(len(data)):
        try:
            framed = framer.feed(data[i : i + 1])
        except SipParseError:
            return  # the connection would be closed
        for item in framed:
            if isinstance(item, bytes):
                parse_or_reject(item, datagram=False)
            else:
                assert item == "ping"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 6))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == 0 and data:  # bit flip
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == 1:  # truncation
            del data[at:]
        elif kind == 2:  # inserted delimiter or control octet
            data[at:at] = draw(st.sampled_from(SPECIAL))
        elif kind == 3:  # duplicated line
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at) + 1 or len(data)
            data[end:end] = data[start:end]
        elif kind == 4:  # dropped range
            del data[at : at + draw(st.integers(1, 12))]
        elif kind == 5:  # octet replaced
            data[at : at + 1] = bytes([draw(st.integers(0, 255))])
        else:  # the value of a header line emptied
            colon = data.find(b":", at)
            end = data.find(b"\r\n", colon)
            if colon >= 0 and end >= 0:
                del data[colon + 1 : end]
    return bytes(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_sip_parse_error(data: bytes) -> None:
    parse_or_reject(data)
    parse_or_reject(b"INVITE sip:a@b SIP/2.0\r\n" + data)
    frame_byte_by_byte(data)


@settings(max_examples=2500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_only_raise_sip_parse_error(data: bytes) -> None:
    parse_or_reject(data)
    parse_or_reject(data, datagram=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_byte_by_byte_through_the_framer(data: bytes) -> None:
    frame_byte_by_byte(data)


# -- (b) generated valid messages ---------------------------------------------------------

WORD = TOKEN_CHARS + '()<>:\\"/[]?{}'
call_ids = st.builds(
    lambda a, b: a if b is None else f"{a}@{b}",
    st.text(WORD, min_size=1, max_size=20),
    st.none() | st.text(WORD, min_size=1, max_size=12),
)
methods = st.sampled_from(["INVITE", "ACK", "BYE", "OPTIONS", "REGISTER"]) | tokens
text_values = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=30).map(
    lambda v: v.strip(" \t")
)
extension_names = tokens.map(lambda t: f"X-{t}").filter(lambda n: canonical_name(n) == n)
request_uris = st.one_of(sip_uris.map(lambda u: u.copy(headers=None)), absolute_uris)
extension_headers = st.lists(st.tuples(extension_names, text_values), max_size=5)
bodies = st.binary(max_size=200)


def common_headers(draw: st.DrawFn, method: str) -> list[tuple[str, str]]:
    via_list = draw(
        st.lists(vias.map(lambda v: replace(v, protocol="SIP/2.0")), min_size=1, max_size=3)
    )
    items = [("Via", str(v)) for v in via_list]
    from_ = draw(addresses).with_tag(draw(tokens))
    items += [
        ("From", str(from_)),
        ("To", str(draw(addresses))),
        ("Call-ID", draw(call_ids)),
        ("CSeq", f"{draw(st.integers(0, 2**31 - 1))} {method}"),
        ("Max-Forwards", str(draw(st.integers(0, 255)))),
    ]
    if draw(st.booleans()):
        contacts = draw(st.lists(addresses, min_size=1, max_size=3))
        items.append(("Contact", ", ".join(str(c) for c in contacts)))
    items += draw(extension_headers)
    return items


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(methods)
    headers = Headers(common_headers(draw, method))
    return Request(method, draw(request_uris), headers, draw(bodies))


@st.composite
def responses(draw: st.DrawFn) -> Response:
    method = draw(methods)
    headers = Headers(common_headers(draw, method))
    reason = draw(text_values)
    return Response(draw(st.integers(100, 699)), reason, headers, draw(bodies))


def check_round_trip(message: Request | Response, *, datagram: bool) -> None:
    data = bytes(message)
    parsed = parse_message(data, datagram=datagram)
    if isinstance(message, Request):
        assert isinstance(parsed, Request)
        assert (parsed.method, parsed.uri) == (message.method, message.uri)
    else:
        assert isinstance(parsed, Response)
        assert (parsed.status_code, parsed.reason) == (message.status_code, message.reason)
    assert without_content_length(parsed) == list(message.headers)
    assert parsed.body == message.body
    assert bytes(parsed) == data


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.booleans())
def test_generated_requests_round_trip(request: Request, datagram: bool) -> None:
    check_round_trip(request, datagram=datagram)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(responses(), st.booleans())
def test_generated_responses_round_trip(response: Response, datagram: bool) -> None:
    check_round_trip(response, datagram=datagram)


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(requests(), responses()), min_size=1, max_size=4), st.data())
def test_generated_stream_is_framed_at_any_cut(
    messages: list[Request | Response], data: st.DataObject
) -> None:
    stream = b"".join(bytes(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    framer = StreamFramer()
    out: list[bytes | str] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += framer.feed(stream[start:end])
    assert out == [bytes(m) for m in messages]


@settings(max_examples=100)
@given(sip_uris.map(lambda u: u.copy(headers=None)))
def test_any_sip_request_uri_round_trips(uri: SipURI) -> None:
    fixed = [
        ("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"),
        ("From", "<sip:a@h>;tag=1"),
        ("To", "<sip:b@h>"),
        ("Call-ID", "c"),
        ("CSeq", "1 OPTIONS"),
    ]
    check_round_trip(Request("OPTIONS", uri, Headers(fixed)), datagram=True)
