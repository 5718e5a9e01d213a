"""DTMF signals (ITU-T Q.23): generation, and a detector built to ITU-T Q.24 with numba kernels.

Detection works on 5 ms sub-blocks (40 samples at 8 kHz, 80 at 16 kHz). A Goertzel filter per
sub-block gives the complex DFT term of each analysed frequency, referred to the first sample
of the stream. Every sub-block closes a 20 ms Hann-windowed analysis window (hop 5 ms); the
Hann spectrum is assembled from the rectangular sub-block terms at ``f`` and ``f +- 50 Hz``
(the window's own frequency), so each sample passes through the Goertzel recurrences once.
Sixteen bins are analysed: the eight Q.23 frequencies and their second harmonics.

A window is a *hit* for a key when, with ``r`` the strongest low-group bin and ``c`` the
strongest high-group bin:

* each tone's power (corrected for the Hann response at its measured frequency offset) is at
  least :data:`MIN_LEVEL_DBOV`;
* the twist, high group minus low group, lies within :data:`TWIST_LIMITS_DB`;
* the two tones carry at least :data:`MIN_ENERGY_FRACTION` of the window's (Hann-weighted)
  power: speech, music and noise spread their energy, a key press does not;
* the second harmonics are :data:`HARMONIC_REJECT_DB` below their fundamentals (the high
  group always; the low group where its harmonic is clear of the high tone's main lobe).

Frequency is measured from phase: the DFT terms are referred to one time origin, so from one
window to the next (5 ms later) a tone ``d`` Hz off its nominal frequency turns by
``2 pi d / 200``. A key is reported once :data:`HITS_TO_DETECT` windows hit (about 25 ms of
tone: Q.24 tones of 40 ms pass, tones of 20 ms do not), the offset averaged over those
windows is within :data:`FREQUENCY_TOLERANCE` for both tones (Q.24: operate at 1.5 %, do not
operate at 3.5 %), and the two tones do not drift together by :data:`MAX_COMMON_DRIFT` or
more within that time (the harmonics of a voice glide together; key tones are crystal
stable). It is reported once per key press: the press ends after :data:`MISSES_TO_END`
windows without it (pauses of 30 ms and more end it; interruptions of up to 20 ms do not), or
when another key hits in two successive windows. The kernels are in :mod:`dsp.dtmf_kernels`.

:class:`DtmfDetector` serves one stream; :class:`DtmfBatchDetector` holds many streams' state
in arrays indexed by slot and runs one frame of each in a single kernel call per media tick,
with the same results per slot (about 3 us per 20 ms stream-frame at 1000 streams).

Measured (tests/unit/test_dsp_dtmf_q24.py, tests/integration/test_dtmf_talkoff.py), with
levels per frequency component as :mod:`dsp.tones` states them (G.711 puts a full-scale sine
at +3.14 dBm0, and it is -3.01 dBov, so dBm0 = dBov + 6.15):

* all 16 keys at 40 ms on / 40 ms off, repeated keys included; 20 ms tones are not keys;
* frequency offsets of +-1.5 % on either group or both detected; +-3.5 %, +-4.5 % and +-6 %
  rejected;
* twist +4 dB and -8 dB detected; +8, +10, -12 and -14 dB rejected;
* -9.2 to -42.2 dBov per tone (-3 to -36 dBm0) detected; -58 dBov ignored;
* white noise at 15 dB SNR (noise power against the tone pair's): no key lost and none added,
  with the worst offsets and twists (12 dB held in wider sweeps); at 10 dB for nominal
  tones (at 8 dB about one key in a hundred is lost);
* talk-off: about 10 minutes of synthetic speech (8 voices, levels -12 to +12 dB around
  -20 dBov) at 8 kHz and 3.7 minutes at 16 kHz give no key; 100 ms keys at -10 dBov per
  tone over that speech are all found (40 ms keys with the speech 6 dB lower).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray

from dsp import dtmf_kernels as k
from dsp.dtmf_kernels import HITS_TO_DETECT, MISSES_TO_END, ComplexArray, FloatArray
from dsp.level import FULL_SCALE

__all__ = [
    "COLUMN_FREQUENCIES",
    "DTMF_FREQUENCIES",
    "FREQUENCY_TOLERANCE",
    "HARMONIC_REJECT_DB",
    "HITS_TO_DETECT",
    "KEYPAD",
    "MAX_COMMON_DRIFT",
    "MIN_ENERGY_FRACTION",
    "MIN_LEVEL_DBOV",
    "MISSES_TO_END",
    "RATES",
    "ROW_FREQUENCIES",
    "TWIST_LIMITS_DB",
    "DtmfBatchDetector",
    "DtmfDetector",
    "DtmfDetectorReference",
    "detect",
    "detect_reference",
    "dtmf_spectra",
    "dtmf_spectra_reference",
    "generate",
    "goertzel",
    "goertzel_reference",
    "warm_up",
]

KEYPAD: Final = "123A456B789C*0#D"
"""Keys row by row: key ``4 * row + column`` is the low-group ``row`` plus high-group ``column``."""
ROW_FREQUENCIES: Final = (697.0, 770.0, 852.0, 941.0)
"""The low group, Hz (Q.23)."""
COLUMN_FREQUENCIES: Final = (1209.0, 1336.0, 1477.0, 1633.0)
"""The high group, Hz (Q.23)."""
DTMF_FREQUENCIES: Final[dict[str, tuple[float, float]]] = {
    key: (ROW_FREQUENCIES[i // 4], COLUMN_FREQUENCIES[i % 4]) for i, key in enumerate(KEYPAD)
}
"""Key -> (low-group Hz, high-group Hz) for 0-9, ``*``, ``#`` and A-D."""
RATES: Final = (8000, 16000)
"""Sample rates the detector accepts."""

FREQUENCY_TOLERANCE: Final = 0.020
"""Largest accepted offset of either tone from its nominal frequency, as a fraction."""
TWIST_LIMITS_DB: Final = (-10.0, 6.0)
"""Accepted level of the high-group tone relative to the low-group tone, dB."""
MIN_LEVEL_DBOV: Final = -52.0
"""Weakest accepted tone, dBov per frequency component."""
MIN_ENERGY_FRACTION: Final = 0.8
"""Share of the window's power the two tones must carry."""
HARMONIC_REJECT_DB: Final = 10.0
"""How far below its fundamental a tone's second harmonic must be, dB."""
MAX_COMMON_DRIFT: Final = 0.005
"""Relative frequency change of both tones, the same way, that marks a voice, not a key."""
_BLOCKS_PER_WINDOW: Final = 4
_BIN_COUNT: Final = 16  # 8 fundamentals, then the 8 second harmonics
_HARMONIC_CLEARANCE_HZ: Final = 150.0  # low-group harmonic checked if this far from the tone
_Scalar = TypeVar("_Scalar", bound=np.generic)


# --- configuration per sample rate ------------------------------------------------------


def _check_rate(rate: int) -> int:
    if rate not in RATES:
        raise ValueError(f"DTMF detection supports rates {RATES}, not {rate!r}")
    return int(rate)


def _as_pcm(samples: NDArray[np.int16]) -> NDArray[np.int16]:
    x = np.asarray(samples)
    if x.dtype != np.int16:
        raise TypeError(f"PCM must be int16 samples, not {x.dtype}")
    if x.ndim != 1:
        raise ValueError(f"PCM must be one-dimensional, not shape {x.shape}")
    return _writable(x)


def _writable(x: NDArray[_Scalar]) -> NDArray[_Scalar]:
    """``x`` C-contiguous and writable: the one array type the kernels were compiled for
    (a read-only buffer would make numba compile another specialisation mid-call)."""
    y = np.ascontiguousarray(x)
    return y if y.flags.writeable else y.copy()


def _filter_bank(omegas: FloatArray, block: int) -> tuple[FloatArray, ComplexArray]:
    """Goertzel constants per omega: rows ``2 cos w`` and ``sin w``; the per-block turn."""
    filters = np.stack((2.0 * np.cos(omegas), np.sin(omegas)))
    steps: ComplexArray = np.exp(-1j * omegas * block)
    return filters, steps


def _rotors(omegas: FloatArray, block: int) -> ComplexArray:
    """Initial ``exp(-j w (block - 1))``: from a block's last sample back to the origin."""
    rotors: ComplexArray = np.exp(-1j * omegas * (block - 1))
    return rotors


def _rotor_table(hertz: FloatArray, rate: int, block: int) -> ComplexArray:
    """Row ``b``: ``exp(-j w (b * block + block - 1))`` per frequency, for ``b`` up to the
    period after which every (whole-hertz) frequency is back in phase: ``rate / block``
    blocks, one second. Exact phases (integer arithmetic modulo ``rate``), no drift."""
    whole = np.rint(hertz).astype(np.int64)
    if not np.array_equal(whole, hertz) or rate % block:
        raise ValueError("rotor tables need whole-hertz frequencies and whole blocks a second")
    ends = np.arange(rate // block, dtype=np.int64) * block + block - 1
    table: ComplexArray = np.exp(-2j * np.pi * (np.outer(ends, whole) % rate) / rate)
    return table


def _least_gains(fundamentals: FloatArray, rate: int, width: int) -> FloatArray:
    """Per tone, a lower bound of the Hann gain over the accepted offsets (the main lobe
    falls away from its centre, so the edges are least; kept 1e-6 below them)."""
    gain = k.hann_gain.py_func
    edges = FREQUENCY_TOLERANCE * fundamentals
    least = [min(gain(e, rate, width), gain(-e, rate, width)) for e in edges]
    return np.array(least) * (1.0 - 1e-6)


class _Config:
    """Constant arrays the kernels need at one sample rate."""

    def __init__(self, rate: int) -> None:
        block = rate // 200
        width = _BLOCKS_PER_WINDOW * block
        self.rate, self.block, self.width = rate, block, width
        fundamentals = np.array(ROW_FREQUENCIES + COLUMN_FREQUENCIES)
        self.freqs = np.concatenate((fundamentals, 2.0 * fundamentals))
        spread = rate / width  # the Hann window's own frequency
        triples = np.stack((self.freqs, self.freqs - spread, self.freqs + spread), axis=1)
        self.omegas = (2.0 * np.pi * triples / rate).reshape(-1)
        self.filters = _filter_bank(self.omegas, block)[0]
        self.rotor_table = _rotor_table(triples.reshape(-1), rate, block)
        self.hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(width) / width)
        rows, cols = np.array(ROW_FREQUENCIES), np.array(COLUMN_FREQUENCIES)
        self.row_harmonic_ok = np.abs(2.0 * rows[:, None] - cols[None, :]) > _HARMONIC_CLEARANCE_HZ
        params = np.zeros(k.P_COUNT)
        params[k.P_RATE], params[k.P_BLOCK], params[k.P_TOL] = rate, block, FREQUENCY_TOLERANCE
        params[k.P_TWIST_LO] = 10.0 ** (TWIST_LIMITS_DB[0] / 10.0)
        params[k.P_TWIST_HI] = 10.0 ** (TWIST_LIMITS_DB[1] / 10.0)
        params[k.P_MIN_POWER] = (FULL_SCALE * 10.0 ** (MIN_LEVEL_DBOV / 20.0)) ** 2
        params[k.P_FRACTION] = MIN_ENERGY_FRACTION
        params[k.P_HARMONIC] = 10.0 ** (-HARMONIC_REJECT_DB / 10.0)
        params[k.P_DRIFT] = MAX_COMMON_DRIFT
        params[k.P_NORM] = 2.0 / (width / 2.0) ** 2  # |S|^2 of a sine -> its mean square
        params[k.P_LEAST_GAIN : k.P_LEAST_GAIN + 8] = _least_gains(fundamentals, rate, width)
        self.params = params


_CONFIGS: Final = {rate: _Config(rate) for rate in RATES}


def goertzel(
    samples: NDArray[np.int16],
    frequencies: Sequence[float],
    rate: int = 8000,
    block: int | None = None,
) -> ComplexArray:
    """Goertzel DFT terms per block: ``out[b, k] = sum x[n] exp(-2j pi f_k n / rate)``.

    The sum runs over block ``b`` (``block`` samples, default 5 ms; a short tail is ignored)
    with ``n`` counted from the first sample, so phases are comparable across blocks.
    Energies are ``abs(out) ** 2``.
    """
    x = _as_pcm(samples)
    size = rate // 200 if block is None else int(block)
    if rate <= 0 or size <= 0:
        raise ValueError("rate and block must be positive")
    omegas = 2.0 * np.pi * np.asarray(frequencies, dtype=np.float64) / rate
    out = np.empty((x.shape[0] // size, omegas.shape[0]), dtype=np.complex128)
    filters, steps = _filter_bank(omegas, size)
    k.goertzel_blocks(x, size, filters, steps, _rotors(omegas, size), out)
    return out


def goertzel_reference(
    samples: NDArray[np.int16],
    frequencies: Sequence[float],
    rate: int = 8000,
    block: int | None = None,
) -> ComplexArray:
    """:func:`goertzel` as one numpy matrix product (no recurrence)."""
    x = _as_pcm(samples).astype(np.float64)
    size = rate // 200 if block is None else int(block)
    blocks = x.shape[0] // size
    n = np.arange(blocks * size)
    basis = np.exp(-2j * np.pi * np.outer(n, np.asarray(frequencies, dtype=np.float64)) / rate)
    terms = x[: blocks * size, None] * basis
    shape = (blocks, size, len(frequencies))
    out: ComplexArray = terms.reshape(shape).sum(axis=1).astype(np.complex128)
    return out


# --- analysis: 20 ms Hann windows every 5 ms -----------------------------------------------


def dtmf_spectra(samples: NDArray[np.int16], rate: int = 8000) -> tuple[ComplexArray, FloatArray]:
    """The detector's analysis: Hann spectra of the 16 bins and mean powers, one row a window.

    Window ``w`` covers samples ``[w * block, w * block + 4 * block)`` (block = 5 ms); bins
    are the 8 Q.23 frequencies then their second harmonics; the DFT phase origin is sample 0;
    the power is the Hann-weighted mean square.
    """
    cfg = _CONFIGS[_check_rate(rate)]
    x = _as_pcm(samples)
    windows = max(0, x.shape[0] // cfg.block - 3)
    out = np.zeros((max(windows, 1), _BIN_COUNT), dtype=np.complex128)
    powers = np.zeros(max(windows, 1))
    k.spectra_kernel(x, cfg.filters, cfg.hann, cfg.rotor_table, out, powers)
    return out[:windows], powers[:windows]


def dtmf_spectra_reference(
    samples: NDArray[np.int16], rate: int = 8000, start: int = 0
) -> tuple[ComplexArray, FloatArray]:
    """:func:`dtmf_spectra` by direct Hann-windowed DFTs in numpy.

    ``start`` is the stream position of ``samples[0]`` (the phase origin stays at 0).
    """
    cfg = _CONFIGS[_check_rate(rate)]
    x = _as_pcm(samples).astype(np.float64)
    windows = max(0, x.shape[0] // cfg.block - 3)
    starts = np.arange(windows) * cfg.block
    frames = x[starts[:, None] + np.arange(cfg.width)[None, :]] * cfg.hann
    basis = np.exp(-2j * np.pi * np.outer(np.arange(cfg.width), cfg.freqs) / rate)
    origin = np.exp(-2j * np.pi * np.mod(np.outer(starts + start, cfg.freqs), rate) / rate)
    powers: FloatArray = (frames * x[starts[:, None] + np.arange(cfg.width)[None, :]]).sum(axis=1)
    spectra: ComplexArray = ((frames @ basis) * origin).astype(np.complex128)
    return spectra, powers / (cfg.width / 2.0)


# --- detectors ------------------------------------------------------------------------------


def _machine_state() -> tuple[NDArray[np.int64], ComplexArray]:
    ints = np.zeros(k.I_COUNT, dtype=np.int64)
    ints[k.I_CUR] = -1
    ints[k.I_PEND] = -1
    return ints, np.zeros(k.C_COUNT, dtype=np.complex128)


class DtmfDetector:
    """Streaming DTMF detector for one direction of one call.

    :meth:`process` takes frames of any length (typically 20 ms) and returns the keys whose
    press was recognised in that frame; each press is reported once. Feeding a signal whole
    or frame by frame gives the same keys.
    """

    def __init__(self, rate: int = 8000) -> None:
        self.rate = _check_rate(rate)
        self._cfg = _CONFIGS[self.rate]
        self.reset()

    def reset(self) -> None:
        """Forget everything heard so far."""
        bins = self._cfg.omegas.shape[0]
        self._scratch = np.zeros((2, bins))
        self._ring = np.zeros((4, bins), dtype=np.complex128)
        self._energy = np.zeros((4, 4))
        self._spectrum = np.zeros(_BIN_COUNT, dtype=np.complex128)
        self._previous = np.zeros(_BIN_COUNT, dtype=np.complex128)
        self._ints, self._cplx = _machine_state()
        self._pending = np.zeros(0, dtype=np.int16)

    def process(self, frame: NDArray[np.int16]) -> str:
        """Keys recognised in this frame (usually ``""``)."""
        x = _as_pcm(frame)
        if self._pending.shape[0]:
            x = np.concatenate((self._pending, x))
        block = self._cfg.block
        blocks = x.shape[0] // block
        self._pending = x[blocks * block :].copy()
        if blocks == 0:
            return ""
        keys = np.empty(blocks, dtype=np.int64)
        cfg = self._cfg
        found = k.detect_kernel(
            x, cfg.filters, cfg.hann, cfg.rotor_table, cfg.freqs, cfg.params,
            cfg.row_harmonic_ok, self._scratch, self._ring, self._energy, self._spectrum,
            self._previous, self._ints, self._cplx, keys,
        )  # fmt: skip
        return "".join(KEYPAD[k] for k in keys[:found])


class DtmfDetectorReference:
    """:class:`DtmfDetector` with the analysis done by :func:`dtmf_spectra_reference` (numpy)
    and the same window decisions run as plain Python; for tests and benchmarks."""

    def __init__(self, rate: int = 8000) -> None:
        self.rate = _check_rate(rate)
        self._cfg = _CONFIGS[self.rate]
        self.reset()

    def reset(self) -> None:
        """Forget everything heard so far."""
        self._history = np.zeros(0, dtype=np.int16)
        self._start = 0
        self._previous: ComplexArray | None = None
        self._ints, self._cplx = _machine_state()

    def process(self, frame: NDArray[np.int16]) -> str:
        """Keys recognised in this frame."""
        history = np.concatenate((self._history, _as_pcm(frame)))
        spectra, powers = dtmf_spectra_reference(history, self.rate, self._start)
        cfg = self._cfg
        keys = []
        for w in range(spectra.shape[0]):
            if self._previous is not None:
                key, turn_r, turn_c = k.classify.py_func(
                    spectra[w], self._previous, powers[w], cfg.params, cfg.row_harmonic_ok,
                    cfg.freqs,
                )  # fmt: skip
                pressed = k.step.py_func(
                    key, turn_r, turn_c, cfg.params, cfg.freqs, self._ints, self._cplx
                )
                if pressed >= 0:
                    keys.append(KEYPAD[pressed])
            self._previous = spectra[w]
        consumed = spectra.shape[0] * cfg.block
        self._history = history[consumed:]
        self._start += consumed
        return "".join(keys)


class DtmfBatchDetector:
    """Many independent :class:`DtmfDetector` streams in one object: one kernel call per tick.

    Each stream owns a *slot* (0, 1, 2...); its state is row ``slot`` of plain arrays shaped
    ``(capacity, ...)``. :meth:`process` takes one frame per listed slot and reports each key
    press exactly as a :class:`DtmfDetector` fed that slot's frames would. Capacity grows on
    demand: a frame for slot ``capacity`` or beyond first enlarges the arrays (at least
    doubling them), as :meth:`grow` does; new slots start fresh.
    """

    def __init__(self, capacity: int, rate: int = 8000) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must not be negative, not {capacity!r}")
        self.rate = _check_rate(rate)
        cfg = self._cfg = _CONFIGS[self.rate]
        bins = cfg.omegas.shape[0]
        self._ring = np.zeros((0, 4, bins), dtype=np.complex128)
        self._energy = np.zeros((0, 4, 4))
        self._previous = np.zeros((0, _BIN_COUNT), dtype=np.complex128)
        self._ints = np.zeros((0, k.I_COUNT), dtype=np.int64)
        self._cplx = np.zeros((0, k.C_COUNT), dtype=np.complex128)
        self._pending = np.zeros((0, cfg.block), dtype=np.int16)
        self._pending_len = np.zeros(0, dtype=np.int64)
        self._out_rows = np.zeros(0, dtype=np.int64)
        self._out_keys = np.zeros(0, dtype=np.int64)
        self.grow(capacity)

    @property
    def capacity(self) -> int:
        """Slots the state arrays hold now."""
        return int(self._ints.shape[0])

    def grow(self, capacity: int) -> None:
        """Hold at least ``capacity`` slots (never shrinks); existing slots keep their state."""
        old = self.capacity
        if capacity <= old:
            return
        self._ring = _resized(self._ring, capacity)
        self._energy = _resized(self._energy, capacity)
        self._previous = _resized(self._previous, capacity)
        self._ints = _resized(self._ints, capacity)
        self._cplx = _resized(self._cplx, capacity)
        self._pending = _resized(self._pending, capacity)
        self._pending_len = _resized(self._pending_len, capacity)
        self._clear(slice(old, capacity))

    def reset(self, slot: int) -> None:
        """Forget everything slot ``slot`` heard (a new stream takes it).

        Slots at or beyond :attr:`capacity` are fresh already: there is nothing to clear.
        """
        if slot < 0:
            raise IndexError(f"slot must not be negative, not {slot!r}")
        if slot < self.capacity:
            self._clear(slot)

    def _clear(self, slots: int | slice) -> None:
        ints, cplx = _machine_state()
        self._ints[slots] = ints
        self._cplx[slots] = cplx
        for array in (self._ring, self._energy, self._previous, self._pending_len):
            array[slots] = 0

    def _run(self, frames: NDArray[np.int16], slots: NDArray[np.intp]) -> int:
        cfg = self._cfg
        found: int = k.detect_batch_kernel(
            frames, slots, cfg.filters, cfg.hann, cfg.rotor_table, cfg.freqs, cfg.params,
            cfg.row_harmonic_ok, self._ring, self._energy, self._previous, self._ints, self._cplx,
            self._pending, self._pending_len, self._out_rows, self._out_keys,
        )  # fmt: skip
        return found

    def process(self, frames: NDArray[np.int16], rows: NDArray[np.intp]) -> list[tuple[int, str]]:
        """Run frame ``frames[i]`` through slot ``rows[i]``, for every ``i`` in order.

        ``frames`` is ``(n, samples)`` int16: any length, the same for all rows of one call
        (20 ms is 160 samples at 8 kHz, 320 at 16 kHz). A slot listed twice takes its frames
        in order. Returns ``(slot, key)`` for each key press recognised, in frame order.
        """
        x = np.asarray(frames)
        slots = np.asarray(rows)
        if x.dtype != np.int16:
            raise TypeError(f"PCM must be int16 samples, not {x.dtype}")
        if slots.dtype.kind not in "iu":
            raise TypeError(f"rows must be integers, not {slots.dtype}")
        if x.ndim != 2 or slots.shape != (x.shape[0],):
            raise ValueError(
                f"need frames (n, samples) and rows (n,), not {x.shape}, {slots.shape}"
            )
        if x.shape[0] == 0:
            return []
        slots = _writable(slots.astype(np.intp, copy=False))
        room = x.shape[0] * (x.shape[1] // self._cfg.block + 1)
        if self._out_rows.shape[0] < room:
            self._out_rows = np.empty(room, dtype=np.int64)
            self._out_keys = np.empty(room, dtype=np.int64)
        x = _writable(x)
        found = self._run(x, slots)
        if found < 0:  # a slot beyond the arrays (or a negative one)
            if slots.min() < 0:
                raise IndexError("slots must not be negative")
            self.grow(max(int(slots.max()) + 1, 2 * self.capacity))
            found = self._run(x, slots)
        if found == 0:
            return []
        pairs = zip(self._out_rows[:found].tolist(), self._out_keys[:found].tolist(), strict=True)
        return [(slot, KEYPAD[key]) for slot, key in pairs]


def _resized(array: NDArray[_Scalar], capacity: int) -> NDArray[_Scalar]:
    """``array`` with its first axis extended to ``capacity`` rows (zeros)."""
    out = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    out[: array.shape[0]] = array
    return out


def detect(samples: NDArray[np.int16], rate: int = 8000) -> str:
    """Keys pressed in a whole buffer, in order."""
    return DtmfDetector(rate).process(samples)


def detect_reference(samples: NDArray[np.int16], rate: int = 8000) -> str:
    """:func:`detect` through :class:`DtmfDetectorReference`."""
    return DtmfDetectorReference(rate).process(samples)


# --- generation -----------------------------------------------------------------------------


def generate(
    digits: str,
    rate: int = 8000,
    on_ms: float = 100,
    off_ms: float = 100,
    level_dbov: float = -10.0,
    twist_db: float = 0.0,
    frequency_offset: float | tuple[float, float] = 0.0,
    *,
    rng: np.random.Generator | None = None,
) -> NDArray[np.int16]:
    """Key tones for ``digits``: for each, ``on_ms`` of its two tones then ``off_ms`` of silence.

    ``level_dbov`` is the low-group tone's level (per component, as :mod:`dsp.tones`); the
    high-group tone is ``twist_db`` stronger (negative: weaker). ``frequency_offset`` moves
    both tones by that fraction (0.015 = +1.5 %), or (low group, high group) separately.
    Tones start at phase 0 unless ``rng`` draws the phases. Peaks beyond full scale saturate.
    """
    if rate <= 2 * max(COLUMN_FREQUENCIES) * 1.1:
        raise ValueError(f"rate {rate!r} is too low for DTMF")
    low_offset, high_offset = (
        frequency_offset if isinstance(frequency_offset, tuple) else (frequency_offset,) * 2
    )
    on, off = round(on_ms * rate / 1000.0), round(off_ms * rate / 1000.0)
    low_amp = FULL_SCALE * math.sqrt(2.0) * 10.0 ** (level_dbov / 20.0)
    high_amp = low_amp * 10.0 ** (twist_db / 20.0)
    t = 2.0 * np.pi * np.arange(on) / rate
    out = np.zeros(len(digits) * (on + off))
    for i, digit in enumerate(digits):
        try:
            low, high = DTMF_FREQUENCIES[digit.upper()]
        except KeyError:
            raise ValueError(f"{digit!r} is not a DTMF key") from None
        phase = (0.0, 0.0) if rng is None else tuple(rng.uniform(0.0, 2.0 * np.pi, 2))
        out[i * (on + off) : i * (on + off) + on] = low_amp * np.sin(
            low * (1.0 + low_offset) * t + phase[0]
        ) + high_amp * np.sin(high * (1.0 + high_offset) * t + phase[1])
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def warm_up() -> None:
    """Compile (or load from the cache) every kernel of this module."""
    pcm = generate("5", on_ms=40, off_ms=0)
    goertzel(pcm[:80], ROW_FREQUENCIES)
    dtmf_spectra(pcm)
    for rate in RATES:
        DtmfDetector(rate).process(pcm)
        DtmfBatchDetector(1, rate).process(pcm[None, :], np.zeros(1, dtype=np.intp))
