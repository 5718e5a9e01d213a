"""ITU-T Q.24 conformance of the DTMF detector, generated from the Recommendation's rules.

Every case is a signal built by :func:`dsp.dtmf.generate` with random tone phases and a random
start (so tones fall anywhere against the detector's 5 ms blocks), 100 ms of lead-in and
trailing silence (or noise), then checked for exactly the expected keys: nothing missing and
nothing extra. Levels are per frequency component in dBov (dBm0 = dBov + 6.15). Noise is white
over the whole band, its power stated against the power of the tone pair.

Rules (operate / do not operate):

* frequency: +-1.5 % on either group or both operates; +-3.5 %, +-4.5 % and +-6 % do not;
* twist (high group minus low group): +4 dB and -8 dB operate; +8, +10, -12 and -14 dB do not;
* timing: 40 ms tones with 40 ms pauses are all recognised, repeated keys included; 20 ms tones
  are not; interruptions of 10 ms do not split a key;
* level: -9.2 dBov to -42.2 dBov per tone (-3 to -36 dBm0) operates; -58 dBov does not;
* noise: 15 dB SNR, with the worst offsets and twists, loses no key and adds none (nominal
  tones: 10 dB).
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass, replace

import numpy as np
import pytest
from numpy.typing import NDArray

from dsp.dtmf import KEYPAD, detect, generate
from dsp.level import FULL_SCALE

OPERATE_OFFSETS = (0.015, -0.015)
NON_OPERATE_OFFSETS = (0.035, -0.035, 0.045, -0.045, 0.06, -0.06)
OPERATE_TWISTS = (4.0, -8.0)
NON_OPERATE_TWISTS = (8.0, 10.0, -12.0, -14.0)
OPERATE_LEVELS = (-9.2, -12.0, -18.0, -24.0, -30.0, -36.0, -42.2)  # -3 .. -36 dBm0 per tone
NON_OPERATE_LEVELS = (-58.0, -64.0)
NOISE_SNR_DB = 15.0


@dataclass(frozen=True)
class Case:
    """One signal and the keys the detector must report for it."""

    name: str
    keys: str
    expected: str
    on_ms: float = 40.0
    off_ms: float = 40.0
    level_dbov: float = -16.0
    twist_db: float = 0.0
    offset: tuple[float, float] = (0.0, 0.0)
    snr_db: float | None = None
    rate: int = 8000

    def signal(self) -> NDArray[np.int16]:
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        lead = self.rate // 10 + int(rng.integers(0, self.rate // 100))
        tones = generate(
            self.keys,
            self.rate,
            on_ms=self.on_ms,
            off_ms=self.off_ms,
            level_dbov=self.level_dbov,
            twist_db=self.twist_db,
            frequency_offset=self.offset,
            rng=rng,
        )
        x = np.concatenate((np.zeros(lead), tones, np.zeros(self.rate // 10))).astype(np.float64)
        if self.snr_db is not None:
            pair = FULL_SCALE**2 * 10 ** (self.level_dbov / 10) * (1 + 10 ** (self.twist_db / 10))
            x = x + rng.normal(0.0, np.sqrt(pair / 10 ** (self.snr_db / 10)), x.size)
        pcm: NDArray[np.int16] = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
        return pcm


def _ids(cases: list[Case]) -> list[str]:
    return [case.name for case in cases]


def _check(case: Case) -> None:
    assert detect(case.signal(), case.rate) == case.expected, case


def frequency_cases(rate: int = 8000) -> list[Case]:
    cases = []
    for key in KEYPAD:
        for d in OPERATE_OFFSETS:
            for offset in ((d, 0.0), (0.0, d), (d, d), (d, -d)):
                name = f"{rate}-{key}-operate-{offset[0]:+.3f}-{offset[1]:+.3f}"
                cases.append(Case(name, key * 3, key * 3, offset=offset, rate=rate))
        for d in NON_OPERATE_OFFSETS:
            for offset in ((d, 0.0), (0.0, d)):
                name = f"{rate}-{key}-reject-{offset[0]:+.3f}-{offset[1]:+.3f}"
                cases.append(Case(name, key, "", on_ms=100.0, offset=offset, rate=rate))
    return cases


def twist_cases(rate: int = 8000) -> list[Case]:
    cases = []
    for twist in OPERATE_TWISTS:
        # The stronger tone at -9.2 dBov (-3 dBm0), then the weaker tone at -42.2 (-36 dBm0).
        top = -9.2 - max(twist, 0.0)
        bottom = -42.2 - min(twist, 0.0)
        for level in (top, bottom):
            name = f"{rate}-twist{twist:+.0f}-at{level:.1f}"
            cases.append(Case(name, KEYPAD, KEYPAD, level_dbov=level, twist_db=twist, rate=rate))
    for twist in NON_OPERATE_TWISTS:
        for key in KEYPAD:
            name = f"{rate}-{key}-twist{twist:+.0f}-reject"
            cases.append(
                Case(name, key, "", on_ms=100.0, level_dbov=-20.0, twist_db=twist, rate=rate)
            )
    return cases


def timing_cases(rate: int = 8000) -> list[Case]:
    cases = []
    for seed in range(8):
        cases.append(Case(f"{rate}-40on40off-{seed}", KEYPAD, KEYPAD, rate=rate))
        repeated = "".join(k * 2 for k in KEYPAD)
        cases.append(Case(f"{rate}-40on40off-repeats-{seed}", repeated, repeated, rate=rate))
        cases.append(Case(f"{rate}-20ms-{seed}", KEYPAD, "", on_ms=20.0, rate=rate))
    return cases


def level_cases(rate: int = 8000) -> list[Case]:
    cases = []
    for level in OPERATE_LEVELS:
        name = f"{rate}-level{level:.1f}"
        cases.append(Case(name, KEYPAD, KEYPAD, level_dbov=level, rate=rate))
    for level in NON_OPERATE_LEVELS:
        name = f"{rate}-level{level:.1f}-ignored"
        cases.append(Case(name, KEYPAD, "", on_ms=100.0, level_dbov=level, rate=rate))
    return cases


def noise_cases(rate: int = 8000, seeds: int = 4) -> list[Case]:
    cases = []
    for twist in (0.0, *OPERATE_TWISTS):
        level = -12.0 - max(twist, 0.0)
        for low, high in itertools.product((0.0, *OPERATE_OFFSETS), repeat=2):
            for seed in range(seeds):
                name = f"{rate}-snr-twist{twist:+.0f}-{low:+.3f}-{high:+.3f}-{seed}"
                case = Case(name, KEYPAD, KEYPAD, level_dbov=level, twist_db=twist, rate=rate)
                cases.append(replace(case, offset=(low, high), snr_db=NOISE_SNR_DB))
    return cases


@pytest.mark.parametrize("case", frequency_cases(), ids=_ids(frequency_cases()))
def test_frequency_tolerance(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", twist_cases(), ids=_ids(twist_cases()))
def test_twist(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", timing_cases(), ids=_ids(timing_cases()))
def test_timing(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", level_cases(), ids=_ids(level_cases()))
def test_levels(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", noise_cases(), ids=_ids(noise_cases()))
def test_noise(case: Case) -> None:
    _check(case)


WIDEBAND = [
    *[c for c in frequency_cases(16000) if c.name.split("-")[1] in "159D"],
    *twist_cases(16000)[:4],
    *timing_cases(16000)[:6],
    *level_cases(16000),
    *noise_cases(16000, seeds=1),
]


@pytest.mark.parametrize("case", WIDEBAND, ids=_ids(WIDEBAND))
def test_wideband(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("gap_ms", [5, 10])
def test_short_interruptions_do_not_split_a_key(gap_ms: int) -> None:
    rng = np.random.default_rng(gap_ms)
    for key in KEYPAD:
        x = generate(key, on_ms=150, off_ms=100, rng=rng)
        start = 400 + int(rng.integers(0, 40))
        x[start : start + gap_ms * 8] = 0
        assert detect(x) == key, key


@pytest.mark.parametrize("seed", range(4))
def test_nominal_tones_at_10_db_snr(seed: int) -> None:
    case = Case(f"snr10-{seed}", KEYPAD, KEYPAD, level_dbov=-12.0, snr_db=10.0)
    _check(case)


def test_noise_alone_gives_nothing() -> None:
    rng = np.random.default_rng(24)
    pair = FULL_SCALE**2 * 10 ** (-12.0 / 10) * 2
    x = rng.normal(0.0, np.sqrt(pair / 10 ** (NOISE_SNR_DB / 10)), 8000 * 20)
    assert detect(np.clip(np.rint(x), -32768, 32767).astype(np.int16)) == ""
