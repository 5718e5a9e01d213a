"""SIP and SIPS URIs (RFC 3261 §19.1), other absolute URIs, and name-addr / addr-spec values.

``SipURI.parse`` and ``Address.parse`` raise :class:`SipSyntaxError`; ``str()`` serializes back.
Comparison helpers follow §19.1.4 where the switch needs them (user, host, port).

Values are kept as written: a user part keeps its ``%HH`` escapes (``sip:%75ser@h`` has user
``%75ser``) so that forwarding a URI never changes it; :meth:`SipURI.aor` and
:attr:`SipURI.user_unescaped` give the comparable and the human forms.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field, replace
from typing import Self

from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.grammar import (
    check_ipv6_reference,
    format_params,
    parse_params,
    quote,
    unescape,
)

__all__ = ["URI", "AbsoluteURI", "Address", "SipURI", "parse_uri"]

DEFAULT_PORTS = {"sip": 5060, "sips": 5061}

# RFC 3261 §25.1. unreserved = alphanum / mark; escaped = "%" HEXDIG HEXDIG. The character
# classes below admit "%" and _BAD_ESCAPE then checks the escapes, which is much cheaper than
# an alternation per character.
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()%"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# host = hostname / IPv4address / IPv6reference ; hostname allows a trailing dot.
_HOST = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?"
# uri-parameter: pname / pvalue = 1*paramchar; paramchar adds [ ] / : & + $ to unreserved.
_PARAMCHAR = rf"[{_UNRESERVED}\[\]/:&+$]"
# headers = "?" header *( "&" header ); hname / hvalue chars add [ ] / ? : + $ to unreserved.
_HCHAR = rf"[{_UNRESERVED}\[\]/?:+$]"
# The whole SIP-URI / SIPS-URI in one match; possessive quantifiers keep it linear. The first
# "@" ends the userinfo: neither a user nor anything after the host may hold one (§25.1).
_SIP_URI_BODY = (
    rf"([Ss][Ii][Pp][Ss]?):(?:([{_UNRESERVED}&=+$,;?/]++)(?::([{_UNRESERVED}&=+$,]*+))?@)?"
    rf"({_HOST})(?::([0-9]{{1,5}}))?"
    rf"((?:;{_PARAMCHAR}++(?:={_PARAMCHAR}++)?)*+)"
    rf"(?:\?({_HCHAR}++={_HCHAR}*+(?:&{_HCHAR}++={_HCHAR}*+)*+))?"
)
_SIP_URI = re.compile(_SIP_URI_BODY + r"\Z")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):")
# Other URIs are kept opaque but must stay inside the RFC 2396 "uric" set (plus IPv6 brackets).
_OPAQUE_RE = re.compile(r"[A-Za-z0-9\-_.!~*'();/?:@&=+$,\[\]%#]+\Z")
_ESCAPE_RE = re.compile(r"%[0-9A-Fa-f]{2}")
# Characters a user part may carry unescaped (unreserved and user-unreserved).
_USER_PLAIN = frozenset(string.ascii_letters + string.digits + "-_.!~*'()&=+$,;?/")

# name-addr with the display name either quoted or a run of tokens (RFC 3261 §25.1); the
# lwsdisp case of RFC 4475 §3.1.1.6 (no LWS before "<") is accepted.
_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
_DISPLAY = (
    r'[ \t]*+(?:"([^"\\]*+(?:\\.[^"\\]*+)*+)"'
    rf"|((?:[{_TOKEN_CHARS}]++(?:[ \t]++[{_TOKEN_CHARS}]++)*+)?))"
)
_NAME_ADDR = re.compile(_DISPLAY + r"[ \t]*+<([^<>]*+)>", re.DOTALL)
# The usual case in one match: a name-addr holding a SIP URI, then plain ";name=value" params.
_NAME_ADDR_SIP = re.compile(
    _DISPLAY
    + r"[ \t]*+<"
    + _SIP_URI_BODY
    + rf">((?:;[{_TOKEN_CHARS}]++(?:=[{_TOKEN_CHARS}\[\]:]++)?)*+)\Z",
    re.DOTALL,
)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


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
        """Parse a SIP or SIPS URI strictly: no whitespace, escapes well formed."""
        m = _SIP_URI.match(text)
        if m is None or ("%" in text and _BAD_ESCAPE.search(text) is not None):
            raise SipSyntaxError(f"bad SIP URI {text[:60]!r}")
        return cls._from_groups(*m.groups())

    @classmethod
    def _from_groups(
        cls,
        scheme: str,
        user: str | None,
        password: str | None,
        host: str,
        port_text: str | None,
        params_text: str,
        headers: str | None,
    ) -> Self:
        if scheme != "sip":
            scheme = scheme.lower()
        if host[0] == "[":
            check_ipv6_reference(host)
        port: int | None = None
        if port_text:
            port = int(port_text)
            if port > 65535:
                raise SipSyntaxError(f"bad port {port_text!r} in URI")
        params: dict[str, str | None] = {}
        if params_text:  # already checked: ";name" or ";name=value", with no "=" in either
            for part in params_text[1:].split(";"):
                name, eq, value = part.partition("=")
                params[name.lower()] = value if eq else None
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

    @property
    def user_unescaped(self) -> str | None:
        """The user part with ``%HH`` escapes decoded (RFC 4475 esc01: ``%75se%72`` → ``user``).

        For display and lookups by name; NUL and other decoded controls are returned as they
        are, so never use this where the value would be re-encoded into a message.
        """
        return unescape(self.user) if self.user is not None else None

    def copy(self, **changes: object) -> SipURI:
        new = replace(self, **changes)  # type: ignore[arg-type]
        if "params" not in changes:
            new.params = dict(self.params)
        return new

    def aor(self) -> str:
        """The address-of-record key: ``sip:user@host`` (lower-case host, no port/params).

        Escapes in the user part are normalised (RFC 3261 §19.1.4): an escaped character that
        may appear unescaped is decoded and other escapes use upper-case hex, so
        ``sip:%75ser@h`` and ``sip:user@h`` share one key, while ``null-%00-null`` keeps its
        escaped NUL (RFC 4475 §3.1.1.4).
        """
        user = _normalize_user(self.user) if self.user else ""
        return f"sip:{user}@{self.host.lower()}" if user else f"sip:{self.host.lower()}"


def _normalize_user(user: str) -> str:
    if "%" not in user:
        return user

    def fold(m: re.Match[str]) -> str:
        char = chr(int(m.group()[1:], 16))
        return char if char in _USER_PLAIN else m.group().upper()

    return _ESCAPE_RE.sub(fold, user)


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
    prefix = text[:5].lower()
    if prefix.startswith("sip:") or prefix == "sips:":
        return SipURI.parse(text)
    m = _SCHEME_RE.match(text)
    if m is None:
        raise SipSyntaxError(f"URI has no scheme: {text[:40]!r}")
    scheme = m.group(1).lower()
    if scheme in DEFAULT_PORTS:
        return SipURI.parse(text)
    rest = text[m.end() :]
    if not _OPAQUE_RE.match(rest):
        raise SipSyntaxError(f"bad URI {text[:40]!r}")
    return AbsoluteURI(scheme, rest)


@dataclass(slots=True)
class Address:
    """A name-addr or addr-spec with header parameters (From, To, Contact, Route...).

    In the addr-spec form (no angle brackets) parameters after the URI belong to the header,
    not to the URI (RFC 3261 §20.10), and such a URI cannot contain ``,``, ``?`` or ``;``.
    An unquoted display name must be a run of tokens (RFC 4475 §3.1.2.15 rejects
    ``Bell, Alexander <sip:...>``); whitespace just inside the angle brackets is tolerated
    (RFC 4475 §3.1.2.14 allows either choice) and dropped when the address is written again.
    """

    uri: URI
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    wildcard: bool = False  # "Contact: *"

    @classmethod
    def parse(cls, text: str) -> Self:
        m = _NAME_ADDR_SIP.match(text)
        if m is not None and "%" not in text:
            groups = m.groups()
            quoted, tokens, params_text = groups[0], groups[1], groups[9]
            display_name: str | None = None
            if quoted:
                display_name = _QUOTED_PAIR.sub(r"\1", quoted) if "\\" in quoted else quoted
            elif tokens:
                display_name = " ".join(tokens.split())
            params: dict[str, str | None] = {}
            if params_text:
                for part in params_text[1:].split(";"):
                    name, eq, value = part.partition("=")
                    params[name.lower()] = value if eq else None
            return cls(SipURI._from_groups(*groups[2:9]), display_name, params)
        display_name = None
        m = _NAME_ADDR.match(text)
        if m is not None:
            quoted, tokens, uri_text = m.groups()
            if quoted:
                display_name = _QUOTED_PAIR.sub(r"\1", quoted) if "\\" in quoted else quoted
            elif tokens:
                display_name = " ".join(tokens.split())
            uri = parse_uri(uri_text.strip(" \t"))
            params, pos = parse_params(text, m.end())
        else:
            stripped = text.strip(" \t")
            if stripped == "*":
                return cls(AbsoluteURI("*", ""), wildcard=True)
            if "<" in text or '"' in text:
                raise SipSyntaxError(f"bad name-addr {text[:60]!r}")
            semi = text.find(";")
            end = semi if semi >= 0 else len(text)
            uri_text = text[:end].strip(" \t")
            if not uri_text or "?" in uri_text or "," in uri_text:
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
