"""Values shared by the SIP transports: :class:`Endpoint`, :class:`TransportStats`, errors.

These are the only names the rest of the stack needs from the transports besides
:class:`callcenter.sip.transport.SipTransports`, which re-exports them.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.sip.errors import SipError

__all__ = [
    "ConnectionLimitError",
    "Endpoint",
    "MessagesCallback",
    "SendErrorCallback",
    "SendQueueFullError",
    "TransportError",
    "TransportStats",
    "canonical_host",
    "logger",
]

logger = logging.getLogger("callcenter.sip.transport")

TRANSPORT_NAMES = ("udp", "tcp", "tls")
"""Transport names an :class:`Endpoint` may carry (lower-case)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a message came from or goes to.

    ``transport`` is ``"udp"``, ``"tcp"`` or ``"tls"`` (lower-case); ``host`` an IP address
    (IPv6 without brackets) or, for outbound TCP/TLS only, a host name; ``port`` a port number.
    """

    transport: str
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        """True for connection transports (TCP, TLS), where SIP does not retransmit."""
        return self.transport.lower() != "udp"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"


MessagesCallback = Callable[[list[tuple[bytes, Endpoint]]], None]
"""Receives a batch of ``(message bytes, source)`` pairs, in arrival order."""

SendErrorCallback = Callable[[Endpoint, Exception], None]
"""Told once per message that could not be sent to ``destination`` (RFC 3261 §18.4)."""


@dataclass(slots=True)
class TransportStats:
    """Counters of one :class:`SipTransports`; all monotonic except ``connections_open``."""

    datagrams_in: int = 0
    """UDP datagrams read from the sockets, including the ones dropped below."""
    datagrams_out: int = 0
    """UDP datagrams handed to the kernel."""
    stream_messages_in: int = 0
    """SIP messages framed off TCP/TLS connections."""
    stream_messages_out: int = 0
    """Messages written to TCP/TLS connections."""
    bytes_in: int = 0
    bytes_out: int = 0
    batches_in: int = 0
    """Calls of ``on_messages``."""
    dropped_oversize: int = 0
    """UDP datagrams larger than ``max_message_size``."""
    dropped_keepalive: int = 0
    """UDP datagrams made only of whitespace (CRLF keep-alives)."""
    dropped_parse: int = 0
    """Messages the caller could not parse; the transports never change it."""
    pings_in: int = 0
    """Double-CRLF pings received on TCP/TLS and answered with CRLF (RFC 5626 §3.5.1)."""
    framing_errors: int = 0
    """TCP/TLS connections closed because the byte stream could not be framed."""
    connections_open: int = 0
    """TCP/TLS connections open now (inbound and outbound)."""
    connections_accepted: int = 0
    connections_opened: int = 0
    """Outbound TCP/TLS connections established."""
    connections_rejected: int = 0
    """Inbound connections refused because ``max_connections`` were open."""
    connections_idle_closed: int = 0
    connect_failures: int = 0
    """Outbound connection attempts that failed or timed out."""
    send_errors: int = 0
    """Messages that could not be sent (each one also reported to ``on_send_error``)."""
    read_errors: int = 0
    callback_errors: int = 0
    """Exceptions raised by ``on_messages`` or ``on_send_error`` (logged, then ignored)."""

    def snapshot(self) -> dict[str, int]:
        """The counters as a plain dict (for metrics export)."""
        return dataclasses.asdict(self)


class TransportError(SipError):
    """A message could not be sent for a reason of the transports' own (not the network's)."""


class ConnectionLimitError(TransportError):
    """``max_connections`` TCP/TLS connections are already open."""


class SendQueueFullError(TransportError):
    """The data waiting for a socket or a connection exceeded its bound."""


@functools.lru_cache(maxsize=4096)
def canonical_host(host: str) -> str:
    """The canonical text of an IP literal (brackets removed, IPv6 compressed), else the name
    in lower case."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return host.lower()


@functools.lru_cache(maxsize=4096)
def is_ip_literal(host: str) -> bool:
    """True when *host* (already canonical) is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
