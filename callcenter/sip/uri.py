"""SIP and SIPS URIs (RFC 3261 §19.1), other absolute URIs, and name-addr / addr-spec values.

``SipURI.parse`` and ``Address.parse`` raise :class:`SipSyntaxError`; ``str()`` serializes back.
Comparison helpers follow §19.1.4 where the switch needs them (user, host, port).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Self

from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.grammar import format_params, parse_params, quote, unquote

__all__ = ["AbsoluteURI", "Address", "SipURI", "URI", "parse_uri"]

DEFAULT_PORTS = {"sip": 5060, "sips": 5061}

# host = hostname / IPv4address / IPv6reference ; hostname allows a trailing dot.
_HOST_RE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?)")
_USER_CHARS = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%]*\Z")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):")
_PORT_RE = re.compile(r"[0-9]{1,5}")


@dataclass(slots=True)
class SipURI:
    """A ``sip:`` or ``sips:`` URI. ``host`` keeps IPv6 brackets; ``port`` is None when absent."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    scheme: str = "sip"
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str | None = None  # the raw "?h=v&..." part without '?', rarely used

    @classmethod
    def parse(cls, text: str) -> Self:
        m = _SCHEME_RE.match(text)
        if m is None:
            raise SipSyntaxError(f"URI has no scheme: {text[:40]!r}")
        scheme = m.group(1).lower()
        if scheme not in DEFAULT_PORTS:
            raise SipSyntaxError(f"not a SIP URI: {text[:40]!r}")
        rest = text[m.end() :]
        user: str | None = None
        password: str | None = None
        # user and password cannot hold an unescaped "@" (RFC 3261 §19.1.1): the first one ends them
        at = rest.find("@")
        if at >= 0:
            userinfo = rest[:at]
            rest = rest[at + 1 :]
            user, sep, pw = userinfo.partition(":")
            password = pw if sep else None
            if not user or not _USER_CHARS.match(user):
                raise SipSyntaxError(f"bad user part in URI {text[:60]!r}")
            if password is not None and not _USER_CHARS.match(password):
                raise SipSyntaxError("bad password part in URI")
        hm = _HOST_RE.match(rest)
        if hm is None:
            raise SipSyntaxError(f"bad host in URI {text[:60]!r}")
        host = hm.group()
        pos = hm.end()
        port: int | None = None
        if pos < len(rest) and rest[pos] == ":":
            pm = _PORT_RE.match(rest, pos + 1)
            if pm is None or int(pm.group()) > 65535:
                raise SipSyntaxError(f"bad port in URI {text[:60]!r}")
            port = int(pm.group())
            pos = pm.end()
        params, pos = parse_params(rest, pos)
        headers: str | None = None
        if pos < len(rest):
            if rest[pos] != "?":
                raise SipSyntaxError(f"unexpected {rest[pos]!r} in URI {text[:60]!r}")
            headers = rest[pos + 1 :]
            if not headers or any(c in headers for c in " \t<>\""):
                raise SipSyntaxError("bad URI headers")
        return cls(host, user, password, port, scheme, params, headers)

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        if self.params:
            out.append(format_params(self.params))
        if self.headers is not None:
            out.append("?" + self.headers)
        return "".join(out)

    @property
    def transport(self) -> str:
        """The ``transport`` parameter, lower-cased (``udp`` by default, ``tls`` for sips)."""
        value = self.params.get("transport")
        if value:
            return value.lower()
        return "tls" if self.scheme == "sips" else "udp"

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.scheme]

    @property
    def lr(self) -> bool:
        return "lr" in self.params

    @property
    def host_bare(self) -> str:
        """The host without IPv6 brackets, lower-cased: what a socket address uses."""
        return self.host.strip("[]").lower()

    def copy(self, **changes: object) -> SipURI:
        new = replace(self, **changes)  # type: ignore[arg-type]
        if "params" not in changes:
            new.params = dict(self.params)
        return new

    def aor(self) -> str:
        """The address-of-record key: ``sip:user@host`` (lower-case host, no port/params)."""
        user = self.user or ""
        return f"sip:{user}@{self.host.lower()}" if user else f"sip:{self.host.lower()}"


@dataclass(slots=True)
class AbsoluteURI:
    """Any non-SIP URI (``tel:``, ``urn:``, ``http:``...), kept as written."""

    scheme: str
    rest: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"

    @property
    def user(self) -> str | None:
        if self.scheme == "tel":
            return self.rest.split(";", 1)[0]
        return None


URI = SipURI | AbsoluteURI


def parse_uri(text: str) -> URI:
    """Parse any URI: SIP/SIPS into :class:`SipURI`, others into :class:`AbsoluteURI`."""
    m = _SCHEME_RE.match(text)
    if m is None:
        raise SipSyntaxError(f"URI has no scheme: {text[:40]!r}")
    scheme = m.group(1).lower()
    if scheme in DEFAULT_PORTS:
        return SipURI.parse(text)
    rest = text[m.end() :]
    if not rest or any(c in rest for c in " \t<>\""):
        raise SipSyntaxError(f"bad URI {text[:40]!r}")
    return AbsoluteURI(scheme, rest)


@dataclass(slots=True)
class Address:
    """A name-addr or addr-spec with header parameters (From, To, Contact, Route...).

    In the addr-spec form (no angle brackets) parameters after the URI belong to the header,
    not to the URI (RFC 3261 §20.10), and such a URI cannot contain ``,``, ``?`` or ``;``.
    """

    uri: URI
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    wildcard: bool = False  # "Contact: *"

    @classmethod
    def parse(cls, text: str) -> Self:
        text = text.strip(" \t")
        if text == "*":
            return cls(AbsoluteURI("*", ""), wildcard=True)
        lt = _find_laquot(text)
        if lt >= 0:
            display = text[:lt].strip(" \t")
            display_name: str | None = None
            if display:
                if display[0] == '"':
                    display_name = unquote(display)
                else:
                    display_name = " ".join(display.split())
            gt = text.find(">", lt)
            if gt < 0:
                raise SipSyntaxError("missing '>' in name-addr")
            uri = parse_uri(text[lt + 1 : gt].strip(" \t"))
            params, pos = parse_params(text, gt + 1)
        else:
            end = len(text)
            semi = text.find(";")
            if semi >= 0:
                end = semi
            uri_text = text[:end].strip(" \t")
            if not uri_text or any(c in uri_text for c in " \t,?\""):
                raise SipSyntaxError(f"bad addr-spec {text[:60]!r}")
            uri = parse_uri(uri_text)
            params, pos = parse_params(text, end)
        if pos != len(text):
            raise SipSyntaxError(f"unexpected text after address: {text[pos : pos + 20]!r}")
        return cls(uri, display_name, params)

    def __str__(self) -> str:
        if self.wildcard:
            return "*"
        name = ""
        if self.display_name:
            name = quote(self.display_name) + " "
        return f"{name}<{self.uri}>{format_params(self.params)}"

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def sip_uri(self) -> SipURI:
        """The URI as a :class:`SipURI`; raises :class:`SipSyntaxError` for other schemes."""
        if not isinstance(self.uri, SipURI):
            raise SipSyntaxError(f"expected a SIP URI, got {self.uri.scheme!r}")
        return self.uri

    def with_tag(self, tag: str) -> Address:
        params = dict(self.params)
        params["tag"] = tag
        return Address(self.uri, self.display_name, params)


def _find_laquot(text: str) -> int:
    """Index of the '<' that opens a name-addr (after an optional quoted display name), or -1."""
    i = 0
    if text.startswith('"'):
        i = 1
        n = len(text)
        while i < n and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        if i >= n:
            raise SipSyntaxError("unterminated quoted display name")
    return text.find("<", i)
