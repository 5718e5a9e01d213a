"""Digest challenge and credentials values: parse and serialize.

These work on header *values* (what follows ``WWW-Authenticate:``, ``Proxy-Authenticate:``,
``Authorization:`` or ``Proxy-Authorization:``), never on whole messages.

Grammar (RFC 3261 §25.1, same shape as RFC 7235 §2.1)::

    challenge    = "Digest" LWS digest-cln *(COMMA digest-cln)
    credentials  = "Digest" LWS dig-resp *(COMMA dig-resp)
    auth-param   = auth-param-name EQUAL ( token / quoted-string )
    COMMA        = SWS "," SWS        EQUAL = SWS "=" SWS      LWS = [*WSP CRLF] 1*WSP
    quoted-pair  = "\\" (any character but CR and LF)

- The scheme and the parameter names are case-insensitive; names are kept lower-case.
- Every parameter is accepted either as a token or as a quoted-string, whatever RFC 7616 says the
  sender should use (phones quote ``algorithm`` and ``nc`` and servers leave ``qop`` bare); what
  we *send* follows RFC 7616 §3.3-3.4: realm, nonce, opaque, domain, uri, response, cnonce,
  username and the challenge's qop list are quoted; algorithm, stale, nc and the credentials'
  qop are not.
- A parameter given twice is an error. Unknown parameters are kept, in order, in ``extensions``.
- Required: ``realm`` and ``nonce`` in a challenge; ``username``, ``realm``, ``nonce``, ``uri``
  and ``response`` in credentials (RFC 7616 §3.4). ``username*`` and ``userhash`` (RFC 7616
  §3.4.4-3.4.5) are not interpreted: they land in ``extensions`` and a missing ``username`` is
  an error.

Errors raise :class:`AuthParseError` (a ``ValueError``); their messages name offsets and
parameter names, never values, because credentials values help offline password guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "AuthError",
    "AuthParseError",
    "DigestChallenge",
    "DigestCredentials",
    "UnsupportedDigestError",
    "parse_challenge",
    "parse_credentials",
]

DIGEST_SCHEME = "Digest"

# RFC 7230 tchar; a superset of RFC 3261 token, so tokens from either grammar are accepted.
_TOKEN_RE = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]+")
# Characters a quoted-string cannot carry (RFC 3261 §25.1 qdtext: LWS, printable, UTF8-NONASCII).
_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_WSP = " \t"

_CHALLENGE_FIELDS = frozenset({"realm", "nonce", "algorithm", "qop", "opaque", "domain", "stale"})
_CREDENTIALS_FIELDS = frozenset(
    {"username", "realm", "nonce", "uri", "response", "algorithm", "qop", "nc", "cnonce", "opaque"}
)


class AuthError(ValueError):
    """Base of the digest authentication errors; a ``ValueError`` like the values it refuses.

    ::

        AuthError (ValueError)
        ├── AuthParseError: a value that is not a valid Digest challenge or credentials (answer
        │   the request with 400), or a field that cannot be carried in one
        └── UnsupportedDigestError: an algorithm or qop this implementation does not compute
    """


class AuthParseError(AuthError):
    """The header value is not a valid Digest challenge or credentials."""


class UnsupportedDigestError(AuthError):
    """The algorithm or qop requested is not one this implementation computes."""


def _check_text(name: str, value: str) -> None:
    if _CTL_RE.search(value):
        raise AuthParseError(f"{name}: control character not allowed")


def _check_token(name: str, value: str) -> None:
    if not _TOKEN_RE.fullmatch(value):
        raise AuthParseError(f"{name}: not a token")


def _check_extensions(extensions: tuple[tuple[str, str], ...], known: frozenset[str]) -> None:
    seen: set[str] = set()
    for name, value in extensions:
        _check_token("parameter name", name)
        if name != name.lower() or name in known or name in seen:
            raise AuthParseError(f"extension parameter {name[:32]!r} not allowed")
        seen.add(name)
        _check_text(name, value)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _param_value(value: str) -> str:
    """Serialize an extension value: as a token when it is one, else as a quoted-string."""
    return value if _TOKEN_RE.fullmatch(value) else _quote(value)


def _join(parts: list[str]) -> str:
    return f"{DIGEST_SCHEME} " + ", ".join(parts)


@dataclass(frozen=True)
class DigestChallenge:
    """A ``WWW-Authenticate`` / ``Proxy-Authenticate`` Digest challenge (RFC 7616 §3.3).

    ``algorithm`` is the token as received (``None`` when absent, which means MD5); ``qop`` is
    ``None`` when absent (an RFC 2069 server) or the tuple of offered qop-values.
    """

    realm: str
    nonce: str
    algorithm: str | None = None
    qop: tuple[str, ...] | None = None
    opaque: str | None = None
    domain: str | None = None
    stale: bool = False
    extensions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("realm", "nonce", "opaque", "domain"):
            value = getattr(self, name)
            if value is not None:
                _check_text(name, value)
        if self.algorithm is not None:
            _check_token("algorithm", self.algorithm)
        for option in self.qop or ():
            _check_token("qop", option)
        _check_extensions(self.extensions, _CHALLENGE_FIELDS)

    @classmethod
    def parse(cls, value: str) -> DigestChallenge:
        """Same as :func:`parse_challenge`."""
        return parse_challenge(value)

    def serialize(self) -> str:
        """The header value, e.g. ``Digest realm="x", nonce="y", algorithm=MD5, qop="auth"``."""
        parts = [f"realm={_quote(self.realm)}", f"nonce={_quote(self.nonce)}"]
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        if self.algorithm is not None:
            parts.append(f"algorithm={self.algorithm}")
        if self.qop is not None:
            parts.append(f"qop={_quote(','.join(self.qop))}")
        if self.domain is not None:
            parts.append(f"domain={_quote(self.domain)}")
        if self.stale:
            parts.append("stale=true")
        parts.extend(f"{name}={_param_value(value)}" for name, value in self.extensions)
        return _join(parts)

    def __str__(self) -> str:
        return self.serialize()


@dataclass(frozen=True)
class DigestCredentials:
    """An ``Authorization`` / ``Proxy-Authorization`` Digest response (RFC 7616 §3.4).

    ``response`` is left out of ``repr``: with the nonces it allows offline password guessing.
    """

    username: str
    realm: str
    nonce: str
    uri: str
    response: str = field(repr=False)
    algorithm: str | None = None
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    extensions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("username", "realm", "nonce", "uri", "response", "cnonce", "opaque"):
            value = getattr(self, name)
            if value is not None:
                _check_text(name, value)
        for name in ("algorithm", "qop", "nc"):
            value = getattr(self, name)
            if value is not None:
                _check_token(name, value)
        _check_extensions(self.extensions, _CREDENTIALS_FIELDS)

    @classmethod
    def parse(cls, value: str) -> DigestCredentials:
        """Same as :func:`parse_credentials`."""
        return parse_credentials(value)

    def serialize(self) -> str:
        """The header value, quoting per RFC 7616 §3.4 (algorithm, qop and nc bare)."""
        parts = [
            f"username={_quote(self.username)}",
            f"realm={_quote(self.realm)}",
            f"nonce={_quote(self.nonce)}",
            f"uri={_quote(self.uri)}",
            f"response={_quote(self.response)}",
        ]
        if self.algorithm is not None:
            parts.append(f"algorithm={self.algorithm}")
        if self.cnonce is not None:
            parts.append(f"cnonce={_quote(self.cnonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        if self.qop is not None:
            parts.append(f"qop={self.qop}")
        if self.nc is not None:
            parts.append(f"nc={self.nc}")
        parts.extend(f"{name}={_param_value(value)}" for name, value in self.extensions)
        return _join(parts)

    def __str__(self) -> str:
        return self.serialize()


class _Scanner:
    """A cursor over one header value; every error names an offset, never the text."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> AuthParseError:
        return AuthParseError(f"{message} at offset {self.pos}")

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _at_fold(self) -> bool:
        text, pos = self.text, self.pos
        return text.startswith("\r\n", pos) and pos + 2 < len(text) and text[pos + 2] in _WSP

    def skip_lws(self) -> bool:
        """Skip SWS (spaces, tabs, CRLF folds); return whether anything was skipped."""
        start = self.pos
        while not self.at_end():
            if self.text[self.pos] in _WSP:
                self.pos += 1
            elif self._at_fold():
                self.pos += 3
            else:
                break
        return self.pos > start

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(f"expected {char!r}")
        self.pos += 1

    def token(self, what: str) -> str:
        match = _TOKEN_RE.match(self.text, self.pos)
        if match is None:
            raise self.error(f"expected {what}")
        self.pos = match.end()
        return match.group()

    def quoted_string(self) -> str:
        self.expect('"')
        out: list[str] = []
        text = self.text
        while True:
            if self.at_end():
                raise self.error("unterminated quoted-string")
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                if self.pos + 1 >= len(text) or text[self.pos + 1] in "\r\n":
                    raise self.error("invalid quoted-pair")
                out.append(text[self.pos + 1])
                self.pos += 2
            elif char == "\r" and self._at_fold():
                self.pos += 2  # drop the CRLF of a fold; the WSP after it is kept
            elif _CTL_RE.match(char):
                raise self.error("control character in quoted-string")
            else:
                out.append(char)
                self.pos += 1

    def value(self) -> str:
        return self.quoted_string() if self.peek() == '"' else self.token("token or quoted-string")


def _parse_params(value: str) -> dict[str, str]:
    """Parse ``Digest name=value, ...`` into an ordered dict of lower-case names."""
    if not isinstance(value, str):
        raise AuthParseError("header value must be str")
    scanner = _Scanner(value)
    scanner.skip_lws()
    scheme = scanner.token("auth scheme")
    if scheme.lower() != DIGEST_SCHEME.lower():
        raise AuthParseError("auth scheme is not Digest")
    if not scanner.skip_lws():
        raise scanner.error("expected whitespace after the auth scheme")
    params: dict[str, str] = {}
    while True:
        name = scanner.token("parameter name").lower()
        scanner.skip_lws()
        scanner.expect("=")
        scanner.skip_lws()
        if name in params:
            raise scanner.error(f"duplicate parameter {name[:32]!r}")
        params[name] = scanner.value()
        scanner.skip_lws()
        if scanner.at_end():
            return params
        scanner.expect(",")
        scanner.skip_lws()


def _required(params: dict[str, str], name: str) -> str:
    value = params.pop(name, None)
    if value is None:
        raise AuthParseError(f"missing parameter {name!r}")
    return value


def _parse_qop_options(value: str) -> tuple[str, ...]:
    """``qop="auth,auth-int"`` (RFC 3261 qop-options); empty list elements are skipped."""
    options = tuple(item.strip(_WSP) for item in value.split(","))
    return tuple(option for option in options if option)


def _parse_stale(value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise AuthParseError("stale must be true or false")
    return lowered == "true"


def parse_challenge(value: str) -> DigestChallenge:
    """Parse a ``WWW-Authenticate`` / ``Proxy-Authenticate`` value; raise AuthParseError."""
    params = _parse_params(value)
    realm = _required(params, "realm")
    nonce = _required(params, "nonce")
    qop = params.pop("qop", None)
    stale = params.pop("stale", None)
    return DigestChallenge(
        realm=realm,
        nonce=nonce,
        algorithm=params.pop("algorithm", None),
        qop=None if qop is None else _parse_qop_options(qop),
        opaque=params.pop("opaque", None),
        domain=params.pop("domain", None),
        stale=False if stale is None else _parse_stale(stale),
        extensions=tuple(params.items()),
    )


def parse_credentials(value: str) -> DigestCredentials:
    """Parse an ``Authorization`` / ``Proxy-Authorization`` value; raise AuthParseError."""
    params = _parse_params(value)
    return DigestCredentials(
        username=_required(params, "username"),
        realm=_required(params, "realm"),
        nonce=_required(params, "nonce"),
        uri=_required(params, "uri"),
        response=_required(params, "response"),
        algorithm=params.pop("algorithm", None),
        qop=params.pop("qop", None),
        nc=params.pop("nc", None),
        cnonce=params.pop("cnonce", None),
        opaque=params.pop("opaque", None),
        extensions=tuple(params.items()),
    )
