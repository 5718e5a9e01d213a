"""RTCP packets (RFC 3550 §6): golden vectors, invalid input, compound rules, NTP arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtcp import (
    NTP_UNIX_OFFSET,
    ReportBlock,
    RtcpApp,
    RtcpBye,
    RtcpError,
    RtcpPacket,
    RtcpReceiverReport,
    RtcpSenderReport,
    RtcpSourceDescription,
    RtcpUnknown,
    SdesChunk,
    SdesItem,
    SdesType,
    SenderInfo,
    ntp_from_unix,
    ntp_middle_32,
    parse_compound,
    parse_packet,
    parse_packets,
    round_trip_time,
    serialize_compound,
    unix_from_ntp,
)

# Packets captured from real endpoints, as published with the test suites of QXmpp
# (tests/qxmpprtcppacket), pion/rtcp (packet_test.go), dpkt (rtp tests), shtoom and
# ZLMediaKit. Each must parse and serialize back to the same bytes.
QXMPP_BYE = bytes.fromhex("81cb000133425619")
QXMPP_BYE_REASON = bytes.fromhex("81cb0003334256190462796521000000")
QXMPP_RR = bytes.fromhex("81c9000741f3bca22886dfa00000000000005eb90000001000000000fffbdae2")
QXMPP_SR = bytes.fromhex("80c8000627a6e4c1d97fec7d92acd9e8dd9e32570000007400004880")
QXMPP_SR_WITH_BLOCK = bytes.fromhex(
    "81c8000c3efeb4decf80b8156fd6542c0000014000000003000001e0"
    "81bc22520000000000007db50000002500000000fffbd605"
)
QXMPP_SDES = bytes.fromhex(
    "81ca000c27a6e4c101267b64303361376334382d643930362d346239612d39383230"
    "2d3131313830326463643537387d00000000"
)
DPKT_SR = bytes.fromhex(
    "81c8000c 28aa3478 e6a25fa9 2903d32f 00008700 00000009 000000d2 58fef557"
    "00000000 00003ab4 00000311 5fa88709 00006b75"
)
DPKT_RR = bytes.fromhex("81c90007 28aa3478 58fef557 00000000 00003aaa 00000000 5fa80ba7 00005037")
DPKT_XR = bytes.fromhex(
    "81cf001b 58fef557 04000002 e6a25faa 714e01af 05000003 28aa3478 5fa92904"
    "00016935 06e00009 28aa3478 2a132a1a 00000000 00000000 00000051 000002ff"
    "000001bf 000000dd 00000000 07000008 28aa3478 00000000 00000000 004801aa"
    "7f7f7f10 7f7f7f7f b7000078 007805dc"
)
PION_COMPOUND = bytes.fromhex(
    "81c90007 902f9e2e bc5e9a40 00000000 000046e1 00000111 09f36432 00024a79"
    "81ca000c 902f9e2e 01267b39 63303065 6239322d 31616662 2d396434 392d6134"
    "37642d39 31663634 65656536 3966357d 00000000 81cb0001 902f9e2e 81ce0002"
    "902f9e2e 902f9e2e 85cd0002 902f9e2e 902f9e2e 80cc0003 4baae1ab 4e414d45"
    "41424344"
)
SHTOOM_COMPOUND = (
    b"\x81\xc9\x00\x07\x03\xe2)\xfa\xb5\x96\x9d\xdd\x06\x00\x00\x18\x00\x00\xdd8"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x81\xca\x00\x07\x03\xe2)\xfa\x01\x140.0.0@192.168.41.250\x00\x00"
    b"\x81\xcb\x00\x01\x03\xe2)\xfa"
)
ZLM_SDES_RR_SR = bytes.fromhex(
    "81ca0005 70d8ac1b 010b7a73 68504340 7a736850 43000000 81c90007 70d8ac1b"
    "55667788 00000000 00000d21 00000032 ddf10000 00034f67 80c80006 55667788"
    "e370ddf1 0000c2b8 0021e490 00000b81 002f6a60"
)
SYMBIAN_SR_SDES = bytes.fromhex(
    "80C80006DEADBEEFC7B1ACD423FE000000E12F18000000010000020081CA0015DEADBEEF010A5274"
    "7055492075736572020455736572030D7573657240686F6D652E6E6574040B2B313233343536"
    "373839300504486F6D65060B527470206578616D706C65070641637469766508010000000000"
)
TWCC_PADDED = bytes.fromhex(
    "afcd0007 00000001 dd586eb6 00010009 5e911000 20091c0c 2c380004 00081801"
)

GOLDEN = [
    QXMPP_BYE,
    QXMPP_BYE_REASON,
    QXMPP_RR,
    QXMPP_SR,
    QXMPP_SR_WITH_BLOCK,
    QXMPP_SDES,
    DPKT_SR,
    DPKT_RR,
    DPKT_XR,
    PION_COMPOUND,
    SHTOOM_COMPOUND,
    ZLM_SDES_RR_SR,
    SYMBIAN_SR_SDES,
    TWCC_PADDED,
]


@pytest.mark.parametrize("data", GOLDEN, ids=range(len(GOLDEN)))
def test_golden_vectors_round_trip_byte_for_byte(data: bytes) -> None:
    packets = parse_packets(data)
    assert serialize_compound(packets) == data
    assert b"".join(bytes(p) for p in packets) == data


def test_receiver_report_fields() -> None:
    packet = parse_packet(QXMPP_RR)
    assert packet == RtcpReceiverReport(
        ssrc=1106492578,
        reports=(
            ReportBlock(
                ssrc=679927712,
                fraction_lost=0,
                cumulative_lost=0,
                highest_sequence=0x5EB9,
                jitter=16,
                lsr=0,
                dlsr=4294695650,
            ),
        ),
    )


def test_sender_report_fields() -> None:
    packet = parse_packet(QXMPP_SR)
    assert isinstance(packet, RtcpSenderReport)
    assert packet.ssrc == 665248961
    assert packet.sender_info == SenderInfo(15672505252348484072, 3718132311, 116, 18560)
    assert packet.reports == ()


def test_sender_report_with_a_block() -> None:
    packet = parse_packet(DPKT_SR)
    assert isinstance(packet, RtcpSenderReport)
    assert packet.ssrc == 0x28AA3478
    assert packet.sender_info.ntp_timestamp >> 32 == 3869401001
    assert packet.sender_info.ntp_timestamp & 0xFFFFFFFF == 688116527
    assert (packet.sender_info.packet_count, packet.sender_info.octet_count) == (9, 210)
    (block,) = packet.reports
    assert block == ReportBlock(0x58FEF557, 0, 0, 15028, 785, 1604880137, 27509)


def test_shtoom_compound_reports_loss() -> None:
    rr, sdes, bye = parse_compound(SHTOOM_COMPOUND)
    assert isinstance(rr, RtcpReceiverReport)
    assert rr.reports[0].fraction_lost == 6
    assert rr.reports[0].cumulative_lost == 24
    assert isinstance(sdes, RtcpSourceDescription)
    assert sdes.chunks[0].cname == "0.0.0@192.168.41.250"
    assert bye == RtcpBye((rr.ssrc,))


def test_sdes_items_of_every_kind() -> None:
    _, sdes = parse_compound(SYMBIAN_SR_SDES)
    assert isinstance(sdes, RtcpSourceDescription)
    items = {SdesType(item.type): item.value for item in sdes.chunks[0].items}
    assert items[SdesType.CNAME] == b"RtpUI user"
    assert items[SdesType.EMAIL] == b"user@home.net"
    assert items[SdesType.PHONE] == b"+1234567890"
    assert items[SdesType.NOTE] == b"Active"
    assert items[SdesType.PRIV] == b"\x00"


def test_bye_with_reason() -> None:
    assert parse_packet(QXMPP_BYE_REASON) == RtcpBye((859985433,), "bye!")
    assert bytes(RtcpBye((859985433,), "bye!")) == QXMPP_BYE_REASON


def test_unknown_types_are_kept_whole() -> None:
    packets = parse_compound(PION_COMPOUND)
    kinds = [type(p) for p in packets]
    assert kinds == [
        RtcpReceiverReport,
        RtcpSourceDescription,
        RtcpBye,
        RtcpUnknown,
        RtcpUnknown,
        RtcpApp,
    ]
    assert isinstance(packets[3], RtcpUnknown)
    assert packets[3].packet_type == 206
    assert packets[5] == RtcpApp(0, 0x4BAAE1AB, b"NAME", b"ABCD")


def test_negative_cumulative_lost_is_signed_24_bit() -> None:
    block = ReportBlock(ssrc=1, cumulative_lost=-5)
    data = bytes(RtcpReceiverReport(2, (block,)))
    assert data[13:16] == b"\xff\xff\xfb"
    parsed = parse_packet(data)
    assert isinstance(parsed, RtcpReceiverReport)
    assert parsed.reports[0].cumulative_lost == -5


@pytest.mark.parametrize(
    ("block", "field"),
    [
        (ReportBlock(1, cumulative_lost=0x800000), "cumulative"),
        (ReportBlock(1, cumulative_lost=-0x800001), "cumulative"),
        (ReportBlock(1, fraction_lost=256), "fraction"),
        (ReportBlock(1 << 32), "SSRC"),
    ],
)
def test_report_block_out_of_range_is_refused(block: ReportBlock, field: str) -> None:
    with pytest.raises(RtcpError, match=field):
        block.serialize()


def test_built_compound_report_parses_back() -> None:
    packets: list[RtcpPacket] = [
        RtcpSenderReport(
            0x11223344,
            SenderInfo(ntp_from_unix(1_700_000_000.25), 160, 10, 1600),
            (ReportBlock(0x55667788, 12, 30, 70000, 42, 0xB7052000, 0x54000),),
        ),
        RtcpSourceDescription.with_cname(0x11223344, "agent@callcenter"),
        RtcpBye((0x11223344,), "hangup"),
    ]
    data = serialize_compound(packets)
    assert len(data) % 4 == 0
    assert parse_compound(data) == packets


# --- invalid input --------------------------------------------------------------------------

INVALID = {
    "empty": b"",
    "short header": b"\x81\xc9\x00",
    "version 1": b"\x41\xc9\x00\x01\x00\x00\x00\x01",
    "length past datagram": bytes.fromhex("81c90064") + bytes(8),
    "RR shorter than its blocks": bytes.fromhex("81c9000141f3bca2"),
    "RR without SSRC": bytes.fromhex("80c90000"),
    "SR shorter than sender info": bytes.fromhex("80c8000327a6e4c1d97fec7d92acd9e8"),
    "SDES item past packet": bytes.fromhex("81ca000227a6e4c101ff0000"),
    "SDES chunk not terminated": bytes.fromhex("81ca0002 27a6e4c1 01024142"),
    "SDES chunk missing": bytes.fromhex("82ca000227a6e4c100000000"),
    "BYE missing SSRC": bytes.fromhex("82cb000133425619"),
    "BYE reason past packet": bytes.fromhex("81cb0002 33425619 09627965"),
    "APP without name": bytes.fromhex("80cc000133425619"),
    "padding count zero": bytes.fromhex("a1cb00023342561900000000"),
    "padding past body": bytes.fromhex("a1cb0002334256190000000f"),
    "APP data unaligned once unpadded": bytes.fromhex("a0cc0003 33425619 4e414d45 00000001"),
    "RR extension unaligned once unpadded": bytes.fromhex("a0c90002 33425619 00000002"),
}


@pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
def test_invalid_packets_raise_rtcp_error(data: bytes) -> None:
    with pytest.raises(RtcpError):
        parse_packets(data)


@pytest.mark.parametrize("data", GOLDEN, ids=range(len(GOLDEN)))
def test_every_truncation_is_refused(data: bytes) -> None:
    for end in range(len(data)):
        try:
            packets = parse_packets(data[:end])
        except RtcpError:
            continue
        # A cut at a packet boundary leaves valid packets: a prefix of the original.
        assert data.startswith(serialize_compound(packets))


def test_padded_known_packet_parses_without_its_padding() -> None:
    padded = bytes.fromhex("a1cb0002 33425619 00000004")  # BYE, 4 bytes of padding
    assert parse_packet(padded) == RtcpBye((0x33425619,))


# --- compound rules (Appendix A.2) ----------------------------------------------------------


@pytest.mark.parametrize(
    "data", [QXMPP_BYE, QXMPP_SDES, DPKT_XR, ZLM_SDES_RR_SR], ids=["bye", "sdes", "xr", "sdes-rr"]
)
def test_compound_must_start_with_a_report(data: bytes) -> None:
    parse_packets(data)  # fine as reduced-size RTCP
    with pytest.raises(RtcpError, match="SR or RR"):
        parse_compound(data)


def test_compound_padding_only_in_the_last_packet() -> None:
    rr = bytearray(bytes(RtcpReceiverReport(1)) + bytes(4))
    rr[0] |= 0x20
    rr[3] += 1
    rr[-1] = 4  # a valid padded RR of 4 padding bytes
    bye = bytes(RtcpBye((1,)))
    with pytest.raises(RtcpError, match="padding"):
        parse_compound(bytes(rr) + bye)
    padded_bye = bytearray(bye + b"\x00\x00\x00\x04")
    padded_bye[0] |= 0x20
    padded_bye[3] += 1
    packets = parse_compound(bytes(RtcpReceiverReport(1)) + bytes(padded_bye))
    assert packets == [RtcpReceiverReport(1), RtcpBye((1,))]


def test_compound_length_must_be_whole_words() -> None:
    with pytest.raises(RtcpError, match="multiple of 32 bits"):
        parse_compound(QXMPP_RR + b"\x00")


def test_compound_with_trailing_garbage_is_refused() -> None:
    with pytest.raises(RtcpError):
        parse_compound(QXMPP_RR + b"\x00\x00\x00\x00")


def test_parse_packet_wants_exactly_one() -> None:
    with pytest.raises(RtcpError, match="one RTCP packet"):
        parse_packet(SHTOOM_COMPOUND)


# --- NTP ------------------------------------------------------------------------------------


def test_ntp_conversions() -> None:
    assert ntp_from_unix(0.0) == NTP_UNIX_OFFSET << 32
    assert ntp_from_unix(1.5) == ((NTP_UNIX_OFFSET + 1) << 32) | 0x8000_0000
    assert unix_from_ntp(ntp_from_unix(1_700_000_000.125)) == pytest.approx(1_700_000_000.125)
    assert ntp_middle_32(0x1122_3344_5566_7788) == 0x3344_5566


def test_round_trip_time_example_of_section_6_4_1() -> None:
    # A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s), DLSR = 0x0005:4000 (5.250 s)
    assert round_trip_time(0xB7108000, 0xB7052000, 0x00054000) == pytest.approx(6.125)


def test_round_trip_time_without_sender_report_is_unknown() -> None:
    assert round_trip_time(0xB7108000, 0, 0) is None


def test_round_trip_time_across_the_32_bit_wrap() -> None:
    assert round_trip_time(0x0000_8000, 0xFFFF_8000, 0x0000_8000) == pytest.approx(0.5)


def test_round_trip_time_rounding_below_zero_reads_zero_but_nonsense_is_refused() -> None:
    assert round_trip_time(0x1000_0000, 0x1000_0000, 3) == 0.0
    assert round_trip_time(0x1000_0000, 0x0FFF_0000, 0x0002_0000) is None


# --- properties -----------------------------------------------------------------------------

u32 = st.integers(0, 0xFFFF_FFFF)
blocks = st.builds(
    ReportBlock,
    u32,
    st.integers(0, 255),
    st.integers(-0x800000, 0x7FFFFF),
    u32,
    u32,
    u32,
    u32,
)
block_lists = st.lists(blocks, max_size=31).map(tuple)
extensions = st.binary(max_size=16).map(lambda b: b[: len(b) - len(b) % 4])
items = st.builds(SdesItem, st.integers(1, 8), st.binary(max_size=255))
chunks = st.builds(SdesChunk, u32, st.lists(items, max_size=4).map(tuple))
packets = st.one_of(
    st.builds(
        RtcpSenderReport,
        u32,
        st.builds(SenderInfo, st.integers(0, 2**64 - 1), u32, u32, u32),
        block_lists,
        extensions,
    ),
    st.builds(RtcpReceiverReport, u32, block_lists, extensions),
    st.builds(RtcpSourceDescription, st.lists(chunks, max_size=4).map(tuple)),
    st.builds(
        RtcpBye,
        st.lists(u32, max_size=31).map(tuple),
        st.none() | st.text(max_size=60).filter(lambda t: len(t.encode()) <= 255),
    ),
    st.builds(RtcpApp, st.integers(0, 31), u32, st.binary(min_size=4, max_size=4), extensions),
)


@given(st.lists(packets, min_size=1, max_size=5))
def test_serialize_then_parse_is_identity(packet_list: list[RtcpPacket]) -> None:
    data = serialize_compound(packet_list)
    assert parse_packets(data) == packet_list
    assert serialize_compound(parse_packets(data)) == data


@given(st.sampled_from([0x80, 0x81, 0x82, 0xA1]), st.integers(200, 207), st.binary(max_size=80))
def test_arbitrary_bodies_parse_or_raise_rtcp_error(
    first: int, packet_type: int, tail: bytes
) -> None:
    data = bytes((first, packet_type)) + (len(tail) // 4).to_bytes(2, "big") + tail
    for parser in (parse_packets, parse_compound):
        try:
            packets = parser(data)
        except RtcpError:
            continue
        # Whatever was accepted is a value that serializes and reads back the same.
        assert parse_packets(serialize_compound(packets)) == packets


def test_long_bye_reason_is_cut_at_a_character_boundary() -> None:
    packet = parse_packet(bytes(RtcpBye((1,), "é" * 200)))
    assert isinstance(packet, RtcpBye)
    assert packet.reason == "é" * 127
