"""Voice activity: a vowel-like signal is speech, silence and steady noise are not."""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from dsp.vad import FRAME_MS, RATES, VoiceActivityDetector

FORMANTS = ((700.0, 130.0), (1220.0, 70.0), (2600.0, 160.0))  # an open "a" vowel


def vowel(
    rate: int, seconds: float = 3.0, f0: float = 120.0, peak: float = 8000.0
) -> NDArray[np.int16]:
    """Harmonics of a wavering pitch shaped by three formant resonances, syllable-modulated."""
    t = np.arange(round(rate * seconds)) / rate
    pitch = f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    y = np.zeros_like(t)
    for h in range(1, int(min(3800.0, rate / 2 - 200) / f0)):
        gain = sum(1 / (1 + ((h * f0 - f) / bw) ** 2) for f, bw in FORMANTS) / np.sqrt(h)
        y += gain * np.sin(h * phase)
    y *= 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    pcm: NDArray[np.int16] = np.round(y / np.abs(y).max() * peak).astype(np.int16)
    return pcm


def white_noise(rate: int, seconds: float = 3.0, rms: float = 1000.0) -> NDArray[np.int16]:
    rng = np.random.default_rng(11)
    return np.clip(rng.normal(0, rms, round(rate * seconds)), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("aggressiveness", [2, 3])
def test_vowel_is_speech_silence_is_not(rate: int, aggressiveness: int) -> None:
    speech = VoiceActivityDetector(aggressiveness, rate).speech_flags(vowel(rate))
    assert speech.size == 150
    assert speech.mean() > 0.9
    silence = VoiceActivityDetector(aggressiveness, rate).speech_flags(np.zeros(rate, np.int16))
    assert not silence.any()


def test_steady_noise_is_mostly_not_speech_when_aggressive() -> None:
    noise = VoiceActivityDetector(3, 8000).speech_flags(white_noise(8000))
    speech = VoiceActivityDetector(3, 8000).speech_flags(vowel(8000))
    assert noise.mean() < 0.2 < 0.9 < speech.mean()


def test_vowel_after_noise_is_detected_when_it_starts() -> None:
    rate = 8000
    quiet = white_noise(rate, 2.0, rms=60.0)
    signal = np.concatenate(
        [
            quiet,
            np.clip(vowel(rate, 2.0) + white_noise(rate, 2.0, 60.0), -32768, 32767).astype(
                np.int16
            ),
        ]
    )
    flags = VoiceActivityDetector(3, rate).speech_flags(signal)
    assert flags[:100].mean() < 0.1
    assert flags[105:].mean() > 0.9


@pytest.mark.parametrize("ms", FRAME_MS)
def test_every_frame_duration_is_accepted(ms: int) -> None:
    vad = VoiceActivityDetector(rate=16000)
    assert vad.is_speech(np.zeros(16 * ms, dtype=np.int16)) is False
    assert vad.speech_flags(np.zeros(16000, dtype=np.int16), frame_ms=ms).size == 1000 // ms


def test_bad_frame_lengths_say_what_is_accepted() -> None:
    vad = VoiceActivityDetector(rate=8000)
    with pytest.raises(ValueError, match="80, 160, 240 samples"):
        vad.is_speech(np.zeros(100, dtype=np.int16))
    with pytest.raises(ValueError, match="int16"):
        vad.is_speech(np.zeros(160, dtype=np.float32))
    with pytest.raises(ValueError, match="1-D"):
        vad.is_speech(np.zeros((2, 80), dtype=np.int16))
    with pytest.raises(ValueError, match="frame_ms"):
        vad.speech_flags(np.zeros(800, dtype=np.int16), frame_ms=25)


def test_bad_rate_and_aggressiveness() -> None:
    with pytest.raises(ValueError, match="44100"):
        VoiceActivityDetector(rate=44100)
    with pytest.raises(ValueError, match="aggressiveness"):
        VoiceActivityDetector(aggressiveness=4)


def test_partial_trailing_frame_is_ignored() -> None:
    flags = VoiceActivityDetector(rate=8000).speech_flags(np.zeros(500, dtype=np.int16))
    assert flags.size == 3


ESPEAK = "/usr/bin/espeak-ng"


@pytest.mark.integration
def test_synthesised_speech_is_detected(tmp_path: Path) -> None:
    if not (os.path.exists(ESPEAK) and shutil.which("sox")):
        if os.environ.get("CI") == "true":
            pytest.fail("espeak-ng and sox are required in CI")
        pytest.skip("espeak-ng or sox not installed")
    out = tmp_path / "speech.wav"
    text = "Thank you for calling. Please hold while we connect you to an agent."
    espeak = subprocess.run(
        [ESPEAK, "-v", "en-us", "--stdout", text], check=True, capture_output=True, timeout=30
    )
    subprocess.run(
        [
            "sox",
            "-V1",
            "-t",
            "wav",
            "-",
            "-r",
            "8000",
            "-b",
            "16",
            "-c",
            "1",
            "-e",
            "signed",
            str(out),
        ],
        input=espeak.stdout,
        check=True,
        timeout=30,
    )
    with wave.open(str(out), "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        speech = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
    pause = np.zeros(8000, dtype=np.int16)
    flags = VoiceActivityDetector(2, 8000).speech_flags(np.concatenate([pause, speech, pause]))
    assert not flags[:50].any()  # the leading second of silence
    spoken = flags[50 : 50 + speech.size // 160]
    assert spoken.mean() > 0.6
    assert flags[-40:].mean() < 0.2  # silence again (after the detector's hangover)
