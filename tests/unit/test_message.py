"""Headers, Via, CSeq, typed accessors, serialization and make_response (RFC 3261 §7, §8.2.6)."""

from __future__ import annotations

import pytest

from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.headers import CSeq, Via, canonical_name, parse_via_list
from callcenter.sip.message import Headers, Request, Response, make_response
from callcenter.sip.parser import parse_message
from callcenter.sip.uri import SipURI


def invite(**extra: str) -> Request:
    headers = Headers(
        [
            ("Via", "SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK-1;rport"),
            ("Via", "SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-0"),
            ("Max-Forwards", "70"),
            ("From", '"Alice" <sip:1001@example.com>;tag=a1'),
            ("To", "<sip:1002@example.com>"),
            ("Call-ID", "c1@192.0.2.20"),
            ("CSeq", "7 INVITE"),
            ("Contact", "<sip:1001@192.0.2.20:5062>"),
            ("Timestamp", "54.2"),
            *extra.items(),
        ]
    )
    return Request("INVITE", "sip:1002@example.com", headers, b"v=0\r\n")


# -- Headers -------------------------------------------------------------------------------


def test_names_are_canonical_and_case_insensitive() -> None:
    h = Headers([("v", "a"), ("CALL-id", "x"), ("x-custom", "1")])
    assert list(h) == [("Via", "a"), ("Call-ID", "x"), ("x-custom", "1")]
    assert h.get("VIA") == h.get("v") == "a"
    assert "call-ID" in h
    assert "X-Custom" in h
    assert 3 not in h
    assert h.get("Missing") is None
    assert h.get("Missing", "d") == "d"
    assert len(h) == 3


def test_canonical_name_of_compact_and_unknown_names() -> None:
    assert canonical_name("m") == "Contact"
    assert canonical_name("www-authenticate") == "WWW-Authenticate"
    assert canonical_name("X-Whatever") == "X-Whatever"


def test_get_all_and_values_split_lists() -> None:
    h = Headers([("Allow", "INVITE, ACK,BYE"), ("Via", "v1"), ("Allow", '"odd,token"')])
    assert h.get_all("allow") == ["INVITE, ACK,BYE", '"odd,token"']
    assert h.values("Allow") == ["INVITE", "ACK", "BYE", '"odd,token"']
    assert Headers([("Route", "<sip:a;x=1,2>, <sip:b>")]).values("Route") == [
        "<sip:a;x=1,2>",
        "<sip:b>",
    ]
    assert Headers([("Allow", " , ,")]).values("Allow") == []


def test_add_prepend_set_remove() -> None:
    h = Headers([("Via", "b"), ("To", "t"), ("Via", "c")])
    h.prepend("v", "a")
    h.add("Via", "d")
    assert h.get_all("Via") == ["a", "b", "c", "d"]
    h.set("Via", "z")
    assert list(h) == [("Via", "z"), ("To", "t")]
    h.set("Subject", "s")
    assert list(h)[-1] == ("Subject", "s")
    h.remove("VIA")
    assert list(h) == [("To", "t"), ("Subject", "s")]


def test_remove_first_value() -> None:
    h = Headers([("Route", "<sip:a>, <sip:b>"), ("Route", "<sip:c>")])
    h.remove_first_value("Route")
    assert h.get_all("Route") == ["<sip:b>", "<sip:c>"]
    h.remove_first_value("Route")
    h.remove_first_value("Route")
    assert "Route" not in h
    h.remove_first_value("Route")  # nothing left: no error


def test_copy_is_independent() -> None:
    h = Headers([("To", "t")])
    c = h.copy()
    c.add("From", "f")
    assert list(h) == [("To", "t")]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Subject", "a\r\nVia: injected"),
        ("Subject", "a\nb"),
        ("Subject", "a\rb"),
        ("Bad Name", "v"),
    ],
)
def test_values_that_would_break_the_message_are_refused(name: str, value: str) -> None:
    h = Headers()
    for method in (h.add, h.prepend, h.set):
        with pytest.raises(SipSyntaxError):
            method(name, value)
    with pytest.raises(SipSyntaxError):
        Headers([(name, value)])
    assert len(h) == 0


def test_typed_accessors_are_cached_until_a_header_changes() -> None:
    m = invite()
    assert m.top_via is m.top_via
    assert m.top_via.host == "192.0.2.20"
    m.headers.prepend("Via", "SIP/2.0/UDP new.example.com;branch=z9hG4bK-2")
    assert m.top_via.host == "new.example.com"
    assert m.branch == "z9hG4bK-2"
    m.headers.set("CSeq", "8 INVITE")
    assert m.cseq == CSeq(8, "INVITE")
    m.headers.remove("Contact")
    assert m.contacts == []


# -- Via -----------------------------------------------------------------------------------


def test_via_fields_and_response_address() -> None:
    via = Via.parse("SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK1;received=198.51.100.7;rport=40000")
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "192.0.2.1", 5062, "z9hG4bK1")
    assert via.sent_by == ("192.0.2.1", 5062)
    assert via.response_address() == ("198.51.100.7", 40000)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("SIP/2.0/UDP h.example.com", ("h.example.com", 5060)),
        ("SIP/2.0/UDP h:5070;rport", ("h", 5070)),
        ("SIP/2.0/UDP h;received=192.0.2.9", ("192.0.2.9", 5060)),
        ("SIP/2.0/UDP h:5070;maddr=239.1.1.1;received=192.0.2.9", ("239.1.1.1", 5070)),
        ("SIP/2.0/UDP [2001:db8::1]:5070", ("2001:db8::1", 5070)),
        ("SIP/2.0/UDP h;received=[2001:db8::2];rport=6000", ("2001:db8::2", 6000)),
    ],
)
def test_response_address(text: str, address: tuple[str, int]) -> None:
    assert Via.parse(text).response_address() == address


def test_response_address_ignores_an_invalid_rport_set_by_code() -> None:
    via = Via("UDP", "h", 5070, {"rport": "\u00b2"})
    assert via.response_address() == ("h", 5070)


def test_via_case_and_whitespace() -> None:
    via = Via.parse("sip / 2.0 / udp  h.example.com : 5070 ; Branch = z9hG4bK1 ;RPORT")
    assert via == Via("UDP", "h.example.com", 5070, {"branch": "z9hG4bK1", "rport": None})
    assert str(via) == "SIP/2.0/UDP h.example.com:5070;branch=z9hG4bK1;rport"


def test_several_vias_on_one_line() -> None:
    vias = parse_via_list(["SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b:5061", "SIP/2.0/TLS c"])
    assert [(v.transport, v.host, v.port) for v in vias] == [
        ("UDP", "a", None),
        ("TCP", "b", 5061),
        ("TLS", "c", None),
    ]


def test_other_protocol_version_is_kept() -> None:
    via = Via.parse("SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw")
    assert via.protocol == "SIP/7.0"
    assert str(via) == "SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SIP/2.0/UDP",
        "SIP/2.0 UDP h",
        "SIP/2.0/UDP h:65536",
        "SIP/2.0/UDP h:x",
        "SIP/2.0/UDP h junk",
        "SIP/2.0/UDP h;;branch=1",
        "SIP/2.0/UDP h;branch=",
        "SIP/2.0/UDP h;rport=x",
        "SIP/2.0/UDP h;rport=70000",
        "SIP/2.0/UDP [zz::1]",
        "SIP/2.0/UDP h_1",
    ],
)
def test_invalid_via(text: str) -> None:
    with pytest.raises(SipSyntaxError):
        Via.parse(text)


# -- CSeq --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cseq"),
    [
        ("1 INVITE", CSeq(1, "INVITE")),
        ("  0009 \t BYE ", CSeq(9, "BYE")),
        ("2147483647 X", CSeq(2**31 - 1, "X")),
    ],
)
def test_cseq(text: str, cseq: CSeq) -> None:
    assert CSeq.parse(text) == cseq


@pytest.mark.parametrize(
    "text", ["", "1", "INVITE", "2147483648 INVITE", "-1 BYE", "1 IN VITE", "1 B(E"]
)
def test_invalid_cseq(text: str) -> None:
    with pytest.raises(SipSyntaxError):
        CSeq.parse(text)


def test_cseq_str() -> None:
    assert str(CSeq(5, "BYE")) == "5 BYE"


# -- message accessors and serialization ----------------------------------------------------


def test_header_int() -> None:
    m = invite(Expires="0300")
    assert m.header_int("Max-Forwards") == 70
    assert m.header_int("Expires") == 300
    assert m.header_int("Min-Expires") is None
    for bad in ["-1", "1.5", "12345678901", "\u0663", "\u00b2", ""]:
        m.headers.set("Expires", bad)
        with pytest.raises(SipSyntaxError):
            m.header_int("Expires")


def test_option_tags_and_content_type() -> None:
    m = invite(Supported="Timer, 100rel", **{"Content-Type": "Application/SDP ; charset=x"})
    assert m.option_tags("Supported") == {"timer", "100rel"}
    assert m.option_tags("Require") == set()
    assert m.content_type == "application/sdp"


def test_missing_call_id() -> None:
    m = Request("OPTIONS", "sip:h")
    with pytest.raises(SipSyntaxError):
        m.call_id  # noqa: B018
    with pytest.raises(SipSyntaxError):
        m.top_via  # noqa: B018


def test_serialization_recomputes_content_length_last() -> None:
    m = invite(**{"Content-Length": "999"})
    data = bytes(m)
    assert data.endswith(b"Timestamp: 54.2\r\nContent-Length: 5\r\n\r\nv=0\r\n")
    assert b"999" not in data
    assert m.serialize() == data


def test_built_message_round_trips_byte_for_byte() -> None:
    data = bytes(invite())
    assert bytes(parse_message(data)) == data


def test_request_uri_from_string_and_object() -> None:
    assert Request("BYE", SipURI("h", "u")).uri == Request("BYE", "sip:u@h").uri
    with pytest.raises(SipSyntaxError):
        Request("BYE", "not a uri")


def test_response_default_reason_and_repr() -> None:
    assert Response(486).reason == "Busy Here"
    assert Response(299).reason == "OK"
    assert Response(699).reason == "Global Failure"
    assert "486" in repr(Response(486))
    assert "INVITE" in repr(invite())


# -- make_response ---------------------------------------------------------------------------


def test_make_response_copies_the_dialog_and_transaction_headers() -> None:
    request = invite()
    response = make_response(request, 180, to_tag="b2", extra=[("Contact", "<sip:b@h>")])
    assert [name for name, _ in response.headers] == [
        "Via", "Via", "From", "To", "Call-ID", "CSeq", "Contact",
    ]  # fmt: skip
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    assert response.to.tag == "b2"
    assert response.from_.tag == "a1"
    assert response.cseq == request.cseq
    assert (response.status_code, response.reason) == (180, "Ringing")
    parsed = parse_message(bytes(response))
    assert isinstance(parsed, Response)
    assert parsed.to.tag == "b2"


def test_make_response_keeps_an_existing_to_tag() -> None:
    request = invite()
    request.headers.set("To", "<sip:1002@example.com>;tag=old")
    assert make_response(request, 200, to_tag="new").to.tag == "old"


@pytest.mark.parametrize(
    "to", ["<sip:1002@example.com;tag=uri-param>", "<sip:1002@example.com>;mytag=1", "sip:b@h"]
)
def test_make_response_adds_a_to_tag_when_only_lookalikes_are_there(to: str) -> None:
    request = invite()
    request.headers.set("To", to)
    assert make_response(request, 200, to_tag="t9").to.tag == "t9"


def test_make_response_to_tag_on_an_unparsable_to() -> None:
    request = invite()
    request.headers.set("To", "<broken>;tag=x")
    assert make_response(request, 400, to_tag="t").headers.get("To") == "<broken>;tag=x"
    request.headers.set("To", "<broken>")
    assert make_response(request, 400, to_tag="t").headers.get("To") == "<broken>;tag=t"


def test_make_response_100_trying() -> None:
    response = make_response(invite(), 100, to_tag="never")
    assert response.to.tag is None
    assert response.headers.get("Timestamp") == "54.2"
    assert make_response(invite(), 180).headers.get("Timestamp") is None


def test_make_response_reason_and_body() -> None:
    response = make_response(invite(), 488, "Codecs", body=b"x")
    assert (response.reason, response.body) == ("Codecs", b"x")
    assert bytes(response).endswith(b"Content-Length: 1\r\n\r\nx")
