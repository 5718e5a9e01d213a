"""Levels: the G.100.1 dBov convention, peaks, clipping, and SNR after delay and gain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from dsp import g711
from dsp.level import (
    FLOOR_DBOV,
    audio_level,
    clipped_fraction,
    dbov,
    dbov_reference,
    dbov_rows,
    peak_dbov,
    peak_dbov_reference,
    snr_db,
    warm_up,
)

RATE = 8000


def sine(freq: float, amplitude: float, n: int = RATE, phase: float = 0.3) -> NDArray[np.int16]:
    t = np.arange(n) / RATE
    return np.round(amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.int16)


def test_full_scale_square_wave_is_0_dbov() -> None:
    square = np.tile(np.array([-32768, -32768, 32767, 32767], dtype=np.int16), 100)
    assert dbov(square) == pytest.approx(0.0, abs=0.001)


def test_full_scale_sine_is_minus_3_01_dbov() -> None:
    assert dbov(sine(1000.0, 32767.0)) == pytest.approx(-3.01, abs=0.005)


@pytest.mark.parametrize("level", [-3.0, -10.0, -20.0, -40.0, -60.0])
def test_sine_level_tracks_its_amplitude(level: float) -> None:
    amplitude = 32768 * math.sqrt(2) * 10 ** (level / 20)
    assert dbov(sine(1020.0, amplitude)) == pytest.approx(level, abs=0.02)


def test_silence_and_empty_read_the_floor() -> None:
    assert dbov(np.zeros(160, dtype=np.int16)) == FLOOR_DBOV == -127.0
    assert dbov(np.zeros(0, dtype=np.int16)) == FLOOR_DBOV
    assert peak_dbov(np.zeros(160, dtype=np.int16)) == FLOOR_DBOV
    # One LSB in 160 samples is about -112 dBov: still above the floor.
    one = np.zeros(160, dtype=np.int16)
    one[0] = 1
    assert FLOOR_DBOV < dbov(one) < -100.0


def test_peak_dbov() -> None:
    assert peak_dbov(np.array([0, -32768], dtype=np.int16)) == 0.0
    assert peak_dbov(np.array([16384, -100], dtype=np.int16)) == pytest.approx(-6.02, abs=0.01)
    assert peak_dbov(sine(440.0, 3276.8)) == pytest.approx(-20.0, abs=0.01)


def test_clipped_fraction_counts_samples_at_the_rails() -> None:
    x = np.array([32767, -32768, -32767, 32766, 0, 5, -5, 100], dtype=np.int16)
    assert clipped_fraction(x) == 3 / 8
    assert clipped_fraction(sine(1000.0, 20000.0)) == 0.0
    assert clipped_fraction(np.zeros(0, dtype=np.int16)) == 0.0


def test_overdriven_sine_shows_clipping() -> None:
    loud = np.clip(np.round(60000 * np.sin(np.arange(800) * 0.3)), -32768, 32767)
    assert clipped_fraction(loud.astype(np.int16)) > 0.3


def test_rfc6464_audio_level() -> None:
    assert audio_level(sine(1000.0, 32767.0)) == 3
    assert audio_level(np.zeros(160, dtype=np.int16)) == 127
    assert audio_level(np.full(160, -32768, dtype=np.int16)) == 0


def test_rows_are_levels_of_each_leg() -> None:
    batch = np.stack([sine(1000.0, 32767.0, 160), np.zeros(160, np.int16), sine(300.0, 100.0, 160)])
    levels = dbov_rows(batch)
    assert levels.tolist() == pytest.approx([dbov(row) for row in batch])
    assert levels[1] == FLOOR_DBOV


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.int16, hnp.array_shapes(max_dims=2, max_side=300)))
def test_kernels_match_their_twins(x: NDArray[np.int16]) -> None:
    assert dbov(x) == pytest.approx(dbov_reference(x), abs=1e-9)
    assert peak_dbov(x) == pytest.approx(peak_dbov_reference(x), abs=1e-9)


def test_wrong_dtype_is_rejected() -> None:
    with pytest.raises(ValueError, match="int16"):
        dbov(np.zeros(10, dtype=np.float64))
    with pytest.raises(ValueError, match="2-D"):
        dbov_rows(np.zeros(10, dtype=np.int16))


# --- snr_db ------------------------------------------------------------------------------


def test_snr_of_an_exact_delayed_scaled_copy_is_infinite() -> None:
    ref = sine(1000.0, 8000.0, 800)
    received = np.concatenate([np.zeros(37, np.int16), -2 * ref])
    assert snr_db(ref, received) == math.inf


def test_snr_finds_delay_and_gain_with_noise() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 3000, 4000)
    noise = rng.normal(0, 30, 4000 + 123)
    received = np.concatenate([np.zeros(123), 0.5 * ref]) + noise
    # Signal 1500 RMS against noise 30 RMS: 20 * log10(50) = 34 dB.
    assert snr_db(ref, received) == pytest.approx(34.0, abs=0.5)


def test_snr_when_received_leads_the_reference() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(0, 1000, 3000)
    assert snr_db(ref, ref[50:] * 3) > 200


def test_snr_of_a_g711_round_trip_tone() -> None:
    ref = sine(1000.0, 10000.0, RATE)
    received = g711.ulaw_decode(g711.ulaw_encode(ref))
    # µ-law gives about 38 dB of SNR on a mid-level tone.
    assert 35 < snr_db(ref, received) < 42


def test_snr_of_unrelated_noise_is_very_low() -> None:
    rng = np.random.default_rng(3)
    assert snr_db(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)) < -10


def test_max_lag_limits_the_search() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(0, 1000, 2000)
    received = np.concatenate([np.zeros(300), ref])
    assert snr_db(ref, received, max_lag=400) > 100
    assert snr_db(ref, received, max_lag=100) < 5


def test_snr_needs_a_signal() -> None:
    with pytest.raises(ValueError):
        snr_db(np.zeros(100), np.ones(100))
    with pytest.raises(ValueError):
        snr_db(np.ones(100), np.zeros(0))


@settings(max_examples=30, deadline=None)
@given(
    delay=st.integers(0, 200),
    gain=st.floats(0.05, 20.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_snr_is_invariant_to_delay_and_gain(delay: int, gain: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1000, 1500)
    noise = rng.normal(0, 10, 1500)
    baseline = snr_db(ref, ref + noise)
    shifted = np.concatenate([rng.normal(0, 1, delay), gain * (ref + noise)])
    assert snr_db(ref, shifted) == pytest.approx(baseline, abs=0.01)


def test_warm_up_compiles_what_the_media_path_calls() -> None:
    from dsp import level

    warm_up()
    kernels = (level._sum_squares, level._peak, level._rows_sum_squares, level._count_clipped)
    compiled = [len(k.signatures) for k in kernels]
    frame = np.frombuffer(bytes(320), dtype=np.int16)  # read-only, as decoded from a payload
    dbov(frame)
    peak_dbov(frame)
    clipped_fraction(frame)
    dbov_rows(np.zeros((4, 160), dtype=np.int16))
    assert [len(k.signatures) for k in kernels] == compiled
