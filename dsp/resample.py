"""Sample-rate conversion between 8, 16 and 48 kHz: polyphase FIR, streaming.

A conversion ``from_rate -> to_rate`` is the rational factor ``L / M`` (up by ``L``, down by
``M``, with ``gcd(L, M) = 1``). One linear-phase low-pass FIR, designed at the intermediate
rate ``from_rate * L`` as a windowed sinc (numpy's Kaiser window, beta 7.3 for a 75 dB design
target), serves as anti-imaging filter when going up and anti-aliasing filter when going down.
It is split into ``L`` polyphase branches, so each output sample costs ``taps / L``
multiply-adds and no zero is ever multiplied.

Filter characteristics (measured on the designed filters' frequency response by
``tests/unit/test_dsp_resample.py``, and on sine inputs through the int16 streaming path):

==================  ==========  ==========  ======  =====================  ==================
conversion          passband    stopband    taps    passband ripple        stopband atten.
==================  ==========  ==========  ======  =====================  ==================
8k <-> 16k          0-3.4 kHz   >= 4.6 kHz  65      < 0.01 dB (0.003)      > 70 dB (74.6)
8k <-> 48k          0-3.4 kHz   >= 4.6 kHz  193     < 0.01 dB (0.003)      > 70 dB (74.8)
16k <-> 48k         0-7 kHz     >= 9 kHz    115     < 0.01 dB (0.003)      > 70 dB (74.8)
==================  ==========  ==========  ======  =====================  ==================

The transition band is centred on the lower rate's Nyquist frequency (4 kHz, or 8 kHz), so
content between the passband edge and that frequency is attenuated but not removed, the
usual trade-off for telephony, whose passband ends at 3.4 kHz (7 kHz wideband).

Group delay: the filters are symmetric with ``2 D + 1`` taps, so every frequency is delayed
by ``D`` samples of the intermediate rate. ``D`` is a multiple of ``L * M``, which makes the
delay a whole number of input *and* output samples: 2 ms for 8k <-> 16k and 8k <-> 48k
(16 samples at 8 kHz, 32 at 16 kHz, 96 at 48 kHz), 1.1875 ms for 16k <-> 48k (19 samples at
16 kHz, 57 at 48 kHz). A round trip 8k -> 16k -> 8k is therefore a pure 4 ms (32-sample)
delay within the passband. Output is not advanced to hide the delay; ``delay_samples``
gives it.

:class:`Resampler` keeps the last ``taps / L`` input samples and its phase between calls, so a
stream cut into frames of any length gives exactly the same output as :func:`resample` on the
whole signal (the kernel computes every output sample from the same inputs in the same
order). With 20 ms frames the sizes are exact: 160 samples at 8 kHz give 320 at 16 kHz or
960 at 48 kHz, and back. Output samples are rounded to nearest and saturated to int16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "RATES",
    "ResampleDesign",
    "Resampler",
    "design",
    "resample",
    "resample_reference",
    "warm_up",
]

RATES = (8000, 16000, 48000)
"""Sample rates supported in both directions."""

DESIGN_ATTENUATION_DB = 75.0
"""Stopband attenuation the Kaiser design formula is asked for (the filters reach ~74.6 dB)."""

_BAND_EDGES = {8000: (3400.0, 4600.0), 16000: (7000.0, 9000.0)}
"""Passband and stopband edges (Hz) by the lower of the two rates."""


@dataclass(frozen=True, eq=False)
class ResampleDesign:
    """The FIR designed for one conversion and its polyphase split."""

    from_rate: int
    to_rate: int
    up: int
    """L: interpolation factor."""
    down: int
    """M: decimation factor."""
    taps: NDArray[np.float64]
    """Prototype filter at ``from_rate * up`` (``2 * half_length + 1`` taps, DC gain ``up``)."""
    half_length: int
    """D: group delay in samples of the intermediate rate ``from_rate * up``."""
    passband_hz: float
    stopband_hz: float
    phases: NDArray[np.float64]
    """Polyphase branches, shape ``(up, branch_length)``: ``phases[p, k] = taps[p + k * up]``."""
    branches: NDArray[np.float64]
    """``phases`` reversed in time (``phases[:, ::-1]``), the layout the kernel reads."""

    @property
    def delay_seconds(self) -> float:
        return self.half_length / (self.from_rate * self.up)

    @property
    def delay_samples(self) -> int:
        """Group delay in output samples (a whole number by construction)."""
        return self.half_length // self.down


def _check_rate(rate: int) -> None:
    if rate not in RATES:
        raise ValueError(f"unsupported sample rate {rate} Hz; supported: {RATES}")


@cache
def design(from_rate: int, to_rate: int) -> ResampleDesign:
    """Design (once, then cached) the polyphase FIR for ``from_rate -> to_rate``."""
    _check_rate(from_rate)
    _check_rate(to_rate)
    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    if up == down:
        one = np.ones((1, 1))
        one.flags.writeable = False
        return ResampleDesign(from_rate, to_rate, 1, 1, one[0], 0, 0.0, 0.0, one, one)
    passband, stopband = _BAND_EDGES[min(from_rate, to_rate)]
    rate = from_rate * up
    # Kaiser's estimate of the length for the attenuation and transition width asked for.
    transition = 2 * math.pi * (stopband - passband) / rate
    length = (DESIGN_ATTENUATION_DB - 7.95) / (2.285 * transition)
    half = math.ceil(length / 2 / (up * down)) * up * down
    beta = 0.1102 * (DESIGN_ATTENUATION_DB - 8.7)
    n = np.arange(-half, half + 1, dtype=np.float64)
    cutoff = (passband + stopband) / 2 / rate  # cycles per sample at the intermediate rate
    taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(2 * half + 1, beta) * up
    branch = -(-taps.size // up)
    padded = np.zeros(branch * up)
    padded[: taps.size] = taps
    phases = np.ascontiguousarray(padded.reshape(branch, up).T)
    branches = np.ascontiguousarray(phases[:, ::-1])
    for array in (taps, phases, branches):
        array.flags.writeable = False
    return ResampleDesign(
        from_rate, to_rate, up, down, taps, half, passband, stopband, phases, branches
    )


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _polyphase_kernel(
    x: NDArray[np.int16],
    history: NDArray[np.float64],
    branches: NDArray[np.float64],
    up: int,
    down: int,
    phase: int,
    out: NDArray[np.int16],
) -> int:
    """Filter one block; updates ``history`` in place and returns the next block's phase.

    ``phase`` is the intermediate-rate index of the next output relative to the block's
    first input sample; ``history`` holds the ``branch_length - 1`` previous inputs;
    ``branches`` are the time-reversed polyphase branches, so each output is the dot product
    of one branch with a contiguous window of input (which vectorises; the summation order
    depends only on the branch length, so every call computes a given output identically).
    """
    n_hist = history.shape[0]
    n_in = x.shape[0]
    n_taps = branches.shape[1]
    ext = np.empty(n_hist + n_in, dtype=np.float64)
    ext[:n_hist] = history
    for i in range(n_in):
        ext[n_hist + i] = x[i]
    u = phase
    for o in range(out.shape[0]):
        j = u // up  # newest input of this output: ext[n_hist + j]; oldest: ext[j]
        branch = branches[u - j * up]
        window = ext[j : j + n_taps]
        acc = 0.0
        for k in range(n_taps):
            acc += branch[k] * window[k]
        v = np.floor(acc + 0.5)
        if v > 32767.0:
            v = 32767.0
        elif v < -32768.0:
            v = -32768.0
        out[o] = np.int16(v)
        u += down
    history[:] = ext[n_in : n_in + n_hist]
    return int(u - n_in * up)


def _output_length(n_in: int, up: int, down: int, phase: int) -> int:
    return max(0, -(-(n_in * up - phase) // down))


_INT16 = np.dtype(np.int16)


def _as_samples(x: NDArray[np.int16]) -> NDArray[np.int16]:
    if x.__class__ is np.ndarray and x.dtype is _INT16 and x.ndim == 1 and x.flags.c_contiguous:
        return x  # the usual case, checked cheaply
    array = np.asarray(x)
    if array.dtype != np.int16 or array.ndim != 1:
        raise ValueError(f"expected 1-D int16 samples, got {array.ndim}-D {array.dtype}")
    return np.ascontiguousarray(array)


class Resampler:
    """Streaming converter for one direction of one stream; keeps filter history."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.design = design(from_rate, to_rate)
        self._history = np.zeros(self.design.phases.shape[1] - 1, dtype=np.float64)
        self._phase = 0

    @property
    def from_rate(self) -> int:
        return self.design.from_rate

    @property
    def to_rate(self) -> int:
        return self.design.to_rate

    @property
    def delay_samples(self) -> int:
        """Group delay in output samples."""
        return self.design.delay_samples

    def output_length(self, n_in: int) -> int:
        """How many samples the next :meth:`process` of ``n_in`` samples returns."""
        return _output_length(n_in, self.design.up, self.design.down, self._phase)

    def process(self, x: NDArray[np.int16]) -> NDArray[np.int16]:
        """Convert the next block of the stream (any length, possibly empty)."""
        samples = _as_samples(x)
        d = self.design
        out = np.empty(self.output_length(samples.size), dtype=np.int16)
        self._phase = _polyphase_kernel(
            samples, self._history, d.branches, d.up, d.down, self._phase, out
        )
        return out

    def reset(self) -> None:
        """Forget the stream: zero history, phase back to the start."""
        self._history[:] = 0.0
        self._phase = 0


def resample(x: NDArray[np.int16], from_rate: int, to_rate: int) -> NDArray[np.int16]:
    """Convert a whole signal; equal to a fresh :class:`Resampler` fed ``x`` in any frames."""
    return Resampler(from_rate, to_rate).process(x)


def resample_reference(x: NDArray[np.int16], from_rate: int, to_rate: int) -> NDArray[np.int16]:
    """Plain-numpy twin of :func:`resample`: zero-stuff, full convolution, decimate."""
    samples = _as_samples(x)
    d = design(from_rate, to_rate)
    stuffed = np.zeros(samples.size * d.up)
    stuffed[:: d.up] = samples
    filtered = np.convolve(stuffed, d.taps)[: stuffed.size : d.down]
    return np.clip(np.floor(filtered + 0.5), -32768, 32767).astype(np.int16)


def warm_up() -> None:
    """Compile (or load from the on-disk cache) the kernel and design every conversion.

    Read-only input (``np.frombuffer`` over a payload or a prompt file) is a distinct numba
    type, so both flavours are compiled.
    """
    for writeable in (True, False):
        frame = np.zeros(160, dtype=np.int16)
        frame.flags.writeable = writeable
        for from_rate in RATES:
            for to_rate in RATES:
                Resampler(from_rate, to_rate).process(frame)
