"""DSP kernels: throughput of the numba kernels next to numpy references and C libraries.

Every row is measured in this one run and printed side by side: G.711 (numba, numpy, the C
``audioop``), G.722 (numba, the pure-Python reference, libavcodec through PyAV), mixing and
mix-minus of 2 to 64 streams, streaming DTMF detection, resampling (numba, numpy,
``audioop.ratecv``), and how long ``dsp.warmup.warm_up()`` takes in a fresh process with a
warm and with an empty on-disk numba cache.

    .venv/bin/python benchmarks/dsp.py            # full run, under a minute
    .venv/bin/python benchmarks/dsp.py --quick    # smoke run, a few seconds (no cold compile)
    .venv/bin/python benchmarks/dsp.py --json dsp.json

See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dsp import g711, mix, resample  # noqa: E402

FRAME = 160  # 20 ms at 8 kHz
LEGS = 1000  # legs in one batched tick
RNG = np.random.default_rng(20)


@dataclass
class Row:
    """One line of a section: a label and one cell per implementation."""

    label: str
    samples: int
    """Samples one call processes (the rate is ``samples / seconds per call``)."""
    cells: dict[str, float | None] = field(default_factory=dict)
    """Seconds per call by implementation (None: not available)."""


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    unit: str = "Msamples/s"
    notes: list[str] = field(default_factory=list)


class Timer:
    """Seconds per call of a function, best of a few repeats within a time budget."""

    def __init__(self, budget: float) -> None:
        self.budget = budget

    def per_call(self, fn: Callable[[], object]) -> float:
        fn()  # compile or load, fill caches
        calls, elapsed = 1, self._run(fn, 1)
        while elapsed < self.budget / 5 and calls < 1 << 24:
            calls *= max(2, min(100, int(self.budget / 5 / max(elapsed, 1e-7))))
            elapsed = self._run(fn, calls)
        best = elapsed / calls
        for _ in range(3):
            best = min(best, self._run(fn, calls) / calls)
        return best

    @staticmethod
    def _run(fn: Callable[[], object], calls: int) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        return time.perf_counter() - started


def load_audioop() -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import audioop
    except ImportError:  # Python 3.13 removed it
        return None
    return audioop


def load_av() -> ModuleType | None:
    try:
        import av
    except ImportError:
        return None
    return av


def speechlike(samples: int) -> NDArray[np.int16]:
    """Noise shaped like speech levels (-20 dBov RMS, int16)."""
    return np.clip(RNG.normal(0, 3300, samples), -32768, 32767).astype(np.int16)


# --- sections --------------------------------------------------------------------------------


def bench_g711(timer: Timer) -> Section:
    audioop = load_audioop()
    section = Section("G.711", ["numba", "numba _into", "numpy reference", "C audioop"])
    frame = speechlike(FRAME)
    batch = speechlike(FRAME * LEGS).reshape(LEGS, FRAME)
    laws = [
        ("µ-law", g711.ulaw_encode, g711.ulaw_encode_into, g711.ulaw_encode_reference,
         g711.ulaw_decode, g711.ulaw_decode_into, g711.ulaw_decode_reference, "ulaw"),
        ("A-law", g711.alaw_encode, g711.alaw_encode_into, g711.alaw_encode_reference,
         g711.alaw_decode, g711.alaw_decode_into, g711.alaw_decode_reference, "alaw"),
    ]  # fmt: skip
    for name, enc, enc_into, enc_ref, dec, dec_into, dec_ref, short in laws:
        for shape_label, pcm in (("20 ms frame", frame), (f"{LEGS} legs x 20 ms", batch)):
            codes = enc(pcm)
            pcm_bytes, code_bytes = pcm.tobytes(), codes.tobytes()
            out_codes, out_pcm = np.empty_like(codes), np.empty_like(pcm)
            c_enc = getattr(audioop, f"lin2{short}") if audioop else None
            c_dec = getattr(audioop, f"{short}2lin") if audioop else None
            row = Row(f"{name} encode, {shape_label}", pcm.size)
            row.cells = {
                "numba": timer.per_call(partial(enc, pcm)),
                "numba _into": timer.per_call(partial(enc_into, pcm, out_codes)),
                "numpy reference": timer.per_call(partial(enc_ref, pcm)),
                "C audioop": timer.per_call(partial(c_enc, pcm_bytes, 2)) if c_enc else None,
            }
            section.rows.append(row)
            row = Row(f"{name} decode, {shape_label}", pcm.size)
            row.cells = {
                "numba": timer.per_call(partial(dec, codes)),
                "numba _into": timer.per_call(partial(dec_into, codes, out_pcm)),
                "numpy reference": timer.per_call(partial(dec_ref, codes)),
                "C audioop": timer.per_call(partial(c_dec, code_bytes, 2)) if c_dec else None,
            }
            section.rows.append(row)
    section.notes.append(
        "numpy reference = the segment algorithm vectorised (no tables); audioop gets the same"
        " samples as one bytes object (a batch is one contiguous buffer)."
    )
    if audioop is None:
        section.notes.append("audioop is not available on this Python.")
    return section


def bench_g722(timer: Timer, quick: bool) -> Section:
    from dsp import g722

    av = load_av()
    section = Section("G.722 (64 kbit/s)", ["numba", "Python reference", "PyAV (libavcodec)"])
    frame = speechlike(2 * FRAME)  # 20 ms at 16 kHz
    batch = speechlike(2 * FRAME * LEGS).reshape(LEGS, 2 * FRAME)
    encoder, decoder = g722.G722Encoder(), g722.G722Decoder()
    octets = g722.G722Encoder().encode(frame)
    ref_state = g722.new_state()
    av_encode, av_decode = pyav_codec(av, frame, octets) if av else (None, None)
    reference_timer = Timer(min(timer.budget, 0.05))
    row = Row("encode, 20 ms frame (320 samples)", frame.size)
    row.cells = {
        "numba": timer.per_call(lambda: encoder.encode(frame)),
        "Python reference": reference_timer.per_call(
            lambda: g722.g722_encode_reference(frame, ref_state)
        ),
        "PyAV (libavcodec)": timer.per_call(av_encode) if av_encode else None,
    }
    section.rows.append(row)
    row = Row("decode, 20 ms frame (160 octets)", frame.size)
    row.cells = {
        "numba": timer.per_call(lambda: decoder.decode(octets)),
        "Python reference": reference_timer.per_call(
            lambda: g722.g722_decode_reference(octets, ref_state)
        ),
        "PyAV (libavcodec)": timer.per_call(av_decode) if av_decode else None,
    }
    section.rows.append(row)
    states = np.tile(g722.new_state(), (LEGS, 1))
    codes = g722.g722_encode_batch(batch, states.copy())
    row = Row(f"encode, {LEGS} legs x 20 ms (batch)", batch.size)
    row.cells = {"numba": timer.per_call(lambda: g722.g722_encode_batch(batch, states))}
    section.rows.append(row)
    row = Row(f"decode, {LEGS} legs x 20 ms (batch)", batch.size)
    row.cells = {"numba": timer.per_call(lambda: g722.g722_decode_batch(codes, states))}
    section.rows.append(row)
    section.notes.append(
        "PyAV per frame includes building the AudioFrame/Packet and reading the result back."
    )
    if av is None:
        section.notes.append("PyAV is not installed (pip install av).")
    return section


def pyav_codec(
    av: ModuleType, frame: NDArray[np.int16], octets: NDArray[np.uint8]
) -> tuple[Callable[[], object], Callable[[], object]]:
    enc = av.CodecContext.create("g722", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 16000, "mono", "s16", 64000
    dec = av.CodecContext.create("g722", "r")
    dec.sample_rate, dec.layout = 16000, "mono"
    pcm_bytes, payload = frame.tobytes(), octets.tobytes()
    counter = [0]

    def encode() -> object:
        f = av.AudioFrame(format="s16", layout="mono", samples=frame.size)
        f.sample_rate = 16000
        f.pts = counter[0]
        counter[0] += frame.size
        f.planes[0].update(pcm_bytes)
        return [bytes(p) for p in enc.encode(f)]

    def decode() -> object:
        return [
            np.frombuffer(fr.planes[0], np.int16, fr.samples)
            for fr in dec.decode(av.Packet(payload))
        ]

    return encode, decode


def numpy_mix_minus(x: NDArray[np.int16]) -> NDArray[np.int16]:
    """Vectorised numpy mix-minus (sum once, subtract, clip): the fair numpy baseline."""
    total = x.sum(axis=0, dtype=np.int32)
    mixed: NDArray[np.int16] = np.clip(total - x, -32768, 32767).astype(np.int16)
    return mixed


def bench_mix(timer: Timer, quick: bool) -> Section:
    section = Section(
        "Mixing, one 20 ms tick (160 samples per stream)",
        ["numba mix", "numpy mix", "numba mix-minus", "numpy mix-minus"],
        unit="µs/tick",
    )
    for n in (2, 4, 8, 16, 32, 64) if not quick else (2, 8, 64):
        x = speechlike(n * FRAME).reshape(n, FRAME)
        out, rows = np.empty(FRAME, np.int16), np.empty((n, FRAME), np.int16)
        row = Row(f"{n} streams", n * FRAME)
        row.cells = {
            "numba mix": timer.per_call(partial(mix.mix_into, x, out)),
            "numpy mix": timer.per_call(partial(mix.mix_reference, x)),
            "numba mix-minus": timer.per_call(partial(mix.mix_minus_into, x, rows)),
            "numpy mix-minus": timer.per_call(partial(numpy_mix_minus, x)),
        }
        section.rows.append(row)
    section.notes.append(
        "numpy mix-minus = sum once in int32, subtract each row, clip (vectorised);"
        " the test twin mix_minus_reference sums the other rows for each row and is slower."
    )
    return section


def bench_dtmf(timer: Timer) -> Section:
    section = Section("DTMF detection, streaming, one 20 ms frame", ["numba", "numpy reference"])
    try:
        from dsp import dtmf
    except ImportError as exc:
        section.notes.append(f"dsp.dtmf is not available: {exc}")
        return section
    signal = np.concatenate([dtmf.generate("1234567890*#ABCD"), speechlike(8000)])
    frames = signal[: signal.size // FRAME * FRAME].reshape(-1, FRAME)
    detector = dtmf.DtmfDetector()
    index = [0]

    def numba_frame() -> object:
        i = index[0] = (index[0] + 1) % len(frames)
        return detector.process(frames[i])

    reference = _dtmf_reference(dtmf)
    row = Row("digits and speech, per frame", FRAME)
    row.cells = {"numba": timer.per_call(numba_frame), "numpy reference": None}
    if reference is not None:
        ref_index = [0]

        def reference_frame() -> object:
            i = ref_index[0] = (ref_index[0] + 1) % len(frames)
            return reference(frames[i])

        row.cells["numpy reference"] = timer.per_call(reference_frame)
    else:
        section.notes.append("no numpy reference found in dsp.dtmf")
    section.rows.append(row)
    return section


def _dtmf_reference(dtmf: ModuleType) -> Callable[[NDArray[np.int16]], object] | None:
    """A per-frame callable of dsp.dtmf's reference detector, whatever its shape."""
    for name in ("DtmfDetectorReference", "DtmfReferenceDetector"):
        cls = getattr(dtmf, name, None)
        if cls is not None:
            detector: Callable[[NDArray[np.int16]], object] = cls().process
            return detector
    for name in ("detect_reference", "goertzel_reference"):
        fn = getattr(dtmf, name, None)
        if fn is not None:
            return partial(fn)
    return None


def audioop_ratecv(
    audioop: ModuleType | None, data: bytes, from_rate: int, to_rate: int, state: list[Any]
) -> bytes:
    """One frame through ``audioop.ratecv``, carrying its state between calls."""
    assert audioop is not None
    out, state[0] = audioop.ratecv(data, 2, 1, from_rate, to_rate, state[0])
    return bytes(out)


def bench_resample(timer: Timer, quick: bool) -> Section:
    audioop = load_audioop()
    section = Section(
        "Resampling (input samples/s)",
        ["numba, 20 ms frames", "numba, one shot", "numpy reference", "C audioop.ratecv"],
    )
    seconds = 2 if quick else 10
    pairs = [(8000, 16000), (8000, 48000)] if quick else [
        (8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000), (16000, 48000),
    ]  # fmt: skip
    for from_rate, to_rate in pairs:
        frame = speechlike(from_rate // 50)
        long = speechlike(from_rate * seconds)
        streaming = resample.Resampler(from_rate, to_rate)
        ratecv = partial(audioop_ratecv, audioop, frame.tobytes(), from_rate, to_rate, [None])
        taps = resample.design(from_rate, to_rate).taps.size
        row = Row(f"{from_rate // 1000}k -> {to_rate // 1000}k ({taps} taps)", frame.size)
        per_frame = timer.per_call(partial(streaming.process, frame))
        one_shot = timer.per_call(partial(resample.resample, long, from_rate, to_rate))
        reference = Timer(min(timer.budget, 0.1)).per_call(
            partial(resample.resample_reference, long, from_rate, to_rate)
        )
        scale = frame.size / long.size  # express one-shot figures per frame-sized call
        row.cells = {
            "numba, 20 ms frames": per_frame,
            "numba, one shot": one_shot * scale,
            "numpy reference": reference * scale,
            "C audioop.ratecv": timer.per_call(ratecv) if audioop else None,
        }
        section.rows.append(row)
    section.notes.append(
        f"one shot and numpy reference convert {seconds} s at once (np.convolve on the"
        " zero-stuffed signal); audioop.ratecv interpolates linearly (no anti-alias filter)."
    )
    return section


# --- warm start -------------------------------------------------------------------------------

_WARM_CHILD = """
import json, time
started = time.perf_counter()
import dsp.warmup
imported = time.perf_counter()
seconds = dsp.warmup.warm_up()
print(json.dumps({"warm_up": seconds, "import": imported - started,
                  "total": time.perf_counter() - started}))
"""


@dataclass
class WarmStart:
    cold: dict[str, float] | None
    warm: dict[str, float] | None
    error: str | None = None


def bench_warm_start(quick: bool, skip_cold: bool) -> WarmStart:
    """Warm: this process's own cache (filled by the warm-up in ``main``); cold: an empty one."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = []
    for _ in range(2 if quick else 3):
        result, error = _run_child(env, timeout=120)
        if error or result is None:
            return WarmStart(None, None, error)
        runs.append(result)
    warm = min(runs, key=lambda r: r["warm_up"])
    if quick or skip_cold:
        return WarmStart(None, warm)
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache_dir:
        cold, error = _run_child({**env, "NUMBA_CACHE_DIR": cache_dir}, timeout=240)
    return WarmStart(cold, warm, error)


def _run_child(env: dict[str, str], timeout: float) -> tuple[dict[str, float] | None, str | None]:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _WARM_CHILD],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None, f"warm_up() did not finish within {timeout:.0f} s"
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return None, f"warm_up() failed: {last[0]}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


# --- report ----------------------------------------------------------------------------------


def cell(section: Section, row: Row, column: str) -> str:
    seconds = row.cells.get(column)
    if seconds is None:
        return "-"
    if section.unit == "µs/tick":
        return f"{seconds * 1e6:,.1f}"
    rate = row.samples / seconds / 1e6
    return f"{rate:,.1f}" if rate >= 10 else f"{rate:,.2f}" if rate >= 0.1 else f"{rate:,.4f}"


def render_section(section: Section) -> str:
    lines = [f"== {section.title} [{section.unit}]"]
    table = [["", *section.columns]]
    table += [
        [row.label, *(cell(section, row, c) for c in section.columns)] for row in section.rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for i, r in enumerate(table):
        first = r[0].ljust(widths[0])
        lines.append(
            "  ".join([first, *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))])
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"   {note}" for note in section.notes]
    return "\n".join(lines)


def render_warm(warm: WarmStart) -> str:
    lines = ["== numba warm start: dsp.warmup.warm_up() in a fresh process [s]"]
    if warm.error:
        lines.append(f"   not measured: {warm.error}")
    for name, result in (
        ("warm on-disk cache", warm.warm),
        ("cold (empty NUMBA_CACHE_DIR)", warm.cold),
    ):
        if result is not None:
            lines.append(
                f"{name:<30} warm_up {result['warm_up']:7.3f}   import dsp.warmup"
                f" {result['import']:6.3f}   whole process body {result['total']:7.3f}"
            )
        elif not warm.error:
            lines.append(f"{name:<30} skipped (--quick or --skip-cold)")
    return "\n".join(lines)


def as_json(sections: Sequence[Section], warm: WarmStart) -> dict[str, object]:
    return {
        "sections": [
            {
                "title": s.title,
                "unit": s.unit,
                "rows": [
                    {
                        "label": r.label,
                        "samples_per_call": r.samples,
                        "seconds_per_call": r.cells,
                        "samples_per_second": {
                            k: (r.samples / v if v else None) for k, v in r.cells.items()
                        },
                    }
                    for r in s.rows
                ],
            }
            for s in sections
        ],
        "warm_start": {"warm": warm.warm, "cold": warm.cold, "error": warm.error},
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: short budgets, no cold")
    parser.add_argument("--skip-cold", action="store_true", help="do not time a cold compile")
    parser.add_argument("--budget", type=float, help="seconds per measurement (default 0.2)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = 0.02 if args.quick else 0.2
    if not 0.001 <= args.budget <= 2.0:
        parser.error("--budget must be between 0.001 and 2 seconds")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    print(f"DSP kernels benchmark ({'quick' if args.quick else 'full'}), numpy {np.__version__}")
    from dsp import warmup

    try:
        warmup.warm_up()  # the measured calls never include compilation
    except ImportError as exc:
        print(f"note: warm-up incomplete ({exc}); missing parts are skipped")
    timer = Timer(args.budget)
    sections: list[Section] = []
    benches: list[Callable[[], Section]] = [
        partial(bench_g711, timer),
        partial(bench_g722, timer, args.quick),
        partial(bench_mix, timer, args.quick),
        partial(bench_dtmf, timer),
        partial(bench_resample, timer, args.quick),
        partial(bench_dtmf_batch, timer),
    ]
    for bench in benches:
        try:
            section = bench()
        except ImportError as exc:
            print(f"\nskipped: {exc}")
            continue
        sections.append(section)
        print()
        print(render_section(section), flush=True)
    warm = bench_warm_start(args.quick, args.skip_cold)
    print()
    print(render_warm(warm))
    print(f"\n(benchmark ran {time.perf_counter() - started:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps(as_json(sections, warm), indent=2))
    return 0


# --- DTMF detection batched over streams: one kernel call per tick -----------------------------

DTMF_BATCH_STREAMS = (1, 100, 1000)
"""Streams per 20 ms tick measured by :func:`bench_dtmf_batch`."""


def bench_dtmf_batch(timer: Timer) -> Section:
    """Per stream-frame cost of ``DtmfBatchDetector`` (one call a tick for all n streams)
    next to a ``DtmfDetector`` per stream (n calls a tick); every stream at its own point of
    the same digits-then-speech signal."""
    columns = ["DtmfBatchDetector", "DtmfDetector each"]
    section = Section("DTMF detection, n streams per 20 ms tick, per stream-frame", columns)
    try:
        from dsp.dtmf import DtmfBatchDetector, DtmfDetector
    except ImportError as exc:
        section.notes.append(f"dsp.dtmf has no batch detector: {exc}")
        return section
    from dsp.dtmf import generate

    signal = np.concatenate([generate("1234567890*#ABCD"), speechlike(8000)])
    frames = signal[: signal.size // FRAME * FRAME].reshape(-1, FRAME)
    for n in DTMF_BATCH_STREAMS:
        starts = RNG.integers(0, len(frames), n)
        ticks = np.ascontiguousarray(
            frames[(starts[None, :] + np.arange(40)[:, None]) % len(frames)]
        )
        batch, single = _dtmf_tick_calls(
            ticks, DtmfBatchDetector(n), [DtmfDetector() for _ in range(n)]
        )
        row = Row(f"{n} streams a tick", FRAME)
        row.cells = {columns[0]: timer.per_call(batch) / n, columns[1]: timer.per_call(single) / n}
        section.rows.append(row)
        batch_s, single_s = row.cells[columns[0]], row.cells[columns[1]]
        if batch_s and single_s:
            section.notes.append(
                f"{n:>5} streams: {batch_s * 1e6:6.2f} µs per stream-frame batched, "
                f"{single_s * 1e6:6.2f} µs one detector each ({single_s / batch_s:.1f}x)"
            )
    return section


def _dtmf_tick_calls(
    ticks: NDArray[np.int16], batch: Any, singles: list[Any]
) -> tuple[Callable[[], object], Callable[[], object]]:
    """One tick of ``ticks`` (tick, stream, sample) per call: batched, and stream by stream."""
    rows = np.arange(ticks.shape[1], dtype=np.intp)
    at = [0, 0]

    def batched() -> object:
        t = at[0] = (at[0] + 1) % len(ticks)
        return batch.process(ticks[t], rows)

    def each() -> object:
        t = at[1] = (at[1] + 1) % len(ticks)
        return [d.process(f) for d, f in zip(singles, ticks[t], strict=True)]

    return batched, each


if __name__ == "__main__":
    sys.exit(main())
