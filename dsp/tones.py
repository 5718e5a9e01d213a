"""Tones: steady single or dual frequencies, and call-progress tones with their cadences.

A tone is a sum of sines, each at ``level_dbov`` (the level of *each* frequency component,
in dBov as :mod:`dsp.level` measures it: a dual tone at -10 dBov per component reads about
-7 dBov overall). Sample ``t`` (counted from the start of the tone) of component ``f`` is
``A * sin(2 * pi * ((f * t) mod rate) / rate)``: computed from the absolute sample index, so a
tone generated frame by frame is phase continuous and identical, sample for sample, to the
same tone generated in one go.

Cadences are on/off durations in seconds, repeated: ``(on, off, on, off, ...)``; an empty
cadence is a continuous tone. Each burst starts and ends with a 2 ms linear ramp so the
gating does not click; the oscillators keep running through the silent parts.

Call-progress presets (:func:`call_progress`), from the ITU-T E.180 supplement list of
national tones, BT SIN 350 for the United Kingdom and the ETSI harmonised tones for Europe:

=======  ==================  ====================  ====================  =======
country  ringback            busy                  congestion            dial
=======  ==================  ====================  ====================  =======
us       440+480 2.0/4.0     480+620 0.5/0.5       480+620 0.25/0.25     350+440
gb, uk   400+450 0.4/0.2/    400 0.375/0.375       400 0.4/0.35/         350+440
         0.4/2.0                                   0.225/0.525
de       425 1.0/4.0         425 0.48/0.48         425 0.24/0.24         425
eu       425 1.0/4.0         425 0.5/0.5           425 0.25/0.25         425
fr       440 1.5/3.5         440 0.5/0.5           440 0.25/0.25 (1)     440
=======  ==================  ====================  ====================  =======

Frequencies in Hz, cadences as on/off/on/off... seconds; no cadence means continuous.

(1) The E.180 list gives no congestion tone for France; the busy frequency at twice the rate
is the usual substitute. US levels follow the North American precise tone plan (dial -13,
ringback -19, busy and reorder -24 dBm0 per frequency, 6.15 dB lower in dBov); the others
use -13 dBm0 per frequency. The UK congestion tone's second burst is sent louder by BT; the
preset keeps one level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COUNTRIES",
    "DBM0_TO_DBOV",
    "KINDS",
    "RAMP_SECONDS",
    "ToneGenerator",
    "ToneKind",
    "ToneSpec",
    "call_progress",
    "render",
    "render_reference",
    "tone",
    "warm_up",
]

ToneKind = Literal["ringback", "busy", "congestion", "dial"]
KINDS: Final[tuple[ToneKind, ...]] = ("ringback", "busy", "congestion", "dial")

DBM0_TO_DBOV: Final = -6.15
"""Add to a level in dBm0 to get dBov. G.711 puts a full-scale sine at +3.14 dBm0, and a
full-scale sine is -3.01 dBov, so 0 dBm0 is 3.14 dB below it: -6.15 dBov."""
RAMP_SECONDS: Final = 0.002
"""Rise and fall time of each burst of a cadenced tone."""
FULL_SCALE: Final = 32768.0


@dataclass(frozen=True)
class ToneSpec:
    """What to play: frequencies (Hz), the on/off cadence (s) and the level per frequency."""

    frequencies: tuple[float, ...]
    cadence: tuple[float, ...] = ()
    """Alternating on and off durations in seconds, repeated; empty = continuous."""
    level_dbov: float = -10.0
    """Level of each frequency component, dBov."""
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.frequencies) <= 4 or not all(f > 0 for f in self.frequencies):
            raise ValueError(f"a tone needs 1 to 4 positive frequencies, got {self.frequencies}")
        if len(self.cadence) % 2 or not all(d > 0 for d in self.cadence):
            raise ValueError(f"a cadence is pairs of positive on/off durations, got {self.cadence}")
        if not math.isfinite(self.level_dbov):
            raise ValueError(f"level must be finite, got {self.level_dbov}")

    @property
    def period(self) -> float:
        """Length of one cadence cycle in seconds (0.0 for a continuous tone)."""
        return float(sum(self.cadence))


def _dbm0(level: float) -> float:
    return round(level + DBM0_TO_DBOV, 2)


def _spec(name: str, freqs: tuple[float, ...], cadence: tuple[float, ...], dbm0: float) -> ToneSpec:
    return ToneSpec(freqs, cadence, _dbm0(dbm0), name)


_PRESETS: Final[dict[str, dict[ToneKind, ToneSpec]]] = {
    "us": {
        "ringback": _spec("us ringback", (440.0, 480.0), (2.0, 4.0), -19.0),
        "busy": _spec("us busy", (480.0, 620.0), (0.5, 0.5), -24.0),
        "congestion": _spec("us reorder", (480.0, 620.0), (0.25, 0.25), -24.0),
        "dial": _spec("us dial", (350.0, 440.0), (), -13.0),
    },
    "gb": {
        "ringback": _spec("gb ringback", (400.0, 450.0), (0.4, 0.2, 0.4, 2.0), -13.0),
        "busy": _spec("gb busy", (400.0,), (0.375, 0.375), -13.0),
        "congestion": _spec("gb congestion", (400.0,), (0.4, 0.35, 0.225, 0.525), -13.0),
        "dial": _spec("gb dial", (350.0, 440.0), (), -13.0),
    },
    "de": {
        "ringback": _spec("de ringback", (425.0,), (1.0, 4.0), -13.0),
        "busy": _spec("de busy", (425.0,), (0.48, 0.48), -13.0),
        "congestion": _spec("de congestion", (425.0,), (0.24, 0.24), -13.0),
        "dial": _spec("de dial", (425.0,), (), -13.0),
    },
    "eu": {
        "ringback": _spec("eu ringback", (425.0,), (1.0, 4.0), -13.0),
        "busy": _spec("eu busy", (425.0,), (0.5, 0.5), -13.0),
        "congestion": _spec("eu congestion", (425.0,), (0.25, 0.25), -13.0),
        "dial": _spec("eu dial", (425.0,), (), -13.0),
    },
    "fr": {
        "ringback": _spec("fr ringback", (440.0,), (1.5, 3.5), -13.0),
        "busy": _spec("fr busy", (440.0,), (0.5, 0.5), -13.0),
        "congestion": _spec("fr congestion", (440.0,), (0.25, 0.25), -13.0),
        "dial": _spec("fr dial", (440.0,), (), -13.0),
    },
}
_ALIASES: Final = {"uk": "gb"}
COUNTRIES: Final = tuple(sorted((*_PRESETS, *_ALIASES)))


def call_progress(country: str, kind: ToneKind) -> ToneSpec:
    """The call-progress tone ``kind`` of ``country`` (``us``, ``gb``/``uk``, ``de``, ``eu``,
    ``fr``; case-insensitive)."""
    key = _ALIASES.get(country.lower(), country.lower())
    if key not in _PRESETS:
        raise ValueError(f"no call-progress tones for country {country!r}; known: {COUNTRIES}")
    if kind not in KINDS:
        raise ValueError(f"unknown call-progress tone {kind!r}; known: {KINDS}")
    return _PRESETS[key][kind]


# --- synthesis ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _envelope(pos: int, bounds: NDArray[np.int64], ramp: int) -> float:
    """Gain at ``pos`` within one cadence cycle: 0 in off segments, ramped edges when on."""
    segment = 0
    while pos >= bounds[segment]:
        segment += 1
    if segment % 2 == 1:
        return 0.0
    if ramp <= 0:
        return 1.0
    start = bounds[segment - 1] if segment > 0 else 0
    rise = (pos - start + 0.5) / ramp
    fall = (bounds[segment] - pos - 0.5) / ramp
    return float(min(1.0, rise, fall))


@numba.njit(cache=True, nogil=True)
def _tone_kernel(
    freqs: NDArray[np.float64],
    amps: NDArray[np.float64],
    rate: int,
    start: int,
    bounds: NDArray[np.int64],
    ramp: int,
    out: NDArray[np.int16],
) -> None:
    two_pi = 2.0 * np.pi
    cycle = bounds[bounds.shape[0] - 1] if bounds.shape[0] > 0 else 0
    for i in range(out.shape[0]):
        t = start + i
        gain = 1.0 if cycle == 0 else _envelope(t % cycle, bounds, ramp)
        if gain == 0.0:
            out[i] = 0
            continue
        acc = 0.0
        for k in range(freqs.shape[0]):
            acc += amps[k] * np.sin(two_pi * ((freqs[k] * t) % rate) / rate)
        v = np.floor(acc * gain + 0.5)
        out[i] = np.int16(min(32767.0, max(-32768.0, v)))


def _amplitudes(spec: ToneSpec) -> NDArray[np.float64]:
    amplitude = FULL_SCALE * math.sqrt(2.0) * 10.0 ** (spec.level_dbov / 20.0)
    if amplitude * len(spec.frequencies) > 32767.0:
        raise ValueError(
            f"{len(spec.frequencies)} component(s) at {spec.level_dbov} dBov each would clip"
        )
    return np.full(len(spec.frequencies), amplitude)


class ToneGenerator:
    """Streams a :class:`ToneSpec` frame by frame, phase continuous across frames."""

    def __init__(self, spec: ToneSpec, rate: int = 8000) -> None:
        if rate <= 0 or any(f >= rate / 2 for f in spec.frequencies):
            raise ValueError(f"frequencies {spec.frequencies} need a rate above twice the highest")
        self.spec = spec
        self.rate = rate
        self.position = 0
        """Samples generated so far."""
        self._freqs = np.asarray(spec.frequencies, dtype=np.float64)
        self._amps = _amplitudes(spec)
        durations = [max(1, round(d * rate)) for d in spec.cadence]
        self._bounds = np.cumsum(np.asarray(durations, dtype=np.int64))
        self._ramp = round(RAMP_SECONDS * rate) if spec.cadence else 0

    def next_frame(self, samples: int) -> NDArray[np.int16]:
        """The next ``samples`` samples of the tone."""
        if samples < 0:
            raise ValueError(f"cannot generate {samples} samples")
        out = np.empty(samples, dtype=np.int16)
        _tone_kernel(
            self._freqs, self._amps, self.rate, self.position, self._bounds, self._ramp, out
        )
        self.position += samples
        return out

    def reset(self) -> None:
        """Start again from the beginning of the cadence (and phase zero)."""
        self.position = 0


def render(spec: ToneSpec, duration: float, rate: int = 8000) -> NDArray[np.int16]:
    """``duration`` seconds of ``spec`` from its start, in one go."""
    return ToneGenerator(spec, rate).next_frame(round(duration * rate))


def tone(
    frequencies: Sequence[float], duration: float, rate: int = 8000, level_dbov: float = -10.0
) -> NDArray[np.int16]:
    """A steady tone: the sum of ``frequencies`` (Hz), each at ``level_dbov``."""
    return render(ToneSpec(tuple(float(f) for f in frequencies), (), level_dbov), duration, rate)


def render_reference(spec: ToneSpec, duration: float, rate: int = 8000) -> NDArray[np.int16]:
    """Plain-numpy twin of :func:`render`."""
    n = round(duration * rate)
    t = np.arange(n, dtype=np.int64)
    amps = _amplitudes(spec)
    acc = np.zeros(n)
    for f, a in zip(spec.frequencies, amps, strict=True):
        acc += a * np.sin(2.0 * np.pi * ((f * t) % rate) / rate)
    gain = np.ones(n)
    if spec.cadence:
        bounds = np.cumsum([max(1, round(d * rate)) for d in spec.cadence])
        ramp = round(RAMP_SECONDS * rate)
        pos = t % bounds[-1]
        segment = np.searchsorted(bounds, pos, side="right")
        start = np.where(segment > 0, bounds[np.maximum(segment - 1, 0)], 0)
        end = bounds[np.minimum(segment, len(bounds) - 1)]
        ramped = np.minimum(1.0, np.minimum((pos - start + 0.5) / ramp, (end - pos - 0.5) / ramp))
        gain = np.where(segment % 2 == 1, 0.0, ramped)
    return np.clip(np.floor(acc * gain + 0.5), -32768, 32767).astype(np.int16)


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel of this module."""
    render(call_progress("gb", "ringback"), 0.01)
    tone((1000.0,), 0.001)
