"""RTP packets (RFC 3550 §5.1): golden vectors, header fields, invalid input, counter arithmetic."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtp import (
    RTP_HEADER_SIZE,
    RtpError,
    RtpPacket,
    is_rtcp,
    seq_add,
    seq_diff,
    ts_add,
    ts_diff,
)

# Captured packets, as published with the test suites of pion/rtp (packet_test.go) and
# olivermichel/webrtc-analysis (Wireshark-dissected WebRTC traffic).
PION_MARKER_EXTENSION = bytes.fromhex("90e0698f d9c293da 1c642782 00010001 ffffffff 9836be889e")
WEBRTC_ONE_BYTE_EXTENSIONS = bytes.fromhex(
    "902d1a5f d4090549 f7b16e83 bede0003 22f34350 41009bd2 81004500"
)
WEBRTC_TWO_BYTE_EXTENSIONS = bytes.fromhex(
    "902d61c5 950a0fee 8d3814e5 10000011 020303f7 ae040200 02090130 03010006"
    "0102070d 01000100 07000700 0a000000 000d21c0 00018003 187aaaf1 30a0a014"
    "d1413823 04600864 22222650 09f00770 13f00ef0"
)
# Hand-assembled after the §5.1 layout: a G.711 packet from a mixer with two CSRCs, and a
# padded packet (zero padding octets ending with their count, as senders write it).
MIXED_PCMU = bytes.fromhex("82003ed2 00000090 4bd21a5b abcdef01 deadbeef") + b"\xff" * 160
PADDED_PCMA = bytes.fromhex("a0081234 00001f40 00c0ffee") + b"\xd5" * 160 + bytes(3) + b"\x04"
PADDING_ONLY = bytes.fromhex("a0786c6f f10a0c1b 7a9e5b0d") + bytes(223) + b"\xe0"

GOLDEN = {
    "marker-extension": PION_MARKER_EXTENSION,
    "one-byte-extensions": WEBRTC_ONE_BYTE_EXTENSIONS,
    "two-byte-extensions": WEBRTC_TWO_BYTE_EXTENSIONS,
    "csrc": MIXED_PCMU,
    "padding": PADDED_PCMA,
    "padding-only": PADDING_ONLY,
}


@pytest.mark.parametrize("data", GOLDEN.values(), ids=GOLDEN.keys())
def test_golden_vectors_round_trip_byte_for_byte(data: bytes) -> None:
    packet = RtpPacket.parse(data)
    assert packet.serialize() == data
    assert bytes(packet) == data


def test_marker_and_extension_fields() -> None:
    packet = RtpPacket.parse(PION_MARKER_EXTENSION)
    assert packet == RtpPacket(
        payload_type=96,
        sequence_number=27023,
        timestamp=3653407706,
        ssrc=476325762,
        payload=bytes.fromhex("9836be889e"),
        marker=True,
        extension_profile=1,
        extension_data=b"\xff\xff\xff\xff",
    )


def test_extension_without_payload() -> None:
    packet = RtpPacket.parse(WEBRTC_ONE_BYTE_EXTENSIONS)
    assert (packet.payload_type, packet.sequence_number, packet.timestamp) == (45, 6751, 3557360969)
    assert packet.ssrc == 0xF7B16E83
    assert packet.extension_profile == 0xBEDE
    assert len(packet.extension_data) == 12
    assert packet.payload == b""
    assert not packet.marker

    two_byte = RtpPacket.parse(WEBRTC_TWO_BYTE_EXTENSIONS)
    assert two_byte.extension_profile == 0x1000
    assert len(two_byte.extension_data) == 17 * 4


def test_csrc_list() -> None:
    packet = RtpPacket.parse(MIXED_PCMU)
    assert packet.csrc == (0xABCDEF01, 0xDEADBEEF)
    assert (packet.payload_type, packet.sequence_number, packet.timestamp) == (0, 16082, 144)
    assert len(packet.payload) == 160


def test_padding_is_not_payload() -> None:
    packet = RtpPacket.parse(PADDED_PCMA)
    assert packet.padding_size == 4
    assert packet.payload == b"\xd5" * 160
    only = RtpPacket.parse(PADDING_ONLY)
    assert (only.payload, only.padding_size, only.payload_type) == (b"", 224, 120)


def test_built_packet_layout() -> None:
    packet = RtpPacket(0, 1, 160, 0x11223344, b"\x7f" * 4, marker=True, csrc=(5,))
    data = packet.serialize()
    assert data[:2] == b"\x81\x80"  # V=2, CC=1; M set, PT 0
    assert data[2:12] == bytes.fromhex("0001 000000a0 11223344")
    assert data[12:16] == b"\x00\x00\x00\x05"
    assert data[16:] == b"\x7f" * 4
    assert len(RtpPacket(8, 0, 0, 0).serialize()) == RTP_HEADER_SIZE


def test_with_header_renumbers_only_the_header() -> None:
    packet = RtpPacket.parse(MIXED_PCMU)
    moved = packet.with_header(sequence_number=7, timestamp=8, ssrc=9)
    assert (moved.sequence_number, moved.timestamp, moved.ssrc) == (7, 8, 9)
    assert moved.payload == packet.payload and moved.csrc == packet.csrc


# --- invalid input --------------------------------------------------------------------------

INVALID = {
    "empty": b"",
    "eleven bytes": PION_MARKER_EXTENSION[:11],
    "version 0": bytes.fromhex("00102345 12344567 ccddeeff 00112233 44556677"),
    "version 3": b"\xc0" + MIXED_PCMU[1:],
    "csrc list truncated": MIXED_PCMU[:16],
    "extension header missing": bytes.fromhex("9060698f d9c293da 1c642782"),
    "extension longer than packet": bytes.fromhex("9060698f d9c293da 1c642782 99999999"),
    "padding count zero": PADDED_PCMA[:-1] + b"\x00",
    "padding longer than packet": bytes.fromhex("a0081234 00001f40 00c0ffee 0005"),
}


@pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
def test_invalid_packets_raise_rtp_error(data: bytes) -> None:
    with pytest.raises(RtpError):
        RtpPacket.parse(data)


@pytest.mark.parametrize("data", GOLDEN.values(), ids=GOLDEN.keys())
def test_truncations_are_refused_or_cut_the_payload(data: bytes) -> None:
    packet = RtpPacket.parse(data)
    header_end = len(data) - len(packet.payload) - packet.padding_size
    for end in range(len(data)):
        try:
            cut = RtpPacket.parse(data[:end])
        except RtpError:
            continue
        # Only a cut inside the payload of an unpadded packet leaves a valid packet.
        assert packet.padding_size == 0
        assert end >= header_end
        assert cut == replace(packet, payload=data[header_end:end])


@pytest.mark.parametrize(
    "packet",
    [
        RtpPacket(0, 0, 0, 0, csrc=tuple(range(16))),
        RtpPacket(0, 0, 0, 0, extension_profile=1, extension_data=b"abc"),
        RtpPacket(0, 0, 0, 0, padding_size=256),
        RtpPacket(0, 0, 0, 0, padding_size=-1),
    ],
    ids=["16 csrc", "extension not words", "padding too long", "negative padding"],
)
def test_unserializable_packets_raise_rtp_error(packet: RtpPacket) -> None:
    with pytest.raises(RtpError):
        packet.serialize()


# --- demultiplexing and counters ------------------------------------------------------------


def test_rtcp_is_told_apart_by_payload_type_byte() -> None:
    assert is_rtcp(bytes.fromhex("81c90007"))  # RR
    assert is_rtcp(bytes.fromhex("80c80006"))  # SR
    assert not is_rtcp(MIXED_PCMU)
    assert not is_rtcp(PION_MARKER_EXTENSION)  # PT 96 with marker: 0xe0
    assert not is_rtcp(b"\x80")


def test_sequence_wrap_around() -> None:
    assert seq_add(65535, 1) == 0
    assert seq_add(65530, 10) == 4
    assert seq_diff(0, 65535) == 1
    assert seq_diff(65535, 0) == -1
    assert seq_diff(5, 5) == 0
    assert seq_diff(32767, 0) == 32767
    assert seq_diff(32768, 0) == -32768


def test_timestamp_wrap_around() -> None:
    assert ts_add(0xFFFF_FFFF, 160) == 159
    assert ts_diff(159, 0xFFFF_FFFF) == 160
    assert ts_diff(0xFFFF_FFFF, 159) == -160
    assert ts_diff(0x8000_0000, 0) == -0x8000_0000


@given(st.integers(0, 0xFFFF), st.integers(-0x8000, 0x7FFF))
def test_seq_add_then_diff_recovers_the_step(start: int, step: int) -> None:
    assert seq_diff(seq_add(start, step), start) == step


@given(st.integers(0, 0xFFFF_FFFF), st.integers(-0x8000_0000, 0x7FFF_FFFF))
def test_ts_add_then_diff_recovers_the_step(start: int, step: int) -> None:
    assert ts_diff(ts_add(start, step), start) == step


# --- properties -----------------------------------------------------------------------------

packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFF_FFFF),
    ssrc=st.integers(0, 0xFFFF_FFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFF_FFFF), max_size=15).map(tuple),
    extension_profile=st.none() | st.integers(0, 0xFFFF),
    extension_data=st.binary(max_size=16).map(lambda b: b[: len(b) - len(b) % 4]),
    padding_size=st.integers(0, 255),
)


@given(packets)
def test_parse_of_serialize_is_identity(packet: RtpPacket) -> None:
    if packet.extension_profile is None:
        packet = replace(packet, extension_data=b"")  # no extension header to carry it
    assert RtpPacket.parse(packet.serialize()) == packet


@given(st.binary(max_size=64))
def test_arbitrary_bytes_parse_or_raise_rtp_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert RtpPacket.parse(packet.serialize()) == packet
