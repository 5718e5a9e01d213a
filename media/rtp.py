"""RTP packets (RFC 3550 §5.1) and the modular arithmetic of their counters.

`RtpPacket.parse(data)` and `RtpPacket.serialize()` are symmetric: a parsed packet serializes back
to the same bytes. Sequence numbers wrap at 2**16 and timestamps at 2**32; `seq_diff` and
`ts_diff` give the signed distance the way RFC 3550 Appendix A.1 reasons about them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace

__all__ = [
    "RTP_HEADER_SIZE",
    "RTP_VERSION",
    "RtpError",
    "RtpPacket",
    "is_rtcp",
    "seq_add",
    "seq_diff",
    "ts_add",
    "ts_diff",
]

RTP_VERSION = 2
RTP_HEADER_SIZE = 12
SEQ_MODULO = 1 << 16
TS_MODULO = 1 << 32

_HEADER = struct.Struct("!BBHII")
_EXTENSION = struct.Struct("!HH")


class RtpError(ValueError):
    """A datagram that is not a well-formed RTP packet."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet. `extension_data` excludes the 4-byte extension header."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension_data: bytes = b""
    padding_size: int = 0
    version: int = field(default=RTP_VERSION)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> RtpPacket:
        """Parse one datagram; raise `RtpError` naming what is wrong."""
        size = len(data)
        if size < RTP_HEADER_SIZE:
            raise RtpError(f"RTP packet too short ({size} bytes)")
        first, second, seq, ts, ssrc = _HEADER.unpack_from(data)
        version = first >> 6
        if version != RTP_VERSION:
            raise RtpError(f"RTP version {version} is not 2")
        cc = first & 0x0F
        pos = RTP_HEADER_SIZE + 4 * cc
        if size < pos:
            raise RtpError("RTP packet shorter than its CSRC list")
        csrc = struct.unpack_from(f"!{cc}I", data, RTP_HEADER_SIZE) if cc else ()
        profile: int | None = None
        ext = b""
        if first & 0x10:
            if size < pos + 4:
                raise RtpError("RTP header extension truncated")
            profile, words = _EXTENSION.unpack_from(data, pos)
            end = pos + 4 + 4 * words
            if size < end:
                raise RtpError("RTP header extension longer than the packet")
            ext = bytes(data[pos + 4 : end])
            pos = end
        padding = 0
        if first & 0x20:
            padding = data[size - 1]
            if padding == 0 or pos + padding > size:
                raise RtpError(f"RTP padding count {padding} is invalid")
        return cls(
            payload_type=second & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(data[pos : size - padding]),
            marker=bool(second & 0x80),
            csrc=tuple(csrc),
            extension_profile=profile,
            extension_data=ext,
            padding_size=padding,
            version=version,
        )

    def serialize(self) -> bytes:
        """The packet's bytes; padding is zero bytes ending with the count (§5.1)."""
        if len(self.csrc) > 15:
            raise RtpError("an RTP packet carries at most 15 CSRCs")
        if len(self.extension_data) % 4:
            raise RtpError("RTP header extension data must be a multiple of 4 bytes")
        if not 0 <= self.padding_size <= 0xFF:
            raise RtpError(f"RTP padding of {self.padding_size} bytes does not fit its count octet")
        first = (self.version << 6) | len(self.csrc)
        if self.padding_size:
            first |= 0x20
        if self.extension_profile is not None:
            first |= 0x10
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        parts = [
            _HEADER.pack(
                first,
                second,
                self.sequence_number & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            )
        ]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension_profile is not None:
            parts.append(_EXTENSION.pack(self.extension_profile, len(self.extension_data) // 4))
            parts.append(self.extension_data)
        parts.append(self.payload)
        if self.padding_size:
            parts.append(bytes(self.padding_size - 1) + bytes([self.padding_size]))
        return b"".join(parts)

    def __bytes__(self) -> bytes:
        return self.serialize()

    def with_header(self, *, sequence_number: int, timestamp: int, ssrc: int) -> RtpPacket:
        """A copy renumbered for another stream (what a relay that rewrites headers sends)."""
        return replace(self, sequence_number=sequence_number, timestamp=timestamp, ssrc=ssrc)


def is_rtcp(data: bytes | bytearray | memoryview) -> bool:
    """RFC 5761 §4: on a multiplexed port, payload types 64-95 (RTCP 192-223) are RTCP."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b between 16-bit sequence numbers, in [-32768, 32767]."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def ts_diff(a: int, b: int) -> int:
    """Signed distance a - b between 32-bit timestamps."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def seq_add(a: int, n: int) -> int:
    return (a + n) & 0xFFFF


def ts_add(a: int, n: int) -> int:
    return (a + n) & 0xFFFFFFFF
