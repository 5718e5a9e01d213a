"""WAV (RIFF/WAVE) decoding for prompts: PCM, IEEE float and G.711, any rate and channel count.

The chunks are walked here rather than with the stdlib ``wave`` module, which refuses µ-law
and A-law files (format tags 7 and 6) and float data. Supported ``fmt`` formats:

========================  =========================================  ===========================
format tag                sample sizes                               scaling to the int16 range
========================  =========================================  ===========================
1 PCM                     8 (unsigned), 16, 24, 32 bits (container)  8: ``(u - 128) * 256``;
                                                                     wider: ``s / 2**(bits-16)``
3 IEEE float              32, 64 bits                                ``f * 32768``
6 A-law, 7 µ-law          8 bits                                     ITU-T G.711 decoding
0xFFFE extensible         the above, named by the sub-format GUID
========================  =========================================  ===========================

`decode_wav` returns float64 samples on the int16 scale, shape ``(frames, channels)``, so
that down-mixing and resampling lose no precision before the final rounding. A ``data`` chunk
whose declared size runs past the end of the file (written by a recorder that never patched
the header) is read up to the last whole frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dsp.g711 import ALAW_DECODE_TABLE, ULAW_DECODE_TABLE

__all__ = [
    "FORMAT_ALAW",
    "FORMAT_EXTENSIBLE",
    "FORMAT_FLOAT",
    "FORMAT_MULAW",
    "FORMAT_PCM",
    "WavAudio",
    "WavError",
    "decode_wav",
]

FORMAT_PCM = 0x0001
FORMAT_FLOAT = 0x0003
FORMAT_ALAW = 0x0006
FORMAT_MULAW = 0x0007
FORMAT_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0040: "G.721 ADPCM",
    0x0055: "MPEG layer 3",
    0x0064: "G.726 ADPCM",
    0x0065: "G.722 ADPCM",
}
# KSDATAFORMAT_SUBTYPE_*: the format tag, then this fixed tail.
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")

_RIFF = struct.Struct("<4sI4s")
_CHUNK = struct.Struct("<4sI")
_FMT = struct.Struct("<HHIIHH")
MAX_CHANNELS = 32
MIN_RATE, MAX_RATE = 1000, 768_000


class WavError(ValueError):
    """Bytes that are not a WAV file we can decode; the message says what is wrong."""


@dataclass(frozen=True, slots=True, eq=False)
class WavAudio:
    """Decoded audio: ``samples`` float64 on the int16 scale, shape ``(frames, channels)``."""

    rate: int
    channels: int
    format_tag: int
    bits_per_sample: int
    samples: NDArray[np.float64]

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.frames / self.rate


@dataclass(frozen=True, slots=True)
class _Format:
    tag: int
    channels: int
    rate: int
    block_align: int
    bits: int


def _chunks(data: bytes) -> dict[bytes, memoryview]:
    """The first chunk of each id, after the 12-byte RIFF/WAVE header."""
    if len(data) < _RIFF.size:
        raise WavError("file is too short to be a WAV file")
    riff, _, wave = _RIFF.unpack_from(data)
    if riff == b"RIFX":
        raise WavError("big-endian (RIFX) WAV files are not supported")
    if riff == b"RF64":
        raise WavError("RF64 WAV files are not supported")
    if riff != b"RIFF" or wave != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    view = memoryview(data)
    found: dict[bytes, memoryview] = {}
    pos = _RIFF.size
    while pos + _CHUNK.size <= len(data):
        chunk_id, size = _CHUNK.unpack_from(data, pos)
        start = pos + _CHUNK.size
        found.setdefault(chunk_id, view[start : start + size])  # truncated if size lies
        pos = start + size + (size & 1)  # chunks are padded to an even length
    return found


def _parse_format(body: memoryview) -> _Format:
    if len(body) < _FMT.size:
        raise WavError("fmt chunk is too short")
    tag, channels, rate, _, block_align, bits = _FMT.unpack_from(body)
    if tag == FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise WavError("extensible fmt chunk is too short")
        guid = bytes(body[24:40])
        if guid[4:] != _GUID_TAIL[2:] or guid[2:4] != b"\x00\x00":
            raise WavError("extensible WAV sub-format is not PCM, float or G.711")
        tag = struct.unpack_from("<H", guid)[0]
    if not 1 <= channels <= MAX_CHANNELS:
        raise WavError(f"channel count {channels} is not 1..{MAX_CHANNELS}")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise WavError(f"sample rate {rate} Hz is not {MIN_RATE}..{MAX_RATE}")
    if block_align == 0 or block_align % channels:
        raise WavError(f"block align {block_align} does not fit {channels} channels")
    return _Format(tag, channels, rate, block_align, bits)


def _container_dtype(fmt: _Format) -> tuple[str, int]:
    """(numpy dtype, container bytes per sample) for the format; raises if unsupported."""
    width = fmt.block_align // fmt.channels
    if fmt.tag == FORMAT_PCM and width in (1, 2, 3, 4):
        return {1: "u1", 2: "<i2", 3: "u1", 4: "<i4"}[width], width
    if fmt.tag == FORMAT_FLOAT and width in (4, 8):
        return ("<f4" if width == 4 else "<f8"), width
    if fmt.tag in (FORMAT_ALAW, FORMAT_MULAW) and width == 1:
        return "u1", 1
    if fmt.tag in (FORMAT_PCM, FORMAT_FLOAT, FORMAT_ALAW, FORMAT_MULAW):
        return "", width
    name = _FORMAT_NAMES.get(fmt.tag, "compressed")
    raise WavError(
        f"WAV format 0x{fmt.tag:04x} ({name}) is not supported; use PCM, IEEE float, µ-law or A-law"
    )


def _to_int16_scale(raw: bytes, fmt: _Format) -> NDArray[np.float64]:
    dtype, width = _container_dtype(fmt)
    if not dtype:
        raise WavError(f"{8 * width}-bit samples are not supported for WAV format {fmt.tag}")
    codes = np.frombuffer(raw, dtype=dtype)
    if fmt.tag == FORMAT_MULAW:
        return np.asarray(ULAW_DECODE_TABLE[codes], dtype=np.float64)
    if fmt.tag == FORMAT_ALAW:
        return np.asarray(ALAW_DECODE_TABLE[codes], dtype=np.float64)
    if fmt.tag == FORMAT_FLOAT:
        return np.nan_to_num(codes.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0) * 32768
    if width == 1:
        return (codes.astype(np.float64) - 128.0) * 256.0
    if width == 3:  # little-endian 24-bit: assemble into the top of an int32
        triples = codes.reshape(-1, 3).astype(np.int32)
        value = (triples[:, 0] << 8) | (triples[:, 1] << 16) | (triples[:, 2] << 24)
        return value.astype(np.float64) / 65536.0
    return codes.astype(np.float64) / float(1 << (8 * width - 16))


def decode_wav(data: bytes) -> WavAudio:
    """Decode a whole WAV file; raises `WavError` naming the problem."""
    chunks = _chunks(data)
    if b"fmt " not in chunks:
        raise WavError("no fmt chunk")
    if b"data" not in chunks:
        raise WavError("no data chunk")
    fmt = _parse_format(chunks[b"fmt "])
    body = chunks[b"data"]
    usable = len(body) - len(body) % fmt.block_align
    samples = _to_int16_scale(bytes(body[:usable]), fmt).reshape(-1, fmt.channels)
    return WavAudio(fmt.rate, fmt.channels, fmt.tag, fmt.bits, samples)
