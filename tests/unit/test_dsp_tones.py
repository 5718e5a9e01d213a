"""Tones: exact frequencies and levels, preset cadences, streaming equals one-shot."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dsp.level import dbov, peak_dbov
from dsp.tones import (
    COUNTRIES,
    DBM0_TO_DBOV,
    KINDS,
    ToneGenerator,
    ToneSpec,
    call_progress,
    render,
    render_reference,
    tone,
    warm_up,
)

RATE = 8000


def component_amplitude(x: NDArray[np.int16], freq: float, rate: int = RATE) -> float:
    t = np.arange(x.size) / rate
    return float(2 * abs(np.sum(x * np.exp(-2j * np.pi * freq * t))) / x.size)


def on_off_runs(x: NDArray[np.int16], rate: int = RATE) -> list[tuple[bool, float]]:
    """(is_on, seconds) runs of 5 ms blocks, from the block energies."""
    block = rate // 200
    on = [bool(np.any(x[i : i + block])) for i in range(0, x.size - block + 1, block)]
    runs: list[tuple[bool, float]] = []
    for flag in on:
        if runs and runs[-1][0] == flag:
            runs[-1] = (flag, runs[-1][1] + 0.005)
        else:
            runs.append((flag, 0.005))
    return [(flag, round(seconds, 3)) for flag, seconds in runs]


@pytest.mark.parametrize("level", [-3.5, -10.0, -20.0, -40.0])
def test_single_tone_level_and_frequency(level: float) -> None:
    x = tone([1000.0], 1.0, RATE, level)
    assert x.dtype == np.int16 and x.size == RATE
    assert dbov(x) == pytest.approx(level, abs=0.01)
    amplitude = 32768 * np.sqrt(2) * 10 ** (level / 20)
    assert component_amplitude(x, 1000.0) == pytest.approx(amplitude, rel=1e-3)
    assert component_amplitude(x, 1010.0) < amplitude * 1e-3


def test_dual_tone_components_each_at_the_level() -> None:
    x = tone([350.0, 440.0], 1.0, RATE, -13.0)
    amplitude = 32768 * np.sqrt(2) * 10 ** (-13.0 / 20)
    assert component_amplitude(x, 350.0) == pytest.approx(amplitude, rel=1e-3)
    assert component_amplitude(x, 440.0) == pytest.approx(amplitude, rel=1e-3)
    assert dbov(x) == pytest.approx(-13.0 + 3.01, abs=0.02)


def test_tone_at_16k_and_48k() -> None:
    for rate in (16000, 48000):
        x = tone([6000.0], 0.5, rate, -12.0)
        assert x.size == rate // 2
        assert dbov(x) == pytest.approx(-12.0, abs=0.01)


def test_tone_that_would_clip_is_refused() -> None:
    with pytest.raises(ValueError, match="clip"):
        tone([400.0, 450.0], 0.1, RATE, -4.0)
    assert peak_dbov(tone([400.0], 0.1, RATE, -3.02)) <= 0.0


def test_frequency_must_be_below_nyquist() -> None:
    with pytest.raises(ValueError, match="rate"):
        tone([4000.0], 0.1, RATE)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (lambda: ToneSpec(()), "frequencies"),
        (lambda: ToneSpec((0.0,)), "frequencies"),
        (lambda: ToneSpec((400.0,), (0.5,)), "pairs"),
        (lambda: ToneSpec((400.0,), (0.5, 0.0)), "pairs"),
        (lambda: ToneSpec((400.0,), (), float("nan")), "finite"),
    ],
)
def test_invalid_specs(spec: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        spec()  # type: ignore[operator]


# Frequencies and cadences from the ITU-T E.180 supplement list, BT SIN 350 and ETSI.
EXPECTED = {
    ("us", "ringback"): ((440, 480), (2.0, 4.0)),
    ("us", "busy"): ((480, 620), (0.5, 0.5)),
    ("us", "congestion"): ((480, 620), (0.25, 0.25)),
    ("us", "dial"): ((350, 440), ()),
    ("gb", "ringback"): ((400, 450), (0.4, 0.2, 0.4, 2.0)),
    ("gb", "busy"): ((400,), (0.375, 0.375)),
    ("gb", "congestion"): ((400,), (0.4, 0.35, 0.225, 0.525)),
    ("gb", "dial"): ((350, 440), ()),
    ("de", "ringback"): ((425,), (1.0, 4.0)),
    ("de", "busy"): ((425,), (0.48, 0.48)),
    ("de", "congestion"): ((425,), (0.24, 0.24)),
    ("de", "dial"): ((425,), ()),
    ("eu", "ringback"): ((425,), (1.0, 4.0)),
    ("eu", "busy"): ((425,), (0.5, 0.5)),
    ("eu", "congestion"): ((425,), (0.25, 0.25)),
    ("eu", "dial"): ((425,), ()),
    ("fr", "ringback"): ((440,), (1.5, 3.5)),
    ("fr", "busy"): ((440,), (0.5, 0.5)),
    ("fr", "congestion"): ((440,), (0.25, 0.25)),
    ("fr", "dial"): ((440,), ()),
}


@pytest.mark.parametrize(("country", "kind"), sorted(EXPECTED))
def test_presets(country: str, kind: str) -> None:
    spec = call_progress(country, kind)  # type: ignore[arg-type]
    frequencies, cadence = EXPECTED[(country, kind)]
    assert spec.frequencies == frequencies
    assert spec.cadence == cadence
    assert -36.0 < spec.level_dbov < -10.0  # -24 to -13 dBm0 per frequency


def test_every_country_has_every_kind() -> None:
    assert set(COUNTRIES) == {"de", "eu", "fr", "gb", "uk", "us"}
    for country in COUNTRIES:
        for kind in KINDS:
            assert call_progress(country.upper(), kind) == call_progress(country, kind)
    assert call_progress("uk", "busy") == call_progress("gb", "busy")


def test_us_levels_follow_the_precise_tone_plan() -> None:
    assert call_progress("us", "dial").level_dbov == pytest.approx(-13.0 + DBM0_TO_DBOV)
    assert call_progress("us", "ringback").level_dbov == pytest.approx(-19.0 + DBM0_TO_DBOV)
    assert call_progress("us", "busy").level_dbov == pytest.approx(-24.0 + DBM0_TO_DBOV)


def test_unknown_country_or_kind() -> None:
    with pytest.raises(ValueError, match="country 'xx'"):
        call_progress("xx", "busy")
    with pytest.raises(ValueError, match="'howler'"):
        call_progress("us", "howler")  # type: ignore[arg-type]


@pytest.mark.parametrize(("country", "kind"), sorted(k for k, v in EXPECTED.items() if v[1]))
def test_rendered_cadence_matches_the_preset(country: str, kind: str) -> None:
    spec = call_progress(country, kind)  # type: ignore[arg-type]
    x = render(spec, 2 * spec.period, RATE)
    runs = on_off_runs(x)
    expected = [(i % 2 == 0, d) for i, d in enumerate(spec.cadence)] * 2
    assert runs == expected


def test_burst_level_and_ramps() -> None:
    spec = call_progress("us", "busy")
    x = render(spec, 1.0, RATE)
    burst = x[160:3840]  # inside the first 0.5 s burst, past the ramps
    assert dbov(burst) == pytest.approx(spec.level_dbov + 3.01, abs=0.05)
    # A 2 ms ramp: the first samples are small, the burst reaches full amplitude after 16.
    envelope_start = np.abs(x[:4].astype(np.int32)).max()
    assert envelope_start < 0.3 * np.abs(burst).max()
    assert not x[4000:8000].any()


@pytest.mark.parametrize(("country", "kind"), [("gb", "ringback"), ("us", "dial"), ("de", "busy")])
def test_kernel_matches_the_numpy_twin(country: str, kind: str) -> None:
    spec = call_progress(country, kind)  # type: ignore[arg-type]
    got = render(spec, 6.5, RATE).astype(np.int32)
    assert np.abs(got - render_reference(spec, 6.5, RATE)).max() <= 1


@settings(max_examples=30, deadline=None)
@given(
    key=st.sampled_from(sorted(EXPECTED)),
    rate=st.sampled_from([8000, 16000, 48000]),
    frames=st.lists(st.integers(0, 2000), min_size=1, max_size=20),
)
def test_streaming_frames_concatenate_to_the_one_shot_signal(
    key: tuple[str, str], rate: int, frames: list[int]
) -> None:
    spec = call_progress(*key)  # type: ignore[arg-type]
    generator = ToneGenerator(spec, rate)
    streamed = np.concatenate([generator.next_frame(n) for n in frames])
    assert generator.position == sum(frames)
    assert np.array_equal(streamed, render(spec, sum(frames) / rate, rate))


def test_phase_is_continuous_across_frames() -> None:
    generator = ToneGenerator(ToneSpec((1000.0,), (), -6.0), RATE)
    frames = [generator.next_frame(160) for _ in range(10)]
    joined = np.concatenate(frames).astype(np.int32)
    # At the frame joins the signal moves no more than a sine can in one sample.
    amplitude = 32768 * np.sqrt(2) * 10 ** (-6.0 / 20)
    largest_step = 2 * amplitude * np.sin(np.pi * 1000.0 / RATE) + 1
    assert np.abs(np.diff(joined))[159::160].max() <= largest_step
    assert np.array_equal(joined, tone([1000.0], 10 * 160 / RATE, RATE, -6.0))


def test_reset_starts_over() -> None:
    generator = ToneGenerator(call_progress("fr", "busy"), RATE)
    first = generator.next_frame(800)
    generator.next_frame(3000)
    generator.reset()
    assert np.array_equal(generator.next_frame(800), first)
    with pytest.raises(ValueError):
        generator.next_frame(-1)


def test_spec_level_can_be_replaced() -> None:
    louder = dataclasses.replace(call_progress("eu", "dial"), level_dbov=-6.0)
    assert dbov(render(louder, 0.5, RATE)) == pytest.approx(-6.0, abs=0.01)


def test_warm_up_runs() -> None:
    warm_up()
