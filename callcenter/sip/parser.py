"""Bytes → :class:`Request`/:class:`Response` (RFC 3261 §7, §18.3), and stream framing.

:func:`parse_message` is strict where RFC 3261 / RFC 4475 require a rejection (missing or
repeated single-value headers, CSeq/method mismatch, bad Content-Length, unknown SIP version,
malformed start line, malformed Via/From/To/Contact/Route/Record-Route, control characters)
and tolerant where they require acceptance (compact forms, folding, odd whitespace, leading
CRLFs, unknown headers and methods, lower-case names, escapes). Every failure is a
:class:`SipParseError` carrying the status to answer (400, 501, 505, 513) and, for a request
other than ACK whose top Via is readable, the partial message needed to build that answer.
The choices RFC 4475 leaves open are documented next to the vectors in
``tests/unit/test_parser_rfc4475.py``.

:class:`StreamFramer` cuts a TCP/TLS byte stream into messages using Content-Length and reports
CRLF keep-alive pings (RFC 5626 §3.5.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callcenter.sip.errors import SipParseError, SipSyntaxError
from callcenter.sip.grammar import CALL_ID_RE
from callcenter.sip.headers import SIP_2_0, name_entry
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

_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
_TOKEN = re.compile(rf"[{_TOKEN_CHARS}]+\Z")
_FOLD = re.compile(r"[ \t]*\r\n[ \t]+")
_FOLDED = re.compile(r"\n[ \t]")
# Control characters other than HT, CR and LF; allowed only as a quoted-pair (§25.1).
_CTL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CTL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# Header names as written before the colon (trailing blanks included) → (key, canonical).
# Bounded, so a peer sending ever-new names cannot grow it without limit.
_LINE_NAMES: dict[str, tuple[str, str]] = {}
_LINE_NAMES_MAX = 4096
_DIGITS = re.compile(r"[0-9]+\Z")
_SINGLE = frozenset({"call-id", "cseq", "from", "to", "content-length", "max-forwards"})
_MANDATORY = frozenset({"via", "from", "to", "call-id", "cseq"})
_ADDRESS_LISTS = ("contact", "route", "record-route")
# Methods whose CSeq mismatch earns 400; for any other method the element cannot know the
# method anyway, and RFC 4475 §3.1.2.18 prefers 501.
_KNOWN_METHODS = frozenset(
    {
        "ACK", "BYE", "CANCEL", "INFO", "INVITE", "MESSAGE", "NOTIFY", "OPTIONS", "PRACK",
        "PUBLISH", "REFER", "REGISTER", "SUBSCRIBE", "UPDATE",
    }
)  # fmt: skip


def parse_message(
    data: bytes, *, limits: Limits = DEFAULT_LIMITS, datagram: bool = True
) -> Request | Response:
    """Parse one complete SIP message.

    *datagram* is True for UDP, where the body is the rest of the datagram and Content-Length
    is optional (§18.3; octets beyond Content-Length are discarded); stream transports pass
    False after framing.
    """
    if len(data) > limits.max_message_size:
        raise SipParseError("Message Too Large", 513)
    head, body, crlf = _split_head(data)
    first = head.find("\r\n")
    if first < 0:
        if crlf:
            raise SipParseError("bare CR or LF in message head")
        start_line, block = head, ""
    else:
        start_line, block = head[:first], head[first + 2 :]
    try:
        headers = _parse_header_block(block, crlf, limits)
    except _BadLine as exc:
        partial = (
            None if start_line.startswith("SIP/") else _partial_after_bad_line(start_line, block)
        )
        raise SipParseError(str(exc), 400, partial) from None
    message: Request | Response
    if start_line.startswith("SIP/"):
        message = _parse_status_line(start_line, headers)
    else:
        message = _parse_request_line(start_line, headers)
    message.body = _frame_body(message, body, datagram)
    _validate(message)
    return message


def _split_head(data: bytes) -> tuple[str, bytes, int]:
    """Skip leading CRLFs (§7.5), split at the empty line, check and decode the head.

    Returns the head (lines ending in CRLF), the body, and the number of CRLFs the head must
    hold if it has no bare CR or LF: the caller checks that against the lines it splits.
    """
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end >= 0:
        head = data[start:end]
        crlf = head.count(b"\r")
        if crlf != head.count(b"\n"):
            return _split_head_lf(data, start)
        body = data[end + 4 :]
    else:
        return _split_head_lf(data, start)
    try:
        text = head.decode()
    except UnicodeDecodeError:
        raise SipParseError("message head is not UTF-8") from None
    if len(head.translate(None, _CTL_BYTES)) != len(head):
        _check_controls(text)
    return text, body, crlf


def _split_head_lf(data: bytes, start: int) -> tuple[str, bytes, int]:
    """The tolerant path: the head uses bare LF line breaks (or holds a bare CR: refused)."""
    end = data.find(b"\r\n\r\n", start)
    lf = data.find(b"\n\n", start, end if end >= 0 else len(data))
    if lf >= 0:  # a bare-LF empty line that comes before any CRLF one
        head = data[start : lf - 1 if data[lf - 1 : lf] == b"\r" else lf]
        body = data[lf + 2 :]
    elif end >= 0:
        head = data[start:end]
        body = data[end + 4 :]
    else:
        raise SipParseError("incomplete message: no end of headers")
    if head.count(b"\r") != head.count(b"\r\n"):
        raise SipParseError("bare CR in message head")
    try:
        text = head.decode().replace("\r\n", "\n").replace("\n", "\r\n")
    except UnicodeDecodeError:
        raise SipParseError("message head is not UTF-8") from None
    _check_controls(text)
    return text, body, text.count("\r\n")


def _check_controls(text: str) -> None:
    """Control characters other than HT, CR and LF are allowed only as a quoted-pair."""
    for m in _CTL.finditer(text):
        if text[m.start() - 1 : m.start()] != "\\":
            raise SipParseError("control character in message head")


def _parse_header_block(block: str, crlf: int, limits: Limits) -> Headers:
    if not block:
        return Headers._from_canonical([])
    if block[0] in " \t":
        raise SipParseError("folded line before any header")
    if _FOLDED.search(block) is not None:
        if block.count("\r\n") + 1 != crlf:
            raise SipParseError("bare CR or LF in message head")
        block = _FOLD.sub(" ", block)  # header folding, RFC 3261 §7.3.1
        crlf = block.count("\r\n") + 1
    lines = block.split("\r\n")
    if len(lines) != crlf:
        raise SipParseError("bare CR or LF in message head")
    # Floods and oversized lines are refused, but still answered 400 when the headers a
    # response needs can be read (see _partial_after_bad_line).
    if len(lines) > limits.max_headers:
        raise _BadLine("Too Many Headers")
    max_line = limits.max_header_line
    if len(block) > max_line and any(len(line) > max_line for line in lines):
        raise _BadLine("Header Line Too Long")
    items: list[tuple[str, str, str]] = []
    append = items.append
    get = _LINE_NAMES.get
    for line in lines:
        name, colon, value = line.partition(":")
        entry = get(name)
        if entry is None:
            entry = _line_name(name, colon)
        append((entry[0], entry[1], value.strip(" \t")))
    return Headers._from_canonical(items)


_RESPONSE_HEADERS = frozenset({"via", "from", "to", "call-id", "cseq"})


class _BadLine(SipParseError):
    """A header line that is no ``name: value``; the request may still be answerable."""


def _line_name(name: str, colon: str) -> tuple[str, str]:
    """``(key, canonical)`` for the text before a header line's colon, validated (memoised)."""
    if not colon:
        raise _BadLine("header line without ':'")
    stripped = name.rstrip(" \t")
    if not _TOKEN.match(stripped):
        raise _BadLine(f"bad header name {stripped[:40]!r}")
    entry = name_entry(stripped)
    if len(_LINE_NAMES) < _LINE_NAMES_MAX:
        _LINE_NAMES[name] = entry
    return entry


def _partial_after_bad_line(start_line: str, block: str) -> Request | None:
    """The partial request built from the header lines that do read well, keeping only the
    ones a response copies (RFC 3261 §8.2.6.2), so a flood costs one pass and no more."""
    items: list[tuple[str, str, str]] = []
    for line in _FOLD.sub(" ", block).split("\r\n"):
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if colon and _TOKEN.match(name):
            entry = name_entry(name)
            if entry[0] in _RESPONSE_HEADERS:
                items.append((*entry, value.strip(" \t")))
    return _partial(start_line.partition(" ")[0], Headers._from_canonical(items))


def _parse_request_line(line: str, headers: Headers) -> Request:
    parts = line.split(" ")
    if len(parts) != 3:
        raise SipParseError("malformed Request-Line", 400, _partial(parts[0], headers))
    method, uri_text, version = parts
    if not _TOKEN.match(method):
        raise SipParseError("bad method", 400, _partial(None, headers))
    if version != SIP_2_0 and version.upper() != SIP_2_0:
        if version.upper().startswith("SIP/"):
            raise SipParseError("Version Not Supported", 505, _partial(method, headers))
        raise SipParseError("malformed Request-Line", 400, _partial(method, headers))
    try:
        uri = parse_uri(uri_text)
    except SipSyntaxError:
        raise SipParseError("bad Request-URI", 400, _partial(method, headers)) from None
    if isinstance(uri, SipURI) and uri.headers is not None:
        raise SipParseError("headers in Request-URI", 400, _partial(method, headers))
    return Request(method, uri, headers)


def _parse_status_line(line: str, headers: Headers) -> Response:
    version, _, rest = line.partition(" ")
    if version != SIP_2_0 and version.upper() != SIP_2_0:
        raise SipParseError("Version Not Supported", 505)
    # An empty Reason-Phrase is valid (RFC 4475 §3.1.1.13); so, liberally, is a missing SP.
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not code.isascii() or not code.isdigit() or code[0] not in "123456":
        raise SipParseError("bad status code")
    return Response(int(code), reason, headers)


def _partial(method: str | None, headers: Headers) -> Request | None:
    """A request good enough to answer with an error: its top Via is readable, it is no ACK.

    *method* comes from the Request-Line when that much could be read, else from CSeq.
    """
    req = Request(method or "", SipURI("invalid"), headers)
    try:
        req.top_via  # noqa: B018 - raises when the Via cannot be parsed
        if not method or not _TOKEN.match(method):
            req.method = req.cseq.method
    except SipSyntaxError:
        return None
    return None if req.method == "ACK" else req


def _error(message: Request | Response, reason: str, status: int = 400) -> SipParseError:
    partial: Request | None = None
    if isinstance(message, Request) and message.method != "ACK":
        try:
            message.top_via  # noqa: B018 - raises when the Via cannot be parsed
            partial = message
        except SipSyntaxError:
            partial = None
    return SipParseError(reason, status, partial)


def _frame_body(message: Request | Response, body: bytes, datagram: bool) -> bytes:
    values = [v for k, _, v in message.headers._items if k == "content-length"]
    if not values:
        if datagram:
            return body
        raise _error(message, "missing Content-Length on a stream transport")
    if len(values) > 1:
        raise _error(message, "more than one Content-Length")  # RFC 4475 §3.3.9 mcl01
    value = values[0]
    if len(value) > 9 or not _DIGITS.match(value):
        raise _error(message, "bad Content-Length")
    length = int(value)
    if length > len(body):
        raise _error(message, "Content-Length larger than the body")
    return body[:length] if length < len(body) else body


def _validate(message: Request | Response) -> None:
    """Check what every later layer relies on, so their accessors cannot fail afterwards."""
    headers = message.headers
    keys = [item[0] for item in headers._items]
    present = set(keys)
    if len(present) != len(keys):
        for key in _SINGLE & present:
            if keys.count(key) > 1:
                raise _error(message, f"more than one {key} header")
    if not _MANDATORY.issubset(present):
        missing = sorted(_MANDATORY - present)
        raise _error(message, f"missing {', '.join(missing)} header")
    try:
        message.top_via  # noqa: B018
    except SipSyntaxError as exc:
        raise _error(message, f"bad Via: {exc}") from None
    try:
        cseq = message.cseq
        if isinstance(message, Request) and cseq.method != message.method:
            known = message.method in _KNOWN_METHODS
            raise _error(message, "CSeq method does not match", 400 if known else 501)
        if message.top_via.protocol != SIP_2_0:
            raise _error(message, "Via protocol is not SIP/2.0")
        if not CALL_ID_RE.match(headers._first("call-id") or ""):
            raise _error(message, "bad Call-ID")
        if message.from_.wildcard or message.to.wildcard:
            raise _error(message, "'*' in From or To")
        max_forwards = headers._first("max-forwards") if "max-forwards" in present else None
        if max_forwards is not None and not (
            len(max_forwards) <= 10 and _DIGITS.match(max_forwards) and int(max_forwards) <= 255
        ):
            raise _error(message, "bad Max-Forwards")
        for key in _ADDRESS_LISTS:
            if key in present:
                message._address_list(key)
    except SipSyntaxError as exc:
        raise _error(message, str(exc)) from None


class StreamFramer:
    """Cuts a byte stream into SIP messages (RFC 3261 §18.3: Content-Length is mandatory).

    ``feed(data)`` returns complete messages as bytes, and the string ``"ping"`` for each
    double-CRLF keep-alive received between messages (answer it with a single CRLF).
    A message head or body larger than the limit, or a head without exactly one valid
    Content-Length, raises :class:`SipParseError`: the connection must then be closed, since
    the stream cannot be resynchronised. Each byte is searched once, however the stream is cut.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._buffer = bytearray()
        self._limits = limits
        self._scanned = 0  # bytes already searched for the end of the head

    def feed(self, data: bytes) -> list[bytes | str]:
        buf = self._buffer
        buf += data
        out: list[bytes | str] = []
        while buf:
            if buf[0] == 0x0D and (len(buf) == 1 or buf[1] == 0x0A):
                if buf.startswith(b"\r\n\r\n"):
                    del buf[:4]
                    out.append("ping")
                elif len(buf) < 4 and b"\r\n\r\n".startswith(buf):
                    break  # maybe the start of a ping
                else:
                    del buf[:2]
                self._scanned = 0
                continue
            end = buf.find(b"\r\n\r\n", max(0, self._scanned - 3))
            if end < 0:
                self._scanned = len(buf)
                if len(buf) > self._limits.max_message_size:
                    raise SipParseError("Message Too Large", 513)
                break
            self._scanned = end
            total = end + 4 + _content_length(buf, end)
            if total > self._limits.max_message_size:
                raise SipParseError("Message Too Large", 513)
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
            self._scanned = 0
        return out

    @property
    def buffered(self) -> int:
        return len(self._buffer)


_CONTENT_LENGTH = re.compile(
    rb"\r\n(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*(?=\r\n|\Z)", re.IGNORECASE
)


def _content_length(buf: bytearray, end: int) -> int:
    values = _CONTENT_LENGTH.findall(buf, 0, end)
    if len(values) != 1:
        reason = "more than one Content-Length" if values else "missing or bad Content-Length"
        raise SipParseError(f"{reason} on a stream transport")
    if len(values[0]) > 9:
        raise SipParseError("bad Content-Length")
    return int(values[0])
