"""Voice activity detection: a typed wrapper around the WebRTC VAD (``webrtcvad``).

The WebRTC detector classifies one frame of 10, 20 or 30 ms of 16-bit mono PCM at 8, 16, 32
or 48 kHz as speech or not. Aggressiveness 0 is the most willing to call a frame speech, 3
the most willing to call it non-speech (fewer false alarms on noise, more clipped syllables).
The detector adapts to the background, so one instance belongs to one stream; feed it the
frames in order.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import webrtcvad
from numpy.typing import NDArray

__all__ = ["FRAME_MS", "RATES", "VoiceActivityDetector"]

RATES: Final = (8000, 16000, 32000, 48000)
"""Sample rates the WebRTC VAD accepts."""
FRAME_MS: Final = (10, 20, 30)
"""Frame durations the WebRTC VAD accepts."""


class VoiceActivityDetector:
    """Speech / non-speech per frame for one stream."""

    def __init__(self, aggressiveness: int = 2, rate: int = 8000) -> None:
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, got {aggressiveness!r}")
        if rate not in RATES:
            raise ValueError(f"VAD sample rate must be one of {RATES} Hz, got {rate!r}")
        self.aggressiveness = aggressiveness
        self.rate = rate
        self.frame_lengths: tuple[int, ...] = tuple(rate * ms // 1000 for ms in FRAME_MS)
        """Accepted frame lengths in samples (10, 20 and 30 ms at ``rate``)."""
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: NDArray[np.int16]) -> bool:
        """Whether ``frame`` (1-D int16 of 10, 20 or 30 ms) holds speech."""
        samples = np.asarray(frame)
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise ValueError(f"frame must be 1-D int16, got {samples.ndim}-D {samples.dtype}")
        if samples.size not in self.frame_lengths:
            raise ValueError(
                f"frame of {samples.size} samples at {self.rate} Hz: the VAD takes 10, 20 or"
                f" 30 ms frames, i.e. {', '.join(map(str, self.frame_lengths))} samples"
            )
        data = samples.astype("<i2", copy=False).tobytes()
        return bool(self._vad.is_speech(data, self.rate, samples.size))

    def speech_flags(self, pcm: NDArray[np.int16], frame_ms: int = 20) -> NDArray[np.bool_]:
        """Classify consecutive ``frame_ms`` frames of ``pcm``; a trailing partial frame is
        ignored."""
        if frame_ms not in FRAME_MS:
            raise ValueError(f"frame_ms must be one of {FRAME_MS}, got {frame_ms!r}")
        samples = np.asarray(pcm)
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise ValueError(f"pcm must be 1-D int16, got {samples.ndim}-D {samples.dtype}")
        size = self.rate * frame_ms // 1000
        count = samples.size // size
        frames = samples[: count * size].reshape(count, size)
        return np.array([self.is_speech(f) for f in frames], dtype=np.bool_)
