"""The media engine: every stream of every call, relayed or processed once per 20 ms tick.

Sans-I/O: the shell (`media.io`) hands in datagrams with their source address and the time, and
sends what comes back; it calls `tick(now)` every 20 ms. The engine decides per bridged pair
whether packets can be relayed as they are or must be decoded and re-encoded (different codecs,
a tap for the recorder, in-band DTMF to convert or detect, a prompt playing), and keeps that
decision current as streams change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from media.codecs import decoder_for, encoder_for
from media.events import MediaEvent, MediaTimeout, PlaybackFinished
from media.jitter import JitterBuffer
from media.player import PlaybackQueue, PromptCache
from media.ports import PortAllocator
from media.rtcp_session import RtcpSession
from media.srtp import CryptoAttribute, SrtpContext
from media.stream import Address, MediaStream, StreamMode, StreamParams
from media.tap import TapHub
from media.telephone_event import TelephoneEventReceiver, TelephoneEventSender
from media.tick import TickProcessor

__all__ = ["EngineSettings", "MediaEngine", "Outgoing", "UnknownStream"]

TICK = 0.020
RTCP_CHECK = 0.5
"""Seconds between looks for RTCP reports due (intervals are 2.5-7.5 s, RFC 3550 §6.2)."""


class UnknownStream(KeyError):
    """A command named a stream the engine does not have."""


@dataclass(frozen=True, slots=True)
class EngineSettings:
    local_address: str = "127.0.0.1"
    jitter_min_ms: int = 20
    jitter_max_ms: int = 200
    media_timeout: float | None = None
    """Report `MediaTimeout` after this many seconds without RTP from a remote party that
    should be sending (None: never)."""


Outgoing = tuple[MediaStream, bytes, Address]


class MediaEngine:
    def __init__(
        self,
        ports: PortAllocator,
        settings: EngineSettings | None = None,
        taps: TapHub | None = None,
        clock: Callable[[], float] | None = None,
    ):
        self.ports = ports
        self.settings = settings or EngineSettings()
        self._last_now = 0.0
        self.clock = clock or (lambda: self._last_now)
        """Time for commands that carry none (the shell passes its loop's clock)."""
        self.taps = taps or TapHub()
        self.streams: dict[str, MediaStream] = {}
        self.events: list[MediaEvent] = []
        self._processing: list[MediaStream] = []
        self._resamplers: dict[
            tuple[str, int, int], Callable[[NDArray[np.int16]], NDArray[np.int16]]
        ]
        self._resamplers = {}
        self._timed_out: set[str] = set()
        self._next_timeout_check = 0.0
        self._ticker = TickProcessor(self.taps, self._resample)
        self.prompts = PromptCache()
        self.cname = f"callcenter@{self.settings.local_address}"
        self.rtcp_out: list[Outgoing] = []
        self._next_rtcp_check = 0.0
        self._dirty: set[str] = set()

    # -- commands ------------------------------------------------------------------------------

    def create_stream(self, stream_id: str, now: float, port: int | None = None) -> MediaStream:
        """A stream on a fresh port pair (or on ``port``, already allocated by the caller)."""
        if stream_id in self.streams:
            raise ValueError(f"stream {stream_id!r} exists")
        if port is None:
            port = self.ports.allocate()
        stream = MediaStream(stream_id, port, self.settings.local_address, created_at=now)
        self.streams[stream_id] = stream
        return stream

    def get(self, stream_id: str) -> MediaStream:
        try:
            return self.streams[stream_id]
        except KeyError:
            raise UnknownStream(stream_id) from None

    def configure(self, stream_id: str, params: StreamParams) -> None:
        """Apply what offer/answer agreed (again on every re-INVITE)."""
        stream = self.get(stream_id)
        old = stream.params
        if old is not None and old.remote_rtp != params.remote_rtp:
            stream.remote_changed()
        stream.configured_at = self.clock()
        self._timed_out.discard(stream_id)
        codec_changed = old is None or old.codec != params.codec or old.ptime_ms != params.ptime_ms
        stream.params = params
        keys = (params.crypto_local, params.crypto_remote)
        if old is None or (old.crypto_local, old.crypto_remote) != keys:
            stream.srtp = _srtp_context(params)
        if codec_changed:
            stream.decoder = decoder_for(params.codec)
            stream.encoder = encoder_for(params.codec)
            stream.jitter = self._jitter_buffer(params)
            self._ticker.forget(stream_id)  # concealment history and DTMF state of the old codec
        if params.telephone_event_pt is not None:
            if stream.events_in is None:
                stream.events_in = TelephoneEventReceiver()
            if stream.events_out is None or codec_changed:
                stream.events_out = TelephoneEventSender(
                    params.telephone_event_pt, params.codec.clock_rate, params.ptime_ms
                )
        else:
            stream.events_in = None
            stream.events_out = None
        self._update_modes(stream)

    def _jitter_buffer(self, params: StreamParams) -> JitterBuffer:
        s = self.settings
        return JitterBuffer(
            clock_rate=params.codec.clock_rate,
            ptime_ms=20,
            min_delay_ms=s.jitter_min_ms,
            max_delay_ms=s.jitter_max_ms,
        )

    def connect(self, a_id: str, b_id: str) -> None:
        """Bridge two streams: each hears the other."""
        a, b = self.get(a_id), self.get(b_id)
        for s in (a, b):
            if s.peer is not None and s.peer not in (a, b):
                old = s.peer
                old.peer = None
                s.peer = None
                self._update_modes(old)
        a.peer, b.peer = b, a
        self._update_modes(a)

    def disconnect(self, stream_id: str) -> None:
        stream = self.get(stream_id)
        peer = stream.peer
        stream.peer = None
        if peer is not None:
            peer.peer = None
            self._update_modes(peer)
        self._update_modes(stream)

    def close(self, stream_id: str) -> MediaStream:
        """Forget a stream and release its ports; returns it (for its statistics)."""
        stream = self.get(stream_id)
        self.disconnect(stream_id)
        del self.streams[stream_id]
        self._timed_out.discard(stream_id)
        self._ticker.forget(stream_id)
        for key in [k for k in self._resamplers if k[0] == stream_id]:
            del self._resamplers[key]
        if stream in self._processing:
            self._processing.remove(stream)
        if stream.local_port in self.ports:
            self.ports.release(stream.local_port)
        return stream

    def set_tapped(self, stream_id: str, tapped: bool) -> None:
        stream = self.get(stream_id)
        stream.tapped = tapped
        self._update_modes(stream)

    def set_detect_inband(self, stream_id: str, detect: bool) -> None:
        stream = self.get(stream_id)
        stream.detect_inband = detect
        self._update_modes(stream)

    def play(
        self,
        stream_id: str,
        prompt: str | NDArray[np.int16],
        playback_id: str,
        *,
        loop: bool = False,
    ) -> None:
        """Queue a prompt (a WAV path, or samples at the stream's rate) for the remote party.

        While anything plays, it replaces what the peer says; `PlaybackFinished` follows
        each prompt. Raises `PromptError` for a file that cannot be played.
        """
        stream = self.get(stream_id)
        rate = stream.sample_rate
        samples = self.prompts.get(prompt, rate) if isinstance(prompt, str) else prompt
        queue = stream.playback
        if queue is None:
            queue = stream.playback = PlaybackQueue(frame_samples=rate // 50, rate=rate)

        def finished(completed: bool) -> None:
            self.events.append(PlaybackFinished(stream_id, playback_id, completed))
            if queue.done:
                self._dirty.add(stream_id)

        queue.enqueue(samples, loop=loop, on_done=finished)
        self._update_modes(stream)

    def stop_playback(self, stream_id: str) -> None:
        """Stop every queued prompt of the stream (barge-in); each reports not completed."""
        stream = self.get(stream_id)
        if stream.playback is not None:
            stream.playback.stop()
        self._update_modes(stream)

    # -- modes ---------------------------------------------------------------------------------

    def _update_modes(self, stream: MediaStream) -> None:
        peer = stream.peer
        pair = [stream] if peer is None else [stream, peer]
        mode = self._mode_for(stream, peer)
        for s in pair:
            s.mode = mode
            s.relay_pt_map = {}
            in_list = s in self._processing
            if mode is StreamMode.PROCESS and not in_list:
                self._processing.append(s)
                s.marker_next = True
                if s.jitter is not None:
                    s.jitter.reset()  # nothing queued from an earlier spell of processing
                if s.params is not None:
                    s.rtcp = RtcpSession(s.ssrc, s.params.codec.clock_rate, self.cname)
            elif mode is not StreamMode.PROCESS and in_list:
                self._processing.remove(s)
                s.rtcp = None  # relayed again: the parties' own RTCP passes through
        if mode is StreamMode.RELAY and peer is not None:
            stream.relay_pt_map = _pt_map(stream.params, peer.params)
            peer.relay_pt_map = _pt_map(peer.params, stream.params)
        for s in pair:
            s.epoch += 1

    @staticmethod
    def _mode_for(stream: MediaStream, peer: MediaStream | None) -> StreamMode:
        if stream.params is None:
            return StreamMode.IDLE
        playing = stream.is_playing or (peer is not None and peer.is_playing)
        if peer is None:
            return StreamMode.PROCESS if stream.tapped or playing else StreamMode.IDLE
        if peer.params is None:
            return StreamMode.IDLE
        a, b = stream.params, peer.params
        same_codec = a.codec == b.codec and a.ptime_ms == b.ptime_ms
        same_events = (a.telephone_event_pt is None) == (b.telephone_event_pt is None)
        extra_work = (
            stream.tapped or peer.tapped or stream.detect_inband or peer.detect_inband or playing
        )
        if same_codec and same_events and not extra_work:
            return StreamMode.RELAY
        return StreamMode.PROCESS

    # -- datagrams -----------------------------------------------------------------------------

    def receive_rtp(
        self, stream: MediaStream, data: bytes, addr: Address, now: float
    ) -> Outgoing | None:
        out = stream.receive_rtp(data, addr, now, self.events)
        if out is None:
            return None
        peer = stream.peer
        assert peer is not None
        dest = peer.destination
        return (peer, out, dest) if dest is not None else None

    def receive_rtcp(
        self, stream: MediaStream, data: bytes, addr: Address, now: float
    ) -> Outgoing | None:
        out = stream.receive_rtcp(data, addr, now)
        if out is None:
            return None
        peer = stream.peer
        assert peer is not None
        dest = peer.rtcp_destination
        return (peer, out, dest) if dest is not None else None

    # -- the tick ------------------------------------------------------------------------------

    def tick(self, now: float) -> list[Outgoing]:
        """Decode what arrived, produce 20 ms for every processed stream, and check timeouts."""
        self._last_now = now
        out: list[Outgoing] = []
        if self._dirty:
            for stream_id in self._dirty:
                stream = self.streams.get(stream_id)
                if stream is not None:
                    self._update_modes(stream)
            self._dirty.clear()
        if self._processing:
            for s, data in self._ticker.run(self._processing, now, self.events):
                dest = s.destination
                if dest is not None:
                    out.append((s, data, dest))
            if now >= self._next_rtcp_check:
                self._next_rtcp_check = now + RTCP_CHECK
                self._reports_due(now)
        if self.settings.media_timeout is not None and now >= self._next_timeout_check:
            self._next_timeout_check = now + 1.0
            self._check_timeouts(now, self.settings.media_timeout)
        return out

    def _reports_due(self, now: float) -> None:
        for s in self._processing:
            rtcp = s.rtcp
            if rtcp is None or not rtcp.report_due(now):
                continue
            dest = s.rtcp_destination
            report = rtcp.build_report(now)
            if dest is not None and s.can_send:
                self.rtcp_out.append((s, s.protect_rtcp(report), dest))

    def drain_rtcp(self) -> list[Outgoing]:
        """RTCP reports the engine produced for processed streams, to send from RTCP sockets."""
        out, self.rtcp_out = self.rtcp_out, []
        return out

    def _resample(
        self, src: MediaStream, dst: MediaStream, pcm: NDArray[np.int16]
    ) -> NDArray[np.int16]:
        key = (src.stream_id, src.sample_rate, dst.sample_rate)
        fn = self._resamplers.get(key)
        if fn is None:
            from dsp.resample import Resampler

            fn = self._resamplers[key] = Resampler(src.sample_rate, dst.sample_rate).process
        return fn(pcm)

    def _check_timeouts(self, now: float, limit: float) -> None:
        """A leg whose remote party should be sending (it agreed to, and is not holding us
        with recvonly/inactive) but has sent nothing for ``limit`` seconds since the later of
        its last packet and the last time its media was agreed."""
        for s in self.streams.values():
            params = s.params
            if params is None or not params.receive or s.stream_id in self._timed_out:
                continue
            since = max(s.last_received or 0.0, s.configured_at)
            if now - since >= limit:
                self._timed_out.add(s.stream_id)
                self.events.append(MediaTimeout(s.stream_id, now - since))

    def drain_events(self) -> list[MediaEvent]:
        events, self.events = self.events, []
        return events


def _pt_map(src: StreamParams | None, dst: StreamParams | None) -> dict[int, int]:
    """Payload types to renumber when relaying from ``src``'s numbering to ``dst``'s."""
    if src is None or dst is None:
        return {}
    mapping: dict[int, int] = {}
    if src.payload_type != dst.payload_type:
        mapping[src.payload_type] = dst.payload_type
    if (
        src.telephone_event_pt is not None
        and dst.telephone_event_pt is not None
        and src.telephone_event_pt != dst.telephone_event_pt
    ):
        mapping[src.telephone_event_pt] = dst.telephone_event_pt
    return mapping


def _srtp_context(params: StreamParams) -> SrtpContext | None:
    if params.crypto_local is None or params.crypto_remote is None:
        return None
    return SrtpContext(
        CryptoAttribute.parse(params.crypto_local), CryptoAttribute.parse(params.crypto_remote)
    )


def params_with_remote(params: StreamParams, remote: Address) -> StreamParams:
    return replace(params, remote_rtp=remote)
