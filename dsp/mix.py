"""Mixing with saturation: N streams into one, mix-minus, and a general routing matrix.

Streams of one tick are a C-contiguous int16 array ``(n, frame)``, one row per participant.

- :func:`mix` sums the rows in int32 (exact for up to 65 536 rows) and saturates once, at the
  end, to int16: the sum is what the rows add up to, clipped, not a chain of clipped partial
  sums.
- :func:`mix_minus` gives each participant everything but itself, in one pass: the rows are
  summed once in int32, then row ``i`` of the result is ``clip(total - x[i])``, bit-exact with
  summing the other rows separately.
- With ``weights`` (one linear gain per row, e.g. 0.5 for -6 dB) the sums are taken in float64
  and rounded to nearest before the clip.
- :func:`mix_matrix` routes with a gain matrix ``(n_out, n_in)``: every output row is its own
  weighted sum of the inputs (conference with listen-only members, supervisor listen, whisper
  and barge are all matrices of zeros and ones).

Each function has an ``_into`` variant writing a preallocated output and a ``*_reference``
twin in plain numpy.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "mix",
    "mix_into",
    "mix_matrix",
    "mix_matrix_into",
    "mix_matrix_reference",
    "mix_minus",
    "mix_minus_into",
    "mix_minus_reference",
    "mix_reference",
    "warm_up",
]

INT16_MIN = -32768
INT16_MAX = 32767


# --- kernels -----------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _sum_rows(streams: NDArray[np.int16], total: NDArray[np.int32]) -> None:
    total[:] = 0
    for i in range(streams.shape[0]):
        for t in range(streams.shape[1]):
            total[t] += streams[i, t]


@numba.njit(cache=True, nogil=True)
def _saturate(value: np.int32) -> np.int16:
    if value > 32767:
        return np.int16(32767)
    if value < -32768:
        return np.int16(-32768)
    return np.int16(value)


@numba.njit(cache=True, nogil=True)
def _round_saturate(value: float) -> np.int16:
    v = np.floor(value + 0.5)
    if v > 32767.0:
        return np.int16(32767)
    if v < -32768.0:
        return np.int16(-32768)
    return np.int16(v)


@numba.njit(cache=True, nogil=True)
def _mix_kernel(streams: NDArray[np.int16], out: NDArray[np.int16]) -> None:
    total = np.empty(streams.shape[1], dtype=np.int32)
    _sum_rows(streams, total)
    for t in range(total.shape[0]):
        out[t] = _saturate(total[t])


@numba.njit(cache=True, nogil=True)
def _mix_minus_kernel(streams: NDArray[np.int16], out: NDArray[np.int16]) -> None:
    total = np.empty(streams.shape[1], dtype=np.int32)
    _sum_rows(streams, total)
    for i in range(streams.shape[0]):
        for t in range(streams.shape[1]):
            out[i, t] = _saturate(total[t] - np.int32(streams[i, t]))


@numba.njit(cache=True, nogil=True)
def _weighted_sum(
    streams: NDArray[np.int16], weights: NDArray[np.float64], total: NDArray[np.float64]
) -> None:
    total[:] = 0.0
    for i in range(streams.shape[0]):
        w = weights[i]
        if w == 0.0:
            continue
        for t in range(streams.shape[1]):
            total[t] += w * streams[i, t]


@numba.njit(cache=True, nogil=True)
def _mix_weighted_kernel(
    streams: NDArray[np.int16], weights: NDArray[np.float64], out: NDArray[np.int16]
) -> None:
    total = np.empty(streams.shape[1], dtype=np.float64)
    _weighted_sum(streams, weights, total)
    for t in range(total.shape[0]):
        out[t] = _round_saturate(total[t])


@numba.njit(cache=True, nogil=True)
def _mix_minus_weighted_kernel(
    streams: NDArray[np.int16], weights: NDArray[np.float64], out: NDArray[np.int16]
) -> None:
    total = np.empty(streams.shape[1], dtype=np.float64)
    _weighted_sum(streams, weights, total)
    for i in range(streams.shape[0]):
        w = weights[i]
        for t in range(streams.shape[1]):
            out[i, t] = _round_saturate(total[t] - w * streams[i, t])


@numba.njit(cache=True, nogil=True)
def _mix_matrix_kernel(
    streams: NDArray[np.int16], gains: NDArray[np.float64], out: NDArray[np.int16]
) -> None:
    total = np.empty(streams.shape[1], dtype=np.float64)
    for r in range(gains.shape[0]):
        _weighted_sum(streams, gains[r], total)
        for t in range(total.shape[0]):
            out[r, t] = _round_saturate(total[t])


# --- wrappers ----------------------------------------------------------------------------


def _streams(streams: NDArray[np.int16]) -> NDArray[np.int16]:
    array = np.asarray(streams)
    if array.dtype != np.int16 or array.ndim != 2:
        raise ValueError(f"streams must be 2-D int16 (n, frame), got {array.ndim}-D {array.dtype}")
    return np.ascontiguousarray(array)


def _weights(weights: NDArray[np.floating] | list[float], n: int) -> NDArray[np.float64]:
    array = np.array(weights, dtype=np.float64)  # a fresh writeable copy: one numba type
    if array.shape != (n,):
        raise ValueError(f"weights must have one gain per stream ({n}), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("weights must be finite")
    return array


def _output(out: NDArray[np.int16], shape: tuple[int, ...]) -> NDArray[np.int16]:
    if out.dtype != np.int16 or out.shape != shape or not out.flags.c_contiguous:
        raise ValueError(
            f"output must be C-contiguous int16 of shape {shape}, got {out.dtype} {out.shape}"
        )
    return out


def mix_into(
    streams: NDArray[np.int16],
    out: NDArray[np.int16],
    weights: NDArray[np.floating] | list[float] | None = None,
) -> NDArray[np.int16]:
    """Sum the rows of ``streams`` (``(n, frame)``) into ``out`` (``(frame,)``), saturated."""
    x = _streams(streams)
    _output(out, (x.shape[1],))
    if weights is None:
        _mix_kernel(x, out)
    else:
        _mix_weighted_kernel(x, _weights(weights, x.shape[0]), out)
    return out


def mix(
    streams: NDArray[np.int16], weights: NDArray[np.floating] | list[float] | None = None
) -> NDArray[np.int16]:
    """Sum of the rows of ``streams`` (``(n, frame)``), saturated to int16: shape ``(frame,)``."""
    x = _streams(streams)
    return mix_into(x, np.empty(x.shape[1], dtype=np.int16), weights)


def mix_minus_into(
    streams: NDArray[np.int16],
    out: NDArray[np.int16],
    weights: NDArray[np.floating] | list[float] | None = None,
) -> NDArray[np.int16]:
    """Row ``i`` of ``out`` = saturated sum of every row of ``streams`` but ``i``."""
    x = _streams(streams)
    _output(out, x.shape)
    if weights is None:
        _mix_minus_kernel(x, out)
    else:
        _mix_minus_weighted_kernel(x, _weights(weights, x.shape[0]), out)
    return out


def mix_minus(
    streams: NDArray[np.int16], weights: NDArray[np.floating] | list[float] | None = None
) -> NDArray[np.int16]:
    """What each participant hears: shape ``(n, frame)``, row ``i`` = all rows but ``i``."""
    x = _streams(streams)
    return mix_minus_into(x, np.empty(x.shape, dtype=np.int16), weights)


def mix_matrix_into(
    streams: NDArray[np.int16], gains: NDArray[np.floating], out: NDArray[np.int16]
) -> NDArray[np.int16]:
    """``out[r] = clip(round(sum_s gains[r, s] * streams[s]))`` for every output row ``r``."""
    x = _streams(streams)
    g = np.array(gains, dtype=np.float64)  # a fresh writeable copy: one numba type
    if g.ndim != 2 or g.shape[1] != x.shape[0]:
        raise ValueError(f"gains must be (n_out, {x.shape[0]}), got shape {g.shape}")
    if not np.isfinite(g).all():
        raise ValueError("gains must be finite")
    _mix_matrix_kernel(x, g, _output(out, (g.shape[0], x.shape[1])))
    return out


def mix_matrix(streams: NDArray[np.int16], gains: NDArray[np.floating]) -> NDArray[np.int16]:
    """Route ``streams`` ``(n_in, frame)`` through ``gains`` ``(n_out, n_in)``."""
    x = _streams(streams)
    out = np.empty((np.shape(gains)[0], x.shape[1]), dtype=np.int16)
    return mix_matrix_into(x, gains, out)


# --- reference twins ---------------------------------------------------------------------


def _clip_round(values: NDArray[np.float64]) -> NDArray[np.int16]:
    rounded: NDArray[np.int16] = np.clip(np.floor(values + 0.5), INT16_MIN, INT16_MAX).astype(
        np.int16
    )
    return rounded


def mix_reference(
    streams: NDArray[np.int16], weights: NDArray[np.floating] | list[float] | None = None
) -> NDArray[np.int16]:
    """Plain-numpy twin of :func:`mix`."""
    x = np.asarray(streams)
    if weights is None:
        total = x.astype(np.int32).sum(axis=0)
        clipped: NDArray[np.int16] = np.clip(total, INT16_MIN, INT16_MAX).astype(np.int16)
        return clipped
    return _clip_round(np.asarray(weights, dtype=np.float64) @ x.astype(np.float64))


def mix_minus_reference(
    streams: NDArray[np.int16], weights: NDArray[np.floating] | list[float] | None = None
) -> NDArray[np.int16]:
    """Plain-numpy twin of :func:`mix_minus` (sums the other rows for each row)."""
    x = np.asarray(streams)
    n = x.shape[0]
    if weights is None:
        wide = x.astype(np.int64)
        rows = [np.delete(wide, i, axis=0).sum(axis=0) for i in range(n)]
        others = np.array(rows).reshape(x.shape)
        clipped: NDArray[np.int16] = np.clip(others, INT16_MIN, INT16_MAX).astype(np.int16)
        return clipped
    gains = np.tile(np.asarray(weights, dtype=np.float64), (n, 1))
    np.fill_diagonal(gains, 0.0)
    return _clip_round(gains @ x.astype(np.float64))


def mix_matrix_reference(
    streams: NDArray[np.int16], gains: NDArray[np.floating]
) -> NDArray[np.int16]:
    """Plain-numpy twin of :func:`mix_matrix`."""
    return _clip_round(np.asarray(gains, dtype=np.float64) @ np.asarray(streams, np.float64))


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel, for writeable and read-only
    streams (a distinct numba type)."""
    for writeable in (True, False):
        x = np.zeros((2, 8), dtype=np.int16)
        x.flags.writeable = writeable
        weights = np.ones(2)
        mix(x)
        mix(x, weights)
        mix_minus(x)
        mix_minus(x, weights)
        mix_matrix(x, np.ones((3, 2)))
