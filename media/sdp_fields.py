"""SDP field values (RFC 8866 §5) and the error type shared by the SDP modules.

Each field type parses the text after `<type>=` (raising `ValueError`, which the description
parser turns into an `SdpError` naming the line) and prints back to the same text with `str()`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DIRECTIONS",
    "MAX_PORT",
    "SECRET_ATTRIBUTES",
    "Attribute",
    "Bandwidth",
    "Connection",
    "Direction",
    "Origin",
    "RtcpAttribute",
    "RtpMap",
    "SdpError",
    "Timing",
    "address_type",
    "is_decimal",
]

Attribute = tuple[str, str | None]

MAX_PORT = 65535
SECRET_ATTRIBUTES = frozenset({"crypto", "ice-pwd", "key-mgmt"})
_SHOWN_LINE_LIMIT = 200
_UNSPECIFIED_ADDRESSES = frozenset({"0.0.0.0", "::"})


class SdpError(ValueError):
    """A session description we cannot use.

    `line_number` (1-based) and `line` point at the offending line when there is one; values that
    carry keys are redacted. `status_code` is the SIP status to reject the request with.
    """

    status_code: int = 400

    def __init__(self, reason: str, line_number: int | None = None, line: str | None = None):
        self.reason = reason
        self.line_number = line_number
        self.line = None if line is None else _redact(line)
        super().__init__(self._message())

    def _message(self) -> str:
        if self.line_number is None:
            return self.reason
        return f"line {self.line_number}: {self.reason}: {self.line!r}"


def _redact(line: str) -> str:
    kind, _, value = line.partition("=")
    name = value.partition(":")[0]
    if kind == "k" or (kind == "a" and name in SECRET_ATTRIBUTES):
        return f"{kind}={name}:<redacted>" if kind == "a" else "k=<redacted>"
    if len(line) > _SHOWN_LINE_LIMIT:
        return line[:_SHOWN_LINE_LIMIT] + "..."
    return line


def is_decimal(text: str) -> bool:
    """ASCII digits only (`str.isdigit` also accepts superscripts that `int` refuses)."""
    return text.isascii() and text.isdigit()


def address_type(address: str) -> str:
    """`IP6` for an IPv6 literal, else `IP4` (IPv4 literals and host names)."""
    try:
        return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:
        return "IP4"


class Direction(StrEnum):
    """Media direction attributes (RFC 3264 §5.1), from the point of view of the describer."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @classmethod
    def from_flags(cls, *, send: bool, receive: bool) -> Direction:
        if send:
            return cls.SENDRECV if receive else cls.SENDONLY
        return cls.RECVONLY if receive else cls.INACTIVE

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    def reversed(self) -> Direction:
        """The same stream seen from the other end: sendonly <-> recvonly."""
        return Direction.from_flags(send=self.receives, receive=self.sends)

    def intersect(self, other: Direction) -> Direction:
        """What both allow: sendrecv & sendonly = sendonly; recvonly & sendonly = inactive."""
        return Direction.from_flags(
            send=self.sends and other.sends, receive=self.receives and other.receives
        )


DIRECTIONS = frozenset(d.value for d in Direction)


@dataclass(frozen=True, slots=True)
class Origin:
    """`o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (§5.2)."""

    username: str
    session_id: int
    session_version: int
    nettype: str
    addrtype: str
    address: str

    @classmethod
    def parse(cls, value: str) -> Origin:
        parts = value.split()
        if len(parts) != 6:
            raise ValueError("o= needs 6 fields")
        user, sess_id, sess_version, nettype, addrtype, address = parts
        if not (is_decimal(sess_id) and is_decimal(sess_version)):
            raise ValueError("o= session id and version must be numbers")
        return cls(user, int(sess_id), int(sess_version), nettype, addrtype, address)

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """`c=<nettype> <addrtype> <address>[/<ttl>][/<count>]` (§5.7); ttl only for IP4 multicast."""

    address: str
    addrtype: str = "IP4"
    nettype: str = "IN"
    ttl: int | None = None
    count: int | None = None

    @classmethod
    def for_address(cls, address: str) -> Connection:
        """`IN IP4 <address>` or `IN IP6 <address>`, by the shape of the address."""
        return cls(address, address_type(address))

    @classmethod
    def parse(cls, value: str) -> Connection:
        parts = value.split()
        if len(parts) != 3:
            raise ValueError("c= needs 3 fields")
        nettype, addrtype, spec = parts
        address, *numbers = spec.split("/")
        if not address or len(numbers) > 2 or not all(is_decimal(n) for n in numbers):
            raise ValueError("bad connection address")
        values = [int(n) for n in numbers]
        if addrtype.upper() == "IP6":
            if len(values) > 1:
                raise ValueError("IP6 connection address takes no TTL")
            return cls(address, addrtype, nettype, None, values[0] if values else None)
        ttl = values[0] if values else None
        count = values[1] if len(values) > 1 else None
        return cls(address, addrtype, nettype, ttl, count)

    @property
    def is_unspecified(self) -> bool:
        """0.0.0.0 (or ::): RFC 3264 §8.4, send neither RTP nor RTCP there."""
        return self.address in _UNSPECIFIED_ADDRESSES

    def __str__(self) -> str:
        spec = self.address
        if self.ttl is not None:
            spec += f"/{self.ttl}"
        if self.count is not None:
            spec += f"/{self.count}"
        return f"{self.nettype} {self.addrtype} {spec}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """`b=<bwtype>:<bandwidth>` (§5.8), e.g. `AS:64` (kbit/s) or `TIAS:64000` (bit/s)."""

    bwtype: str
    bandwidth: int

    @classmethod
    def parse(cls, value: str) -> Bandwidth:
        bwtype, colon, amount = value.partition(":")
        if not colon or not bwtype or not is_decimal(amount):
            raise ValueError("b= must be <bwtype>:<bandwidth>")
        return cls(bwtype, int(amount))

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(slots=True)
class Timing:
    """`t=<start> <stop>` (§5.9) with its `r=` repeat lines kept verbatim."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, value: str) -> Timing:
        parts = value.split()
        if len(parts) != 2 or not all(is_decimal(p) for p in parts):
            raise ValueError("t= must be <start-time> <stop-time>")
        return cls(int(parts[0]), int(parts[1]))


@dataclass(frozen=True, slots=True)
class RtpMap:
    """`a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]` (§6.6)."""

    payload_type: int
    encoding_name: str
    clock_rate: int
    encoding_parameters: str | None = None

    @classmethod
    def parse(cls, value: str) -> RtpMap | None:
        """The mapping, or None when the value is malformed."""
        pt, _, encoding = value.partition(" ")
        parts = encoding.strip().split("/")
        if not is_decimal(pt) or len(parts) not in (2, 3) or not is_decimal(parts[1]):
            return None
        params = parts[2] if len(parts) == 3 else None
        return cls(int(pt), parts[0], int(parts[1]), params)

    @property
    def channels(self) -> int:
        """Audio channels (the encoding parameters of an audio format), 1 when absent."""
        params = self.encoding_parameters
        return int(params) if params is not None and is_decimal(params) else 1

    def __str__(self) -> str:
        text = f"{self.payload_type} {self.encoding_name}/{self.clock_rate}"
        return text if self.encoding_parameters is None else f"{text}/{self.encoding_parameters}"


@dataclass(frozen=True, slots=True)
class RtcpAttribute:
    """`a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 §2.1)."""

    port: int
    connection: Connection | None = None

    @classmethod
    def parse(cls, value: str) -> RtcpAttribute | None:
        """The attribute, or None when the value is malformed."""
        port, _, rest = value.strip().partition(" ")
        if not is_decimal(port) or int(port) > MAX_PORT:
            return None
        if not rest.strip():
            return cls(int(port))
        try:
            return cls(int(port), Connection.parse(rest))
        except ValueError:
            return None

    def __str__(self) -> str:
        return str(self.port) if self.connection is None else f"{self.port} {self.connection}"
