"""What the media plane tells the switch: small frozen events, one per fact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DtmfReceived",
    "MediaEvent",
    "MediaTimeout",
    "PlaybackFinished",
]


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """A key press from the remote party of ``stream_id``.

    ``digit`` is sensitive (it may be part of a card number or PIN): never log it.
    """

    stream_id: str
    digit: str
    source: Literal["rfc4733", "inband"]
    at: float

    def __repr__(self) -> str:  # keeps digits out of logs and tracebacks
        return f"DtmfReceived(stream_id={self.stream_id!r}, source={self.source!r})"


@dataclass(frozen=True, slots=True)
class MediaTimeout:
    """No RTP from the remote party of ``stream_id`` for ``silent_for`` seconds."""

    stream_id: str
    silent_for: float


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """A prompt queued with ``play`` on ``stream_id`` ended (``completed`` False if stopped)."""

    stream_id: str
    playback_id: str
    completed: bool


MediaEvent = DtmfReceived | MediaTimeout | PlaybackFinished
