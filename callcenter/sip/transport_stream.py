"""The TCP and TLS side of :class:`callcenter.sip.transport.SipTransports`.

Connections are :class:`asyncio.Protocol` objects rather than streams: bytes arrive in
``data_received`` and go straight into a :class:`StreamFramer`, with no per-connection task,
no StreamReader buffer and no ``await`` per message. Every connection, inbound or outbound,
is filed under its peer's address so that a response to a request goes back over the
connection the request came on (RFC 3261 §18.2.2), and a request to a peer reuses any open
connection to it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from callcenter.sip.errors import SipParseError
from callcenter.sip.parser import Limits, StreamFramer
from callcenter.sip.transport_common import (
    ConnectionLimitError,
    Endpoint,
    SendQueueFullError,
    TransportStats,
    logger,
)

__all__ = ["StreamConnection", "StreamConnections"]

MAX_WRITE_BUFFER = 4 * 1024 * 1024
"""A connection whose peer leaves this much unread is aborted (slow or stuck peer)."""
TLS_HANDSHAKE_TIMEOUT = 10.0
CLOSE_GRACE = 1.0
"""Seconds :meth:`StreamConnections.close` lets connections flush before aborting them."""
_PONG = b"\r\n"

Deliver = Callable[[list[tuple[bytes, Endpoint]]], None]
ReportError = Callable[[Endpoint, Exception], None]


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection: frames inbound bytes, writes outbound messages."""

    def __init__(self, table: StreamConnections, name: str, outbound: Endpoint | None) -> None:
        self._table = table
        self.name = name
        self.outbound = outbound
        """The destination this connection was opened for, when it is outbound."""
        self.peer: Endpoint | None = None
        self.last_activity = 0.0
        self._transport: asyncio.Transport | None = None
        self._framer = StreamFramer(table.limits)

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, hence the cast
        self._transport = cast(asyncio.Transport, transport)
        try:
            self._table.register(self)
        except Exception:
            logger.exception("cannot register a %s connection", self.name)
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            self._receive(data)
        except Exception:
            self._table.stats.read_errors += 1
            logger.exception("%s connection from %s failed", self.name, self.peer)
            self.abort()

    def eof_received(self) -> bool | None:
        logger.debug("%s peer %s closed its side", self.name, self.peer)
        return None  # close our side too; pending writes are still flushed

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            logger.debug("%s connection to %s lost: %s", self.name, self.peer, exc)
        try:
            self._table.unregister(self)
        except Exception:  # pragma: no cover - defensive
            logger.exception("cannot unregister a %s connection", self.name)

    # -- receive / send ----------------------------------------------------------------------

    def _receive(self, data: bytes) -> None:
        table = self._table
        stats = table.stats
        self.last_activity = table.loop.time()
        stats.bytes_in += len(data)
        try:
            items = self._framer.feed(data)
        except SipParseError as exc:
            stats.framing_errors += 1
            logger.debug("closing %s connection from %s: %s", self.name, self.peer, exc.reason)
            self.abort()
            return
        peer = self.peer
        if not items or peer is None or self._transport is None:
            return
        batch: list[tuple[bytes, Endpoint]] = []
        for item in items:
            if isinstance(item, bytes):
                batch.append((item, peer))
            else:  # "ping": RFC 5626 §3.5.1 double-CRLF keep-alive, answered with CRLF
                stats.pings_in += 1
                self._transport.write(_PONG)
        if batch:
            stats.stream_messages_in += len(batch)
            stats.batches_in += 1
            table.deliver(batch)

    def write(self, data: bytes) -> bool:
        """Write one message; False when the connection is closing (nothing was written)."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        transport.write(data)
        stats = self._table.stats
        stats.stream_messages_out += 1
        stats.bytes_out += len(data)
        self.last_activity = self._table.loop.time()
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            logger.warning(
                "aborting %s connection to %s: peer is not reading", self.name, self.peer
            )
            transport.abort()
        return True

    @property
    def closing(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


@dataclass(slots=True)
class _PendingConnect:
    """Messages waiting for an outbound connection to be established."""

    messages: list[bytes] = field(default_factory=list)
    size: int = 0


class StreamConnections:
    """All TCP/TLS listeners and connections of one :class:`SipTransports`."""

    def __init__(
        self,
        *,
        stats: TransportStats,
        deliver: Deliver,
        report_error: ReportError,
        max_message_size: int,
        max_connections: int,
        idle_timeout: float,
        connect_timeout: float,
        client_tls: Callable[[], ssl.SSLContext],
    ) -> None:
        self.stats = stats
        self.deliver = deliver
        self.limits = Limits(max_message_size=max_message_size)
        self._report_error = report_error
        self._max_connections = max_connections
        self._idle_timeout = idle_timeout
        self._connect_timeout = connect_timeout
        self._client_tls = client_tls
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.Server] = []
        self._open: set[StreamConnection] = set()
        self._by_peer: dict[Endpoint, StreamConnection] = {}
        self._connecting: dict[Endpoint, _PendingConnect] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._all_closed: asyncio.Event | None = None
        self._closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    # -- listeners ---------------------------------------------------------------------------

    async def listen(
        self, name: str, host: str, port: int, ssl_context: ssl.SSLContext | None
    ) -> list[Endpoint]:
        """Start a TCP (or, with *ssl_context*, TLS) server; the bound addresses."""
        server = await self.loop.create_server(
            lambda: StreamConnection(self, name, None),
            host,
            port,
            ssl=ssl_context,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if ssl_context is not None else None,
            reuse_address=True,
            backlog=1024,
        )
        self._servers.append(server)
        return [Endpoint(name, *sock.getsockname()[:2]) for sock in server.sockets]

    # -- connection table (called by StreamConnection) ---------------------------------------

    def register(self, conn: StreamConnection) -> None:
        transport = conn._transport
        assert transport is not None
        peername = transport.get_extra_info("peername")
        if self._closed or peername is None:
            transport.abort()
            return
        if conn.outbound is None and len(self._open) >= self._max_connections:
            self.stats.connections_rejected += 1
            if self.stats.connections_rejected % 1000 == 1:  # a flood must not flood the log
                logger.warning(
                    "rejecting %s connections: %d open (%d rejected so far)",
                    conn.name,
                    len(self._open),
                    self.stats.connections_rejected,
                )
            transport.abort()
            return
        conn.peer = Endpoint(conn.name, peername[0], peername[1])
        conn.last_activity = self.loop.time()
        self._open.add(conn)
        self.stats.connections_open += 1
        self._by_peer[conn.peer] = conn
        if conn.outbound is None:
            self.stats.connections_accepted += 1
        else:
            self.stats.connections_opened += 1
            self._by_peer[conn.outbound] = conn
            pending = self._connecting.pop(conn.outbound, None)
            for message in pending.messages if pending else ():
                conn.write(message)
        self._arm_sweep()

    def unregister(self, conn: StreamConnection) -> None:
        if conn not in self._open:
            return
        self._open.discard(conn)
        self.stats.connections_open -= 1
        for key in (conn.peer, conn.outbound):
            if key is not None and self._by_peer.get(key) is conn:
                del self._by_peer[key]
        if not self._open and self._all_closed is not None:
            self._all_closed.set()

    # -- send --------------------------------------------------------------------------------

    def send(self, data: bytes, destination: Endpoint) -> None:
        """Write on the open connection to *destination*, or open one (data waits for it)."""
        conn = self._by_peer.get(destination)
        if conn is not None and conn.write(data):
            return
        pending = self._connecting.get(destination)
        if pending is not None:
            if pending.size + len(data) > MAX_WRITE_BUFFER:
                self._report_error(destination, SendQueueFullError("connection queue full"))
                return
            pending.messages.append(data)
            pending.size += len(data)
            return
        if self._closed:
            self._report_error(destination, ConnectionResetError("transports closed"))
            return
        if len(self._open) + len(self._connecting) >= self._max_connections:
            self._report_error(destination, ConnectionLimitError("too many SIP connections"))
            return
        self._connecting[destination] = pending = _PendingConnect([data], len(data))
        task = self.loop.create_task(self._connect(destination, pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, destination: Endpoint, pending: _PendingConnect) -> None:
        tls = destination.transport == "tls"
        try:
            ssl_context = self._client_tls() if tls else None
            async with asyncio.timeout(self._connect_timeout):
                await self.loop.create_connection(
                    lambda: StreamConnection(self, destination.transport, destination),
                    destination.host,
                    destination.port,
                    ssl=ssl_context,
                    server_hostname=destination.host if tls else None,
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if tls else None,
                )
        except asyncio.CancelledError:
            self._forget_pending(destination, pending)
            raise
        except Exception as exc:
            self.stats.connect_failures += 1
            logger.info("cannot connect to %s: %r", destination, exc)
            self._forget_pending(destination, pending)
            for _ in pending.messages:
                self._report_error(destination, exc)
            return
        if self._forget_pending(destination, pending):  # connected, then refused at once
            for _ in pending.messages:
                self._report_error(destination, ConnectionResetError("connection closed"))

    def _forget_pending(self, destination: Endpoint, pending: _PendingConnect) -> bool:
        if self._connecting.get(destination) is pending:
            del self._connecting[destination]
            return True
        return False

    # -- idle connections --------------------------------------------------------------------

    def _arm_sweep(self) -> None:
        if self._sweep_handle is None and not self._closed:
            interval = max(min(self._idle_timeout / 4, 30.0), 0.01)
            self._sweep_handle = self.loop.call_later(interval, self._sweep)

    def _sweep(self) -> None:
        self._sweep_handle = None
        try:
            deadline = self.loop.time() - self._idle_timeout
            for conn in [c for c in self._open if c.last_activity <= deadline]:
                if not conn.closing:
                    self.stats.connections_idle_closed += 1
                    logger.debug("closing idle %s connection to %s", conn.name, conn.peer)
                    conn.close()
        except Exception:  # pragma: no cover - defensive
            logger.exception("idle connection sweep failed")
        if self._open:
            self._arm_sweep()

    # -- life cycle --------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop listening, cancel connection attempts, close connections (abort stragglers)."""
        self._closed = True
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in list(self._open):
            conn.close()
        await self._wait_all_closed()
        for conn in list(self._open):
            conn.abort()
        await self._wait_all_closed()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def _wait_all_closed(self) -> None:
        if not self._open:
            return
        self._all_closed = asyncio.Event()
        try:
            async with asyncio.timeout(CLOSE_GRACE):
                await self._all_closed.wait()
        except TimeoutError:
            logger.debug("%d SIP connections still closing", len(self._open))
