"""DTMF: generation, Goertzel kernels against numpy, and the streaming detector's contract."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dsp import dtmf, dtmf_kernels
from dsp.dtmf import (
    DTMF_FREQUENCIES,
    KEYPAD,
    DtmfDetector,
    DtmfDetectorReference,
    detect,
    detect_reference,
    dtmf_spectra,
    dtmf_spectra_reference,
    generate,
    goertzel,
    goertzel_reference,
)
from dsp.level import dbov

ALL_KEYS = "123A456B789C*0#D"


def tone_amplitude(x: NDArray[np.int16], freq: float, rate: int = 8000) -> float:
    """Amplitude of the component at ``freq`` (whole-signal DFT)."""
    t = np.arange(x.size) / rate
    return float(2 * abs(np.sum(x * np.exp(-2j * np.pi * freq * t))) / x.size)


def pcm(x: NDArray[np.float64]) -> NDArray[np.int16]:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def noise(seconds: float, rms: float, seed: int, rate: int = 8000) -> NDArray[np.int16]:
    return pcm(np.random.default_rng(seed).normal(0.0, rms, int(seconds * rate)))


# --- the key table and generation ----------------------------------------------------------


def test_keypad_frequencies_are_q23() -> None:
    assert set(DTMF_FREQUENCIES) == set(ALL_KEYS) and KEYPAD == ALL_KEYS
    assert DTMF_FREQUENCIES["1"] == (697.0, 1209.0)
    assert DTMF_FREQUENCIES["5"] == (770.0, 1336.0)
    assert DTMF_FREQUENCIES["9"] == (852.0, 1477.0)
    assert DTMF_FREQUENCIES["0"] == (941.0, 1336.0)
    assert DTMF_FREQUENCIES["*"] == (941.0, 1209.0)
    assert DTMF_FREQUENCIES["#"] == (941.0, 1477.0)
    assert DTMF_FREQUENCIES["D"] == (941.0, 1633.0)
    assert len(set(DTMF_FREQUENCIES.values())) == 16


def test_generate_timing_and_silence() -> None:
    x = generate("12", on_ms=40, off_ms=60)
    assert x.dtype == np.int16 and x.size == 2 * (320 + 480)
    assert np.all(x[320:800] == 0) and np.all(x[1120:] == 0)
    assert np.count_nonzero(x[:320]) > 300
    assert generate("", on_ms=40).size == 0
    assert generate("5", rate=16000, on_ms=50, off_ms=50).size == 1600


@pytest.mark.parametrize("key", list(ALL_KEYS))
def test_generate_levels_per_component_and_twist(key: str) -> None:
    low, high = DTMF_FREQUENCIES[key]
    x = generate(key, on_ms=500, off_ms=0, level_dbov=-20.0, twist_db=-6.0)
    expected_low = 32768 * np.sqrt(2) * 10 ** (-20 / 20)
    assert tone_amplitude(x, low) == pytest.approx(expected_low, rel=2e-3)
    assert tone_amplitude(x, high) == pytest.approx(expected_low * 10 ** (-6 / 20), rel=2e-3)
    even = generate(key, on_ms=500, off_ms=0, level_dbov=-20.0)
    assert dbov(even) == pytest.approx(-20.0 + 10 * np.log10(2), abs=0.02)


def test_generate_frequency_offsets_move_each_group() -> None:
    x = generate("1", on_ms=1000, off_ms=0, frequency_offset=(0.015, -0.035))
    amp = tone_amplitude(x, 697 * 1.015)
    assert amp > 0.99 * 32768 * np.sqrt(2) * 10 ** (-10 / 20)
    assert tone_amplitude(x, 1209 * 0.965) > 0.99 * amp
    # 10 Hz and 42 Hz off in a 1 s DFT: only sidelobe leakage is left at the nominal bins.
    assert tone_amplitude(x, 697) < 0.05 * amp and tone_amplitude(x, 1209) < 0.05 * amp
    both = generate("1", on_ms=1000, off_ms=0, frequency_offset=0.02)
    assert tone_amplitude(both, 697 * 1.02) > 0.99 * amp
    assert tone_amplitude(both, 1209 * 1.02) > 0.99 * amp


def test_generate_saturates_instead_of_wrapping() -> None:
    x = generate("D", on_ms=100, off_ms=0, level_dbov=0.0)
    t = 2 * np.pi * np.arange(800) / 8000
    amplitude = 32768 * np.sqrt(2)
    ideal = amplitude * (np.sin(941 * t) + np.sin(1633 * t))
    assert np.array_equal(x, np.clip(np.rint(ideal), -32768, 32767).astype(np.int16))
    assert x.max() == 32767 and x.min() == -32768


def test_generate_random_phases_and_bad_input() -> None:
    a = generate("5", rng=np.random.default_rng(1))
    b = generate("5", rng=np.random.default_rng(2))
    assert not np.array_equal(a, b) and abs(dbov(a) - dbov(b)) < 0.1
    assert np.array_equal(generate("abcd"), generate("ABCD"))
    with pytest.raises(ValueError, match="not a DTMF key"):
        generate("12E")
    with pytest.raises(ValueError, match="too low"):
        generate("1", rate=2000)


# --- kernels against their numpy twins -------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(0, 700),
    block=st.sampled_from([1, 7, 40, 80, 102, 205]),
    rate=st.sampled_from([8000, 16000]),
)
def test_goertzel_matches_the_numpy_dft(seed: int, size: int, block: int, rate: int) -> None:
    rng = np.random.default_rng(seed)
    x = pcm(rng.normal(0, 8000, size))
    freqs = [*rng.uniform(0, rate / 2, 5), 697.0, 1633.0, 0.0]
    got = goertzel(x, freqs, rate, block)
    want = goertzel_reference(x, freqs, rate, block)
    assert got.shape == want.shape == (size // block, len(freqs))
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    assert np.abs(got - want).max(initial=0.0) <= 1e-9 * scale
    assert np.allclose(np.abs(got) ** 2, np.abs(want) ** 2, rtol=1e-9, atol=1e-6 * scale**2)


def test_goertzel_energy_of_a_sine_and_phase_across_blocks() -> None:
    amplitude = 10000.0
    x = pcm(amplitude * np.sin(2 * np.pi * 697.0 * np.arange(1600) / 8000 + 0.3))
    terms = goertzel(x, [697.0, 1209.0], 8000, 40)
    # A sine of amplitude A on the bin gives |X| = A * N / 2 (within the leakage of its
    # negative-frequency image), with the same phase in every block: the origin is sample 0.
    assert np.allclose(np.abs(terms[:, 0]), amplitude * 40 / 2, rtol=0.03)
    assert np.ptp(np.angle(terms[:, 0])) < 0.05
    assert np.abs(terms[:, 1]).max() < 0.2 * amplitude * 40 / 2  # 2.6 bins away: sidelobes
    with pytest.raises(ValueError):
        goertzel(x, [697.0], 8000, 0)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_analysis_windows_match_direct_hann_dfts(rate: int) -> None:
    rng = np.random.default_rng(rate)
    x = np.concatenate(
        (
            generate("159#", rate, on_ms=45, off_ms=25, frequency_offset=0.012, rng=rng),
            noise(0.3, 3000.0, 7, rate),
        )
    )
    got, powers = dtmf_spectra(x, rate)
    want, want_powers = dtmf_spectra_reference(x, rate)
    assert got.shape == want.shape == (x.size // (rate // 200) - 3, 16)
    assert np.abs(got - want).max() <= 1e-9 * np.abs(want).max()
    assert np.allclose(powers, want_powers, rtol=1e-9)
    empty, no_powers = dtmf_spectra(x[:100], rate)
    assert empty.shape == (0, 16) and no_powers.shape == (0,)


def test_hann_gain_matches_the_window_sum() -> None:
    width = 160
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(width) / width)
    for offset in (0.0, 5.0, -12.5, 24.5, 32.7, 50.0, 80.0):
        direct = abs(np.sum(w * np.exp(2j * np.pi * offset * np.arange(width) / 8000))) ** 2
        assert dtmf_kernels.hann_gain(offset, 8000.0, width) == pytest.approx(
            direct / (width / 2) ** 2, abs=1e-12
        )


# --- the detector's contract ------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000])
def test_detects_every_key_in_order(rate: int) -> None:
    x = generate(ALL_KEYS + "0123456789", rate)
    assert detect(x, rate) == ALL_KEYS + "0123456789"
    assert detect(np.zeros(rate, dtype=np.int16), rate) == ""


def test_rates_dtypes_and_shapes_are_checked() -> None:
    for rate in (11025, 48000, 4000):
        with pytest.raises(ValueError, match="supports rates"):
            DtmfDetector(rate)
        with pytest.raises(ValueError, match="supports rates"):
            detect(np.zeros(160, dtype=np.int16), rate)
    with pytest.raises(TypeError, match="int16"):
        detect(np.zeros(160, dtype=np.float64))
    with pytest.raises(ValueError, match="one-dimensional"):
        DtmfDetector().process(np.zeros((2, 160), dtype=np.int16))


def test_each_press_is_reported_once() -> None:
    held = generate("7", on_ms=3000, off_ms=100)
    detector = DtmfDetector()
    reports = [detector.process(frame) for frame in held.reshape(-1, 160)]
    assert "".join(reports) == "7"
    assert sum(1 for r in reports if r) == 1
    # The report comes within 60 ms of the start of the tone.
    assert next(i for i, r in enumerate(reports) if r) * 20 < 60
    assert detect(generate("7777", on_ms=60, off_ms=60)) == "7777"


def test_back_to_back_keys_without_a_pause() -> None:
    x = np.concatenate([generate(key, on_ms=60, off_ms=0) for key in "1593"])
    assert detect(x) == "1593"


@pytest.mark.parametrize(("gap_ms", "expected"), [(5, "8"), (10, "8"), (40, "88"), (60, "88")])
def test_interruptions_and_pauses(gap_ms: int, expected: str) -> None:
    x = generate("8", on_ms=300, off_ms=100, rng=np.random.default_rng(gap_ms))
    x[1000 : 1000 + gap_ms * 8] = 0
    assert detect(x) == expected


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(0, 12000), max_size=40),
    rate=st.sampled_from([8000, 16000]),
)
def test_frame_by_frame_equals_whole_buffer(seed: int, cuts: list[int], rate: int) -> None:
    rng = np.random.default_rng(seed)
    keys = "".join(rng.choice(list(ALL_KEYS), 8))
    tones = generate(keys, rate, on_ms=45, off_ms=45, rng=rng).astype(np.float64)
    x = pcm(tones + rng.normal(0, 400, tones.size))
    whole = detect(x, rate)
    assert whole == keys
    detector = DtmfDetector(rate)
    bounds = sorted({c * rate // 8000 for c in cuts if c * rate // 8000 < x.size})
    pieces = np.split(x, bounds)
    assert "".join(detector.process(p) for p in pieces) == whole


def test_odd_frame_sizes_and_empty_frames() -> None:
    x = generate("*#0", on_ms=50, off_ms=50)
    for size in (1, 7, 39, 41, 159, 161, 333):
        detector = DtmfDetector()
        got = "".join(detector.process(x[i : i + size]) for i in range(0, x.size, size))
        assert got == "*#0", size
    assert DtmfDetector().process(np.zeros(0, dtype=np.int16)) == ""


def test_reset_forgets_the_held_key_and_the_partial_block() -> None:
    x = generate("4", on_ms=400, off_ms=0)
    detector = DtmfDetector()
    assert detector.process(x[:1600]) == "4"
    assert detector.process(x[1600:2400]) == ""  # still the same press
    detector.reset()
    assert detector.process(x[2400:]) == "4"  # a fresh detector hears it again
    detector.process(x[:37])  # leaves 37 samples pending
    detector.reset()
    assert detector.process(np.zeros(160, dtype=np.int16)) == ""


def test_reference_detector_agrees_with_the_kernels() -> None:
    rng = np.random.default_rng(11)
    parts = [
        generate("2580", on_ms=45, off_ms=40, twist_db=-6.0, rng=rng),
        noise(0.4, 2000.0, 3),
        generate("147*", on_ms=70, off_ms=45, frequency_offset=(-0.012, 0.012), rng=rng),
        generate("3", on_ms=20, off_ms=40, rng=rng),
    ]
    x = np.concatenate(parts)
    x = pcm(x + rng.normal(0, 300, x.size))
    assert detect(x) == detect_reference(x) == "2580147*"
    reference = DtmfDetectorReference()
    streamed = "".join(reference.process(f) for f in np.array_split(x, 97))
    assert streamed == "2580147*"
    reference.reset()
    assert reference.process(x[:4000]) == detect(x[:4000])


def test_noise_and_single_tones_are_not_keys() -> None:
    assert detect(noise(5.0, 3000.0, 1)) == ""
    t = np.arange(8000) / 8000
    for freq in (697.0, 1209.0, 1633.0, 440.0):
        assert detect(pcm(10000 * np.sin(2 * np.pi * freq * t))) == ""
    # A key plus a third component as strong as each of its tones is not a key.
    x = generate("5", on_ms=500, off_ms=0).astype(np.float64)
    each = 32768 * np.sqrt(2) * 10 ** (-10 / 20)
    assert detect(pcm(x + each * np.sin(2 * np.pi * 1000 * t[: x.size]))) == ""
    assert detect(pcm(x + 0.2 * each * np.sin(2 * np.pi * 1000 * t[: x.size]))) == "5"


def test_second_harmonics_reject_a_buzz() -> None:
    # A key whose high tone carries a strong second harmonic (a voice-like harmonic series).
    t = np.arange(4000) / 8000
    low, high = DTMF_FREQUENCIES["1"]
    clean = 9000 * np.sin(2 * np.pi * low * t) + 9000 * np.sin(2 * np.pi * high * t)
    assert detect(pcm(clean)) == "1"
    # 8 dB below the tone: too little energy to fail the energy share, enough to be a buzz.
    assert detect(pcm(clean + 3600 * np.sin(2 * np.pi * 2 * high * t))) == ""
    assert detect(pcm(clean + 2000 * np.sin(2 * np.pi * 2 * high * t))) == "1"


def test_a_gliding_pair_is_not_a_key() -> None:
    # Both tones glide together from -1.8 % to +1.8 % in 50 ms, as the harmonics of a voice
    # do (0.07 %/ms); on average each sits on its nominal frequency.
    t = np.arange(400) / 8000
    glide = 1.0 - 0.018 + 0.036 * t / t[-1]
    phase_low = 2 * np.pi * np.cumsum(852.0 * glide) / 8000
    phase_high = 2 * np.pi * np.cumsum(1477.0 * glide) / 8000
    x = pcm(9000 * np.sin(phase_low) + 6000 * np.sin(phase_high))
    assert detect(np.concatenate((x, np.zeros(400, dtype=np.int16)))) == ""
    steady = generate("9", on_ms=60, off_ms=50, twist_db=-3.5)
    assert detect(steady) == "9"


def test_warm_up_and_public_surface() -> None:
    dtmf.warm_up()
    for name in dtmf.__all__:
        assert hasattr(dtmf, name), name
    for name in dtmf_kernels.__all__:
        assert hasattr(dtmf_kernels, name), name
    assert dtmf.HITS_TO_DETECT == 5 and dtmf.MISSES_TO_END == 7
