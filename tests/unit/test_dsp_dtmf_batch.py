"""The batched DTMF detector: per slot, exactly what a :class:`DtmfDetector` per stream reports."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dsp import dtmf, dtmf_kernels
from dsp.dtmf import (
    FREQUENCY_TOLERANCE,
    KEYPAD,
    RATES,
    DtmfBatchDetector,
    DtmfDetector,
    dtmf_spectra,
    dtmf_spectra_reference,
    generate,
)


def pcm(x: NDArray[np.float64]) -> NDArray[np.int16]:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def speechlike(rng: np.random.Generator, seconds: float, rate: int) -> NDArray[np.float64]:
    """A voiced-speech stand-in: gliding pitch, formant-shaped harmonics, syllable envelope."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = rng.uniform(90, 220) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    formants = rng.uniform([300, 900, 2000], [900, 2000, 3200])
    out = np.zeros(t.size)
    for h in range(1, 40):
        freq = h * f0
        gain = sum(np.exp(-(((freq - f) / 150.0) ** 2)) for f in formants) + 0.05
        out += np.where(freq < rate / 2 - 200, gain, 0.0) * np.sin(h * phase)
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(3, 6) * t), 0, None)
    scaled: NDArray[np.float64] = out * syllables / max(np.abs(out).max(), 1.0)
    return scaled * rng.uniform(2000, 9000)


def random_stream(rng: np.random.Generator, rate: int) -> tuple[NDArray[np.int16], str]:
    """Keys (with offsets, twist, random phases), noise and speech-like stretches mixed."""
    keys = "".join(rng.choice(list(KEYPAD), int(rng.integers(1, 6))))
    offset = (float(rng.uniform(-0.018, 0.018)), float(rng.uniform(-0.018, 0.018)))
    tones = generate(
        keys, rate, on_ms=float(rng.uniform(25, 90)), off_ms=float(rng.uniform(25, 80)),
        level_dbov=float(rng.uniform(-35, -8)), twist_db=float(rng.uniform(-9, 5)),
        frequency_offset=offset, rng=rng,
    ).astype(np.float64)  # fmt: skip
    speech = speechlike(rng, float(rng.uniform(0.1, 0.6)), rate)
    signal = np.concatenate((speech[: speech.size // 2], tones, speech[speech.size // 2 :]))
    signal += rng.normal(0, rng.uniform(0, 600), signal.size)
    if rng.random() < 0.3:  # a key spoken over
        signal[: min(signal.size, tones.size)] += speechlike(rng, signal.size / rate, rate)[
            : min(signal.size, tones.size)
        ]
    return pcm(signal), keys


@dataclass
class Stream:
    frames: NDArray[np.int16]
    reference: DtmfDetector
    next_frame: int = 0
    heard: list[str] = field(default_factory=list)


def run_both(
    rng: np.random.Generator,
    signals: list[NDArray[np.int16]],
    rate: int,
    frame: int,
    slots: int,
    capacity: int,
) -> tuple[list[str], list[str]]:
    """Feed ``signals`` as streams through one batch detector (at most ``slots`` at a time, a
    finished stream's slot reset and taken by the next one) and through a detector each.

    Every call, each active stream sends 0, 1 or 2 frames, in a random interleaving. Checks
    call by call that each slot reports what its stream's own detector reports; returns the
    keys each stream heard (batch, then single)."""
    batch = DtmfBatchDetector(capacity, rate)
    waiting = list(range(len(signals)))[::-1]
    active: dict[int, tuple[int, Stream]] = {}  # slot -> (stream index, stream)
    heard: dict[int, list[str]] = {}
    free = list(range(slots))
    single: dict[int, str] = {}
    while waiting or active:
        while waiting and free:
            slot = free.pop(int(rng.integers(len(free))))
            index = waiting.pop()
            x = signals[index]
            x = np.concatenate((x, np.zeros(-x.size % frame, dtype=np.int16)))
            batch.reset(slot)
            active[slot] = (index, Stream(x.reshape(-1, frame), DtmfDetector(rate)))
            heard[index] = []
        order: list[int] = []
        for slot, (_, stream) in active.items():
            left = stream.frames.shape[0] - stream.next_frame
            order += [slot] * min(left, int(rng.choice([0, 1, 1, 1, 2])))
        rng.shuffle(order)  # interleave streams; a stream's own frames stay in order
        rows: list[int] = []
        frames: list[NDArray[np.int16]] = []
        expected: dict[int, str] = {}
        for slot in order:
            _, stream = active[slot]
            x = stream.frames[stream.next_frame]
            stream.next_frame += 1
            rows.append(slot)
            frames.append(x)
            keys = stream.reference.process(x)
            stream.heard.append(keys)
            expected[slot] = expected.get(slot, "") + keys
        if rows:
            got: dict[int, str] = {}
            for slot, key in batch.process(np.array(frames), np.array(rows, dtype=np.intp)):
                got[slot] = got.get(slot, "") + key
            assert got == {s: keys for s, keys in expected.items() if keys}
            for slot, found in got.items():
                heard[active[slot][0]].append(found)
        for slot in [s for s, (_, st_) in active.items() if st_.next_frame == len(st_.frames)]:
            index, stream = active.pop(slot)
            single[index] = "".join(stream.heard)
            free.append(slot)
    return (
        ["".join(heard[i]) for i in range(len(signals))],
        [single[i] for i in range(len(signals))],
    )


# --- equivalence with one detector per stream ------------------------------------------------


@pytest.mark.parametrize(("rate", "frame"), [(8000, 160), (16000, 320), (8000, 100), (8000, 37)])
def test_each_slot_hears_what_its_own_detector_hears(rate: int, frame: int) -> None:
    rng = np.random.default_rng(rate + frame)
    made = [random_stream(rng, rate) for _ in range(14)]
    signals = [x for x, _ in made]
    heard, single = run_both(rng, signals, rate, frame, slots=5, capacity=2)
    assert heard == single
    # Most streams' keys are all found (some are too short, too weak or spoken over).
    found = sum(h == keys for h, (_, keys) in zip(heard, made, strict=True))
    assert found >= 8


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    streams=st.integers(1, 8),
    slots=st.integers(1, 4),
    capacity=st.integers(0, 3),
    frame=st.sampled_from([160, 160, 80, 200, 1]),
)
def test_batch_equals_single_detectors_property(
    seed: int, streams: int, slots: int, capacity: int, frame: int
) -> None:
    rng = np.random.default_rng(seed)
    signals = []
    for _ in range(streams):
        x, _ = random_stream(rng, 8000)
        signals.append(x[: 4000 if frame == 1 else x.size])  # one-sample frames: keep it short
    heard, single = run_both(rng, signals, 8000, frame, slots, capacity)
    assert heard == single


def test_a_thousand_streams_in_one_call_per_tick() -> None:
    rng = np.random.default_rng(5)
    n = 1000
    keys = rng.choice(list(KEYPAD), (n, 3))
    signals = np.zeros((n, 9600), dtype=np.int16)
    for i in range(n):
        x = generate("".join(keys[i]), on_ms=50, off_ms=50, rng=rng)
        start = int(rng.integers(0, 9600 - x.size))
        signals[i, start : start + x.size] = x
    batch = DtmfBatchDetector(n)
    rows = rng.permutation(n).astype(np.intp)
    heard = [""] * n
    for t in range(0, 9600, 160):
        for slot, key in batch.process(signals[rows, t : t + 160], rows):
            heard[slot] += key
    assert heard == ["".join(k) for k in keys]
    assert batch.capacity == n


# --- slots, growth, reset ---------------------------------------------------------------------


def test_capacity_grows_on_demand_and_keeps_every_slot_state() -> None:
    x = generate("6", on_ms=200, off_ms=0)
    batch = DtmfBatchDetector(0)
    assert batch.capacity == 0
    assert batch.process(x[None, :80], np.array([0])) == []  # grows to 1
    assert batch.capacity == 1
    # Slot 0 is half-way into its key; slot 5 forces growth (at least doubling).
    assert batch.process(np.stack((x[80:160], x[:80])), np.array([0, 5])) == []
    assert batch.capacity == 6
    got = batch.process(np.stack((x[160:400], x[80:320])), np.array([0, 5]))
    assert got == [(0, "6")]  # 50 ms of tone heard by slot 0, 40 ms by slot 5
    got = batch.process(np.stack((x[400:480], x[320:400])), np.array([0, 5]))
    assert got == [(5, "6")]
    batch.grow(3)  # never shrinks
    assert batch.capacity == 6
    batch.grow(40)
    assert batch.capacity == 40
    assert batch.process(np.stack((x[480:], x[400:-80])), np.array([0, 5])) == []  # same keys
    assert batch.process(x[None, 0:400], np.array([39])) == [(39, "6")]
    with pytest.raises(ValueError, match="negative"):
        DtmfBatchDetector(-1)


def test_reset_clears_one_slot_only() -> None:
    x = generate("4", on_ms=400, off_ms=0)
    batch = DtmfBatchDetector(2)
    both = np.array([0, 1])
    assert sorted(batch.process(np.stack((x[:800], x[:800])), both)) == [(0, "4"), (1, "4")]
    batch.reset(1)
    assert batch.process(np.stack((x[800:1600], x[800:1600])), both) == [(1, "4")]
    batch.process(x[None, :37], np.array([0]))  # leaves 37 samples pending in slot 0
    batch.reset(0)
    assert batch.process(np.zeros((2, 160), dtype=np.int16), both) == []
    batch.reset(10)  # beyond the arrays: fresh already, nothing to do
    assert batch.capacity == 2
    with pytest.raises(IndexError):
        batch.reset(-1)


def test_a_slot_listed_twice_takes_its_frames_in_order() -> None:
    x = generate("9", on_ms=60, off_ms=60)
    batch = DtmfBatchDetector(1)
    frames = x[: x.size // 80 * 80].reshape(-1, 80)
    assert batch.process(frames, np.zeros(len(frames), dtype=np.intp)) == [(0, "9")]


# --- input checks -------------------------------------------------------------------------------


def test_inputs_are_checked_and_a_refused_call_changes_nothing() -> None:
    x = generate("2", on_ms=100, off_ms=0)
    batch = DtmfBatchDetector(2)
    with pytest.raises(ValueError, match="supports rates"):
        DtmfBatchDetector(4, 11025)
    with pytest.raises(TypeError, match="int16"):
        batch.process(np.zeros((1, 160)), np.array([0]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="integers"):
        batch.process(np.zeros((1, 160), dtype=np.int16), np.array([0.0]))
    with pytest.raises(ValueError, match="rows"):
        batch.process(np.zeros(160, dtype=np.int16), np.array([0]))
    with pytest.raises(ValueError, match="rows"):
        batch.process(np.zeros((2, 160), dtype=np.int16), np.array([0]))
    assert batch.process(x[None, :240], np.array([1])) == []
    with pytest.raises(IndexError, match="negative"):
        batch.process(np.stack((x[240:400], x[240:400])), np.array([1, -1]))
    assert batch.process(np.zeros((0, 160), dtype=np.int16), np.zeros(0, dtype=np.intp)) == []
    # Slot 1 lost nothing to the refused call: its press completes as for a lone detector.
    alone = DtmfDetector()
    assert alone.process(x[:240]) == "" and alone.process(x[240:]) == "2"
    assert batch.process(x[None, 240:], np.array([1], dtype=np.uint8)) == [(1, "2")]


def test_read_only_and_strided_inputs() -> None:
    x = generate("0", on_ms=100, off_ms=0, rate=16000)
    data = np.frombuffer(np.stack((x, x)).tobytes(), dtype=np.int16).reshape(2, -1)
    assert not data.flags.writeable
    rows = np.frombuffer(np.array([3, 1], dtype=np.intp).tobytes(), dtype=np.intp)
    batch = DtmfBatchDetector(4, 16000)
    assert sorted(batch.process(data[:, ::1], rows)) == [(1, "0"), (3, "0")]
    strided = np.stack((x, x), axis=1).T  # Fortran order
    batch.reset(1)
    assert batch.process(strided[1:], np.array([1])) == [(1, "0")]


# --- the kernels under the batch --------------------------------------------------------------


def test_warm_up_compiles_the_batch_kernel() -> None:
    dtmf.warm_up()
    assert dtmf_kernels.detect_batch_kernel.signatures
    assert "DtmfBatchDetector" in dtmf.__all__
    assert "detect_batch_kernel" in dtmf_kernels.__all__


@pytest.mark.parametrize("rate", RATES)
def test_spectra_stay_exact_past_the_rotor_period(rate: int) -> None:
    # Sub-block phases come from a one-second table; streams run for hours.
    rng = np.random.default_rng(3)
    x = pcm(rng.normal(0, 3000, int(2.6 * rate)))
    got, powers = dtmf_spectra(x, rate)
    want, want_powers = dtmf_spectra_reference(x, rate)
    assert np.abs(got - want).max() <= 1e-9 * np.abs(want).max()
    assert np.allclose(powers, want_powers, rtol=1e-9)


@pytest.mark.parametrize("rate", RATES)
def test_least_gain_bounds_the_hann_gain_within_tolerance(rate: int) -> None:
    # classify() rejects early on tone powers computed with these bounds; they must never
    # exceed the gain it would apply, or a key could be lost.
    width = 4 * (rate // 200)
    params = dtmf._CONFIGS[rate].params
    fundamentals = dtmf.ROW_FREQUENCIES + dtmf.COLUMN_FREQUENCIES
    for i, freq in enumerate(fundamentals):
        least = params[dtmf_kernels.P_LEAST_GAIN + i]
        limit = FREQUENCY_TOLERANCE * freq
        gains = [
            dtmf_kernels.hann_gain.py_func(o, float(rate), width)
            for o in np.linspace(-limit, limit, 801)
        ]
        assert least <= min(gains) and least > 0.999 * min(gains)
