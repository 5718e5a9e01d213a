"""The UDP side of :class:`callcenter.sip.transport.SipTransports`.

Receive path (see docs/decisions/0002-udp-receive-path.md): a non-blocking socket watched with
``loop.add_reader``; each readiness callback drains up to ``max_batch`` datagrams with
``recvfrom(max_message_size + 1)`` until EAGAIN and hands them over as one batch. This avoids
the 256 KiB buffer per datagram and the one-datagram-per-loop-iteration of the stock
``asyncio.DatagramProtocol``, and works the same on the stock loop and on uvloop.

Send path: ``sendto`` straight on the socket; when the kernel buffer is full the datagram
waits in a bounded queue flushed by ``loop.add_writer``, preserving order.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from callcenter.sip.transport_common import (
    Endpoint,
    SendQueueFullError,
    TransportStats,
    logger,
)

__all__ = ["UdpSocket", "bind_udp_socket"]

SOCKET_BUFFER_SIZE = 4 * 1024 * 1024
"""Requested SO_RCVBUF/SO_SNDBUF; the kernel may grant less (Linux caps at rmem_max)."""
MAX_QUEUED_BYTES = 4 * 1024 * 1024
"""Bound of the data waiting for a full socket send buffer."""
_ENDPOINT_CACHE_SIZE = 65536
_WHITESPACE = frozenset(b" \t\r\n")

Deliver = Callable[[list[tuple[bytes, Endpoint]]], None]
ReportError = Callable[[Endpoint, Exception], None]
Address = tuple[Any, ...]


def bind_udp_socket(family: int, address: Address) -> socket.socket:
    """A non-blocking UDP socket bound to *address*, with large buffers (best effort)."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER_SIZE)
            except OSError:  # pragma: no cover - some systems refuse large buffers
                logger.debug("could not enlarge UDP socket buffer %s", option)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


class UdpSocket:
    """One bound UDP socket: batched non-blocking reads, non-blocking ordered sends."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        *,
        stats: TransportStats,
        deliver: Deliver,
        report_error: ReportError,
        max_message_size: int,
        max_batch: int,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self.family = sock.family
        host, port = sock.getsockname()[:2]
        self.local = Endpoint("udp", host, port)
        self._stats = stats
        self._deliver = deliver
        self._report_error = report_error
        self._max_message_size = max_message_size
        self._max_batch = max_batch
        # one byte more than the limit, so an oversize datagram is seen (and dropped) as such
        self._bufsize = min(max_message_size + 1, 65536)
        self._endpoints: dict[Address, Endpoint] = {}
        self._queue: deque[tuple[bytes, Address, Endpoint]] = deque()
        self._queued_bytes = 0
        self._closed = False
        loop.add_reader(self._fd, self._on_readable)

    # -- receive -----------------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            self._drain()
        except Exception:  # never let a bug escape into the event loop
            self._stats.read_errors += 1
            logger.exception("UDP receive failed on %s", self.local)

    def _drain(self) -> None:
        recvfrom = self._sock.recvfrom
        bufsize = self._bufsize
        limit = self._max_message_size
        endpoints = self._endpoints
        stats = self._stats
        batch: list[tuple[bytes, Endpoint]] = []
        received = nbytes = 0
        for _ in range(self._max_batch):
            try:
                data, address = recvfrom(bufsize)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. an ICMP error reported on some systems
                stats.read_errors += 1
                logger.debug("UDP recvfrom on %s: %s", self.local, exc)
                continue
            n = len(data)
            received += 1
            nbytes += n
            if n > limit:
                stats.dropped_oversize += 1
                continue
            if n == 0 or (data[0] in _WHITESPACE and not data.strip()):
                stats.dropped_keepalive += 1
                continue
            source = endpoints.get(address)
            if source is None:
                source = self._endpoint_for(address)
            batch.append((data, source))
        stats.datagrams_in += received
        stats.bytes_in += nbytes
        if batch:
            stats.batches_in += 1
            self._deliver(batch)

    def _endpoint_for(self, address: Address) -> Endpoint:
        if len(self._endpoints) >= _ENDPOINT_CACHE_SIZE:
            self._endpoints.clear()
        source = Endpoint("udp", address[0], address[1])
        self._endpoints[address] = source
        return source

    # -- send --------------------------------------------------------------------------------

    def send(self, data: bytes, host: str, destination: Endpoint) -> None:
        """Send one datagram to (*host*, ``destination.port``); *host* is a numeric address."""
        address = (host, destination.port)
        if self._queue:
            self._enqueue(data, address, destination)
            return
        try:
            self._sock.sendto(data, address)
        except (BlockingIOError, InterruptedError):
            self._enqueue(data, address, destination)
            return
        except OSError as exc:
            self._report_error(destination, exc)
            return
        self._stats.datagrams_out += 1
        self._stats.bytes_out += len(data)

    def _enqueue(self, data: bytes, address: Address, destination: Endpoint) -> None:
        if self._closed or self._queued_bytes + len(data) > MAX_QUEUED_BYTES:
            self._report_error(destination, SendQueueFullError("UDP send queue full"))
            return
        if not self._queue:
            self._loop.add_writer(self._fd, self._on_writable)
        self._queue.append((data, address, destination))
        self._queued_bytes += len(data)

    def _on_writable(self) -> None:
        try:
            self._flush()
        except Exception:
            logger.exception("UDP send failed on %s", self.local)

    def _flush(self) -> None:
        queue = self._queue
        while queue:
            data, address, destination = queue[0]
            try:
                self._sock.sendto(data, address)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._report_error(destination, exc)
            else:
                self._stats.datagrams_out += 1
                self._stats.bytes_out += len(data)
            queue.popleft()
            self._queued_bytes -= len(data)
        self._loop.remove_writer(self._fd)

    # -- life cycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop watching the socket and close it; queued datagrams are reported as failed."""
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        if self._queue:
            self._loop.remove_writer(self._fd)
        while self._queue:
            _, _, destination = self._queue.popleft()
            self._report_error(destination, SendQueueFullError("UDP socket closed"))
        self._queued_bytes = 0
        self._sock.close()
