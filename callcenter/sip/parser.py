"""Bytes → :class:`Request`/:class:`Response` (RFC 3261 §7, §18.3), and stream framing.

:func:`parse_message` is strict where RFC 3261 / RFC 4475 require a rejection (missing mandatory
headers, CSeq/method mismatch, bad Content-Length, unknown SIP version, malformed start line)
and tolerant where they require acceptance (compact forms, folding, odd whitespace, leading
CRLFs, unknown headers, lower-case names). Errors are :class:`SipParseError` with the status to
answer (400, 413, 505) and, for requests, the partial message needed to build that answer.

:class:`StreamFramer` cuts a TCP/TLS byte stream into messages using Content-Length and reports
CRLF keep-alive pings (RFC 5626 §3.5.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callcenter.sip.errors import SipParseError, SipSyntaxError
from callcenter.sip.headers import COMPACT_FORMS, canonical_name
from callcenter.sip.message import Headers, Request, Response
from callcenter.sip.uri import SipURI, parse_uri

__all__ = ["Limits", "StreamFramer", "parse_message"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that protect the switch from oversized or flooding input."""

    max_message_size: int = 65535
    """Largest message accepted (datagram, or one framed stream message), bytes."""
    max_headers: int = 256
    """Largest number of header lines in one message."""
    max_header_line: int = 8192
    """Longest header line after unfolding, characters."""


DEFAULT_LIMITS = Limits()

_METHOD = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_HEADER_NAME = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_MANDATORY_REQUEST = ("via", "from", "to", "call-id", "cseq")
_MANDATORY_RESPONSE = ("via", "from", "to", "call-id", "cseq")


def parse_message(
    data: bytes, *, limits: Limits = DEFAULT_LIMITS, datagram: bool = True
) -> Request | Response:
    """Parse one complete SIP message.

    *datagram* is True for UDP, where the body is the rest of the datagram and Content-Length
    is optional (§18.3); stream transports pass False after framing.
    """
    if len(data) > limits.max_message_size:
        raise SipParseError("Message Too Large", 513)
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end >= 0:
        head_bytes = data[start:end]
        body = data[end + 4 :]
        eol = "\r\n"
    else:
        end = data.find(b"\n\n", start)
        if end < 0:
            raise SipParseError("incomplete message: no end of headers")
        head_bytes = data[start:end]
        body = data[end + 2 :]
        eol = "\n"
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("message head is not UTF-8") from None
    lines = head.split(eol)
    if eol == "\r\n" and head.count("\n") != head.count("\r\n"):
        # bare LF inside a CRLF message: accept it as a line break (tolerant reading)
        lines = head.replace("\r\n", "\n").split("\n")
    start_line = lines[0]
    headers = _parse_header_lines(lines, limits)
    message: Request | Response
    if start_line.startswith("SIP/"):
        message = _parse_status_line(start_line, headers)
        mandatory = _MANDATORY_RESPONSE
    else:
        message = _parse_request_line(start_line, headers)
        mandatory = _MANDATORY_REQUEST
    message.body = _frame_body(message, body, datagram)
    _validate(message, mandatory)
    return message


def _parse_header_lines(lines: list[str], limits: Limits) -> Headers:
    if len(lines) - 1 > limits.max_headers:
        raise SipParseError("Too Many Headers")
    items: list[tuple[str, str, str]] = []
    max_line = limits.max_header_line
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            # continuation of the previous line (header folding, RFC 3261 §7.3.1)
            if not items:
                raise SipParseError("folded line before any header")
            k, n, v = items[-1]
            piece = line.strip(" \t")
            v = f"{v} {piece}" if v else piece
            if len(v) > max_line:
                raise SipParseError("Header Line Too Long")
            items[-1] = (k, n, v)
            continue
        if len(line) > max_line:
            raise SipParseError("Header Line Too Long")
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError("header line without ':'")
        name = name.rstrip(" \t")
        if not _HEADER_NAME.match(name):
            raise SipParseError("bad header name")
        lower = name.lower()
        if len(lower) == 1:
            full = COMPACT_FORMS.get(lower)
            if full is not None:
                name = full
                lower = full.lower()
        else:
            name = canonical_name(name)
        items.append((lower, name, value.strip(" \t")))
    return Headers._from_canonical(items)


def _parse_request_line(line: str, headers: Headers) -> Request:
    parts = line.split(" ")
    if len(parts) != 3:
        raise SipParseError("malformed Request-Line")
    method, uri_text, version = parts
    if not _METHOD.match(method):
        raise SipParseError("bad method")
    if version.upper() != "SIP/2.0":
        if version.upper().startswith("SIP/"):
            raise SipParseError("Version Not Supported", 505, _partial(method, headers))
        raise SipParseError("malformed Request-Line")
    try:
        uri = parse_uri(uri_text)
    except SipSyntaxError:
        raise SipParseError("bad Request-URI", 400, _partial(method, headers)) from None
    if isinstance(uri, SipURI) and uri.headers is not None:
        raise SipParseError("headers in Request-URI", 400, _partial(method, headers))
    return Request(method, uri, headers)


def _parse_status_line(line: str, headers: Headers) -> Response:
    version, _, rest = line.partition(" ")
    if version.upper() != "SIP/2.0":
        raise SipParseError("Version Not Supported", 505)
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
        raise SipParseError("bad status code")
    return Response(int(code), reason, headers)


def _partial(method: str, headers: Headers) -> Request | None:
    """A request object good enough to answer with an error, when the Via is readable."""
    try:
        req = Request(method, SipURI("invalid"), headers)
        req.top_via  # noqa: B018 - raises when the Via cannot be parsed
        req.cseq  # noqa: B018
        return req
    except SipSyntaxError:
        return None


def _frame_body(message: Request | Response, body: bytes, datagram: bool) -> bytes:
    value = message.headers.get("Content-Length")
    if value is None:
        if datagram:
            return body
        raise _error(message, "missing Content-Length on a stream transport")
    value = value.strip()
    if not value.isdigit() or len(value) > 9:
        raise _error(message, "bad Content-Length")
    length = int(value)
    if length > len(body):
        raise _error(message, "Content-Length larger than the body")
    return body[:length] if length < len(body) else body


def _error(message: Request | Response, reason: str, status: int = 400) -> SipParseError:
    partial = _partial(message.method, message.headers) if isinstance(message, Request) else None
    return SipParseError(reason, status, partial)


def _validate(message: Request | Response, mandatory: tuple[str, ...]) -> None:
    headers = message.headers
    present = {k for k, _, _ in headers._items}
    for name in mandatory:
        if name not in present:
            raise _error(message, f"missing {canonical_name(name)} header")
    try:
        cseq = message.cseq
        message.top_via  # noqa: B018
        message.from_  # noqa: B018
        message.to  # noqa: B018
        if isinstance(message, Request):
            if cseq.method != message.method:
                raise _error(message, "CSeq method does not match the request")
            max_forwards = message.header_int("Max-Forwards")
            if max_forwards is not None and max_forwards > 255:
                raise _error(message, "bad Max-Forwards")
            if len(headers.get_all("Call-ID")) > 1 or len(headers.get_all("CSeq")) > 1:
                raise _error(message, "duplicate Call-ID or CSeq")
    except SipSyntaxError as exc:
        raise _error(message, str(exc)) from None


class StreamFramer:
    """Cuts a byte stream into SIP messages (RFC 3261 §18.3: Content-Length is mandatory).

    ``feed(data)`` returns complete messages as bytes, and the string ``"ping"`` for each
    double-CRLF keep-alive received between messages (answer it with a single CRLF).
    A message head or body larger than the limit raises :class:`SipParseError`: the
    connection must then be closed, since the stream cannot be resynchronised.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._buffer = bytearray()
        self._limits = limits

    def feed(self, data: bytes) -> list[bytes | str]:
        buf = self._buffer
        buf.extend(data)
        out: list[bytes | str] = []
        while buf:
            if buf.startswith(b"\r\n\r\n"):
                del buf[:4]
                out.append("ping")
                continue
            if buf.startswith(b"\r\n"):
                if len(buf) < 4 and b"\r\n\r\n".startswith(bytes(buf)):
                    break  # maybe the start of a ping
                del buf[:2]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self._limits.max_message_size:
                    raise SipParseError("Message Too Large", 513)
                break
            length = _content_length(bytes(buf[:end]))
            total = end + 4 + length
            if total > self._limits.max_message_size:
                raise SipParseError("Message Too Large", 513)
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out

    @property
    def buffered(self) -> int:
        return len(self._buffer)


_CONTENT_LENGTH = re.compile(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*([0-9]+)", re.IGNORECASE)


def _content_length(head: bytes) -> int:
    m = _CONTENT_LENGTH.search(head)
    if m is None:
        raise SipParseError("missing Content-Length on a stream transport")
    if len(m.group(1)) > 9:
        raise SipParseError("bad Content-Length")
    return int(m.group(1))
