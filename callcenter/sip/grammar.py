"""Lexical helpers for the RFC 3261 §25 grammar: tokens, quoted strings, parameter lists.

These functions work on ``str`` header values (already unfolded by the parser) and raise
:class:`~callcenter.sip.errors.SipSyntaxError` on input the grammar does not allow.
"""

from __future__ import annotations

import re

from callcenter.sip.errors import SipSyntaxError

__all__ = [
    "TOKEN_RE",
    "format_params",
    "is_token",
    "parse_params",
    "quote",
    "split_list",
    "unquote",
]

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")  (RFC 3261 §25.1)
_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN_RE = re.compile(rf"[{_TOKEN_CHARS}]+")
_TOKEN_FULL = re.compile(rf"[{_TOKEN_CHARS}]+\Z")
# Parameter values may also be an IPv6 reference (received=[::1]) or a host with ':' (maddr).
_PARAM_VALUE = re.compile(rf"[{_TOKEN_CHARS}\[\]:]+")
_WS = " \t"


def is_token(text: str) -> bool:
    """True when *text* is a non-empty RFC 3261 token."""
    return _TOKEN_FULL.match(text) is not None


def quote(text: str) -> str:
    """Return *text* as a quoted-string, escaping ``"`` and ``\\``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(text: str) -> str:
    """Undo :func:`quote` on a complete quoted-string; a bare token is returned unchanged."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        value, end = _read_quoted(text, 0)
        if end != len(text):
            raise SipSyntaxError(f"text after closing quote in {text!r}")
        return value
    return text


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted-string starting at ``text[pos] == '"'``; return (value, index after it)."""
    out: list[str] = []
    i = pos + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                break
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise SipSyntaxError("unterminated quoted-string")


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value (RFC 3261 §7.3.1), honouring quotes and ``<...>``.

    Empty elements (``a,,b``) are dropped, as the list grammar permits.
    """
    if "," not in value:
        stripped = value.strip(_WS)
        return [stripped] if stripped else []
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
