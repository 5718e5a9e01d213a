"""The asyncio shell around `MediaEngine`: sockets, readers and the 20 ms tick.

Each stream has two non-blocking UDP sockets (RTP on an even port, RTCP on the next). They are
read with `loop.add_reader`, draining up to `BATCH` datagrams per wake-up with `recvfrom`:
stock `DatagramProtocol` allocates a 256 KiB buffer per datagram and tops out near a fifth of
the packet rate measured here (see docs/decisions/0003-media-plane.md). The tick is one
`loop.call_at` re-armed on an absolute 20 ms grid, so it does not drift.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from media.engine import MediaEngine, Outgoing
from media.events import MediaEvent
from media.ports import NoFreePorts, PortAllocator
from media.stream import Address, MediaStream

__all__ = ["MediaTransport", "TransportStats"]

log = logging.getLogger("callcenter.media")

BATCH = 256
TICK = 0.020
MAX_LAG_TICKS = 5
SOCKET_BUFFER = 1 << 20


@dataclass(slots=True)
class TransportStats:
    ticks: int = 0
    late_ticks: int = 0
    skipped_ticks: int = 0
    send_errors: int = 0
    bind_refused: int = 0


@dataclass(eq=False, slots=True)
class _Sockets:
    rtp: socket.socket
    rtcp: socket.socket
    stream: MediaStream
    closed: bool = False
    fast_key: tuple[int, int] = (-1, -1)
    """(stream epoch, peer epoch) the cached fast-path decision was made at."""
    fast: tuple[Address, int, Callable[[bytes, Address], int]] | None = None
    """(destination, telephone-event payload type, the peer socket's sendto), or None."""


class MediaTransport:
    """Owns the sockets of every stream of one engine, on one event loop."""

    def __init__(
        self,
        engine: MediaEngine,
        on_events: Callable[[list[MediaEvent]], None],
        *,
        bind_host: str | None = None,
    ):
        self.engine = engine
        self.on_events = on_events
        self.bind_host = bind_host or engine.settings.local_address
        self.stats = TransportStats()
        self._sockets: dict[str, _Sockets] = {}
        self._by_stream: dict[MediaStream, _Sockets] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._next_tick = 0.0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.engine.clock = loop.time
        self._next_tick = loop.time() + TICK
        self._tick_handle = loop.call_at(self._next_tick, self._tick)

    def close(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        for stream_id in list(self._sockets):
            self.close_stream(stream_id)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("media transport not started")
        return self._loop

    # -- streams -------------------------------------------------------------------------------

    def open_stream(self, stream_id: str) -> MediaStream:
        """A stream bound to a free port pair of the range; raises `NoFreePorts`."""
        port, rtp, rtcp = bind_free_pair(self.engine.ports, self.bind_host, self.stats)
        stream = self.engine.create_stream(stream_id, self.loop.time(), port=port)
        self._attach(stream, rtp, rtcp)
        return stream

    def adopt_stream(self, stream_id: str, rtp: socket.socket, rtcp: socket.socket) -> MediaStream:
        """A stream on sockets bound elsewhere (handed to a media worker by the switch)."""
        port = rtp.getsockname()[1]
        stream = self.engine.create_stream(stream_id, self.loop.time(), port=port)
        for sock in (rtp, rtcp):
            sock.setblocking(False)
        self._attach(stream, rtp, rtcp)
        return stream

    def _attach(self, stream: MediaStream, rtp: socket.socket, rtcp: socket.socket) -> None:
        entry = _Sockets(rtp, rtcp, stream)
        self._sockets[stream.stream_id] = entry
        self._by_stream[stream] = entry
        loop = self.loop
        loop.add_reader(rtp.fileno(), self._rtp_readable, entry)
        loop.add_reader(rtcp.fileno(), self._rtcp_readable, entry)

    def close_stream(self, stream_id: str) -> MediaStream | None:
        entry = self._sockets.pop(stream_id, None)
        if entry is None:
            return None
        entry.closed = True
        del self._by_stream[entry.stream]
        if self._loop is not None:
            self._loop.remove_reader(entry.rtp.fileno())
            self._loop.remove_reader(entry.rtcp.fileno())
        entry.rtp.close()
        entry.rtcp.close()
        stream = self.engine.close(stream_id)
        self._flush_events()
        _log_quality(stream)
        return stream

    # -- datagrams -----------------------------------------------------------------------------

    def _rtp_readable(self, entry: _Sockets) -> None:
        now = self.loop.time()
        stream = entry.stream
        peer = stream.peer
        key = (stream.epoch, -1 if peer is None else peer.epoch)
        if key != entry.fast_key:
            entry.fast_key = key
            entry.fast = self._fast_path(stream)
        fast = entry.fast
        if fast is None:
            self._rtp_slow(entry, now, BATCH)
            return
        # the fast path: relay from the latched source, untouched (see docs/decisions/0003)
        dest, event_pt, sendto = fast
        recvfrom = entry.rtp.recvfrom
        latched = stream.latched
        packets = octets = 0
        for _ in range(BATCH):
            try:
                data, addr = recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue
            if (
                addr != latched
                or len(data) < 12
                or data[0] & 0xC0 != 0x80
                or data[1] & 0x7F == event_pt
            ):
                self._rtp_one(entry, data, addr, now)  # latching, events, garbage
                if entry.fast_key != (stream.epoch, -1 if peer is None else peer.epoch):
                    break  # that packet changed the decision: the next wake-up recomputes it
                continue
            try:
                sendto(data, dest)
            except OSError:
                self.stats.send_errors += 1
            packets += 1
            octets += len(data)
        if packets:
            stream.count_relayed(packets, octets, now)
        if self.engine.events:
            self._flush_events()

    def _fast_path(
        self, stream: MediaStream
    ) -> tuple[Address, int, Callable[[bytes, Address], int]] | None:
        if _mux(stream):
            return None
        plain = stream.plain_relay()
        peer = stream.peer
        target = self._by_stream.get(peer) if peer is not None else None
        if plain is None or target is None:
            return None
        return plain[0], plain[1], target.rtp.sendto

    def _rtp_slow(self, entry: _Sockets, now: float, batch: int) -> None:
        recvfrom = entry.rtp.recvfrom
        for _ in range(batch):
            try:
                data, addr = recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue
            self._rtp_one(entry, data, addr, now)
        if self.engine.events:
            self._flush_events()

    def _rtp_one(self, entry: _Sockets, data: bytes, addr: Address, now: float) -> None:
        stream = entry.stream
        if _mux(stream) and len(data) > 1 and 192 <= data[1] <= 223:  # RFC 5761 §4
            self._send(self.engine.receive_rtcp(stream, data, addr, now), rtcp=True)
            return
        self._send(self.engine.receive_rtp(stream, data, addr, now))

    def _rtcp_readable(self, entry: _Sockets) -> None:
        now = self.loop.time()
        for _ in range(BATCH):
            try:
                data, addr = entry.rtcp.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue
            self._send(self.engine.receive_rtcp(entry.stream, data, addr, now), rtcp=True)

    def _send(self, out: Outgoing | None, *, rtcp: bool = False) -> None:
        if out is None:
            return
        stream, data, dest = out
        entry = self._by_stream.get(stream)
        if entry is None:
            return
        sock = entry.rtcp if rtcp and not _mux(stream) else entry.rtp
        try:
            sock.sendto(data, dest)
        except OSError:
            self.stats.send_errors += 1

    # -- the tick ------------------------------------------------------------------------------

    def _tick(self) -> None:
        loop = self.loop
        now = loop.time()
        stats = self.stats
        stats.ticks += 1
        lag = now - self._next_tick
        if lag > TICK:
            stats.late_ticks += 1
        try:
            for out in self.engine.tick(now):
                self._send(out)
            for out in self.engine.drain_rtcp():
                self._send(out, rtcp=True)
        except Exception:  # a bug in one tick must not stop every call's media
            log.exception("media tick failed")
        self._flush_events()
        self._next_tick += TICK
        if now - self._next_tick > MAX_LAG_TICKS * TICK:
            skipped = int((now - self._next_tick) / TICK)
            stats.skipped_ticks += skipped
            self._next_tick += skipped * TICK
        self._tick_handle = loop.call_at(self._next_tick, self._tick)

    def _flush_events(self) -> None:
        if self.engine.events:
            events = self.engine.drain_events()
            try:
                self.on_events(events)
            except Exception:
                log.exception("media event consumer failed")


def bind_free_pair(
    ports: PortAllocator, host: str, stats: TransportStats | None = None
) -> tuple[int, socket.socket, socket.socket]:
    """Allocate and bind an RTP/RTCP socket pair; pairs held by other programs are skipped."""
    for _ in range(ports.capacity):
        port = ports.allocate()
        try:
            rtp = bind_udp(host, port)
            try:
                rtcp = bind_udp(host, port + 1)
            except OSError:
                rtp.close()
                raise
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                ports.release(port)
                raise
            if stats is not None:
                stats.bind_refused += 1
            ports.refused(port)
            continue
        return port, rtp, rtcp
    raise NoFreePorts("no RTP port pair could be bound")


def bind_udp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _mux(stream: MediaStream) -> bool:
    return stream.params is not None and stream.params.rtcp_mux


def _log_quality(stream: MediaStream) -> None:
    """One line per finished leg: what an operator checks when a caller complains."""
    stats = stream.stats
    quality = stream.quality()
    figures = ""
    if quality is not None:
        figures = (
            f", loss {100 * quality.loss_fraction:.1f} %, jitter {quality.jitter_ms:.1f} ms, "
            f"MOS {quality.mos:.2f} ({quality.measured_by})"
        )
    log.info(
        "media %s: %d packets in, %d out, %d from strangers, %d invalid%s",
        stream.stream_id,
        stats.packets_received,
        stats.packets_sent,
        stats.dropped_foreign,
        stats.dropped_invalid,
        figures,
    )
