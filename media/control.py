"""The small command interface the switch drives the media plane with.

Two implementations behave the same: `LocalMedia` runs the engine on the switch's own event
loop; `media.worker.MediaWorkerPool` runs one engine per worker process and forwards the same
commands over a pipe (the way rtpengine or FreeSWITCH split control from media). Commands are
fire-and-forget and never block on the media path; what the media plane has to say comes back
as `MediaEvent`s through the callback given at construction.

Streams of one call share a ``group`` so a worker pool keeps them in one process (a bridge is
a local operation there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from media.engine import EngineSettings, MediaEngine
from media.events import MediaEvent
from media.io import MediaTransport
from media.ports import PortAllocator
from media.stream import StreamParams
from media.tap import TapHub

__all__ = ["EngineControl", "LocalMedia", "MediaControl"]


class MediaControl(Protocol):
    @property
    def address(self) -> str:
        """The address SDP announces for the switch's media."""
        ...

    def open_stream(self, stream_id: str, group: str) -> int:
        """Bind a port pair for a new stream; returns its RTP port. Raises `NoFreePorts`."""
        ...

    def configure(self, stream_id: str, params: StreamParams) -> None: ...

    def connect(self, a: str, b: str) -> None: ...

    def disconnect(self, stream_id: str) -> None: ...

    def set_tapped(self, stream_id: str, tapped: bool) -> None: ...

    def set_detect_inband(self, stream_id: str, detect: bool) -> None: ...

    def play(self, stream_id: str, prompt: str, playback_id: str, *, loop: bool = False) -> None:
        """Play a WAV file to the stream's remote party; `PlaybackFinished` follows."""
        ...

    def stop_playback(self, stream_id: str) -> None: ...

    def close_stream(self, stream_id: str) -> None: ...

    def stream_count(self) -> int: ...


class EngineControl:
    """The commands applied to a `MediaEngine` directly: no sockets (simulations, tests).

    `LocalMedia` adds the sockets and the tick on an event loop.
    """

    def __init__(self, engine: MediaEngine):
        self.engine = engine

    @property
    def address(self) -> str:
        return self.engine.settings.local_address

    @property
    def taps(self) -> TapHub:
        return self.engine.taps

    def open_stream(self, stream_id: str, group: str) -> int:
        return self.engine.create_stream(stream_id, 0.0).local_port

    def configure(self, stream_id: str, params: StreamParams) -> None:
        self.engine.configure(stream_id, params)

    def connect(self, a: str, b: str) -> None:
        self.engine.connect(a, b)

    def disconnect(self, stream_id: str) -> None:
        self.engine.disconnect(stream_id)

    def set_tapped(self, stream_id: str, tapped: bool) -> None:
        self.engine.set_tapped(stream_id, tapped)

    def set_detect_inband(self, stream_id: str, detect: bool) -> None:
        self.engine.set_detect_inband(stream_id, detect)

    def play(self, stream_id: str, prompt: str, playback_id: str, *, loop: bool = False) -> None:
        self.engine.play(stream_id, prompt, playback_id, loop=loop)

    def stop_playback(self, stream_id: str) -> None:
        self.engine.stop_playback(stream_id)

    def close_stream(self, stream_id: str) -> None:
        self.engine.close(stream_id)

    def stream_count(self) -> int:
        return len(self.engine.streams)


class LocalMedia(EngineControl):
    """The media engine on the caller's event loop (``media.workers: 0``)."""

    def __init__(
        self,
        ports: PortAllocator,
        settings: EngineSettings,
        on_events: Callable[[list[MediaEvent]], None],
        taps: TapHub | None = None,
        *,
        bind_host: str | None = None,
    ):
        super().__init__(MediaEngine(ports, settings, taps))
        self.transport = MediaTransport(self.engine, on_events, bind_host=bind_host)

    def start(self) -> None:
        import asyncio

        self.transport.start(asyncio.get_running_loop())

    def stop(self) -> None:
        self.transport.close()

    def open_stream(self, stream_id: str, group: str) -> int:
        return self.transport.open_stream(stream_id).local_port

    def close_stream(self, stream_id: str) -> None:
        self.transport.close_stream(stream_id)
