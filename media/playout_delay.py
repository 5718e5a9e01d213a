"""The playout delay a jitter buffer wants, from the transits of the packets it receives.

Transit is a packet's arrival time minus its RTP timestamp, both in timestamp units; only its
variation matters. Two measures are kept:

- the RFC 3550 §A.8 interarrival jitter J (``jitter``, what RTCP reports), and a copy of it fed
  with each difference clipped (`observe`'s `clip`), so one spike barely moves it;
- the spread of a window of recent transits: its `percentile` minus its minimum (``base``, the
  transit of the fastest recent packet).

``wanted()`` is the larger of ``factor`` times the clipped J and the spread: enough delay for
all but the slowest ``1 - percentile`` of packets, reacting at once to lasting jitter.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["PlayoutDelay"]

_RECOMPUTE_EVERY = 8  # packets between two percentile computations


class PlayoutDelay:
    """RFC 3550 §A.8 jitter and a percentile of recent transits, in timestamp units."""

    def __init__(self, window: int, percentile: float, factor: float) -> None:
        self.jitter = 0.0  # RFC 3550 J, as reported
        self._robust = 0.0  # J with each difference clipped, so one spike barely moves it
        self.base = math.inf
        self._spread = 0.0
        self._percentile = percentile
        self._factor = factor
        self._window: deque[float] = deque(maxlen=window)
        self._last: float | None = None
        self._count = 0

    def observe(self, transit: float, clip: float) -> None:
        if self._last is not None:
            difference = abs(transit - self._last)
            self.jitter += (difference - self.jitter) / 16
            self._robust += (min(difference, clip) - self._robust) / 16
        self._last = transit
        self._window.append(transit)
        self.base = min(self.base, transit)
        self._count += 1
        if self._count % _RECOMPUTE_EVERY == 0 or len(self._window) <= _RECOMPUTE_EVERY:
            ordered = sorted(self._window)
            self.base = ordered[0]
            self._spread = ordered[int(self._percentile * (len(ordered) - 1))] - ordered[0]

    def rebase(self) -> None:
        """Forget transits (the timestamp timeline moved); keep the jitter."""
        self._window.clear()
        self._last = None
        self.base = math.inf
        self._spread = 0.0

    def wanted(self) -> float:
        return max(self._factor * self._robust, self._spread)
