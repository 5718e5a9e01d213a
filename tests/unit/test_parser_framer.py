"""StreamFramer: cutting a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3)."""

from __future__ import annotations

import pytest

from callcenter.sip.errors import SipParseError
from callcenter.sip.parser import Limits, StreamFramer, parse_message


def message(call_id: str, body: bytes = b"") -> bytes:
    return (
        b"OPTIONS sip:a@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\r\n"
        b"From: <sip:b@example.com>;tag=1\r\n"
        b"To: <sip:a@example.com>\r\n"
        b"Call-ID: " + call_id.encode() + b"\r\n"
        b"CSeq: 1 OPTIONS\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )


A = message("a", b"hello")
B = message("b")
C = message("c", b"\r\n\r\n")  # a body that looks like a ping


def test_one_message() -> None:
    framer = StreamFramer()
    assert framer.feed(A) == [A]
    assert framer.buffered == 0


def test_pipelined_messages_in_one_read() -> None:
    assert StreamFramer().feed(A + B + C) == [A, B, C]


def test_split_delivery_at_every_point() -> None:
    stream = A + b"\r\n\r\n" + B + C
    for cut in range(1, len(stream)):
        framer = StreamFramer()
        out = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
        assert out == [A, "ping", B, C], cut
        assert framer.buffered == 0


def test_byte_by_byte() -> None:
    framer = StreamFramer()
    out: list[bytes | str] = []
    for i in range(len(A + B)):
        out += framer.feed((A + B)[i : i + 1])
    assert out == [A, B]


def test_keepalive_ping_between_messages() -> None:
    assert StreamFramer().feed(b"\r\n\r\n" + A + b"\r\n\r\n\r\n\r\n") == ["ping", A, "ping", "ping"]


def test_half_a_ping_waits() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == []
    assert framer.feed(b"\r") == []
    assert framer.feed(b"\n") == ["ping"]


def test_single_crlf_pong_before_a_message_is_skipped() -> None:
    assert StreamFramer().feed(b"\r\n" + A) == [A]


def test_body_that_looks_like_a_ping_is_body() -> None:
    framed = StreamFramer().feed(C)
    assert framed == [C]
    assert parse_message(C, datagram=False).body == b"\r\n\r\n"


def test_compact_and_lower_case_content_length() -> None:
    data = A.replace(b"Content-Length: 5", b"l :  5 ")
    assert StreamFramer().feed(data + B) == [data, B]
    lower = A.replace(b"Content-Length", b"content-LENGTH")
    assert StreamFramer().feed(lower) == [lower]


@pytest.mark.parametrize(
    "value",
    [None, b"five", b"-5", b"5abc", b"5 5", b"\r\n 5", b"9999999999"],
    ids=["missing", "word", "negative", "trailing", "two", "folded", "huge"],
)
def test_bad_content_length_is_fatal(value: bytes | None) -> None:
    if value is None:
        data = A.replace(b"Content-Length: 5\r\n", b"")
    else:
        data = A.replace(b"Content-Length: 5", b"Content-Length: " + value)
    with pytest.raises(SipParseError):
        StreamFramer().feed(data)


def test_two_content_lengths_are_fatal() -> None:
    data = A.replace(b"Content-Length: 5\r\n", b"Content-Length: 5\r\nl: 5\r\n")
    with pytest.raises(SipParseError):
        StreamFramer().feed(data)


def test_content_length_inside_another_value_is_not_the_header() -> None:
    data = A.replace(b"Call-ID: a", b"Call-ID: a\r\nSubject: x Content-Length: 99")
    assert StreamFramer().feed(data) == [data]


def test_head_without_end_over_the_limit() -> None:
    framer = StreamFramer(Limits(max_message_size=300))
    assert framer.feed(b"OPTIONS " + b"x" * 200) == []
    with pytest.raises(SipParseError) as info:
        framer.feed(b"x" * 200)
    assert info.value.status_code == 513


def test_announced_body_over_the_limit_fails_before_it_arrives() -> None:
    data = A.replace(b"Content-Length: 5", b"Content-Length: 60000")
    with pytest.raises(SipParseError) as info:
        StreamFramer(Limits(max_message_size=1000)).feed(data[: data.index(b"\r\n\r\n") + 4])
    assert info.value.status_code == 513


def test_waiting_for_the_body() -> None:
    framer = StreamFramer()
    assert framer.feed(A[:-2]) == []
    assert framer.buffered == len(A) - 2
    assert framer.feed(A[-2:]) == [A]


def test_long_head_fed_in_small_pieces_is_searched_once() -> None:
    big = A.replace(b"Call-ID: a", b"Call-ID: a\r\nX-Pad: " + b"p" * 40000)
    framer = StreamFramer()
    out: list[bytes | str] = []
    for i in range(0, len(big), 7):
        out += framer.feed(big[i : i + 7])
    assert out == [big]
