"""SDP parse/serialize (RFC 8866): golden round trips, typed helpers, precise errors, properties."""

from __future__ import annotations

import contextlib
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.sdp import (
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    RtcpAttribute,
    RtpMap,
    SdpError,
    SessionDescription,
    Timing,
    address_type,
)


def crlf(text: str) -> bytes:
    return "".join(line + "\r\n" for line in text.strip("\n").split("\n")).encode()


# A SIPp uac scenario's INVITE body.
SIPP_OFFER = crlf("""
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
""")

# baresip with G.722 first, bandwidth line and rtcp-mux.
BARESIP_OFFER = crlf("""
v=0
o=- 1364370236 620843440 IN IP4 192.168.1.20
s=-
c=IN IP4 192.168.1.20
t=0 0
m=audio 10372 RTP/AVP 9 0 8 101
b=AS:82
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=rtcp-rsize
a=sendrecv
a=label:1
a=rtcp-mux
a=ptime:20
""")

# linphone: session attributes, dynamic codecs, three telephone-event clock rates.
LINPHONE_OFFER = crlf("""
v=0
o=alice 2412 1838 IN IP4 192.168.0.10
s=Talk
c=IN IP4 192.168.0.10
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=fmtp:18 annexb=yes
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
""")

# Chrome (abridged): no session c=, ICE/DTLS lines, a value with a leading space.
CHROME_OFFER = crlf("""
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS stream
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 network-id 1
a=candidate:2832465407 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active generation 0
a=ice-ufrag:Oa4h
a=ice-pwd:aBGRhp7F1TIYgR+1NzJ4DP3a
a=ice-options:trickle
a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=sendrecv
a=msid:stream track
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:3570614608 cname:4TOk42mSjXCkVIa6
""")

IPV6_OFFER = crlf("""
v=0
o=- 20518 0 IN IP6 2001:db8::1
s=-
c=IN IP6 2001:db8::1
t=0 0
m=audio 40000 RTP/AVP 0 101
a=rtpmap:101 telephone-event/8000
a=rtcp:40001 IN IP6 2001:db8::2
""")

# RFC 2543 hold: 0.0.0.0, and a video stream rejected with port 0.
OLD_HOLD = crlf("""
v=0
o=- 1 2 IN IP4 10.0.0.5
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 5004 RTP/AVP 8
m=video 0 RTP/AVP 31
""")

# RFC 3264 hold: direction at session level, overridden in one stream.
NEW_HOLD = crlf("""
v=0
o=- 1 3 IN IP4 10.0.0.5
s=-
c=IN IP4 10.0.0.5
t=0 0
a=sendonly
m=audio 5004 RTP/AVP 8
m=audio 5006 RTP/AVP 0
a=inactive
""")

# RFC 4566 §5 example plus every session-level field type, with SRTP and a key line.
EVERY_FIELD = crlf("""
v=0
o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5
s=SDP Seminar
i=A Seminar on the session description protocol
u=http://www.example.com/seminars/sdp.pdf
e=j.doe@example.com (Jane Doe)
p=+1 617 555-6011
c=IN IP4 224.2.17.12/127
b=CT:128
t=2873397496 2873404696
r=604800 3600 0 90000
t=0 0
z=2882844526 -1h 2898848070 0
k=prompt
a=recvonly
m=audio 49170/2 RTP/SAVP 0
i=main audio
c=IN IP6 FF15::101/3
b=AS:64
b=TIAS:64000
k=prompt
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4
m=video 51372 RTP/AVP 99
a=rtpmap:99 h263-1998/90000
a=orient:
""")

GOLDEN = [
    SIPP_OFFER,
    BARESIP_OFFER,
    LINPHONE_OFFER,
    CHROME_OFFER,
    IPV6_OFFER,
    OLD_HOLD,
    NEW_HOLD,
    EVERY_FIELD,
]


@pytest.mark.parametrize("data", GOLDEN)
def test_golden_round_trips_byte_for_byte(data: bytes) -> None:
    assert SessionDescription.parse(data).serialize() == data


@pytest.mark.parametrize("data", GOLDEN)
def test_lf_only_and_str_input_parse_the_same(data: bytes) -> None:
    expected = SessionDescription.parse(data)
    lf_only = data.replace(b"\r\n", b"\n")
    assert SessionDescription.parse(lf_only) == expected
    assert SessionDescription.parse(data.decode()) == expected
    assert SessionDescription.parse(lf_only + b"\n\n") == expected  # trailing blank lines


def test_session_fields() -> None:
    sdp = SessionDescription.parse(EVERY_FIELD)
    assert sdp.origin == Origin("jdoe", 2890844526, 2890842807, "IN", "IP4", "10.47.16.5")
    assert sdp.session_name == "SDP Seminar"
    assert sdp.emails == ["j.doe@example.com (Jane Doe)"]
    assert sdp.connection == Connection("224.2.17.12", "IP4", "IN", ttl=127)
    assert sdp.bandwidths == [Bandwidth("CT", 128)]
    assert sdp.timings == [Timing(2873397496, 2873404696, ["604800 3600 0 90000"]), Timing()]
    assert sdp.direction is Direction.RECVONLY
    audio, video = sdp.media
    assert (audio.port, audio.port_count, audio.proto) == (49170, 2, "RTP/SAVP")
    assert audio.connection == Connection("FF15::101", "IP6", "IN", count=3)
    assert audio.title == "main audio"
    assert audio.crypto == [
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4"
    ]
    assert video.attributes[-1] == ("orient", "")  # `a=name:` is not the property `a=name`


def test_media_helpers_on_linphone_offer() -> None:
    sdp = SessionDescription.parse(LINPHONE_OFFER)
    (audio,) = sdp.media
    assert audio.payload_types == [96, 97, 98, 0, 8, 18, 101, 99, 100]
    assert audio.rtpmap(96) == RtpMap(96, "opus", 48000, "2")
    assert RtpMap(96, "opus", 48000, "2").channels == 2
    assert RtpMap(0, "PCMU", 8000).channels == 1
    assert audio.rtpmap(0) is None  # static payload type without rtpmap
    assert audio.fmtp(18) == "annexb=yes"
    assert audio.fmtp(0) is None
    assert audio.ptime is None
    assert audio.direction is None
    assert sdp.media_direction(audio) is Direction.SENDRECV
    assert sdp.media_connection(audio) == Connection("192.168.0.10")
    assert sdp.attribute("record") == "off"
    assert sdp.attribute_values("rtcp-xr") == [
        "rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics"
    ]
    assert audio.attribute_values("rtcp-fb") == ["* trr-int 1000", "* ccm tmmbr"]


def test_media_helpers_on_baresip_offer() -> None:
    (audio,) = SessionDescription.parse(BARESIP_OFFER).media
    assert audio.ptime == 20
    assert audio.rtcp_mux
    assert audio.bandwidths == [Bandwidth("AS", 82)]
    assert audio.direction is Direction.SENDRECV
    assert audio.has_attribute("rtcp-rsize")
    assert audio.attribute("rtcp-rsize") is None


def test_webrtc_lines_are_kept_verbatim() -> None:
    sdp = SessionDescription.parse(CHROME_OFFER)
    (audio,) = sdp.media
    assert sdp.connection is None
    assert sdp.media_connection(audio) == Connection("0.0.0.0")
    assert sdp.attribute("msid-semantic") == " WMS stream"
    assert audio.mid == "0"
    assert audio.attribute("setup") == "actpass"
    assert (audio.attribute("fingerprint") or "").startswith("sha-256 49:66")
    assert len(audio.candidates) == 2
    assert audio.candidates[1].endswith("tcptype active generation 0")
    assert audio.rtcp == RtcpAttribute(9, Connection("0.0.0.0"))


def test_ipv6_and_rtcp_attribute() -> None:
    sdp = SessionDescription.parse(IPV6_OFFER)
    assert sdp.connection == Connection("2001:db8::1", "IP6")
    assert sdp.media[0].rtcp == RtcpAttribute(40001, Connection("2001:db8::2", "IP6"))
    assert address_type("2001:db8::1") == "IP6"
    assert address_type("192.0.2.1") == "IP4"
    assert address_type("pbx.example.com") == "IP4"
    assert Connection.for_address("::1") == Connection("::1", "IP6")


def test_hold_styles_and_rejected_stream() -> None:
    old = SessionDescription.parse(OLD_HOLD)
    assert old.connection is not None and old.connection.is_unspecified
    assert [m.is_rejected for m in old.media] == [False, True]
    new = SessionDescription.parse(NEW_HOLD)
    assert [new.media_direction(m) for m in new.media] == [Direction.SENDONLY, Direction.INACTIVE]
    assert new.connection is not None and not new.connection.is_unspecified


def test_rtcp_attribute_port_only_and_malformed() -> None:
    assert RtcpAttribute.parse("53020") == RtcpAttribute(53020)
    assert str(RtcpAttribute(53020, Connection("126.16.64.4"))) == "53020 IN IP4 126.16.64.4"
    assert RtcpAttribute.parse("x") is None
    assert RtcpAttribute.parse("70000") is None
    assert RtcpAttribute.parse("5 IN IP4") is None


def test_rtpmap_malformed_values_are_ignored() -> None:
    assert RtpMap.parse("96 opus") is None
    assert RtpMap.parse("x PCMU/8000") is None
    assert RtpMap.parse("0 PCMU/fast") is None
    media = MediaDescription("audio", 1, "RTP/AVP", ["96"], attributes=[("rtpmap", "96 junk")])
    assert media.rtpmaps() == {}


def test_ptime_values() -> None:
    media = MediaDescription("audio", 1, "RTP/AVP", ["0"], attributes=[("ptime", "20.0")])
    assert media.ptime == 20
    media.attributes = [("ptime", "soon"), ("maxptime", "40")]
    assert media.ptime is None
    assert media.maxptime == 40
    media.attributes = [("ptime", "-5")]
    assert media.ptime is None


def test_direction_algebra() -> None:
    assert Direction.SENDONLY.reversed() is Direction.RECVONLY
    assert Direction.INACTIVE.reversed() is Direction.INACTIVE
    assert Direction.SENDRECV.intersect(Direction.SENDONLY) is Direction.SENDONLY
    assert Direction.RECVONLY.intersect(Direction.SENDONLY) is Direction.INACTIVE
    assert Direction.from_flags(send=False, receive=True) is Direction.RECVONLY


def test_set_direction_and_attribute_editing() -> None:
    media = MediaDescription("audio", 1, "RTP/AVP", ["0"], attributes=[("sendrecv", None)])
    media.set_direction(Direction.INACTIVE)
    assert media.attributes == [("inactive", None)]
    media.add_attribute("ptime", "30")
    media.remove_attribute("ptime")
    media.set_direction(None)
    assert media.attributes == []


def test_copy_is_deep() -> None:
    sdp = SessionDescription.parse(BARESIP_OFFER)
    clone = sdp.copy()
    clone.media[0].add_attribute("x-extra")
    assert clone != sdp
    assert not sdp.media[0].has_attribute("x-extra")


def test_lenient_input() -> None:
    # Session fields out of order, no t=, unknown attributes, extra spaces in m= and c=.
    data = (
        b"v=0\ns=-\no=- 1 1 IN IP4 1.1.1.1\nc=IN  IP4  1.1.1.1\n"
        b"m=audio  4000 RTP/AVP 0 \na=x-vendor-thing:1\n"
    )
    sdp = SessionDescription.parse(data)
    assert sdp.timings == []
    assert sdp.media[0].formats == ["0"]
    assert sdp.media[0].attribute("x-vendor-thing") == "1"
    assert b"t=" not in sdp.serialize()


def test_latin1_session_name_is_accepted() -> None:
    data = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=Caf\xe9\r\n".encode("latin-1")
    assert SessionDescription.parse(data).session_name == "Caf\xe9"


def test_rejected_stream_without_formats() -> None:
    sdp = SessionDescription.parse(b"v=0\no=- 1 1 IN IP4 1.1.1.1\ns=-\nm=video 0 RTP/AVP\n")
    assert sdp.media[0].formats == []
    assert sdp.serialize().endswith(b"m=video 0 RTP/AVP\r\n")


HEAD = "v=0\no=- 1 1 IN IP4 1.1.1.1\ns=-\n"


@pytest.mark.parametrize(
    ("text", "line_number", "fragment"),
    [
        ("o=- 1 1 IN IP4 1.1.1.1\ns=-\n", 1, "starts with v="),
        ("v=1\no=- 1 1 IN IP4 1.1.1.1\ns=-\n", 1, "unsupported SDP version"),
        (HEAD + "m=audio 70000 RTP/AVP 0\n", 4, "bad port"),
        (HEAD + "m=audio -1 RTP/AVP 0\n", 4, "bad port"),
        (HEAD + "m=audio RTP/AVP 0\n", 4, "bad port"),
        (HEAD + "m=audio 4000/0 RTP/AVP 0\n", 4, "number of ports"),
        (HEAD + "m=audio 4000\n", 4, "bad m= line"),
        (HEAD + "m=audio \u00b2 RTP/AVP 0\n", 4, "bad port"),
        (HEAD + "c=IN IP4\n", 4, "c= needs 3 fields"),
        (HEAD + "c=IN IP4 1.1.1.1/x\n", 4, "bad connection address"),
        (HEAD + "c=IN IP6 ff15::1/3/4\n", 4, "no TTL"),
        (HEAD + "b=AS\n", 4, "b= must be"),
        (HEAD + "t=0\n", 4, "t= must be"),
        (HEAD + "r=7d 1h 0 25h\n", 4, "before any t="),
        (HEAD + "x=whatever\n", 4, "unknown line type"),
        (HEAD + "hello\n", 4, "expected <type>=<value>"),
        (HEAD + "a=:value\n", 4, "empty attribute name"),
        (HEAD + "o=- 1 1 IN IP4 1.1.1.1\n", 4, "repeated o="),
        (HEAD + "s=again\n", 4, "repeated s="),
        (HEAD + "c=IN IP4 1.1.1.1\nc=IN IP4 1.1.1.2\n", 5, "repeated c="),
        (HEAD + "m=audio 1 RTP/AVP 0\nc=IN IP4 1.1.1.1\nc=IN IP4 1.1.1.2\n", 6, "repeated c="),
        (HEAD + "m=audio 1 RTP/AVP 0\nt=0 0\n", 5, "inside a media description"),
        ("v=0\no=- x 1 IN IP4 1.1.1.1\ns=-\n", 2, "must be numbers"),
        ("v=0\no=- 1 1 IN IP4\ns=-\n", 2, "6 fields"),
        ("v=0\n\n\no=- 1 1 IN IP4\ns=-\n", 4, "6 fields"),  # blank lines still count
    ],
)
def test_structural_errors_name_the_line(text: str, line_number: int, fragment: str) -> None:
    with pytest.raises(SdpError) as info:
        SessionDescription.parse(text)
    error = info.value
    assert error.line_number == line_number
    assert error.line == text.split("\n")[line_number - 1]
    assert fragment in str(error)
    assert f"line {line_number}:" in str(error)
    assert error.status_code == 400


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("v=0\ns=-\n", "o="),
        ("v=0\no=- 1 1 IN IP4 1.1.1.1\n", "s="),
        ("", "v="),
        ("\r\n\r\n", "v="),
    ],
)
def test_missing_mandatory_lines(text: str, missing: str) -> None:
    with pytest.raises(SdpError, match=f"missing {missing} line"):
        SessionDescription.parse(text)


KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"


def test_keys_never_reach_error_messages() -> None:
    text = HEAD + f"k=base64:{KEY}\nk=base64:{KEY}\n"
    with pytest.raises(SdpError) as info:
        SessionDescription.parse(text)
    assert info.value.line_number == 5
    assert KEY not in str(info.value) and KEY not in repr(info.value.line)
    error = SdpError("bad", 9, f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}")
    assert KEY not in str(error)
    assert "a=crypto:<redacted>" in str(error)


def test_keys_never_reach_reprs() -> None:
    sdp = SessionDescription.parse(EVERY_FIELD)
    sdp.add_attribute("ice-pwd", "hunter2hunter2")
    text = repr(sdp)
    assert "WVNfX19" not in text
    assert "hunter2" not in text
    assert "prompt" not in text
    assert "SDP Seminar" in text


def test_long_offending_lines_are_shortened() -> None:
    error = SdpError("bad", 1, "a=" + "x" * 5000)
    assert len(str(error)) < 300


def test_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(SdpError("missing v= line")))
    assert str(error) == "missing v= line"


# --- properties --------------------------------------------------------------------------------

_TOKEN = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="/:"),
    min_size=1,
    max_size=12,
)
# Free text: anything but line ends (CR, LF) and lone surrogates.
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=20,
)
_NUMBER = st.integers(min_value=0, max_value=2**64)


@st.composite
def _connections(draw: st.DrawFn) -> Connection:
    address = draw(_TOKEN)
    if draw(st.booleans()):
        count = draw(st.none() | st.integers(1, 255))
        return Connection(address, "IP6", "IN", None, count)
    ttl = draw(st.none() | st.integers(0, 255))
    count = draw(st.integers(1, 255)) if ttl is not None and draw(st.booleans()) else None
    return Connection(address, "IP4", draw(st.sampled_from(["IN", "ATM"])), ttl, count)


_ATTRIBUTES = st.lists(st.tuples(_TOKEN, st.none() | _TEXT), max_size=5)
_BANDWIDTHS = st.lists(st.builds(Bandwidth, _TOKEN, _NUMBER), max_size=2)


@st.composite
def _media(draw: st.DrawFn) -> MediaDescription:
    return MediaDescription(
        media=draw(_TOKEN),
        port=draw(st.integers(0, 65535)),
        proto=draw(st.sampled_from(["RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", "udp"])),
        formats=draw(st.lists(_TOKEN, max_size=5)),
        port_count=draw(st.none() | st.integers(1, 8)),
        title=draw(st.none() | _TEXT),
        connection=draw(st.none() | _connections()),
        bandwidths=draw(_BANDWIDTHS),
        key=draw(st.none() | _TEXT),
        attributes=draw(_ATTRIBUTES),
    )


@st.composite
def _descriptions(draw: st.DrawFn) -> SessionDescription:
    origin = Origin(
        draw(_TOKEN),
        draw(_NUMBER),
        draw(_NUMBER),
        "IN",
        draw(st.sampled_from(["IP4", "IP6"])),
        draw(_TOKEN),
    )
    timings = draw(
        st.lists(st.builds(Timing, _NUMBER, _NUMBER, st.lists(_TEXT, max_size=2)), max_size=2)
    )
    return SessionDescription(
        origin=origin,
        session_name=draw(_TEXT),
        information=draw(st.none() | _TEXT),
        uri=draw(st.none() | _TEXT),
        emails=draw(st.lists(_TEXT, max_size=2)),
        phones=draw(st.lists(_TEXT, max_size=2)),
        connection=draw(st.none() | _connections()),
        bandwidths=draw(_BANDWIDTHS),
        timings=timings,
        time_zones=draw(st.none() | _TEXT),
        key=draw(st.none() | _TEXT),
        attributes=draw(_ATTRIBUTES),
        media=draw(st.lists(_media(), max_size=3)),
    )


@given(_descriptions())
def test_parse_inverts_serialize(sdp: SessionDescription) -> None:
    data = sdp.serialize()
    assert SessionDescription.parse(data) == sdp
    assert SessionDescription.parse(data).serialize() == data


@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_raise_sdp_error(data: bytes) -> None:
    with contextlib.suppress(SdpError):
        SessionDescription.parse(data)


_LINES = st.lists(
    st.tuples(st.sampled_from("vosiuepcbtrzkamx"), _TEXT).map(lambda kv: f"{kv[0]}={kv[1]}"),
    max_size=12,
)


@given(_LINES)
def test_arbitrary_lines_after_a_valid_head_parse_or_raise_sdp_error(lines: list[str]) -> None:
    text = HEAD + "\n".join(lines)
    try:
        sdp = SessionDescription.parse(text)
    except SdpError as error:
        assert error.line_number is not None
        return
    assert SessionDescription.parse(sdp.serialize()) == sdp
