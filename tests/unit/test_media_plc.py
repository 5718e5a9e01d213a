"""Packet-loss concealment (G.711 Appendix I style): pitch repetition, fade-out, fade-in."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from media.jitter import conceal as conceal_from_jitter
from media.plc import Concealer, conceal, history_length, recover

FRAME = 160


def sine(frequency: float, samples: int, rate: int = 8000, amplitude: float = 8000.0) -> NDArray:
    n = np.arange(samples)
    return np.rint(amplitude * np.sin(2 * np.pi * frequency * n / rate)).astype(np.int16)


def voiced(samples: int, pitch_hz: float = 120.0, rate: int = 8000) -> NDArray:
    """A vowel-like signal: a fundamental and falling harmonics."""
    n = np.arange(samples) / rate
    wave = sum(np.sin(2 * np.pi * pitch_hz * k * n + k) / k for k in range(1, 8))
    return np.rint(4000 * wave).astype(np.int16)


def peak_hz(x: NDArray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x)), 1 << 15))
    return float(np.argmax(spectrum) * rate / (1 << 15))


def rms(x: NDArray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def steepest(x: NDArray) -> float:
    return float(np.max(np.abs(np.diff(x.astype(np.float64)))))


def sharpest(x: NDArray) -> float:
    """Largest second difference: a step or a kink shows here even when the slope hides it."""
    return float(np.max(np.abs(np.diff(x.astype(np.float64), 2))))


def test_the_jitter_module_offers_the_same_helper() -> None:
    assert conceal_from_jitter is conceal


@pytest.mark.parametrize("frequency", [150.0, 250.0, 440.0, 1000.0, 1633.0])
def test_a_concealed_sine_keeps_its_frequency(frequency: float) -> None:
    history = sine(frequency, history_length())
    out = conceal(history, 1)
    assert len(out) == FRAME and out.dtype == np.int16
    assert abs(peak_hz(out) - frequency) < max(6.0, 0.02 * frequency)


@pytest.mark.parametrize("frequency", [200.0, 440.0, 941.0])
def test_a_concealed_sine_fades_over_consecutive_losses(frequency: float) -> None:
    history = sine(frequency, 800)
    out = conceal(history, 5)
    frames = [out[i * FRAME : (i + 1) * FRAME] for i in range(5)]
    levels = [rms(f) for f in frames]
    assert levels[0] > levels[1] > levels[2] > 0
    assert levels[3] == levels[4] == 0  # silent from 60 ms
    assert np.max(np.abs(out[40:80])) >= 0.97 * np.max(np.abs(history))  # no fade for 10 ms


@pytest.mark.parametrize("frequency", [139.6, 150.0, 333.3, 440.0, 1000.0])
def test_concealment_joins_the_history_without_a_step(frequency: float) -> None:
    # 139.6 Hz has a period of 57.3 samples: repeating 57 needs the levelling and blending.
    history = sine(frequency, 600)
    joined = np.concatenate((history, conceal(history, 3)))
    assert steepest(joined) <= 1.05 * steepest(history) + 2
    assert sharpest(joined) <= 1.25 * sharpest(history) + 2


def test_after_20_ms_three_periods_repeat_rather_than_one() -> None:
    """Appendix I widens the repeated span (one period, two at 10 ms, three at 20 ms) so a long
    loss does not buzz: the third frame repeats over three periods, not over one."""
    length = history_length()
    swelling = np.linspace(0.6, 1.0, length)  # each period a little louder than the last
    history = np.rint(swelling * sine(100.0, length)).astype(np.int16)
    out = conceal(history, 3).astype(np.float64)
    n = np.arange(len(out))
    gain = np.clip(1.0 - (n - 80) / 400, 0.0, 1.0)  # linear fade from 10 ms to 60 ms
    flat = out / gain
    period = 80  # 100 Hz
    window = np.arange(420, 470)  # three periods back is still in the three-period span
    one_period_error = rms(flat[window] - flat[window - period])
    three_period_error = rms(flat[window] - flat[window - 3 * period])
    assert three_period_error < 0.01 * rms(flat[window]) < one_period_error


def test_a_voiced_signal_repeats_at_its_pitch_period() -> None:
    history = voiced(history_length(), pitch_hz=120.0)
    out = conceal(history, 1).astype(np.float64)
    lags = np.arange(40, 121)
    corr = [np.dot(out[:-lag], out[lag:]) / (len(out) - lag) for lag in lags]
    assert abs(lags[int(np.argmax(corr))] - 8000 / 120) <= 1.5
    joined = np.concatenate((history, conceal(history, 2)))
    assert steepest(joined) <= 1.2 * steepest(history)


def test_longer_losses_extend_shorter_ones() -> None:
    history = voiced(500)
    three = conceal(history, 3)
    assert np.array_equal(three[: 2 * FRAME], conceal(history, 2))
    assert np.array_equal(three[:FRAME], conceal(history, 1))


def test_wideband_concealment_scales_with_the_rate() -> None:
    history = sine(440.0, history_length(16000), rate=16000)
    out = conceal(history, 1, frame_size=320, rate=16000)
    assert len(out) == 320
    assert abs(peak_hz(out, 16000) - 440.0) < 9
    assert history_length(16000) == 2 * history_length(8000)


@pytest.mark.parametrize(
    "history", [np.zeros(0, np.int16), np.zeros(400, np.int16), sine(440.0, 100)]
)
def test_without_usable_history_the_loss_is_silence(history: NDArray) -> None:
    out = conceal(history, 2)
    assert len(out) == 2 * FRAME and not out.any()


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        conceal(sine(440.0, 400), -1)
    with pytest.raises(ValueError):
        conceal(sine(440.0, 400), 1, frame_size=0)
    assert len(conceal(sine(440.0, 400), 0)) == 0


@pytest.mark.parametrize("lost", [1, 2, 3, 6])
def test_the_first_good_frame_fades_in_from_the_concealment(lost: int) -> None:
    signal = sine(440.0, 400 + (lost + 1) * FRAME)
    history, good = signal[:400], signal[400 + lost * FRAME :]
    concealed = conceal(history, lost)
    recovered = recover(history, lost, good)
    ola = min(32 + 32 * (lost * 2 - 1), 80)
    assert np.array_equal(recovered[ola:], good[ola:])
    assert not np.array_equal(recovered[:ola], good[:ola])
    joined = np.concatenate((concealed, recovered))
    assert steepest(joined) <= 1.1 * steepest(signal) + 2


def test_a_frame_after_no_loss_is_untouched() -> None:
    good = sine(300.0, FRAME)
    assert np.array_equal(recover(sine(300.0, 400), 0, good), good)


def test_the_concealer_keeps_a_streams_history() -> None:
    signal = voiced(20 * FRAME)
    frames = [signal[i * FRAME : (i + 1) * FRAME] for i in range(20)]
    plc = Concealer()
    out = [plc.receive(frames[i]) for i in range(5)]
    assert all(np.array_equal(a, b) for a, b in zip(out, frames[:5], strict=True))
    history = np.concatenate(frames[:5])
    lost = [plc.conceal() for _ in range(5)]
    assert plc.lost == 5
    assert np.array_equal(np.concatenate(lost[:3]), conceal(history, 3))
    assert not lost[3].any() and not lost[4].any()
    after = plc.receive(frames[10])
    assert plc.lost == 0
    assert np.array_equal(after[80:], frames[10][80:])
    assert np.array_equal(plc.receive(frames[11]), frames[11])
    plc.reset()
    assert not plc.conceal().any()
