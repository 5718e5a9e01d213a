"""Lexical helpers for the RFC 3261 §25 grammar: tokens, quoted strings, parameter lists.

These functions work on ``str`` header values (already unfolded by the parser) and raise
:class:`~callcenter.sip.errors.SipSyntaxError` on input the grammar does not allow.
"""

from __future__ import annotations

import ipaddress
import re

from callcenter.sip.errors import SipSyntaxError

__all__ = [
    "CALL_ID_RE",
    "TOKEN_RE",
    "check_ipv6_reference",
    "format_params",
    "is_token",
    "parse_params",
    "quote",
    "split_list",
    "unescape",
    "unquote",
]

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")  (RFC 3261 §25.1)
_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN_RE = re.compile(rf"[{_TOKEN_CHARS}]+")
_TOKEN_FULL = re.compile(rf"[{_TOKEN_CHARS}]+\Z")
# Parameter values may also be an IPv6 reference (received=[::1]) or a host with ':' (maddr).
_VALUE_CHARS = rf"{_TOKEN_CHARS}\[\]:"
_PARAM_VALUE = re.compile(rf"[{_VALUE_CHARS}]+")
_WS = " \t"

# callid = word [ "@" word ]; word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`"
# / "'" / "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}")
_WORD_CHARS = rf"{_TOKEN_CHARS}()<>:\\\"/\[\]?{{}}"
CALL_ID_RE = re.compile(rf"[{_WORD_CHARS}]+(?:@[{_WORD_CHARS}]+)?\Z")

# The common shape of a parameter list: ";name=value;flag" with no whitespace or quotes. The
# general parser below handles the rest (LWS around ";" and "=", quoted values).
_SIMPLE_PARAMS = re.compile(rf"(?:;[{_TOKEN_CHARS}]+(?:=[{_VALUE_CHARS}]+)?)*")
# After a simple list, one of these characters means the general parser must look again.
_NOT_SIMPLE_END = frozenset(' \t;="')

_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
# quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): CR and LF can never be escaped.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
_ESCAPED_BYTES = re.compile(rb"%([0-9A-Fa-f]{2})")


def check_ipv6_reference(host: str) -> None:
    """Raise :class:`SipSyntaxError` unless *host* is ``[IPv6address]`` (RFC 3261 §25.1)."""
    try:
        ipaddress.IPv6Address(host[1:-1])
    except ValueError:
        raise SipSyntaxError(f"bad IPv6 reference {host[:60]!r}") from None


def is_token(text: str) -> bool:
    """True when *text* is a non-empty RFC 3261 token."""
    return _TOKEN_FULL.match(text) is not None


def quote(text: str) -> str:
    """Return *text* as a quoted-string (RFC 3261 §25.1).

    ``"`` and ``\\`` and control characters become quoted-pairs; CR and LF, which no
    quoted-pair can carry, become spaces so the result can never break a header line.
    """
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    return '"' + _NEEDS_ESCAPE.sub(r"\\\g<0>", text) + '"'


def unquote(text: str) -> str:
    """Undo :func:`quote` on a complete quoted-string; a bare token is returned unchanged."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        value, end = _read_quoted(text, 0)
        if end != len(text):
            raise SipSyntaxError(f"text after closing quote in {text!r}")
        return value
    return text


def unescape(text: str) -> str:
    """Decode ``%HH`` escapes (RFC 3261 §19.1.2) as UTF-8; undecodable octets become U+FFFD."""
    if "%" not in text:
        return text
    raw = _ESCAPED_BYTES.sub(lambda m: bytes((int(m.group(1), 16),)), text.encode())
    return raw.decode("utf-8", "replace")


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted-string starting at ``text[pos] == '"'``; return (value, index after it)."""
    end = pos + 1
    n = len(text)
    while True:
        end = text.find('"', end)
        if end < 0:
            raise SipSyntaxError("unterminated quoted-string")
        backslashes = 0
        i = end - 1
        while i > pos and text[i] == "\\":
            backslashes += 1
            i -= 1
        if backslashes % 2 == 0:
            break
        end += 1
        if end >= n:
            raise SipSyntaxError("unterminated quoted-string")
    inner = text[pos + 1 : end]
    if "\\" in inner:
        inner = _QUOTED_PAIR.sub(r"\1", inner)
    return inner, end + 1


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value (RFC 3261 §7.3.1), honouring quotes and ``<...>``.

    Empty elements (``a,,b``) are dropped, as the list grammar permits.
    """
    if "," not in value:
        stripped = value.strip(_WS)
        return [stripped] if stripped else []
    if '"' not in value and "<" not in value:
        return [p for p in (part.strip(_WS) for part in value.split(",")) if p]
    parts: list[str] = []
    depth_angle = False
    in_quote = False
    start = 0
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if in_quote:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c == "<":
            depth_angle = True
        elif c == ">":
            depth_angle = False
        elif c == "," and not depth_angle:
            part = value[start:i].strip(_WS)
            if part:
                parts.append(part)
            start = i + 1
        i += 1
    if in_quote:
        raise SipSyntaxError("unterminated quoted-string in list")
    part = value[start:].strip(_WS)
    if part:
        parts.append(part)
    return parts


def parse_params(text: str, pos: int = 0) -> tuple[dict[str, str | None], int]:
    """Parse ``*( SEMI generic-param )`` from ``text[pos:]``.

    Returns the parameters (names lower-cased, values as written; quoted values keep their
    quotes so they serialize back unchanged) and the index where parsing stopped (at the end,
    or at a character that cannot continue a parameter list, e.g. ``,`` or ``?``).
    """
    m = _SIMPLE_PARAMS.match(text, pos)
    end = m.end()  # type: ignore[union-attr]  # the pattern also matches the empty string
    if end == len(text) or text[end] not in _NOT_SIMPLE_END:
        if end == pos:
            return {}, pos
        params: dict[str, str | None] = {}
        for part in text[pos + 1 : end].split(";"):
            name, eq, value = part.partition("=")
            params[name.lower()] = value if eq else None
        return params, end
    return _parse_params_lws(text, pos)


def _parse_params_lws(text: str, pos: int) -> tuple[dict[str, str | None], int]:
    """The general form of :func:`parse_params`: LWS around separators, quoted values."""
    params: dict[str, str | None] = {}
    n = len(text)
    while True:
        while pos < n and text[pos] in _WS:
            pos += 1
        if pos >= n or text[pos] != ";":
            return params, pos
        pos += 1
        while pos < n and text[pos] in _WS:
            pos += 1
        m = TOKEN_RE.match(text, pos)
        if m is None:
            raise SipSyntaxError(f"bad parameter name at {text[pos : pos + 20]!r}")
        name = m.group().lower()
        pos = m.end()
        while pos < n and text[pos] in _WS:
            pos += 1
        if pos < n and text[pos] == "=":
            pos += 1
            while pos < n and text[pos] in _WS:
                pos += 1
            if pos < n and text[pos] == '"':
                _, end = _read_quoted(text, pos)
                params[name] = text[pos:end]
                pos = end
            else:
                vm = _PARAM_VALUE.match(text, pos)
                if vm is None:
                    raise SipSyntaxError(f"bad value for parameter {name!r}")
                params[name] = vm.group()
                pos = vm.end()
        else:
            params[name] = None


def format_params(params: dict[str, str | None]) -> str:
    """Serialize parameters as ``;name=value;flag``."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())
