"""Codec registry (RFC 3551) and the encoders/decoders built on the dsp kernels."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from media.codecs import (
    CODECS,
    G722,
    PCMA,
    PCMU,
    STATIC_PAYLOAD_TYPES,
    TELEPHONE_EVENT,
    Codec,
    CodecError,
    codec_by_name,
    codec_by_payload_type,
    codec_for_rtpmap,
    decoder_for,
    encoder_for,
)


def sine(frequency: float, rate: int, samples: int, level: float = 0.3) -> np.ndarray:
    t = np.arange(samples) / rate
    return np.round(level * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def test_registry_values() -> None:
    assert (PCMU.payload_type, PCMU.clock_rate, PCMU.sample_rate, PCMU.frame_samples) == (
        0,
        8000,
        8000,
        160,
    )
    assert (PCMA.payload_type, PCMA.rtpmap) == (8, "PCMA/8000")
    # RFC 3551 §4.5.2: G.722 samples at 16 kHz but its RTP clock runs at 8 kHz.
    assert (G722.payload_type, G722.clock_rate, G722.sample_rate) == (9, 8000, 16000)
    assert G722.frame_samples == G722.samples_for(20) == 320
    assert G722.timestamp_step(20) == 160
    assert G722.rtpmap == "G722/8000"
    assert (TELEPHONE_EVENT.name, TELEPHONE_EVENT.payload_type, TELEPHONE_EVENT.fmtp) == (
        "telephone-event",
        101,
        "0-16",
    )
    assert not TELEPHONE_EVENT.is_static and PCMU.is_static
    assert PCMU.timestamp_step(30) == 240
    assert Codec("L16", 10, 44100, 44100, channels=2).rtpmap == "L16/44100/2"
    assert STATIC_PAYLOAD_TYPES[18] == "G729/8000"
    assert all(c.frame_samples == c.samples_for(20) for c in CODECS)


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("PCMU", PCMU),
        ("pcma", PCMA),
        ("g722", G722),
        ("telephone-event", TELEPHONE_EVENT),
        ("Telephone-Event", TELEPHONE_EVENT),
        ("G729", None),
        ("", None),
    ],
)
def test_codec_by_name(name: str, codec: Codec | None) -> None:
    assert codec_by_name(name) is codec


def test_lookups_by_number_and_rtpmap() -> None:
    assert codec_by_payload_type(0) is PCMU
    assert codec_by_payload_type(9) is G722
    assert codec_by_payload_type(101) is None  # dynamic numbers are not identities
    assert codec_by_payload_type(18) is None
    assert codec_for_rtpmap("pcmu", 8000) is PCMU
    assert codec_for_rtpmap("G722", 16000) is None
    assert codec_for_rtpmap("PCMA", 8000, 2) is None


def test_importing_the_registry_does_not_load_kernels() -> None:
    code = "import sys, media.codecs; print(any(m.startswith('dsp') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False"


def test_no_coder_for_events_or_unknown_codecs() -> None:
    with pytest.raises(CodecError, match="telephone-event"):
        encoder_for(TELEPHONE_EVENT)
    with pytest.raises(CodecError, match="GSM/8000"):
        decoder_for(Codec("GSM", 3, 8000, 8000))


# --- G.711 ---------------------------------------------------------------------------------------


def test_g711_known_code_words() -> None:
    silence = np.zeros(160, dtype=np.int16)
    assert encoder_for(PCMU).encode(silence) == b"\xff" * 160
    assert encoder_for(PCMA).encode(silence) == b"\xd5" * 160
    assert decoder_for(PCMU).decode(b"\xff\x7f").tolist() == [0, 0]
    assert decoder_for(PCMA).decode(b"\xd5\x55").tolist() == [8, -8]


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_g711_round_trip(codec: Codec) -> None:
    from dsp.level import snr_db

    encoder, decoder = encoder_for(codec), decoder_for(codec)
    assert encoder.sample_rate == decoder.sample_rate == 8000
    assert encoder.codec is codec and decoder.codec is codec
    pcm = sine(1000, 8000, 1600)
    payloads = [encoder.encode(pcm[i : i + 160]) for i in range(0, 1600, 160)]
    assert all(isinstance(p, bytes) and len(p) == 160 for p in payloads)
    decoded = np.concatenate([decoder.decode(p) for p in payloads])
    assert decoded.dtype == np.int16 and decoded.shape == (1600,)
    assert snr_db(pcm, decoded, max_lag=0) > 30.0


def test_dynamic_payload_number_uses_the_same_coder() -> None:
    dynamic = replace(PCMU, payload_type=96)
    assert encoder_for(dynamic).codec is PCMU
    assert decoder_for(dynamic).decode(b"\xff").tolist() == [0]


def test_empty_payload_decodes_to_nothing() -> None:
    for codec in (PCMU, PCMA, G722):
        out = decoder_for(codec).decode(b"")
        assert out.dtype == np.int16 and out.size == 0


@pytest.mark.parametrize(
    "pcm",
    [
        np.zeros(160, dtype=np.float32),
        np.zeros(160, dtype=np.int32),
        np.zeros((2, 160), dtype=np.int16),
    ],
)
def test_encoders_refuse_other_arrays(pcm: np.ndarray) -> None:
    for codec in (PCMU, G722):
        with pytest.raises(CodecError, match="1-D int16"):
            encoder_for(codec).encode(pcm)


def test_decoded_frames_are_writable() -> None:
    out = decoder_for(PCMA).decode(b"\xd5" * 160)
    out[0] = 1  # the media plane mixes in place
    assert out[0] == 1


# --- G.722 ---------------------------------------------------------------------------------------


def test_g722_sizes_and_rates() -> None:
    encoder, decoder = encoder_for(G722), decoder_for(G722)
    assert encoder.sample_rate == decoder.sample_rate == 16000
    payload = encoder.encode(np.zeros(320, dtype=np.int16))
    assert isinstance(payload, bytes) and len(payload) == 160
    assert decoder.decode(payload).shape == (320,)
    with pytest.raises(CodecError, match="even"):
        encoder.encode(np.zeros(321, dtype=np.int16))


def test_g722_round_trip_keeps_a_tone() -> None:
    from dsp.level import snr_db

    encoder, decoder = encoder_for(G722), decoder_for(G722)
    pcm = sine(1000, 16000, 3200)
    payloads = [encoder.encode(pcm[i : i + 320]) for i in range(0, 3200, 320)]
    decoded = np.concatenate([decoder.decode(p) for p in payloads])
    # Skip the start-up of the adaptive quantizers; the QMF pair delays by a few samples.
    assert snr_db(pcm[640:], decoded[640:], max_lag=40) > 30.0


def test_g722_state_is_per_object_and_kept_across_frames() -> None:
    pcm = sine(700, 16000, 640)
    streaming = encoder_for(G722)
    first, second = streaming.encode(pcm[:320]), streaming.encode(pcm[320:])
    assert first + second == encoder_for(G722).encode(pcm)
    assert second != encoder_for(G722).encode(pcm[320:])  # a fresh encoder starts elsewhere
    decoder = decoder_for(G722)
    halves = np.concatenate([decoder.decode(first), decoder.decode(second)])
    assert np.array_equal(halves, decoder_for(G722).decode(first + second))
