"""Signal levels in dBov, peaks, clipping, and the SNR of a received copy of a signal.

dBov follows ITU-T G.100.1: a level relative to the overload point of the digital system,
0 dBov being the RMS of a full-scale square wave. For 16-bit PCM the overload amplitude is
32768, so ``dbov(x) = 10 * log10(mean(x**2) / 32768**2)``: a full-scale square wave reads
0 dBov, a full-scale sine -3.01 dBov. Silence (and the empty signal) reads
:data:`FLOOR_DBOV`, -127 dBov, the bottom of the scale RFC 6464 audio levels use. For G.711,
0 dBm0 is about -6.15 dBov (G.711 puts a full-scale sine, -3.01 dBov, at +3.14 dBm0 for A-law
and +3.17 for µ-law).

:func:`snr_db` answers "did this signal arrive intact?": it finds the delay between the
reference and the received signal by cross-correlation, fits the best gain (any sign) by least
squares, and compares the fitted signal with what is left over.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FLOOR_DBOV",
    "FULL_SCALE",
    "audio_level",
    "clipped_fraction",
    "dbov",
    "dbov_reference",
    "dbov_rows",
    "peak_dbov",
    "peak_dbov_reference",
    "snr_db",
    "warm_up",
]

FULL_SCALE = 32768.0
"""Overload amplitude of 16-bit PCM: the square wave of this amplitude is 0 dBov."""
FLOOR_DBOV = -127.0
"""Level reported for silence: the lowest level RFC 6464 can carry."""


@numba.njit(cache=True, nogil=True)
def _sum_squares(x: NDArray[np.int16]) -> np.int64:
    acc = np.int64(0)
    for i in range(x.shape[0]):
        v = np.int64(x[i])
        acc += v * v
    return acc


@numba.njit(cache=True, nogil=True)
def _peak(x: NDArray[np.int16]) -> np.int32:
    peak = np.int32(0)
    for i in range(x.shape[0]):
        v = np.int32(x[i])
        if v < 0:
            v = -v
        if v > peak:
            peak = v
    return peak


@numba.njit(cache=True, nogil=True)
def _rows_sum_squares(x: NDArray[np.int16], out: NDArray[np.int64]) -> None:
    for r in range(x.shape[0]):
        out[r] = _sum_squares(x[r])


@numba.njit(cache=True, nogil=True)
def _count_clipped(x: NDArray[np.int16]) -> np.int64:
    count = np.int64(0)
    for i in range(x.shape[0]):
        if x[i] >= 32767 or x[i] <= -32767:
            count += 1
    return count


def _flat(x: NDArray[np.int16]) -> NDArray[np.int16]:
    array = np.asarray(x)
    if array.dtype != np.int16:
        raise ValueError(f"expected int16 samples, got {array.dtype}")
    return np.ascontiguousarray(array).reshape(-1)


def _to_dbov(power_ratio: float) -> float:
    if power_ratio <= 0.0:
        return FLOOR_DBOV
    return max(FLOOR_DBOV, 10.0 * math.log10(power_ratio))


def dbov(x: NDArray[np.int16]) -> float:
    """RMS level of ``x`` (any shape) in dBov; :data:`FLOOR_DBOV` for silence."""
    samples = _flat(x)
    if samples.size == 0:
        return FLOOR_DBOV
    return _to_dbov(float(_sum_squares(samples)) / samples.size / FULL_SCALE**2)


def dbov_rows(frames: NDArray[np.int16]) -> NDArray[np.float64]:
    """dBov of each row of a batch ``(legs, samples)``, floored at :data:`FLOOR_DBOV`."""
    x = np.asarray(frames)
    if x.dtype != np.int16 or x.ndim != 2:
        raise ValueError(f"expected a 2-D int16 batch, got {x.ndim}-D {x.dtype}")
    x = np.ascontiguousarray(x)
    sums = np.empty(x.shape[0], dtype=np.int64)
    _rows_sum_squares(x, sums)
    power = sums / max(x.shape[1], 1) / FULL_SCALE**2
    with np.errstate(divide="ignore"):
        levels = 10.0 * np.log10(power)
    floored: NDArray[np.float64] = np.maximum(levels, FLOOR_DBOV)
    return floored


def peak_dbov(x: NDArray[np.int16]) -> float:
    """Largest magnitude of ``x`` relative to full scale, in dB (-32768 reads 0 dBov)."""
    samples = _flat(x)
    if samples.size == 0:
        return FLOOR_DBOV
    return _to_dbov((float(_peak(samples)) / FULL_SCALE) ** 2)


def clipped_fraction(x: NDArray[np.int16]) -> float:
    """Share of samples at the rails (``|x| >= 32767``): 0.0 for a clean signal."""
    samples = _flat(x)
    if samples.size == 0:
        return 0.0
    return float(_count_clipped(samples)) / samples.size


def audio_level(x: NDArray[np.int16]) -> int:
    """RFC 6464 audio level: ``-dBov`` rounded, 0 (loudest) to 127 (silence)."""
    return min(127, max(0, round(-dbov(x))))


def dbov_reference(x: NDArray[np.int16]) -> float:
    """Plain-numpy twin of :func:`dbov`."""
    samples = np.asarray(x, dtype=np.float64).reshape(-1)
    if samples.size == 0:
        return FLOOR_DBOV
    return _to_dbov(float(np.mean(samples**2)) / FULL_SCALE**2)


def peak_dbov_reference(x: NDArray[np.int16]) -> float:
    """Plain-numpy twin of :func:`peak_dbov`."""
    samples = np.asarray(x, dtype=np.float64).reshape(-1)
    if samples.size == 0:
        return FLOOR_DBOV
    return _to_dbov(float(np.max(np.abs(samples)) / FULL_SCALE) ** 2)


def _best_lag(reference: NDArray[np.float64], received: NDArray[np.float64], max_lag: int) -> int:
    """Lag ``k`` maximising ``|sum_n received[n + k] * reference[n]|`` with ``|k| <= max_lag``."""
    size = 1 << (reference.size + received.size - 1).bit_length()
    spectrum = np.fft.rfft(received, size) * np.conj(np.fft.rfft(reference, size))
    corr = np.fft.irfft(spectrum, size)
    lags = np.arange(size)
    lags[lags >= size // 2] -= size  # circular index -> signed lag
    valid = (lags >= -(reference.size - 1)) & (lags <= received.size - 1)
    valid &= np.abs(lags) <= max_lag
    candidates = np.flatnonzero(valid)
    return int(lags[candidates[np.argmax(np.abs(corr[candidates]))]])


def snr_db(
    reference: NDArray[np.integer] | NDArray[np.floating],
    received: NDArray[np.integer] | NDArray[np.floating],
    *,
    max_lag: int | None = None,
) -> float:
    """Signal-to-noise ratio (dB) of ``received`` as a delayed, scaled copy of ``reference``.

    The delay is the lag of the largest cross-correlation magnitude (``|lag| <= max_lag``,
    default: any lag). Over the overlap, the received signal is fitted as ``g * reference``
    (least squares, ``g`` may be negative); the result is the energy of the fit over the
    energy of the rest. ``inf`` when the received overlap is an exact scaled copy. The delay
    is found in whole samples: a fractional delay shows up as noise, growing with frequency.
    """
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    rec = np.asarray(received, dtype=np.float64).reshape(-1)
    if ref.size == 0 or rec.size == 0 or not np.any(ref):
        raise ValueError("snr_db needs a non-silent reference and a non-empty received signal")
    lag = _best_lag(ref, rec, max(ref.size, rec.size) if max_lag is None else max_lag)
    start = max(0, -lag)
    stop = min(ref.size, rec.size - lag)
    ref_part = ref[start:stop]
    rec_part = rec[start + lag : stop + lag]
    energy = float(ref_part @ ref_part)
    if energy == 0.0:
        return -math.inf
    gain = float(rec_part @ ref_part) / energy
    noise = rec_part - gain * ref_part
    noise_energy = float(noise @ noise)
    signal_energy = gain * gain * energy
    if noise_energy == 0.0:
        return math.inf if signal_energy > 0.0 else -math.inf
    if signal_energy == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal_energy / noise_energy)


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel, for writeable and read-only
    input (a distinct numba type: ``np.frombuffer`` gives read-only arrays)."""
    for writeable in (True, False):
        x = np.zeros((2, 8), dtype=np.int16)
        x.flags.writeable = writeable
        dbov(x)
        dbov_rows(x)
        peak_dbov(x)
        clipped_fraction(x)
