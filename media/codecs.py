"""Codec registry (RFC 3551 audio/video profile) and per-codec encoders and decoders.

A `Codec` is a value: its RTP encoding name, the payload type it uses by default, the RTP clock
and the audio sample rate. The two rates differ for G.722, whose RTP clock is 8000 Hz although it
samples at 16000 Hz (RFC 3551 §4.5.2): a 20 ms frame is 320 samples but advances the RTP
timestamp by 160.

`encoder_for(codec)` and `decoder_for(codec)` build the per-stream objects that turn 20 ms PCM
frames (`NDArray[int16]` at `codec.sample_rate`) into RTP payloads and back. The dsp kernels are
imported when the first encoder or decoder is built, so importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "CODECS",
    "DYNAMIC_PAYLOAD_TYPES",
    "G722",
    "PCMA",
    "PCMU",
    "STATIC_PAYLOAD_TYPES",
    "TELEPHONE_EVENT",
    "Codec",
    "CodecError",
    "Decoder",
    "Encoder",
    "codec_by_name",
    "codec_by_payload_type",
    "codec_for_rtpmap",
    "decoder_for",
    "encoder_for",
]

FRAME_MS = 20
# RFC 3551 §6: payload types 96-127 are assigned dynamically through SDP.
DYNAMIC_PAYLOAD_TYPES = range(96, 128)


class CodecError(ValueError):
    """A codec we cannot encode or decode, or PCM that does not fit it."""


@dataclass(frozen=True, slots=True)
class Codec:
    """One RTP payload format.

    `clock_rate` is the RTP timestamp rate written in `a=rtpmap`; `sample_rate` the rate of the PCM
    the encoder takes and the decoder returns; `frame_samples` the PCM samples in 20 ms at
    `sample_rate`; `fmtp` the format parameters we announce by default.
    """

    name: str
    payload_type: int
    clock_rate: int
    sample_rate: int
    channels: int = 1
    frame_samples: int = 160
    fmtp: str | None = None

    @property
    def is_static(self) -> bool:
        """True when the payload type is statically assigned (RFC 3551 §6), below 96."""
        return self.payload_type < DYNAMIC_PAYLOAD_TYPES.start

    @property
    def rtpmap(self) -> str:
        """The `a=rtpmap` encoding part: `PCMU/8000`, or `name/rate/channels` for stereo."""
        base = f"{self.name}/{self.clock_rate}"
        return base if self.channels == 1 else f"{base}/{self.channels}"

    def timestamp_step(self, ptime_ms: int = FRAME_MS) -> int:
        """RTP timestamp increment for one packet of `ptime_ms`."""
        return self.clock_rate * ptime_ms // 1000

    def samples_for(self, ptime_ms: int = FRAME_MS) -> int:
        """PCM samples (at `sample_rate`) in one packet of `ptime_ms`."""
        return self.sample_rate * ptime_ms // 1000


# RFC 3551 §4.5.14 (PCMU, PCMA), §4.5.2 (G722: RTP clock 8000, an error of RFC 1890 kept for
# backward compatibility), RFC 4733 §7.1.1 (telephone-event, dynamic payload type).
PCMU = Codec("PCMU", 0, 8000, 8000, frame_samples=160)
PCMA = Codec("PCMA", 8, 8000, 8000, frame_samples=160)
G722 = Codec("G722", 9, 8000, 16000, frame_samples=320)
TELEPHONE_EVENT = Codec("telephone-event", 101, 8000, 8000, frame_samples=160, fmtp="0-16")

CODECS: tuple[Codec, ...] = (PCMU, PCMA, G722, TELEPHONE_EVENT)

# RFC 3551 §6, Table 4: static audio payload types, as `name/clock[/channels]`. Used to name the
# formats of an offer that carries no rtpmap for them.
STATIC_PAYLOAD_TYPES: dict[int, str] = {
    0: "PCMU/8000",
    3: "GSM/8000",
    4: "G723/8000",
    5: "DVI4/8000",
    6: "DVI4/16000",
    7: "LPC/8000",
    8: "PCMA/8000",
    9: "G722/8000",
    10: "L16/44100/2",
    11: "L16/44100",
    12: "QCELP/8000",
    13: "CN/8000",
    14: "MPA/90000",
    15: "G728/8000",
    16: "DVI4/11025",
    17: "DVI4/22050",
    18: "G729/8000",
}


def codec_by_name(name: str) -> Codec | None:
    """The registered codec called `name` (case-insensitive: "pcmu", "Telephone-Event")."""
    wanted = name.lower()
    for codec in CODECS:
        if codec.name.lower() == wanted:
            return codec
    return None


def codec_by_payload_type(payload_type: int) -> Codec | None:
    """The registered codec whose static payload type is `payload_type` (0, 8, 9)."""
    for codec in CODECS:
        if codec.is_static and codec.payload_type == payload_type:
            return codec
    return None


def codec_for_rtpmap(name: str, clock_rate: int, channels: int = 1) -> Codec | None:
    """The registered codec matching an rtpmap's encoding name, clock rate and channels."""
    codec = codec_by_name(name)
    if codec is None or codec.clock_rate != clock_rate or codec.channels != channels:
        return None
    return codec


class Encoder(Protocol):
    """Turns PCM at `sample_rate` into RTP payload bytes. One object per stream direction."""

    @property
    def codec(self) -> Codec: ...

    @property
    def sample_rate(self) -> int: ...

    def encode(self, pcm: NDArray[np.int16]) -> bytes: ...


class Decoder(Protocol):
    """Turns RTP payload bytes into PCM at `sample_rate`. One object per stream direction."""

    @property
    def codec(self) -> Codec: ...

    @property
    def sample_rate(self) -> int: ...

    def decode(self, payload: bytes) -> NDArray[np.int16]: ...


def _check_pcm(pcm: NDArray[np.int16], *, even: bool = False) -> None:
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise CodecError(f"PCM must be a 1-D int16 array, got {pcm.ndim}-D {pcm.dtype}")
    if even and pcm.shape[0] % 2:
        raise CodecError(f"G.722 needs an even number of samples, got {pcm.shape[0]}")


def _codes(payload: bytes) -> NDArray[np.uint8]:
    # A writable copy: the kernels are compiled for writable arrays.
    return np.frombuffer(bytearray(payload), dtype=np.uint8)


class _G711Encoder:
    def __init__(self, codec: Codec) -> None:
        from dsp import g711

        self._codec = codec
        self._encode = g711.ulaw_encode if codec == PCMU else g711.alaw_encode

    @property
    def codec(self) -> Codec:
        return self._codec

    @property
    def sample_rate(self) -> int:
        return self._codec.sample_rate

    def encode(self, pcm: NDArray[np.int16]) -> bytes:
        _check_pcm(pcm)
        return bytes(self._encode(pcm).tobytes())


class _G711Decoder:
    def __init__(self, codec: Codec) -> None:
        from dsp import g711

        self._codec = codec
        self._decode = g711.ulaw_decode if codec == PCMU else g711.alaw_decode

    @property
    def codec(self) -> Codec:
        return self._codec

    @property
    def sample_rate(self) -> int:
        return self._codec.sample_rate

    def decode(self, payload: bytes) -> NDArray[np.int16]:
        result: NDArray[np.int16] = self._decode(_codes(payload))
        return result


class _G722Encoder:
    def __init__(self) -> None:
        from dsp.g722 import G722Encoder

        self._state = G722Encoder()

    @property
    def codec(self) -> Codec:
        return G722

    @property
    def sample_rate(self) -> int:
        return G722.sample_rate

    def encode(self, pcm: NDArray[np.int16]) -> bytes:
        _check_pcm(pcm, even=True)
        return bytes(self._state.encode(pcm).tobytes())


class _G722Decoder:
    def __init__(self) -> None:
        from dsp.g722 import G722Decoder

        self._state = G722Decoder()

    @property
    def codec(self) -> Codec:
        return G722

    @property
    def sample_rate(self) -> int:
        return G722.sample_rate

    def decode(self, payload: bytes) -> NDArray[np.int16]:
        result: NDArray[np.int16] = self._state.decode(_codes(payload))
        return result


def _audio_codec(codec: Codec) -> Codec:
    """The registered audio codec equal to `codec` except, perhaps, its payload type."""
    known = codec_for_rtpmap(codec.name, codec.clock_rate, codec.channels)
    if known is None or known is TELEPHONE_EVENT:
        raise CodecError(f"no encoder or decoder for {codec.rtpmap}")
    return known


def encoder_for(codec: Codec) -> Encoder:
    """A fresh encoder for `codec` (PCMU, PCMA or G722, whatever payload type it carries)."""
    known = _audio_codec(codec)
    if known is G722:
        return _G722Encoder()
    return _G711Encoder(known)


def decoder_for(codec: Codec) -> Decoder:
    """A fresh decoder for `codec` (PCMU, PCMA or G722, whatever payload type it carries)."""
    known = _audio_codec(codec)
    if known is G722:
        return _G722Decoder()
    return _G711Decoder(known)
