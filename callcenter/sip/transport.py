"""The asyncio shell that moves SIP messages over UDP, TCP and TLS (RFC 3261 §18).

:class:`SipTransports` only moves bytes and says where they came from: parsing, transactions
and routing live elsewhere. Received messages are handed over in batches,
``on_messages([(data, source), ...])``, where ``source`` is an :class:`Endpoint` such as
``Endpoint("udp", "192.0.2.1", 5060)``; a reply goes out with ``send(data, source)``.

- UDP: one non-blocking socket per listener, read with ``loop.add_reader`` and drained in
  batches of up to ``max_batch`` datagrams per readiness callback (see
  docs/decisions/0002-udp-receive-path.md). Datagrams over ``max_message_size`` and
  whitespace-only keep-alives are dropped and counted.
- TCP/TLS: one :class:`asyncio.Protocol` and one :class:`StreamFramer` per connection.
  Connections are reused in both directions, keyed by the peer address; double-CRLF pings
  are answered with CRLF (RFC 5626 §3.5.1); framing errors, idle timeouts and the
  connection limit close connections.
- ``send()`` never blocks and never raises for network errors: each message that cannot be
  sent is counted in ``stats.send_errors`` and reported once to ``on_send_error``, which is
  always called from a later loop iteration, never from inside ``send()``.

Works on the stock event loop and on uvloop. Logs to ``callcenter.sip.transport``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from callcenter.sip.transport_common import (
    ConnectionLimitError,
    Endpoint,
    MessagesCallback,
    SendErrorCallback,
    SendQueueFullError,
    TransportError,
    TransportStats,
    canonical_host,
    is_ip_literal,
    logger,
)
from callcenter.sip.transport_stream import StreamConnections
from callcenter.sip.transport_udp import UdpSocket, bind_udp_socket

__all__ = [
    "ConnectionLimitError",
    "Endpoint",
    "MessagesCallback",
    "SendErrorCallback",
    "SendQueueFullError",
    "SipTransports",
    "TransportError",
    "TransportStats",
]

DEFAULT_MAX_BATCH = 256


class SipTransports:
    """UDP, TCP and TLS listeners and connections sharing one receive callback."""

    def __init__(
        self,
        on_messages: MessagesCallback,
        *,
        on_send_error: SendErrorCallback | None = None,
        max_message_size: int = 65535,
        max_connections: int = 1024,
        idle_timeout: float = 600.0,
        connect_timeout: float = 10.0,
        max_batch: int = DEFAULT_MAX_BATCH,
        tls_client_context: ssl.SSLContext | None = None,
    ) -> None:
        """*tls_client_context* verifies the servers of outbound TLS connections; by default
        the system's trusted CAs (see :func:`callcenter.sip.tlscert.client_context`)."""
        if min(max_message_size, max_batch, max_connections) < 1 or idle_timeout <= 0:
            raise ValueError("sizes, limits and timeouts must be positive")
        self.stats = TransportStats()
        self._on_messages = on_messages
        self._on_send_error = on_send_error
        self._max_message_size = max_message_size
        self._max_batch = max_batch
        self._tls_client_context = tls_client_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: list[UdpSocket] = []
        self._udp_by_family: dict[int, UdpSocket] = {}
        self._local: dict[str, Endpoint] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stream = StreamConnections(
            stats=self.stats,
            deliver=self._deliver,
            report_error=self._report_send_error,
            max_message_size=max_message_size,
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            connect_timeout=connect_timeout,
            client_tls=self._client_tls,
        )
        self._senders = {
            "udp": self._send_udp,
            "tcp": self._stream.send,
            "tls": self._stream.send,
        }

    async def __aenter__(self) -> SipTransports:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- listeners ---------------------------------------------------------------------------

    async def listen_udp(self, host: str, port: int) -> Endpoint:
        """Bind a UDP socket (port 0: any free port); the address actually bound."""
        loop = self._get_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = bind_udp_socket(family, address)
        udp = UdpSocket(
            loop,
            sock,
            stats=self.stats,
            deliver=self._deliver,
            report_error=self._report_send_error,
            max_message_size=self._max_message_size,
            max_batch=self._max_batch,
        )
        self._udp.append(udp)
        self._udp_by_family.setdefault(udp.family, udp)
        self._local.setdefault("udp", udp.local)
        return udp.local

    async def listen_tcp(self, host: str, port: int) -> Endpoint:
        """Start accepting TCP connections; the first address actually bound."""
        self._get_loop()
        return self._remember(await self._stream.listen("tcp", host, port, None))

    async def listen_tls(self, host: str, port: int, ssl_context: ssl.SSLContext) -> Endpoint:
        """Start accepting TLS connections with a server context requiring TLS 1.2 or later
        (see :func:`callcenter.sip.tlscert.server_context`)."""
        minimum = ssl_context.minimum_version
        if minimum == ssl.TLSVersion.MINIMUM_SUPPORTED or minimum < ssl.TLSVersion.TLSv1_2:
            raise ValueError("the TLS server context must require TLS 1.2 or later")
        self._get_loop()
        return self._remember(await self._stream.listen("tls", host, port, ssl_context))

    def _remember(self, endpoints: list[Endpoint]) -> Endpoint:
        self._local.setdefault(endpoints[0].transport, endpoints[0])
        return endpoints[0]

    def local_endpoint(self, transport: str) -> Endpoint:
        """The first address listening on *transport* ("udp", "tcp", "tls"), for Via and
        Contact; raises :class:`LookupError` when there is none. A wildcard address
        (0.0.0.0, ::) is returned as bound: the caller substitutes the advertised host."""
        try:
            return self._local[transport.lower()]
        except KeyError:
            raise LookupError(f"no {transport} listener") from None

    # -- send --------------------------------------------------------------------------------

    def send(self, data: bytes, destination: Endpoint) -> None:
        """Send one message; never blocks and never raises for network errors."""
        try:
            sender = self._senders.get(destination.transport)
            host = canonical_host(destination.host)
            if sender is None:
                transport = destination.transport.lower()
                sender = self._senders.get(transport)
                if sender is None:
                    raise TransportError(f"unknown transport {destination.transport!r}")
                destination = Endpoint(transport, host, destination.port)
            elif host != destination.host:
                destination = Endpoint(destination.transport, host, destination.port)
            sender(data, destination)
        except Exception as exc:
            self._report_send_error(destination, exc)

    def _send_udp(self, data: bytes, destination: Endpoint) -> None:
        host = destination.host
        if not is_ip_literal(host):
            self._spawn(self._resolve_and_send_udp(data, destination))
            return
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        udp = self._udp_by_family.get(family)
        if udp is None:
            raise TransportError(f"no UDP socket for {destination}")
        udp.send(data, host, destination)

    async def _resolve_and_send_udp(self, data: bytes, destination: Endpoint) -> None:
        """A name as UDP destination: A/AAAA lookup off the loop (RFC 3263 is the caller's)."""
        try:
            infos = await self._get_loop().getaddrinfo(
                destination.host, destination.port, type=socket.SOCK_DGRAM
            )
            for family, _, _, _, address in infos:
                udp = self._udp_by_family.get(family)
                if udp is not None:
                    udp.send(data, str(address[0]), destination)
                    return
            raise TransportError(f"no UDP socket for the addresses of {destination}")
        except Exception as exc:
            self._report_send_error(destination, exc)

    # -- callbacks ---------------------------------------------------------------------------

    def _deliver(self, batch: list[tuple[bytes, Endpoint]]) -> None:
        try:
            self._on_messages(batch)
        except Exception:
            self.stats.callback_errors += 1
            logger.exception("on_messages failed on a batch of %d", len(batch))

    def _report_send_error(self, destination: Endpoint, error: Exception) -> None:
        self.stats.send_errors += 1
        logger.debug("cannot send to %s: %r", destination, error)
        if self._on_send_error is not None:
            self._get_loop().call_soon(self._call_send_error, destination, error)

    def _call_send_error(self, destination: Endpoint, error: Exception) -> None:
        assert self._on_send_error is not None
        try:
            self._on_send_error(destination, error)
        except Exception:
            self.stats.callback_errors += 1
            logger.exception("on_send_error failed")

    def _client_tls(self) -> ssl.SSLContext:
        if self._tls_client_context is None:
            from callcenter.sip.tlscert import client_context

            self._tls_client_context = client_context()
        return self._tls_client_context

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._get_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- life cycle --------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every socket, listener and connection; safe to call twice."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for udp in self._udp:
            udp.close()
        self._udp.clear()
        self._udp_by_family.clear()
        await self._stream.close()
