"""RTP audio as a pcap file, for SIPp's ``play_pcap_audio``.

SIPp replays the UDP payloads of a capture to the remote media port with the capture's
timing. `write_rtp_pcap` builds such a capture from PCM: G.711 µ-law (or A-law) packets of
20 ms, Ethernet/IPv4/UDP framing as a real capture has.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["read_rtp_pcap", "write_rtp_pcap"]

_PCAP_HEADER = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
_LINKTYPE_ETHERNET = 1
_FRAME_SAMPLES = 160


def write_rtp_pcap(
    path: Path,
    pcm: NDArray[np.int16],
    *,
    payload_type: int = 0,
    ssrc: int = 0x1234ABCD,
    src_port: int = 40000,
    dst_port: int = 6000,
) -> int:
    """Write ``pcm`` (8 kHz) as PCMU (``payload_type`` 0) or PCMA (8) RTP; returns packets."""
    from dsp.g711 import alaw_encode, ulaw_encode

    encode = ulaw_encode if payload_type == 0 else alaw_encode
    frames = len(pcm) // _FRAME_SAMPLES
    out = [_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, 65535, _LINKTYPE_ETHERNET)]
    start = 1_700_000_000.0
    for i in range(frames):
        chunk = pcm[i * _FRAME_SAMPLES : (i + 1) * _FRAME_SAMPLES]
        rtp = struct.pack(
            "!BBHII", 0x80, (0x80 if i == 0 else 0) | payload_type, i, i * _FRAME_SAMPLES, ssrc
        ) + bytes(encode(chunk))
        frame = _ethernet_ipv4_udp(rtp, src_port, dst_port)
        t = start + i * 0.020
        out.append(_RECORD.pack(int(t), round((t % 1) * 1e6) % 1_000_000, len(frame), len(frame)))
        out.append(frame)
    path.write_bytes(b"".join(out))
    return frames


def read_rtp_pcap(path: Path) -> list[bytes]:
    """The RTP payloads (UDP payloads) of an Ethernet capture, in order."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    pos = 24
    packets: list[bytes] = []
    while pos + 16 <= len(data):
        incl = struct.unpack_from(order + "IIII", data, pos)[2]
        pos += 16
        frame = data[pos : pos + incl]
        pos += incl
        ihl = (frame[14] & 0x0F) * 4
        packets.append(frame[14 + ihl + 8 :])
    return packets


def _ethernet_ipv4_udp(payload: bytes, src_port: int, dst_port: int) -> bytes:
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    total = 20 + len(udp)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        total,
        0,
        0x4000,
        64,
        17,
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 1]),
    )
    checksum = _ip_checksum(header)
    header = header[:10] + struct.pack("!H", checksum) + header[12:]
    ethernet = bytes(6) + bytes(6) + b"\x08\x00"
    return ethernet + header + udp


def _ip_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
