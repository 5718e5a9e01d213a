"""Resampling: the documented filter figures hold, streaming equals one-shot, twin agrees."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dsp.resample import RATES, Resampler, design, resample, resample_reference

PAIRS = [(a, b) for a, b in itertools.permutations(RATES, 2)]
# Documented in the module docstring.
MAX_RIPPLE_DB = 0.01
MIN_ATTENUATION_DB = 70.0


def response_db(from_rate: int, to_rate: int) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    d = design(from_rate, to_rate)
    size = 1 << 18
    gain = np.abs(np.fft.rfft(d.taps / d.up, size))
    freqs = np.fft.rfftfreq(size, 1.0 / (from_rate * d.up))
    with np.errstate(divide="ignore"):
        return freqs, 20 * np.log10(gain)


def sine(freq: float, rate: int, seconds: float, amplitude: float = 20000.0) -> NDArray[np.int16]:
    t = np.arange(round(seconds * rate)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def amplitude_at(x: NDArray[np.int16], freq: float, rate: int) -> float:
    """Amplitude of the ``freq`` component (Hann-windowed projection, away from edges)."""
    y = x.astype(np.float64)
    window = np.hanning(y.size)
    t = np.arange(y.size) / rate
    projection = np.sum(y * window * np.exp(-2j * np.pi * freq * t))
    return float(2 * abs(projection) / window.sum())


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
def test_filter_response_meets_the_documented_figures(from_rate: int, to_rate: int) -> None:
    d = design(from_rate, to_rate)
    freqs, db = response_db(from_rate, to_rate)
    passband = db[freqs <= d.passband_hz]
    stopband = db[freqs >= d.stopband_hz]
    assert passband.max() - passband.min() < MAX_RIPPLE_DB
    assert abs(passband.mean()) < MAX_RIPPLE_DB
    assert -stopband.max() > MIN_ATTENUATION_DB


def test_telephony_band_edges() -> None:
    for pair in [(8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000)]:
        d = design(*pair)
        assert (d.passband_hz, d.stopband_hz) == (3400.0, 4600.0)
    assert (design(16000, 48000).passband_hz, design(16000, 48000).stopband_hz) == (7000, 9000)


@pytest.mark.parametrize(
    ("from_rate", "to_rate", "delay_seconds", "delay_samples"),
    [
        (8000, 16000, 0.002, 32),
        (16000, 8000, 0.002, 16),
        (8000, 48000, 0.002, 96),
        (48000, 8000, 0.002, 16),
        (16000, 48000, 0.0011875, 57),
        (48000, 16000, 0.0011875, 19),
    ],
)
def test_documented_group_delay(
    from_rate: int, to_rate: int, delay_seconds: float, delay_samples: int
) -> None:
    d = design(from_rate, to_rate)
    assert d.delay_seconds == pytest.approx(delay_seconds)
    assert d.delay_samples == delay_samples
    # The taps are symmetric about the centre, so the delay is the same at every frequency.
    assert np.allclose(d.taps, d.taps[::-1])


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
def test_passband_sine_keeps_its_amplitude_and_arrives_delayed(
    from_rate: int, to_rate: int
) -> None:
    x = sine(1000.0, from_rate, 0.5)
    y = resample(x, from_rate, to_rate)
    d = design(from_rate, to_rate)
    settle = d.delay_samples + 200
    ideal = sine(1000.0, to_rate, 0.5)[: y.size - d.delay_samples]
    got = y[d.delay_samples :]
    error = got[settle:].astype(np.float64) - ideal[settle:]
    assert np.abs(error).max() <= 3  # ripple, rounding and the int16 input's own rounding
    gain_db = 20 * np.log10(amplitude_at(got[settle:], 1000.0, to_rate) / 20000.0)
    assert abs(gain_db) < MAX_RIPPLE_DB


@pytest.mark.parametrize(
    ("from_rate", "to_rate", "tone", "unwanted"),
    [
        (8000, 16000, 1000.0, 7000.0),  # image of 1 kHz around 8 kHz
        (8000, 16000, 3400.0, 4600.0),
        (8000, 48000, 1000.0, 7000.0),
        (8000, 48000, 1000.0, 9000.0),
        (16000, 48000, 3000.0, 13000.0),
        (16000, 8000, 6000.0, 2000.0),  # 6 kHz would alias to 2 kHz
        (48000, 8000, 13000.0, 3000.0),
        (48000, 16000, 10000.0, 6000.0),
    ],
)
def test_images_and_aliases_are_attenuated_on_sines(
    from_rate: int, to_rate: int, tone: float, unwanted: float
) -> None:
    x = sine(tone, from_rate, 0.5)
    y = resample(x, from_rate, to_rate)[400:]
    leak = max(amplitude_at(y, unwanted, to_rate), 1e-9)  # 0.0 when it rounds away entirely
    leak_db = 20 * np.log10(leak / 20000.0)
    assert leak_db < -MIN_ATTENUATION_DB


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
def test_kernel_matches_the_numpy_twin(from_rate: int, to_rate: int) -> None:
    rng = np.random.default_rng(3)
    x = np.clip(rng.normal(0, 12000, 3000), -32768, 32767).astype(np.int16)
    y = resample(x, from_rate, to_rate)
    expected = resample_reference(x, from_rate, to_rate)
    assert y.shape == expected.shape
    # Same products, summed in a different order: at most one rounding step apart.
    assert np.abs(y.astype(np.int32) - expected).max() <= 1


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
def test_twenty_ms_frames_give_exact_sizes(from_rate: int, to_rate: int) -> None:
    r = Resampler(from_rate, to_rate)
    for _ in range(5):
        assert r.process(np.zeros(from_rate // 50, dtype=np.int16)).size == to_rate // 50


@settings(max_examples=25, deadline=None)
@given(
    pair=st.sampled_from(PAIRS),
    cuts=st.lists(st.integers(0, 700), min_size=1, max_size=12),
    seed=st.integers(0, 2**32 - 1),
)
def test_streaming_in_any_frames_equals_one_shot(
    pair: tuple[int, int], cuts: list[int], seed: int
) -> None:
    x = np.random.default_rng(seed).integers(-32768, 32768, sum(cuts)).astype(np.int16)
    r = Resampler(*pair)
    parts, start = [], 0
    for n in cuts:
        assert r.output_length(n) >= 0
        parts.append(r.process(x[start : start + n]))
        start += n
    assert np.array_equal(np.concatenate(parts), resample(x, *pair))


def test_round_trip_8k_16k_8k_is_a_pure_4_ms_delay_in_the_passband() -> None:
    x = sine(1020.0, 8000, 0.5, amplitude=15000.0)
    back = resample(resample(x, 8000, 16000), 16000, 8000)
    assert back.size == x.size
    delay = 32  # 16 samples each way at 8 kHz
    error = back[delay + 100 :].astype(np.int32) - x[100 : x.size - delay]
    assert np.abs(error).max() <= 3


def test_reset_forgets_the_history() -> None:
    x = sine(700.0, 8000, 0.05)
    r = Resampler(8000, 48000)
    first = r.process(x)
    r.process(x)
    r.reset()
    assert np.array_equal(r.process(x), first)


def test_identity_conversion_copies() -> None:
    x = sine(700.0, 16000, 0.01)
    assert np.array_equal(resample(x, 16000, 16000), x)


def test_full_scale_input_saturates_instead_of_wrapping() -> None:
    square = np.tile(np.array([32767] * 8 + [-32768] * 8, dtype=np.int16), 40)
    y = resample(square, 16000, 8000)
    # Gibbs overshoot must clip at the rails, never wrap to the opposite sign.
    assert y.max() == 32767 and y.min() == -32768
    expected = resample_reference(square, 16000, 8000)  # float sums, clipped
    assert np.abs(y.astype(np.int32) - expected).max() <= 1


def test_warm_up_compiles_what_the_media_path_calls() -> None:
    from dsp import resample as module

    module.warm_up()
    compiled = len(module._polyphase_kernel.signatures)
    Resampler(8000, 16000).process(np.frombuffer(bytes(320), dtype=np.int16))  # read-only
    Resampler(48000, 8000).process(np.zeros(960, dtype=np.int16))
    assert len(module._polyphase_kernel.signatures) == compiled


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="44100"):
        Resampler(44100, 8000)
    with pytest.raises(ValueError, match="int16"):
        resample(np.zeros(10, dtype=np.float32), 8000, 16000)
    with pytest.raises(ValueError, match="1-D"):
        Resampler(8000, 16000).process(np.zeros((2, 10), dtype=np.int16))
