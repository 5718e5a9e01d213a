"""Media taps: copies of the audio each leg hears and says, for recorders and analysers.

The media tick publishes one `TapFrame` per leg and direction; a `TapHub` hands it to the
subscribers of that stream and to those of every stream. A subscriber that raises is counted and
skipped (a broken recorder must not stop the call's audio). Subscribers that consume later, from
another task, use a `QueueSubscriber`: a bounded queue that drops its oldest frame on overflow
and counts the loss.

Frames own a read-only copy of their samples, so a publisher may reuse its buffers and every
subscriber sees the same, unchanging audio. The samples may carry sensitive speech (a card number
read aloud): `repr` shows their count, never their values.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Direction",
    "QueueSubscriber",
    "Subscription",
    "TapCallback",
    "TapFrame",
    "TapHub",
]

Direction = Literal["in", "out"]
_DIRECTIONS = ("in", "out")


@dataclass(frozen=True, slots=True, eq=False)
class TapFrame:
    """Audio of one leg in one direction.

    ``direction``: "in" is what the switch received from this leg's remote party, "out" what it
    sent to it. ``timestamp`` is media time in seconds. ``marked`` names a substitution, e.g.
    "masked" when PCI masking replaced the audio.
    """

    stream_id: str
    direction: Direction
    rate: int
    timestamp: float
    samples: NDArray[np.int16]
    marked: str | None = None

    def __post_init__(self) -> None:
        if self.direction not in _DIRECTIONS:
            raise ValueError(f"tap direction must be 'in' or 'out', not {self.direction!r}")
        if self.rate <= 0:
            raise ValueError(f"tap sample rate must be positive, not {self.rate}")
        samples = self.samples
        # A read-only int16 array is taken as it is: the engine hands out rows of a tick's
        # matrix that nothing writes again. Anything else is copied and frozen.
        if not (
            isinstance(samples, np.ndarray)
            and samples.dtype == np.int16
            and not samples.flags.writeable
        ):
            samples = np.array(samples, dtype=np.int16, copy=True)
        if samples.ndim != 1:
            raise ValueError(f"tap samples must be one-dimensional, not shape {samples.shape}")
        samples.flags.writeable = False
        object.__setattr__(self, "samples", samples)

    @property
    def duration(self) -> float:
        """Seconds of audio in the frame."""
        return len(self.samples) / self.rate

    def __repr__(self) -> str:
        return (
            f"TapFrame(stream_id={self.stream_id!r}, direction={self.direction!r}, "
            f"rate={self.rate}, timestamp={self.timestamp!r}, "
            f"samples=<{len(self.samples)} samples>, marked={self.marked!r})"
        )


TapCallback = Callable[[TapFrame], None]
ErrorHook = Callable[["Subscription", Exception], None]


class Subscription:
    """One subscriber's registration; `close` ends the delivery (idempotent)."""

    def __init__(self, hub: TapHub, stream_id: str | None, callback: TapCallback) -> None:
        self.stream_id = stream_id
        self.callback = callback
        self.delivered = 0
        self.errors = 0
        self.last_error: str | None = None  # exception type name of the latest failure
        self._hub: TapHub | None = hub

    @property
    def active(self) -> bool:
        return self._hub is not None

    def close(self) -> None:
        hub, self._hub = self._hub, None
        if hub is not None:
            hub._remove(self)

    def __repr__(self) -> str:
        return (
            f"Subscription(stream_id={self.stream_id!r}, active={self.active}, "
            f"delivered={self.delivered}, errors={self.errors})"
        )


class TapHub:
    """Routes tap frames to subscribers: per stream id, or ``None`` for every stream.

    Delivery order: subscribers of the frame's stream first, then those of every stream, each
    group in subscription order. ``on_error`` (optional) is told of each failing delivery, e.g.
    to log it; its own exceptions are swallowed too.
    """

    def __init__(self, on_error: ErrorHook | None = None) -> None:
        self._by_stream: dict[str | None, tuple[Subscription, ...]] = {}
        self._on_error = on_error
        self.published = 0
        self.delivered = 0
        self.errors = 0

    def subscribe(self, stream_id: str | None, callback: TapCallback) -> Subscription:
        subscription = Subscription(self, stream_id, callback)
        self._by_stream[stream_id] = (*self._by_stream.get(stream_id, ()), subscription)
        return subscription

    def wants(self, stream_id: str) -> bool:
        """Does any subscriber want frames of ``stream_id``? (Lets the tick skip the copy.)"""
        return stream_id in self._by_stream or None in self._by_stream

    def publish(self, frame: TapFrame) -> int:
        """Deliver ``frame``; returns how many subscribers took it without raising."""
        self.published += 1
        ok = 0
        # tuples are replaced, never mutated: a callback may subscribe or close safely
        for group in (self._by_stream.get(frame.stream_id, ()), self._by_stream.get(None, ())):
            for subscription in group:
                if subscription.active and self._deliver(subscription, frame):
                    ok += 1
        self.delivered += ok
        return ok

    def close_stream(self, stream_id: str) -> int:
        """Close every subscription to ``stream_id`` (the stream ended); returns how many."""
        subscriptions = self._by_stream.get(stream_id, ())
        for subscription in subscriptions:
            subscription.close()
        return len(subscriptions)

    def __len__(self) -> int:
        return sum(len(group) for group in self._by_stream.values())

    def _deliver(self, subscription: Subscription, frame: TapFrame) -> bool:
        try:
            subscription.callback(frame)
        except Exception as error:
            subscription.errors += 1
            subscription.last_error = type(error).__name__
            self.errors += 1
            if self._on_error is not None:
                with contextlib.suppress(Exception):
                    self._on_error(subscription, error)
            return False
        subscription.delivered += 1
        return True

    def _remove(self, subscription: Subscription) -> None:
        group = self._by_stream.get(subscription.stream_id, ())
        remaining = tuple(s for s in group if s is not subscription)
        if remaining:
            self._by_stream[subscription.stream_id] = remaining
        else:
            self._by_stream.pop(subscription.stream_id, None)


class QueueSubscriber:
    """A bounded frame queue to pass as a `TapHub` callback and `drain` later.

    When full, the oldest frame is dropped and ``overflow`` counts it.
    """

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError(f"queue length must be at least 1, not {maxlen}")
        self.maxlen = maxlen
        self.overflow = 0
        self._frames: deque[TapFrame] = deque(maxlen=maxlen)

    def __call__(self, frame: TapFrame) -> None:
        if len(self._frames) == self.maxlen:
            self.overflow += 1
        self._frames.append(frame)

    def drain(self) -> list[TapFrame]:
        """Every queued frame, oldest first; the queue is left empty."""
        frames = list(self._frames)
        self._frames.clear()
        return frames

    def __len__(self) -> int:
        return len(self._frames)

    def __repr__(self) -> str:
        return (
            f"QueueSubscriber(maxlen={self.maxlen}, queued={len(self)}, overflow={self.overflow})"
        )
