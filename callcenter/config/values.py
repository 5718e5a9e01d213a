"""Small immutable values the configuration is made of, with their text parsers.

``HostPort`` ("127.0.0.1:5060", "[::1]:5060", "pbx.example.com:5060"), ``PortRange``
("20000-20999") and ``DigestCredential`` (the HA1 digests of RFC 7616 section 3.4.2 that
stand in for an extension's password once the configuration is loaded).

Parsers raise ``ValueError`` with a message that names what is wrong and never echoes
anything but the offending host or port text.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field

__all__ = [
    "DigestCredential",
    "HostPort",
    "PortRange",
    "is_wildcard_host",
    "validate_host",
]

_PORT_MIN = 1
_PORT_MAX = 65535
# RFC 1123 section 2.1 host names: dot-separated labels of letters, digits and hyphens.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
_DOTTED_NUMERIC_RE = re.compile(r"^[0-9.]+$")
_HOSTNAME_MAX = 253


def validate_host(host: str) -> str:
    """Return ``host`` (an IPv4 address, a bare IPv6 address or a host name) or raise."""
    if not host:
        raise ValueError("host is empty")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"invalid IPv6 address {host!r}") from None
        return host
    if _DOTTED_NUMERIC_RE.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"invalid IPv4 address {host!r}") from None
        return host
    if len(host) > _HOSTNAME_MAX or not _HOSTNAME_RE.match(host):
        raise ValueError(f"invalid host name {host!r}")
    return host


def is_wildcard_host(host: str) -> bool:
    """True for the any-address hosts (``0.0.0.0``, ``::``) a listener binds to."""
    return host in ("0.0.0.0", "::")


def _parse_port(text: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"port {text!r} is not a number")
    port = int(text)
    if not _PORT_MIN <= port <= _PORT_MAX:
        raise ValueError(f"port {port} is out of range {_PORT_MIN}-{_PORT_MAX}")
    return port


@dataclass(frozen=True, slots=True)
class HostPort:
    """A transport address: host (IPv4, IPv6 without brackets, or host name) and port."""

    host: str
    port: int

    def __post_init__(self) -> None:
        validate_host(self.host)
        if not _PORT_MIN <= self.port <= _PORT_MAX:
            raise ValueError(f"port {self.port} is out of range {_PORT_MIN}-{_PORT_MAX}")

    @classmethod
    def parse(cls, text: str) -> HostPort:
        """Parse ``HOST:PORT``; IPv6 hosts are written in brackets: ``[::1]:5060``."""
        text = text.strip()
        if text.startswith("["):
            end = text.find("]")
            if end < 0:
                raise ValueError(f"missing ']' in {text!r}")
            host, rest = text[1:end], text[end + 1 :]
            if not rest.startswith(":"):
                raise ValueError(f"expected HOST:PORT, got {text!r}")
            if ":" not in host:
                raise ValueError(f"brackets are only for IPv6 addresses, got {text!r}")
            return cls(validate_host(host), _parse_port(rest[1:]))
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"expected HOST:PORT, got {text!r}")
        if ":" in host:
            raise ValueError(f"write IPv6 addresses in brackets, as in [::1]:5060; got {text!r}")
        return cls(validate_host(host), _parse_port(port_text))

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    def overlaps(self, other: HostPort) -> bool:
        """True when two listeners of the same protocol could not both bind."""
        if self.port != other.port:
            return False
        return (
            self.host == other.host or is_wildcard_host(self.host) or is_wildcard_host(other.host)
        )


@dataclass(frozen=True, slots=True)
class PortRange:
    """An inclusive UDP port range for RTP; ``low`` is even (RFC 3550 section 11)."""

    low: int
    high: int

    def __post_init__(self) -> None:
        for port in (self.low, self.high):
            if not _PORT_MIN <= port <= _PORT_MAX:
                raise ValueError(f"port {port} is out of range {_PORT_MIN}-{_PORT_MAX}")
        if self.low >= self.high:
            raise ValueError(f"range start {self.low} must be below its end {self.high}")
        if self.low % 2:
            raise ValueError(f"range start {self.low} must be even (RTP uses even ports)")

    @classmethod
    def parse(cls, text: str) -> PortRange:
        """Parse ``LO-HI``, as in ``20000-20999``."""
        low, sep, high = text.strip().partition("-")
        if not sep:
            raise ValueError(f"expected LO-HI, got {text!r}")
        return cls(_parse_port(low.strip()), _parse_port(high.strip()))

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"

    def __len__(self) -> int:
        return self.high - self.low + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high


@dataclass(frozen=True, slots=True)
class DigestCredential:
    """What the registrar needs to check a digest response (RFC 7616 section 3.4.2).

    ``ha1_md5`` and ``ha1_sha256`` are hex ``H(username ":" realm ":" password)`` with
    MD5 and SHA-256. They are password equivalents, so they never appear in ``repr``.
    """

    username: str
    realm: str
    ha1_md5: str = field(repr=False)
    ha1_sha256: str = field(repr=False)

    @classmethod
    def derive(cls, username: str, realm: str, password: str) -> DigestCredential:
        """Hash ``password`` into both HA1 forms; the password itself is not kept."""
        a1 = f"{username}:{realm}:{password}".encode()
        return cls(
            username=username,
            realm=realm,
            ha1_md5=hashlib.md5(a1, usedforsecurity=False).hexdigest(),
            ha1_sha256=hashlib.sha256(a1).hexdigest(),
        )

    def ha1(self, algorithm: str) -> str:
        """HA1 for a digest ``algorithm`` token (``MD5``, ``SHA-256``; for the ``-sess``
        variants this is the base HA1 that the session HA1 is computed from)."""
        base = algorithm.upper().removesuffix("-SESS")
        if base == "MD5":
            return self.ha1_md5
        if base == "SHA-256":
            return self.ha1_sha256
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
