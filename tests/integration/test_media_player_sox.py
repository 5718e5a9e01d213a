"""Prompt loading checked against sox: files sox writes, decoded and converted the way sox does."""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from media.player import load_prompt

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sox() -> str:
    found = shutil.which("sox")
    if found is None:
        message = "sox is not installed; apt-get install -y --no-install-recommends sox"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def run_sox(sox: str, *args: str | Path) -> None:
    subprocess.run([sox, *map(str, args)], check=True, timeout=30, capture_output=True)


def read_pcm16(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def snr_db(signal: np.ndarray, reference: np.ndarray, edge: int = 400) -> float:
    s = signal.astype(np.float64)[edge:-edge]
    r = reference.astype(np.float64)[edge:-edge]
    return float(10 * np.log10(np.sum(r**2) / np.sum((s - r) ** 2)))


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("ulaw", ["-e", "u-law", "-b", "8"]),
        ("alaw", ["-e", "a-law", "-b", "8"]),
        ("s24", ["-e", "signed-integer", "-b", "24"]),
        ("s32", ["-e", "signed-integer", "-b", "32"]),
        ("u8", ["-e", "unsigned-integer", "-b", "8"]),
        ("float", ["-e", "floating-point", "-b", "32"]),
    ],
)
def test_sample_formats_match_sox_decoding(
    sox: str, tmp_path: Path, name: str, encoding: list[str]
) -> None:
    source = tmp_path / f"{name}.wav"
    run_sox(sox, "-n", "-r", "8000", "-c", "1", *encoding, source, "synth", "0.5", "sine", "440")
    expected = tmp_path / f"{name}-s16.wav"
    run_sox(sox, source, "-e", "signed-integer", "-b", "16", expected)
    ours, theirs = load_prompt(source), read_pcm16(expected)
    assert len(ours) == len(theirs)
    # sox dithers when it reduces bit depth; G.711 and 8-bit widen, so those match exactly
    tolerance = 0 if name in ("ulaw", "alaw", "u8") else 2
    assert np.max(np.abs(ours.astype(np.int32) - theirs)) <= tolerance


@pytest.mark.parametrize("rate", [11025, 22050, 44100, 16000, 48000])
def test_rate_and_channel_conversion_agrees_with_sox(sox: str, tmp_path: Path, rate: int) -> None:
    source = tmp_path / f"speechlike-{rate}.wav"
    run_sox(
        sox, "-n", "-r", str(rate), "-c", "2", "-b", "16", source,
        "synth", "1", "sine", "300-3000", "sine", "523", "gain", "-6",
    )  # fmt: skip
    expected = tmp_path / "sox-8k.wav"
    run_sox(sox, source, "-r", "8000", "-c", "1", "-b", "16", expected, "rate", "-v")
    ours, theirs = load_prompt(source), read_pcm16(expected)
    assert abs(len(ours) - len(theirs)) <= 1
    n = min(len(ours), len(theirs))
    assert snr_db(ours[:n], theirs[:n]) > 60  # measured ~82 dB against sox "rate -v"
