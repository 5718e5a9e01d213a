"""parse_message: start lines, header lines, framing, validation, errors and round trips."""

from __future__ import annotations

import pytest

from callcenter.sip.errors import SipParseError
from callcenter.sip.headers import CSeq
from callcenter.sip.message import Request, Response
from callcenter.sip.parser import Limits, parse_message

INVITE = (
    b"INVITE sip:1002@192.0.2.10 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK-1;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sip:1001@192.0.2.10>;tag=a1\r\n'
    b"To: <sip:1002@192.0.2.10>\r\n"
    b"Call-ID: c1@192.0.2.20\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:1001@192.0.2.20:5062>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)
OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK-1;rport=5062;received=192.0.2.20\r\n"
    b'From: "Alice" <sip:1001@192.0.2.10>;tag=a1\r\n'
    b"To: <sip:1002@192.0.2.10>;tag=b2\r\n"
    b"Call-ID: c1@192.0.2.20\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:1002@192.0.2.30>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def replace(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


def error_of(data: bytes, *, limits: Limits | None = None, datagram: bool = True) -> SipParseError:
    with pytest.raises(SipParseError) as info:
        parse_message(data, limits=limits or Limits(), datagram=datagram)
    return info.value


# -- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("data", [INVITE, OK], ids=["INVITE", "200"])
def test_canonical_message_round_trips_byte_for_byte(data: bytes) -> None:
    assert bytes(parse_message(data)) == data
    assert bytes(parse_message(data, datagram=False)) == data


def test_request_fields() -> None:
    m = parse_message(INVITE)
    assert isinstance(m, Request)
    assert m.method == "INVITE"
    assert str(m.uri) == "sip:1002@192.0.2.10"
    assert m.cseq == CSeq(1, "INVITE")
    assert m.branch == "z9hG4bK-1"
    assert m.body == b"v=0\n"


def test_response_fields() -> None:
    m = parse_message(OK)
    assert isinstance(m, Response)
    assert (m.status_code, m.reason, m.is_final, m.is_provisional) == (200, "OK", True, False)
    assert m.to.tag == "b2"
    assert m.top_via.response_address() == ("192.0.2.20", 5062)


def test_leading_crlfs_are_skipped() -> None:
    assert parse_message(b"\r\n\r\n" + INVITE).method == "INVITE"


def test_bare_lf_line_breaks_are_tolerated() -> None:
    m = parse_message(INVITE.replace(b"\r\n", b"\n"))
    assert isinstance(m, Request)
    assert m.call_id == "c1@192.0.2.20"
    assert m.body == b"v=0\n"


def test_bare_lf_blank_line_before_a_crlf_one_in_the_body_ends_the_head() -> None:
    head = INVITE.split(b"\r\n\r\n")[0]
    data = head.replace(b"\r\n", b"\n").replace(b"Content-Length: 4", b"Content-Length: 8")
    m = parse_message(data + b"\n\nab\r\n\r\ncd")
    assert m.body == b"ab\r\n\r\ncd"


# -- header lines --------------------------------------------------------------------------


def test_compact_forms_and_case_are_canonical() -> None:
    data = (
        b"OPTIONS sip:a@example.com SIP/2.0\r\n"
        b"v: SIP/2.0/TCP h.example.com;branch=z9hG4bK2\r\n"
        b"f: <sip:b@example.com>;tag=1\r\n"
        b"t: <sip:a@example.com>\r\n"
        b"i: x@y\r\n"
        b"cseq: 2 OPTIONS\r\n"
        b"m: <sip:b@h.example.com>\r\n"
        b"k: timer\r\n"
        b"CONTENT-TYPE: text/plain\r\n"
        b"l: 0\r\n\r\n"
    )
    m = parse_message(data)
    assert [name for name, _ in m.headers] == [
        "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Supported", "Content-Type",
        "Content-Length",
    ]  # fmt: skip
    assert bytes(m).startswith(b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP")


def test_folded_header_lines_are_unfolded_to_one_space() -> None:
    data = replace(INVITE, b"Max-Forwards: 70\r\n", b"Subject: one  \r\n \t two\r\n\tthree\r\n")
    assert parse_message(data).headers.get("Subject") == "one two three"


def test_multi_line_list_headers_keep_their_lines() -> None:
    data = replace(
        INVITE,
        b"Max-Forwards: 70\r\n",
        b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
        b"Route: <sip:p3.example.com>\r\n",
    )
    m = parse_message(data)
    assert m.headers.get_all("Route") == [
        "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
        "<sip:p3.example.com>",
    ]
    assert [r.sip_uri.host for r in m.routes] == [
        "p1.example.com", "p2.example.com", "p3.example.com",
    ]  # fmt: skip


def test_via_lines_combined_and_separate() -> None:
    data = replace(
        INVITE,
        b"Max-Forwards: 70\r\n",
        b"Via: SIP/2.0/TCP p1.example.com;branch=z9hG4bKa, SIP/2.0/UDP [2001:db8::1]:5070"
        b";branch=z9hG4bKb\r\n",
    )
    m = parse_message(data)
    assert [(v.host, v.port) for v in m.vias] == [
        ("192.0.2.20", 5062),
        ("p1.example.com", None),
        ("[2001:db8::1]", 5070),
    ]


def test_header_value_whitespace_is_trimmed_and_empty_values_kept() -> None:
    data = replace(INVITE, b"Max-Forwards: 70\r\n", b"Subject:\t  \r\nX-Pad :  v  \r\n")
    m = parse_message(data)
    assert m.headers.get("Subject") == ""
    assert m.headers.get("X-Pad") == "v"


@pytest.mark.parametrize(
    "line",
    [
        b"No colon here",
        b"Bad Name: x",
        b": empty name",
        b"Na\xc3\xa9me: x",
        b"[x]: y",
    ],
)
def test_malformed_header_line(line: bytes) -> None:
    data = replace(INVITE, b"Max-Forwards: 70", line)
    error = error_of(data)
    assert error.status_code == 400
    assert error.partial is not None


def test_malformed_line_with_an_empty_via_gives_no_partial() -> None:
    data = replace(INVITE, b"Max-Forwards: 70", b"Bad Line")
    data = replace(data, b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK-1;rport", b"Via:")
    assert error_of(data).partial is None


def test_folded_line_before_any_header() -> None:
    data = replace(INVITE, b"SIP/2.0\r\nVia", b"SIP/2.0\r\n continued\r\nVia")
    assert error_of(data).status_code == 400


# -- control characters, line breaks, encoding ---------------------------------------------


@pytest.mark.parametrize("octet", [b"\x00", b"\x07", b"\x1b", b"\x7f", b"\x0b"])
def test_control_characters_are_refused(octet: bytes) -> None:
    assert error_of(replace(INVITE, b"c1@192", b"c1" + octet + b"@192")).status_code == 400


def test_control_character_as_quoted_pair_is_accepted() -> None:
    data = replace(INVITE, b'"Alice"', b'"Al\\\x00ice"')
    assert parse_message(data).from_.display_name == "Al\x00ice"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"c1@192.0.2.20", b"c1\r@192.0.2.20"),  # bare CR inside a value
        (b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\r\n"),
        (b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\rX-Y: z\r\n"),
    ],
)
def test_bare_cr_is_refused(old: bytes, new: bytes) -> None:
    assert error_of(replace(INVITE, old, new)).status_code == 400


def test_bare_cr_and_bare_lf_together_are_refused() -> None:
    data = replace(INVITE, b"c1@192.0.2.20", b"c1\r@192.0.2.20")
    data = replace(data, b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\n")
    assert error_of(data).status_code == 400


def test_head_must_be_utf8_body_need_not() -> None:
    assert error_of(replace(INVITE, b"Alice", b"Al\xe9ce")).status_code == 400
    data = replace(INVITE, b"v=0\n", b"\xff\x00\xfe\r")
    assert parse_message(data).body == b"\xff\x00\xfe\r"


# -- start lines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"INVITE sip:1002@192.0.2.10",
        b"INVITE  sip:1002@192.0.2.10 SIP/2.0",
        b"INVITE sip:1002@192.0.2.10 SIP/2.0 ",
        b"INVITE\tsip:1002@192.0.2.10\tSIP/2.0",
        b"INVITE sip:1002@192.0.2.10 HTTP/1.1",
        b"INVITE sip:1002 @192.0.2.10 SIP/2.0",
        b"INVITE sip:1002@192.0.2.10:99999 SIP/2.0",
        b"INVITE 1002@192.0.2.10 SIP/2.0",
        b"INVITE sip:1002@192.0.2.10?Subject=x SIP/2.0",
    ],
)
def test_bad_request_line_is_400_with_a_partial(line: bytes) -> None:
    error = error_of(replace(INVITE, b"INVITE sip:1002@192.0.2.10 SIP/2.0", line))
    assert error.status_code == 400
    assert error.partial is not None
    assert error.partial.method == "INVITE"


def test_bad_method_takes_the_partial_method_from_cseq() -> None:
    error = error_of(replace(INVITE, b"INVITE sip:1002", b"INV(TE sip:1002"))
    assert error.partial is not None
    assert error.partial.method == "INVITE"


def test_other_sip_version_is_505() -> None:
    error = error_of(replace(INVITE, b" SIP/2.0\r\n", b" SIP/3.0\r\n"))
    assert error.status_code == 505
    assert error.partial is not None


def test_version_is_case_insensitive() -> None:
    data = replace(INVITE, b" SIP/2.0\r\n", b" sip/2.0\r\n")
    assert parse_message(data).method == "INVITE"


@pytest.mark.parametrize(
    "line",
    [
        b"SIP/2.0 99 Low",
        b"SIP/2.0 700 High",
        b"SIP/2.0 2000 OK",
        b"SIP/2.0 2x0 OK",
        b"SIP/2.0 \xd9\xa2\xd9\xa0\xd9\xa0 OK",  # Arabic-Indic digits are no DIGIT
        b"SIP/2.0 \xc2\xb2\xc2\xb2\xc2\xb2 OK",  # superscripts: str.isdigit() but not int()
        b"SIP/2.0",
        b"SIP/1.0 200 OK",
    ],
)
def test_bad_status_line(line: bytes) -> None:
    error = error_of(replace(OK, b"SIP/2.0 200 OK", line))
    assert error.partial is None  # a response is never answered


def test_reason_phrase_may_hold_any_text() -> None:
    m = parse_message(replace(OK, b"200 OK", "200 Très bien: ça va".encode()))
    assert isinstance(m, Response)
    assert m.reason == "Très bien: ça va"


# -- Content-Length and framing --------------------------------------------------------------


def test_datagram_without_content_length_takes_the_rest() -> None:
    data = replace(INVITE, b"Content-Length: 4\r\n", b"")
    assert parse_message(data).body == b"v=0\n"


def test_stream_message_needs_content_length() -> None:
    data = replace(INVITE, b"Content-Length: 4\r\n", b"")
    assert error_of(data, datagram=False).status_code == 400


def test_datagram_octets_beyond_content_length_are_discarded() -> None:
    assert parse_message(INVITE + b"garbage").body == b"v=0\n"


@pytest.mark.parametrize(
    "value",
    [b"5", b"-1", b"+4", b"4 4", b"four", b"0x4", b"\xd9\xa4", b"\xc2\xb2", b"9999999999", b""],
)
def test_bad_content_length(value: bytes) -> None:
    error = error_of(replace(INVITE, b"Content-Length: 4", b"Content-Length: " + value))
    assert error.status_code == 400
    assert error.partial is not None


def test_content_length_with_leading_zeros_and_blanks() -> None:
    assert parse_message(replace(INVITE, b"Length: 4", b"Length:   0004 ")).body == b"v=0\n"


def test_two_content_lengths_are_refused_even_when_equal() -> None:
    data = replace(INVITE, b"Content-Length: 4\r\n", b"Content-Length: 4\r\nl: 4\r\n")
    assert error_of(data).status_code == 400


def test_message_too_large() -> None:
    error = error_of(INVITE, limits=Limits(max_message_size=100))
    assert error.status_code == 513


def test_too_many_headers() -> None:
    extra = b"".join(b"X-H%d: v\r\n" % i for i in range(20))
    error = error_of(replace(INVITE, b"Max-Forwards: 70\r\n", extra), limits=Limits(max_headers=20))
    assert error.status_code == 400


def test_header_line_too_long() -> None:
    data = replace(INVITE, b"Max-Forwards: 70", b"X-Long: " + b"a" * 200)
    assert parse_message(data, limits=Limits(max_header_line=210)).headers.get("X-Long")
    assert error_of(data, limits=Limits(max_header_line=100)).status_code == 400


@pytest.mark.parametrize(
    "data", [b"", b"\r\n", b"\r\n\r\n", b"INVITE", b"INVITE sip:a SIP/2.0\r\n"]
)
def test_incomplete_message(data: bytes) -> None:
    error_of(data)


# -- validation of what later layers read --------------------------------------------------


@pytest.mark.parametrize("name", [b"Via", b"From", b"To", b"Call-ID", b"CSeq"])
def test_mandatory_header_missing(name: bytes) -> None:
    lines = [line for line in INVITE.split(b"\r\n") if not line.startswith(name + b":")]
    error = error_of(b"\r\n".join(lines))
    assert error.status_code == 400
    assert (error.partial is None) == (name == b"Via")


@pytest.mark.parametrize("name", [b"From", b"To", b"Call-ID", b"CSeq", b"Max-Forwards"])
def test_single_value_header_repeated(name: bytes) -> None:
    line = next(line for line in INVITE.split(b"\r\n") if line.startswith(name + b":"))
    assert error_of(replace(INVITE, line, line + b"\r\n" + line)).status_code == 400


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"CSeq: 1 INVITE", b"CSeq: 2147483648 INVITE"),
        (b"CSeq: 1 INVITE", b"CSeq: INVITE"),
        (b"CSeq: 1 INVITE", b"CSeq: 1 INVITE x"),
        (b"Max-Forwards: 70", b"Max-Forwards: 256"),
        (b"Max-Forwards: 70", b"Max-Forwards: -1"),
        (b"Max-Forwards: 70", b"Max-Forwards: \xc2\xb2"),
        (b"Call-ID: c1@192.0.2.20", b"Call-ID: c1 x"),
        (b"Call-ID: c1@192.0.2.20", b"Call-ID: c1@a@b"),
        (b"Call-ID: c1@192.0.2.20", b"Call-ID:"),
        (b"To: <sip:1002@192.0.2.10>", b"To: *"),
        (b"To: <sip:1002@192.0.2.10>", b"To: <sip:1002@192.0.2.10"),
        (b"Contact: <sip:1001@192.0.2.20:5062>", b"Contact: <sip:1001@192.0.2.20:5062>;;"),
        (b"Contact: <sip:1001@192.0.2.20:5062>", b"Contact: <sip:1001@[::zz]>"),
        (b"Via: SIP/2.0/UDP 192.0.2.20:5062", b"Via: SIP/3.0/UDP 192.0.2.20:5062"),
        (b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK-1;rport", b"Via: "),
        (b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK-1;rport", b"Via: ,"),
        (b"branch=z9hG4bK-1;rport", b"branch=z9hG4bK-1;rport=x"),
        (b"Max-Forwards: 70", b"Route: <sip:p.example.com;lr"),
        (b"Max-Forwards: 70", b"Record-Route: sip:p.example.com?x=y"),
    ],
)
def test_malformed_value_that_later_layers_read(old: bytes, new: bytes) -> None:
    assert error_of(replace(INVITE, old, new)).status_code == 400


def test_address_lists_are_parsed_once_and_cached() -> None:
    m = parse_message(replace(INVITE, b"Max-Forwards: 70", b"Route: <sip:p.example.com;lr>"))
    assert m.routes[0] is m.routes[0]  # shared objects...
    routes = m.routes
    routes.clear()
    assert len(m.routes) == 1  # ...in a fresh list each time


def test_ack_errors_carry_no_partial() -> None:
    data = INVITE.replace(b"INVITE", b"ACK").replace(b"Call-ID: c1", b"Call-ID: c 1")
    assert error_of(data).partial is None


def test_cseq_mismatch_status_depends_on_the_method() -> None:
    known = replace(INVITE, b"CSeq: 1 INVITE", b"CSeq: 1 BYE")
    assert error_of(known).status_code == 400
    unknown = INVITE.replace(b"INVITE sip", b"FOO sip")
    assert error_of(unknown).status_code == 501


def test_unknown_method_with_matching_cseq_is_accepted() -> None:
    data = INVITE.replace(b"INVITE", b"FOO")
    assert parse_message(data).method == "FOO"
