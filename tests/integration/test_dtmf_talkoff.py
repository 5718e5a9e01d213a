"""Talk-off: minutes of synthetic speech give no DTMF keys; keys mixed into speech are found.

Speech comes from espeak-ng (several voices, speeds and pitches, 22.05 kHz) converted by sox
to 16-bit mono at 8 kHz (and 16 kHz for the wideband check), generated once per module into a
temporary directory and read back with :mod:`wave`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from dsp.dtmf import KEYPAD, DtmfDetector, detect, generate

pytestmark = pytest.mark.integration

SENTENCES = (
    "Welcome to the bank. Please enter your account number, followed by the pound key.",
    "Your current balance is one thousand two hundred and forty seven dollars and thirty cents.",
    "To report a lost or stolen card, press one. For investments, press two.",
    "Please hold while we transfer you to the next available agent.",
    "Seven eight nine four five six one two three zero, star, pound.",
    "Your call may be recorded for quality and training purposes.",
    "We received your payment of five hundred and sixty nine euros on the twenty third of March.",
    "I would like to speak with someone about my mortgage application, please.",
    "Oh no, oh no. Hello? Hello? Is anybody there? Mmm, hmm, yes, yes.",
    "Nine nine nine, eight eight eight, seven seven seven, six six six, five five five.",
    "Your one time passcode is four eight one five one six two three four two.",
    "Thank you for calling. Have a wonderful day, and goodbye.",
    "The interest rate on your savings account will change from the first of April.",
    "Aaah, eee, ooo, I see, you know, well, so, really? Wow, that is great!",
)


@dataclass(frozen=True)
class Voice:
    name: str
    speed: int  # words per minute
    pitch: int  # 0-99


VOICES = (
    Voice("en-us", 160, 50),
    Voice("en", 140, 35),
    Voice("en-gb+f3", 175, 70),
    Voice("en-us+m3", 120, 20),
    Voice("en-us+f2", 200, 90),
    Voice("en-gb-scotland+f4", 150, 60),
    Voice("en-029+m7", 170, 40),
    Voice("en-us+klatt", 160, 55),
)
WIDEBAND_VOICES = VOICES[:3]
MINIMUM_MINUTES = 3.0


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        message = f"{tool} is not installed; apt-get install -y --no-install-recommends {tool}"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def _say(text: str, voice: Voice, rate: int, path: Path) -> NDArray[np.int16]:
    espeak, sox = _require("espeak-ng"), _require("sox")
    command = [espeak, "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch)]
    spoken = subprocess.run(
        [*command, "--stdout", text], check=True, capture_output=True, timeout=60
    )
    convert = ["-r", str(rate), "-b", "16", "-c", "1", "-e", "signed", str(path)]
    subprocess.run(
        [sox, "-V1", "-t", "wav", "-", *convert],
        input=spoken.stdout,
        check=True,
        capture_output=True,
        timeout=60,
    )
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, rate)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


Utterances = dict[tuple[str, int], NDArray[np.int16]]


def _speak_all(folder: Path, voices: tuple[Voice, ...], rate: int) -> Utterances:
    spoken = {}
    for v, voice in enumerate(voices):
        for s, text in enumerate(SENTENCES):
            spoken[(voice.name, s)] = _say(text, voice, rate, folder / f"{rate}-{v}-{s}.wav")
    return spoken


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Utterances:
    return _speak_all(tmp_path_factory.mktemp("speech8k"), VOICES, 8000)


@pytest.fixture(scope="module")
def speech_wideband(tmp_path_factory: pytest.TempPathFactory) -> Utterances:
    return _speak_all(tmp_path_factory.mktemp("speech16k"), WIDEBAND_VOICES, 16000)


def _joined(utterances: Utterances, rate: int) -> NDArray[np.int16]:
    pause = np.zeros(rate // 4, dtype=np.int16)
    return np.concatenate([part for u in utterances.values() for part in (u, pause)])


def _gained(x: NDArray[np.int16], gain_db: float) -> NDArray[np.int16]:
    y = x.astype(np.float64) * 10 ** (gain_db / 20)
    return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("gain_db", [-12.0, 0.0, 12.0])
def test_speech_gives_no_keys(speech: Utterances, gain_db: float) -> None:
    minutes = sum(u.size for u in speech.values()) / 8000 / 60
    assert minutes >= MINIMUM_MINUTES
    talked_off = {key: found for key, u in speech.items() if (found := detect(_gained(u, gain_db)))}
    assert talked_off == {}, f"{minutes:.1f} min of speech at {gain_db:+.0f} dB"


def test_speech_frame_by_frame_gives_no_keys(speech: Utterances) -> None:
    x = _joined(speech, 8000)
    detector = DtmfDetector()
    assert "".join(detector.process(f) for f in np.array_split(x, x.size // 160)) == ""


def test_wideband_speech_gives_no_keys(speech_wideband: Utterances) -> None:
    talked_off = {key: found for key, u in speech_wideband.items() if (found := detect(u, 16000))}
    assert talked_off == {}


@pytest.mark.parametrize(
    ("on_ms", "speech_gain_db"),
    [(100.0, 0.0), (60.0, -3.0), (40.0, -6.0)],
)
def test_keys_over_speech_are_found(
    speech: Utterances, on_ms: float, speech_gain_db: float
) -> None:
    # Keys at -10 dBov per tone over speech at its own level (about -20 dBov on average,
    # louder in vowels), for shorter tones speech a few dB lower.
    x = _gained(_joined(speech, 8000), speech_gain_db).astype(np.float64)
    rng = np.random.default_rng(int(on_ms))
    for trial in range(12):
        keys = "".join(rng.choice(list(KEYPAD), 12))
        tones = generate(keys, on_ms=on_ms, off_ms=on_ms, level_dbov=-10.0, rng=rng)
        start = int(rng.integers(0, x.size - tones.size))
        mixed = np.clip(np.rint(tones + x[start : start + tones.size]), -32768, 32767)
        assert detect(mixed.astype(np.int16)) == keys, (trial, start)
