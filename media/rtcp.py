"""RTCP packets (RFC 3550 §6): parse and serialize, single and compound.

Each packet type is a frozen dataclass with `parse(data)` and `serialize()`/`bytes()`; a parsed
packet serializes back to the same bytes (padding aside: known packet types drop it, see below).

- `RtcpSenderReport` (SR, §6.4.1) and `RtcpReceiverReport` (RR, §6.4.2) carry `ReportBlock`s.
- `RtcpSourceDescription` (SDES, §6.5) carries `SdesChunk`s of `SdesItem`s (CNAME, NAME, ...).
- `RtcpBye` (§6.6) names the sources leaving, with an optional reason.
- `RtcpApp` (§6.7) is application-defined.
- `RtcpUnknown` keeps any other packet type (feedback, XR...) byte for byte, padding included.

`parse_compound(data)` applies the validity checks of Appendix A.2 to a compound packet (first
packet SR or RR, version 2 everywhere, padding only in the last packet, lengths adding up to the
datagram). `parse_packets(data)` splits a datagram without the compound rules (reduced-size RTCP,
RFC 5506). Both raise `RtcpError` on malformed input.

Times in reports are NTP timestamps (§4); the helpers `ntp_from_unix`, `unix_from_ntp`,
`ntp_middle_32` and `round_trip_time` live in `media.ntp` and are re-exported here.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, TypeAlias

from media.ntp import (
    NTP_UNIX_OFFSET,
    ntp_from_unix,
    ntp_middle_32,
    round_trip_time,
    unix_from_ntp,
)

__all__ = [
    "NTP_UNIX_OFFSET",
    "RTCP_APP",
    "RTCP_BYE",
    "RTCP_RR",
    "RTCP_SDES",
    "RTCP_SR",
    "ReportBlock",
    "RtcpApp",
    "RtcpBye",
    "RtcpError",
    "RtcpPacket",
    "RtcpReceiverReport",
    "RtcpSenderReport",
    "RtcpSourceDescription",
    "RtcpUnknown",
    "SdesChunk",
    "SdesItem",
    "SdesType",
    "SenderInfo",
    "ntp_from_unix",
    "ntp_middle_32",
    "parse_compound",
    "parse_packet",
    "parse_packets",
    "round_trip_time",
    "serialize_compound",
    "unix_from_ntp",
]

RTCP_VERSION = 2
# §12.1 packet types.
RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204

MAX_COUNT = 31  # the 5-bit RC/SC field
HEADER_SIZE = 4
REPORT_BLOCK_SIZE = 24
SENDER_INFO_SIZE = 20


CUMULATIVE_LOST_MAX = 0x7FFFFF
CUMULATIVE_LOST_MIN = -0x800000

_COMMON = struct.Struct("!BBH")
_REPORT_BLOCK = struct.Struct("!IB3sIIII")
_SENDER_INFO = struct.Struct("!QIII")
_SSRC = struct.Struct("!I")


class RtcpError(ValueError):
    """A datagram that is not well-formed RTCP (RFC 3550 §6, Appendix A.2)."""


class SdesType(IntEnum):
    """SDES item types (§6.5, §12.2)."""

    END = 0
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


# --- helpers --------------------------------------------------------------------------------


def _header(count: int, packet_type: int, body: bytes) -> bytes:
    if len(body) % 4:
        raise RtcpError(f"RTCP packet type {packet_type} body is not a multiple of 32 bits")
    if not 0 <= count <= MAX_COUNT:
        raise RtcpError(f"RTCP count {count} does not fit 5 bits")
    first = (RTCP_VERSION << 6) | count
    return _COMMON.pack(first, packet_type, (HEADER_SIZE + len(body)) // 4 - 1)


def _check_ssrc(value: int, what: str) -> None:
    if not 0 <= value <= 0xFFFF_FFFF:
        raise RtcpError(f"{what} {value} does not fit 32 bits")


def _pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


# --- report blocks --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report block (§6.4.1).

    `fraction_lost` is lost/expected since the previous report, scaled to 0-255;
    `cumulative_lost` is signed 24-bit (duplicates can make it negative); `highest_sequence` is
    the extended highest sequence number (cycles in the high 16 bits); `jitter` in RTP timestamp
    units; `lsr` the middle 32 bits of the last SR's NTP timestamp (0 if none) and `dlsr` the
    delay since that SR arrived, in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int = 0
    cumulative_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    @classmethod
    def parse(cls, data: bytes | memoryview, offset: int = 0) -> ReportBlock:
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        return cls(
            ssrc, fraction, int.from_bytes(lost, "big", signed=True), highest, jitter, lsr, dlsr
        )

    def serialize(self) -> bytes:
        _check_ssrc(self.ssrc, "report block SSRC")
        if not 0 <= self.fraction_lost <= 0xFF:
            raise RtcpError(f"fraction lost {self.fraction_lost} does not fit 8 bits")
        if not CUMULATIVE_LOST_MIN <= self.cumulative_lost <= CUMULATIVE_LOST_MAX:
            raise RtcpError(f"cumulative lost {self.cumulative_lost} does not fit 24 bits")
        for name in ("highest_sequence", "jitter", "lsr", "dlsr"):
            _check_ssrc(getattr(self, name), name)
        lost = self.cumulative_lost.to_bytes(3, "big", signed=True)
        return _REPORT_BLOCK.pack(
            self.ssrc,
            self.fraction_lost,
            lost,
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


def _parse_blocks(
    body: memoryview, offset: int, count: int, what: str
) -> tuple[tuple[ReportBlock, ...], bytes]:
    """The report blocks at `offset` and the profile-specific extension after them."""
    end = offset + count * REPORT_BLOCK_SIZE
    if len(body) < end:
        raise RtcpError(f"{what} shorter than its {count} report blocks")
    if (len(body) - end) % 4:
        raise RtcpError(f"{what} profile-specific extension is not a multiple of 32 bits")
    blocks = tuple(ReportBlock.parse(body, offset + i * REPORT_BLOCK_SIZE) for i in range(count))
    return blocks, bytes(body[end:])


def _serialize_blocks(reports: tuple[ReportBlock, ...], extension: bytes) -> bytes:
    if len(extension) % 4:
        raise RtcpError("profile-specific extension must be a multiple of 32 bits")
    return b"".join(block.serialize() for block in reports) + extension


# --- SR and RR ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderInfo:
    """The sender information of an SR (§6.4.1): wallclock (NTP), matching RTP time, counts."""

    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int


@dataclass(frozen=True, slots=True)
class RtcpSenderReport:
    """SR (§6.4.1): sender `ssrc`, `sender_info`, report blocks, profile-specific extension."""

    packet_type: ClassVar[int] = RTCP_SR

    ssrc: int
    sender_info: SenderInfo
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    @classmethod
    def parse_body(cls, count: int, body: memoryview) -> RtcpSenderReport:
        if len(body) < 4 + SENDER_INFO_SIZE:
            raise RtcpError("SR shorter than its sender information")
        (ssrc,) = _SSRC.unpack_from(body)
        info = SenderInfo(*_SENDER_INFO.unpack_from(body, 4))
        reports, extension = _parse_blocks(body, 4 + SENDER_INFO_SIZE, count, "SR")
        return cls(ssrc, info, reports, extension)

    def serialize(self) -> bytes:
        _check_ssrc(self.ssrc, "SR SSRC")
        info = self.sender_info
        if not 0 <= info.ntp_timestamp <= 0xFFFF_FFFF_FFFF_FFFF:
            raise RtcpError("SR NTP timestamp does not fit 64 bits")
        for value in (info.rtp_timestamp, info.packet_count, info.octet_count):
            _check_ssrc(value, "SR counter")
        body = (
            _SSRC.pack(self.ssrc)
            + _SENDER_INFO.pack(
                info.ntp_timestamp, info.rtp_timestamp, info.packet_count, info.octet_count
            )
            + _serialize_blocks(self.reports, self.extension)
        )
        return _header(len(self.reports), RTCP_SR, body) + body

    def __bytes__(self) -> bytes:
        return self.serialize()


@dataclass(frozen=True, slots=True)
class RtcpReceiverReport:
    """RR (§6.4.2): reporter `ssrc`, report blocks, profile-specific extension."""

    packet_type: ClassVar[int] = RTCP_RR

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    @classmethod
    def parse_body(cls, count: int, body: memoryview) -> RtcpReceiverReport:
        if len(body) < 4:
            raise RtcpError("RR shorter than its SSRC")
        (ssrc,) = _SSRC.unpack_from(body)
        reports, extension = _parse_blocks(body, 4, count, "RR")
        return cls(ssrc, reports, extension)

    def serialize(self) -> bytes:
        _check_ssrc(self.ssrc, "RR SSRC")
        body = _SSRC.pack(self.ssrc) + _serialize_blocks(self.reports, self.extension)
        return _header(len(self.reports), RTCP_RR, body) + body

    def __bytes__(self) -> bytes:
        return self.serialize()


# --- SDES -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SdesItem:
    """One SDES item (§6.5): `type` (an `SdesType` value) and its raw value, at most 255 bytes."""

    type: int
    value: bytes

    @property
    def text(self) -> str:
        """The value as text (§6.5: UTF-8)."""
        return self.value.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """The items describing one source."""

    ssrc: int
    items: tuple[SdesItem, ...] = ()

    @property
    def cname(self) -> str | None:
        for item in self.items:
            if item.type == SdesType.CNAME:
                return item.text
        return None

    def serialize(self) -> bytes:
        _check_ssrc(self.ssrc, "SDES SSRC")
        parts = [_SSRC.pack(self.ssrc)]
        for item in self.items:
            if not 1 <= item.type <= 0xFF:
                raise RtcpError(f"SDES item type {item.type} is invalid")
            if len(item.value) > 0xFF:
                raise RtcpError("an SDES item value is at most 255 bytes")
            parts.append(bytes((item.type, len(item.value))) + item.value)
        raw = b"".join(parts)
        # One null octet ends the list, more pad it to 32 bits (§6.5).
        return raw + bytes(4 - len(raw) % 4)


def _parse_chunk(body: memoryview, pos: int) -> tuple[SdesChunk, int]:
    end = len(body)
    if pos + 4 > end:
        raise RtcpError("SDES chunk truncated before its SSRC")
    (ssrc,) = _SSRC.unpack_from(body, pos)
    pos += 4
    items: list[SdesItem] = []
    while True:
        if pos >= end:
            raise RtcpError("SDES chunk has no terminating null item")
        item_type = body[pos]
        if item_type == SdesType.END:
            pos += 1
            pos += -pos % 4
            if pos > end:
                raise RtcpError("SDES chunk padding runs past the packet")
            return SdesChunk(ssrc, tuple(items)), pos
        if pos + 2 > end or pos + 2 + body[pos + 1] > end:
            raise RtcpError("SDES item runs past the packet")
        length = body[pos + 1]
        items.append(SdesItem(item_type, bytes(body[pos + 2 : pos + 2 + length])))
        pos += 2 + length


@dataclass(frozen=True, slots=True)
class RtcpSourceDescription:
    """SDES (§6.5): one chunk per described source."""

    packet_type: ClassVar[int] = RTCP_SDES

    chunks: tuple[SdesChunk, ...] = ()

    @classmethod
    def parse_body(cls, count: int, body: memoryview) -> RtcpSourceDescription:
        chunks: list[SdesChunk] = []
        pos = 0
        for _ in range(count):
            chunk, pos = _parse_chunk(body, pos)
            chunks.append(chunk)
        if pos != len(body):
            raise RtcpError("SDES packet longer than its chunks")
        return cls(tuple(chunks))

    @classmethod
    def with_cname(cls, ssrc: int, cname: str) -> RtcpSourceDescription:
        """The SDES every compound packet carries (§6.1): our CNAME."""
        return cls((SdesChunk(ssrc, (SdesItem(SdesType.CNAME, cname.encode()),)),))

    def serialize(self) -> bytes:
        body = b"".join(chunk.serialize() for chunk in self.chunks)
        return _header(len(self.chunks), RTCP_SDES, body) + body

    def __bytes__(self) -> bytes:
        return self.serialize()


# --- BYE and APP ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RtcpBye:
    """BYE (§6.6): the sources leaving and an optional reason (UTF-8, cut to 255 bytes)."""

    packet_type: ClassVar[int] = RTCP_BYE

    sources: tuple[int, ...]
    reason: str | None = None

    @classmethod
    def parse_body(cls, count: int, body: memoryview) -> RtcpBye:
        end = 4 * count
        if len(body) < end:
            raise RtcpError(f"BYE shorter than its {count} SSRCs")
        sources = struct.unpack_from(f"!{count}I", body)
        reason: str | None = None
        if len(body) > end:
            length = body[end]
            if end + 1 + length > len(body):
                raise RtcpError("BYE reason runs past the packet")
            reason = bytes(body[end + 1 : end + 1 + length]).decode("utf-8", errors="replace")
        return cls(tuple(sources), reason)

    def serialize(self) -> bytes:
        for ssrc in self.sources:
            _check_ssrc(ssrc, "BYE SSRC")
        body = struct.pack(f"!{len(self.sources)}I", *self.sources)
        if self.reason is not None:
            # The length is one octet: a longer reason is cut at a character boundary.
            text = self.reason.encode()[:0xFF].decode(errors="ignore").encode()
            body += _pad4(bytes((len(text),)) + text)
        return _header(len(self.sources), RTCP_BYE, body) + body

    def __bytes__(self) -> bytes:
        return self.serialize()


@dataclass(frozen=True, slots=True)
class RtcpApp:
    """APP (§6.7): `subtype` (5 bits), `ssrc`, 4-character `name`, data (multiple of 4 bytes)."""

    packet_type: ClassVar[int] = RTCP_APP

    subtype: int
    ssrc: int
    name: bytes
    data: bytes = b""

    @classmethod
    def parse_body(cls, count: int, body: memoryview) -> RtcpApp:
        if len(body) < 8:
            raise RtcpError("APP shorter than its SSRC and name")
        if len(body) % 4:
            raise RtcpError("APP data is not a multiple of 32 bits")
        (ssrc,) = _SSRC.unpack_from(body)
        return cls(count, ssrc, bytes(body[4:8]), bytes(body[8:]))

    def serialize(self) -> bytes:
        _check_ssrc(self.ssrc, "APP SSRC")
        if len(self.name) != 4:
            raise RtcpError("an APP name is exactly 4 bytes")
        if len(self.data) % 4:
            raise RtcpError("APP data must be a multiple of 32 bits")
        body = _SSRC.pack(self.ssrc) + self.name + self.data
        return _header(self.subtype, RTCP_APP, body) + body

    def __bytes__(self) -> bytes:
        return self.serialize()


@dataclass(frozen=True, slots=True)
class RtcpUnknown:
    """A packet of a type this module does not decode, kept whole (header and padding)."""

    data: bytes

    @property
    def packet_type(self) -> int:
        return self.data[1]

    def serialize(self) -> bytes:
        return self.data

    def __bytes__(self) -> bytes:
        return self.data


RtcpPacket: TypeAlias = (
    RtcpSenderReport | RtcpReceiverReport | RtcpSourceDescription | RtcpBye | RtcpApp | RtcpUnknown
)

_DECODERS: dict[int, Callable[[int, memoryview], RtcpPacket]] = {
    RTCP_SR: RtcpSenderReport.parse_body,
    RTCP_RR: RtcpReceiverReport.parse_body,
    RTCP_SDES: RtcpSourceDescription.parse_body,
    RTCP_BYE: RtcpBye.parse_body,
    RTCP_APP: RtcpApp.parse_body,
}


# --- datagrams ------------------------------------------------------------------------------


def _split(data: bytes | bytearray | memoryview) -> list[tuple[bool, memoryview]]:
    """(padding bit, whole packet) for each packet; checks version and lengths."""
    view = memoryview(data).cast("B")
    packets: list[tuple[bool, memoryview]] = []
    pos = 0
    while pos < len(view):
        if len(view) - pos < HEADER_SIZE:
            raise RtcpError(f"RTCP header truncated at byte {pos}")
        first, _, words = _COMMON.unpack_from(view, pos)
        if first >> 6 != RTCP_VERSION:
            raise RtcpError(f"RTCP version {first >> 6} is not 2 (byte {pos})")
        end = pos + 4 * (words + 1)
        if end > len(view):
            raise RtcpError(f"RTCP packet at byte {pos} is longer than the datagram")
        packets.append((bool(first & 0x20), view[pos:end]))
        pos = end
    if not packets:
        raise RtcpError("empty RTCP datagram")
    return packets


def _decode(padded: bool, packet: memoryview) -> RtcpPacket:
    packet_type = packet[1]
    decoder = _DECODERS.get(packet_type)
    if decoder is None:
        return RtcpUnknown(bytes(packet))
    body = packet[HEADER_SIZE:]
    if padded:
        padding = packet[-1]
        if padding == 0 or padding > len(body):
            raise RtcpError(f"RTCP padding count {padding} is invalid")
        body = body[: len(body) - padding]
    return decoder(packet[0] & 0x1F, body)


def parse_packets(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """Every packet of a datagram, without the compound rules (RFC 5506 reduced-size RTCP)."""
    return [_decode(padded, packet) for padded, packet in _split(data)]


def parse_packet(data: bytes | bytearray | memoryview) -> RtcpPacket:
    """Exactly one RTCP packet."""
    packets = parse_packets(data)
    if len(packets) != 1:
        raise RtcpError(f"expected one RTCP packet, found {len(packets)}")
    return packets[0]


def parse_compound(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """A compound RTCP packet, checked as in RFC 3550 Appendix A.2."""
    if len(data) % 4:
        raise RtcpError(f"compound RTCP length {len(data)} is not a multiple of 32 bits")
    split = _split(data)
    first_padded, first = split[0]
    if first[1] not in (RTCP_SR, RTCP_RR):
        raise RtcpError(f"compound RTCP starts with packet type {first[1]}, not SR or RR")
    # The valid-mask test of A.2 wants P clear in the first packet; padding belongs to the last.
    if first_padded or any(padded for padded, _ in split[:-1]):
        raise RtcpError("padding in an RTCP packet other than the last of the compound")
    return [_decode(padded, packet) for padded, packet in split]


def serialize_compound(packets: Iterable[RtcpPacket]) -> bytes:
    """Concatenate packets into one compound datagram (§6.1)."""
    return b"".join(packet.serialize() for packet in packets)
