"""Packet-loss concealment for PCM, in the manner of ITU-T G.711 Appendix I.

A lost frame is rebuilt from the last good audio: the pitch period is found by normalised
cross-correlation over the last 20 ms, and the last period is repeated. After 10 ms the
repeated span grows to two periods, after 20 ms to three (so a long loss does not buzz), each
switch blended over a quarter period. From 10 ms the output fades linearly and is silent from
60 ms on. The first good frame after a loss is cross-faded from the synthetic signal: 4 ms, plus
4 ms for each further 10 ms of loss, at most 10 ms. Appendix I delays its output by a quarter
period to smooth the start of a loss; here the audio before the loss has already been played, so
the repetition is instead levelled with it by an offset fading over a quarter period.

`conceal` is stateless: the k-th lost frame of a run is ``conceal(history, k)[-frame_size:]`` with
the same pre-loss `history`, so consecutive calls join without a step. `Concealer` keeps that
history for one stream. Pure numpy; it runs only on lost frames.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

__all__ = ["Concealer", "conceal", "history_length", "recover"]

# G.711 Appendix I constants at 8000 Hz, scaled for other rates.
_PITCH_MIN = 40  # 5 ms: 200 Hz
_PITCH_MAX = 120  # 15 ms: 66.7 Hz
_CORR_LEN = 160  # 20 ms correlation window
_FULL_MS = 10  # no attenuation for the first 10 ms of a loss
_SILENT_MS = 60  # silent from 60 ms of loss
_OLA_MIN_MS = 4
_OLA_MAX_MS = 10

_Pcm = NDArray[np.int16]
_Float = NDArray[np.float64]


def history_length(rate: int = 8000) -> int:
    """Samples of good audio `conceal` looks at: three longest periods and a quarter period."""
    pitch_max = _scaled(_PITCH_MAX, rate)
    return 3 * pitch_max + pitch_max // 4


def conceal(
    history: _Pcm, count: int, *, frame_size: int = 160, rate: int = 8000
) -> NDArray[np.int16]:
    """Synthesise `count` lost frames that follow `history` (the last good audio).

    Returns ``count * frame_size`` samples from the start of the loss. Without enough history
    (under 25 ms) or with silent history the result is silence.
    """
    if count < 0 or frame_size <= 0:
        raise ValueError("count must be >= 0 and frame_size > 0")
    total = count * frame_size
    h = np.asarray(history, dtype=np.float64)[-history_length(rate) :]
    corr_len = _scaled(_CORR_LEN, rate)
    pitch_min = _scaled(_PITCH_MIN, rate)
    if total == 0 or len(h) < corr_len + pitch_min or not np.any(h):
        return np.zeros(total, dtype=np.int16)
    period = _pitch(h, pitch_min, min(_scaled(_PITCH_MAX, rate), len(h) - corr_len), corr_len)
    signal = _repeat_periods(h, period, total, rate)
    _bridge(signal, h, period)
    signal *= _fade(total, rate)
    return np.clip(np.rint(signal), -32768, 32767).astype(np.int16)


def recover(
    history: _Pcm, lost: int, frame: _Pcm, *, frame_size: int = 160, rate: int = 8000
) -> NDArray[np.int16]:
    """The first good `frame` after `lost` concealed frames, faded in from the concealment."""
    out = np.array(frame, dtype=np.int16)
    if lost <= 0:
        return out
    ms = rate / 1000
    extra_blocks = max(0, math.ceil(lost * frame_size / ms / 10) - 1)
    ola = min(int((_OLA_MIN_MS + 4 * extra_blocks) * ms), int(_OLA_MAX_MS * ms), len(out))
    synthetic = conceal(history, lost + 1, frame_size=frame_size, rate=rate)
    tail = synthetic[lost * frame_size : lost * frame_size + ola].astype(np.float64)
    ramp = np.arange(1, ola + 1, dtype=np.float64) / (ola + 1)
    mixed = tail * (1.0 - ramp) + out[:ola].astype(np.float64) * ramp
    out[:ola] = np.clip(np.rint(mixed), -32768, 32767).astype(np.int16)
    return out


class Concealer:
    """Concealment state of one decoded stream: feed good frames, ask for lost ones.

    ``receive(frame)`` returns the frame to play (cross-faded after a loss) and remembers it;
    ``conceal()`` returns a synthetic frame for a lost one.
    """

    def __init__(self, frame_size: int = 160, rate: int = 8000) -> None:
        self.frame_size = frame_size
        self.rate = rate
        self._history: NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._lost = 0
        self._silent_after = math.ceil(_SILENT_MS * rate / 1000 / frame_size)

    @property
    def lost(self) -> int:
        """Frames concealed since the last good one."""
        return self._lost

    def receive(self, frame: _Pcm) -> NDArray[np.int16]:
        out = recover(self._history, self._lost, frame, frame_size=self.frame_size, rate=self.rate)
        keep = history_length(self.rate)
        self._history = np.concatenate((self._history, out))[-keep:]
        self._lost = 0
        return out

    def conceal(self) -> NDArray[np.int16]:
        self._lost += 1
        if self._lost > self._silent_after:
            return np.zeros(self.frame_size, dtype=np.int16)
        frames = conceal(self._history, self._lost, frame_size=self.frame_size, rate=self.rate)
        return frames[-self.frame_size :]

    def reset(self) -> None:
        self._history = np.zeros(0, dtype=np.int16)
        self._lost = 0


def _scaled(samples_at_8k: int, rate: int) -> int:
    return max(1, samples_at_8k * rate // 8000)


def _pitch(h: _Float, pitch_min: int, pitch_max: int, corr_len: int) -> int:
    """The lag in [pitch_min, pitch_max] whose segment best matches the last corr_len samples."""
    n = len(h)
    template = h[n - corr_len :]
    region = h[n - corr_len - pitch_max : n - pitch_min]
    windows = sliding_window_view(region, corr_len)  # row i is the segment at lag pitch_max - i
    corr = windows @ template
    squares = np.concatenate(([0.0], np.cumsum(region * region)))
    energy = squares[corr_len:] - squares[:-corr_len]
    score = np.where(corr > 0, corr / np.sqrt(energy + 1e-9), -np.inf)
    return pitch_max - int(np.argmax(score))


def _cycle(h: _Float, length: int, overlap: int) -> _Float:
    """The last `length` samples, the tail blended into the samples before them so that the
    cycle repeats without a step."""
    cyc = h[-length:].copy()
    if overlap > 0 and len(h) >= length + overlap:
        ramp = np.arange(1, overlap + 1, dtype=np.float64) / (overlap + 1)
        earlier = h[-length - overlap : -length]
        cyc[-overlap:] = cyc[-overlap:] * (1.0 - ramp) + earlier * ramp
    return cyc


def _repeat_periods(h: _Float, period: int, total: int, rate: int) -> _Float:
    overlap = max(1, period // 4)
    n = np.arange(total)
    step = rate * _FULL_MS // 1000  # one, two, then three periods at 0, 10 and 20 ms
    out = _cycle(h, period, overlap)[n % period]
    for periods in (2, 3):
        length = periods * period
        if len(h) < length + overlap:
            break
        start = (periods - 1) * step
        if start >= total:
            break
        longer = _cycle(h, length, overlap)[n % length]
        weight = np.clip((n - start + 1) / (overlap + 1), 0.0, 1.0)
        out = out * (1.0 - weight) + longer * weight
    return np.asarray(out, dtype=np.float64)


def _bridge(signal: _Float, h: _Float, period: int) -> None:
    """Level the start of the repetition with the audio already played.

    Appendix I delays its output to blend the history's tail into the repetition; played audio
    cannot change here, so the step between the last sample and the repetition (the period is an
    integer, the pitch rarely) is removed by an offset that fades out over a quarter period.
    """
    length = min(max(1, period // 4), len(signal))
    step = h[-1] - h[-period - 1]
    signal[:length] += step * (1.0 - np.arange(1, length + 1) / (length + 1))


def _fade(total: int, rate: int) -> _Float:
    full = rate * _FULL_MS / 1000
    span = rate * (_SILENT_MS - _FULL_MS) / 1000
    n = np.arange(total, dtype=np.float64)
    return np.clip(1.0 - (n - full) / span, 0.0, 1.0)
