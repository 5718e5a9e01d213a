"""Header names (canonical and compact forms) and the typed values the stack reads often.

RFC 3261 §7.3.3 compact forms and §20 header names. Values that the transaction and dialog
layers need (Via, CSeq) have types here; addresses live in :mod:`callcenter.sip.uri`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Self

from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.grammar import check_ipv6_reference, format_params, parse_params, split_list

__all__ = [
    "COMPACT_FORMS",
    "LIST_HEADERS",
    "CSeq",
    "Via",
    "canonical_name",
    "name_entry",
    "parse_via_list",
]

# RFC 3261 §7.3.3 and later RFCs' compact forms.
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_KNOWN = [
    "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
    "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "In-Reply-To",
    "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version", "Organization", "P-Asserted-Identity",
    "Path", "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck",
    "Reason", "Record-Route", "Refer-To", "Referred-By", "Reply-To", "Require", "Retry-After",
    "Route", "RSeq", "Server", "Session-Expires", "Subject", "Subscription-State", "Supported",
    "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
]  # fmt: skip
_CANONICAL: dict[str, str] = {name.lower(): name for name in _KNOWN}
_CANONICAL.update({k: v for k, v in COMPACT_FORMS.items()})

# Headers whose value is a comma-separated list and may be split or combined (§7.3.1).
LIST_HEADERS = frozenset(
    {
        "via", "contact", "route", "record-route", "allow", "supported", "require",
        "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language",
        "allow-events", "path", "content-encoding", "content-language", "in-reply-to",
    }
)  # fmt: skip


def canonical_name(name: str) -> str:
    """Canonical spelling of a header name; compact forms expand; unknown names are kept."""
    return _CANONICAL.get(name.lower(), name)


# Header names as written on the wire → (lower-case key, canonical name). Bounded, so a peer
# sending ever-new extension names cannot grow it without limit.
_NAME_CACHE: dict[str, tuple[str, str]] = {}
_NAME_CACHE_MAX = 2048


def name_entry(raw: str) -> tuple[str, str]:
    """``(key, canonical)`` for a header name as written (memoised)."""
    entry = _NAME_CACHE.get(raw)
    if entry is None:
        name = _CANONICAL.get(raw.lower(), raw)
        entry = (name.lower(), name)
        if len(_NAME_CACHE) < _NAME_CACHE_MAX:
            _NAME_CACHE[raw] = entry
    return entry


# sent-protocol = protocol-name SLASH protocol-version SLASH transport, with LWS allowed around
# each SLASH (RFC 3261 §20.42, §25.1; RFC 4475 §3.1.1.1 "wsinv").
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_SENT_PROTOCOL = re.compile(
    rf"[ \t]*({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]+"
)
_SENT_BY = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*([0-9]{1,5}))?")
# The shape nearly every Via has, matched in one step: "SIP/2.0/UDP host:port".
_VIA_FAST = re.compile(
    r"SIP/2\.0/([A-Z]+) (\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?::([0-9]{1,5}))?(?=;|\Z)"
)
_DIGITS = re.compile(r"[0-9]{1,5}\Z")
SIP_2_0 = "SIP/2.0"


@dataclass(slots=True)
class Via:
    """One Via entry: ``SIP/2.0/<transport> <host>[:<port>];params`` (RFC 3261 §20.42).

    ``protocol`` is the protocol name and version (upper-cased); anything but ``SIP/2.0`` is
    kept so that a request with another version can still be answered with 505.
    """

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = SIP_2_0

    @classmethod
    def parse(cls, text: str) -> Self:
        m = _VIA_FAST.match(text)
        if m is not None:
            transport, host, port_text = m.groups()
            protocol = SIP_2_0
            pos = m.end()
        else:
            p = _SENT_PROTOCOL.match(text)
            if p is None:
                raise SipSyntaxError(f"bad Via sent-protocol: {text[:40]!r}")
            s = _SENT_BY.match(text, p.end())
            if s is None:
                raise SipSyntaxError(f"bad Via sent-by: {text[:60]!r}")
            protocol = f"{p.group(1).upper()}/{p.group(2).upper()}"
            transport = p.group(3).upper()
            host, port_text = s.groups()
            pos = s.end()
        port = int(port_text) if port_text else None
        if port is not None and port > 65535:
            raise SipSyntaxError("Via port out of range")
        if host[0] == "[":
            check_ipv6_reference(host)
        params, pos = parse_params(text, pos)
        if pos != len(text) and text[pos:].strip(" \t"):
            raise SipSyntaxError(f"unexpected text in Via: {text[pos : pos + 20]!r}")
        rport = params.get("rport")
        if rport is not None and not (_DIGITS.match(rport) and int(rport) <= 65535):
            raise SipSyntaxError("bad rport in Via")
        return cls(transport, host, port, params, protocol)

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.protocol}/{self.transport} {self.host}{port}{format_params(self.params)}"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    def response_address(self, default_port: int = 5060) -> tuple[str, int]:
        """Where responses go for unreliable transports (RFC 3261 §18.2.2, RFC 3581 §4)."""
        host = self.params.get("maddr") or self.params.get("received") or self.host
        rport = self.params.get("rport")
        if rport and _DIGITS.match(rport):
            return host.strip("[]"), int(rport)
        return host.strip("[]"), self.port or default_port


def parse_via_list(values: list[str]) -> list[Via]:
    """Parse every Via entry of every Via header line, top-most first."""
    return [Via.parse(item) for value in values for item in split_list(value)]


_CSEQ = re.compile(r"[ \t]*([0-9]{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*\Z")
MAX_CSEQ = 2**31 - 1  # RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31


@dataclass(frozen=True, slots=True)
class CSeq:
    """``CSeq: <seq> <method>``."""

    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> Self:
        m = _CSEQ.match(text)
        if m is None:
            raise SipSyntaxError(f"bad CSeq {text[:40]!r}")
        seq = int(m.group(1))
        if seq > MAX_CSEQ:
            raise SipSyntaxError("CSeq number out of range")
        return cls(seq, m.group(2))

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"
