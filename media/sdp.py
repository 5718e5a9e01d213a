"""Session Description Protocol (RFC 8866, formerly RFC 4566): parse and serialize.

`SessionDescription.parse(data)` and `SessionDescription.serialize()` are symmetric: SDP written in
the canonical field order (§5: v o s i u e p c b t r z k a, then per media m i c b k a) with CRLF
line ends serializes back byte for byte. The parser is lenient where real endpoints are sloppy
(LF-only line ends, blank lines, session fields out of order, unknown attributes, a missing `t=`)
and strict where the description would be meaningless: it raises `SdpError` naming the line number
and line when `v=`, `o=` or `s=` is missing or repeated, when an `m=`, `c=`, `o=`, `b=` or `t=`
line is malformed, or when a line type is unknown (§5: such a description is ignored as a whole).

Attributes keep their order and their exact text; `(name, None)` is a property attribute
(`a=rtcp-mux`), `(name, value)` a value attribute (`a=ptime:20`). Typed helpers read what the
offer/answer model needs; everything else (ICE candidates, fingerprints, `a=setup`, `a=mid`) is
kept verbatim. Values that hold keys (`k=`, `a=crypto`, `a=ice-pwd`) never appear in error
messages or reprs.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from media.sdp_fields import (
    DIRECTIONS,
    MAX_PORT,
    SECRET_ATTRIBUTES,
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    Origin,
    RtcpAttribute,
    RtpMap,
    SdpError,
    Timing,
    address_type,
    is_decimal,
)

__all__ = [
    "Attribute",
    "Bandwidth",
    "Connection",
    "Direction",
    "MediaDescription",
    "Origin",
    "RtcpAttribute",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "Timing",
    "address_type",
]

SDP_VERSION = 0
LINE_END = "\r\n"
# §5: the line types of a session description; those that only exist at session level.
_KNOWN_TYPES = frozenset("vosiuepcbtrzkam")
_SESSION_ONLY = frozenset("vosuepzrt")
_T = TypeVar("_T")


class _AttributeList:
    """Typed reads over an ordered attribute list, shared by session and media level."""

    attributes: list[Attribute]

    def __repr__(self) -> str:
        """Every field, with key material (`k=`, `a=crypto`, `a=ice-pwd`) redacted."""
        parts = []
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if item.name == "key" and value is not None:
                value = "<redacted>"
            elif item.name == "attributes":
                value = _redacted_attributes(value)
            parts.append(f"{item.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def has_attribute(self, name: str) -> bool:
        return any(n == name for n, _ in self.attributes)

    def attribute(self, name: str) -> str | None:
        """The value of the first `a=<name>:<value>`; None when absent or a property."""
        for n, value in self.attributes:
            if n == name:
                return value
        return None

    def attribute_values(self, name: str) -> list[str]:
        """All values of `a=<name>` in order; a property attribute contributes ""."""
        return [value or "" for n, value in self.attributes if n == name]

    def add_attribute(self, name: str, value: str | None = None) -> None:
        self.attributes.append((name, value))

    def remove_attribute(self, name: str) -> None:
        self.attributes = [(n, v) for n, v in self.attributes if n != name]

    @property
    def direction(self) -> Direction | None:
        """The direction attribute given at this level, if any (the last one wins)."""
        found: Direction | None = None
        for name, _ in self.attributes:
            if name in DIRECTIONS:
                found = Direction(name)
        return found

    def set_direction(self, direction: Direction | None) -> None:
        """Replace any direction attribute by `direction` (None: remove)."""
        self.attributes = [(n, v) for n, v in self.attributes if n not in DIRECTIONS]
        if direction is not None:
            self.attributes.append((str(direction), None))


def _redacted_attributes(attributes: list[Attribute]) -> list[Attribute]:
    return [(n, "<redacted>" if n in SECRET_ATTRIBUTES else v) for n, v in attributes]


@dataclass(repr=False)
class MediaDescription(_AttributeList):
    """One `m=` section (§5.14): `m=<media> <port>[/<count>] <proto> <fmt> ...` and its fields."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    title: str | None = None
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    @property
    def is_rejected(self) -> bool:
        """Port 0: a stream refused or removed (RFC 3264 §6, §8.2)."""
        return self.port == 0

    @property
    def payload_types(self) -> list[int]:
        """The formats that are RTP payload type numbers, in m= order."""
        return [int(f) for f in self.formats if is_decimal(f)]

    def rtpmaps(self) -> dict[int, RtpMap]:
        """Every well-formed `a=rtpmap`, by payload type (the first wins on duplicates)."""
        found: dict[int, RtpMap] = {}
        for value in self.attribute_values("rtpmap"):
            rtpmap = RtpMap.parse(value)
            if rtpmap is not None:
                found.setdefault(rtpmap.payload_type, rtpmap)
        return found

    def rtpmap(self, payload_type: int | str) -> RtpMap | None:
        return self.rtpmaps().get(int(payload_type))

    def fmtp(self, payload_type: int | str) -> str | None:
        """The parameters of `a=fmtp:<payload_type> <parameters>`."""
        prefix = str(int(payload_type))
        for value in self.attribute_values("fmtp"):
            pt, _, params = value.partition(" ")
            if pt == prefix:
                return params.strip()
        return None

    @property
    def ptime(self) -> int | None:
        """`a=ptime` in whole milliseconds (decimal values like `20.0` accepted)."""
        return _milliseconds(self.attribute("ptime"))

    @property
    def maxptime(self) -> int | None:
        return _milliseconds(self.attribute("maxptime"))

    @property
    def rtcp(self) -> RtcpAttribute | None:
        value = self.attribute("rtcp")
        return None if value is None else RtcpAttribute.parse(value)

    @property
    def rtcp_mux(self) -> bool:
        """`a=rtcp-mux` (RFC 5761 §5.1.1)."""
        return self.has_attribute("rtcp-mux")

    @property
    def crypto(self) -> list[str]:
        """Raw `a=crypto` values (RFC 4568 §9.1), in order."""
        return self.attribute_values("crypto")

    @property
    def mid(self) -> str | None:
        return self.attribute("mid")

    @property
    def candidates(self) -> list[str]:
        return self.attribute_values("candidate")


def _milliseconds(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return int(number) if 0 < number < 1e6 else None


@dataclass(repr=False)
class SessionDescription(_AttributeList):
    """A whole session description: session-level fields, then `media` sections in order."""

    origin: Origin
    session_name: str = "-"
    version: int = SDP_VERSION
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=lambda: [Timing()])
    time_zones: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        """Parse a session description; raise `SdpError` naming the offending line."""
        return _Parser().parse(data)

    def serialize(self) -> bytes:
        """The description as UTF-8 text with CRLF line ends, fields in RFC 8866 §5 order."""
        lines = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        lines += _optional("i", self.information) + _optional("u", self.uri)
        lines += [f"e={e}" for e in self.emails] + [f"p={p}" for p in self.phones]
        lines += _optional("c", self.connection)
        lines += [f"b={b}" for b in self.bandwidths]
        for timing in self.timings:
            lines.append(f"t={timing.start} {timing.stop}")
            lines += [f"r={r}" for r in timing.repeats]
        lines += _optional("z", self.time_zones) + _optional("k", self.key)
        lines += _attribute_lines(self.attributes)
        for media in self.media:
            lines += _media_lines(media)
        return (LINE_END.join(lines) + LINE_END).encode()

    def __bytes__(self) -> bytes:
        return self.serialize()

    def copy(self) -> SessionDescription:
        """A deep copy, safe to modify."""
        return copy.deepcopy(self)

    def media_connection(self, media: MediaDescription) -> Connection | None:
        """The connection for `media`: its own `c=` over the session-level one (§5.7)."""
        return media.connection or self.connection

    def media_direction(self, media: MediaDescription) -> Direction:
        """The direction of `media`: its own, else the session-level one, else sendrecv."""
        return media.direction or self.direction or Direction.SENDRECV


def _optional(kind: str, value: object | None) -> list[str]:
    return [] if value is None else [f"{kind}={value}"]


def _attribute_lines(attributes: list[Attribute]) -> list[str]:
    return [f"a={n}" if v is None else f"a={n}:{v}" for n, v in attributes]


def _media_lines(media: MediaDescription) -> list[str]:
    port = str(media.port) if media.port_count is None else f"{media.port}/{media.port_count}"
    lines = [" ".join(["m=" + media.media, port, media.proto, *media.formats])]
    lines += _optional("i", media.title) + _optional("c", media.connection)
    lines += [f"b={b}" for b in media.bandwidths] + _optional("k", media.key)
    return lines + _attribute_lines(media.attributes)


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # RFC 8866 §5 defaults to UTF-8; old gear writes Latin-1 session names.
        return data.decode("latin-1")


_NO_ORIGIN = Origin("-", 0, 0, "IN", "IP4", "0.0.0.0")


class _Parser:
    """One pass over the lines; `current` is the media section being filled, if any."""

    def __init__(self) -> None:
        self.sdp = SessionDescription(origin=_NO_ORIGIN, timings=[])
        self.current: MediaDescription | None = None
        self.seen: set[str] = set()

    def parse(self, data: bytes | str) -> SessionDescription:
        for number, raw in enumerate(_decode(data).split("\n"), 1):
            line = raw.removesuffix("\r")
            if line.strip():
                self._line(number, line)
        for kind in "vos":
            if kind not in self.seen:
                raise SdpError(f"missing {kind}= line")
        return self.sdp

    def _line(self, number: int, line: str) -> None:
        kind, value = line[0], line[2:]
        if line[1:2] != "=":
            raise SdpError("expected <type>=<value>", number, line)
        if kind not in _KNOWN_TYPES:
            raise SdpError(f"unknown line type {kind!r}", number, line)
        if not self.seen and kind != "v":
            raise SdpError("a session description starts with v=", number, line)
        if self.current is not None and kind in _SESSION_ONLY:
            raise SdpError(f"{kind}= line inside a media description", number, line)
        if kind in "vos" and kind in self.seen:
            raise SdpError(f"repeated {kind}= line", number, line)
        self.seen.add(kind)
        try:
            _HANDLERS[kind](self, value)
        except ValueError as exc:
            raise SdpError(str(exc), number, line) from None

    def _version(self, value: str) -> None:
        if value.strip() != str(SDP_VERSION):
            raise ValueError("unsupported SDP version")

    def _origin(self, value: str) -> None:
        self.sdp.origin = Origin.parse(value)

    def _session_name(self, value: str) -> None:
        self.sdp.session_name = value

    def _information(self, value: str) -> None:
        if self.current is None:
            self.sdp.information = _once(self.sdp.information, value, "i")
        else:
            self.current.title = _once(self.current.title, value, "i")

    def _uri(self, value: str) -> None:
        self.sdp.uri = _once(self.sdp.uri, value, "u")

    def _email(self, value: str) -> None:
        self.sdp.emails.append(value)

    def _phone(self, value: str) -> None:
        self.sdp.phones.append(value)

    def _connection(self, value: str) -> None:
        connection = Connection.parse(value)
        if self.current is None:
            self.sdp.connection = _once(self.sdp.connection, connection, "c")
        else:
            self.current.connection = _once(self.current.connection, connection, "c")

    def _bandwidth(self, value: str) -> None:
        target = self.sdp if self.current is None else self.current
        target.bandwidths.append(Bandwidth.parse(value))

    def _timing(self, value: str) -> None:
        self.sdp.timings.append(Timing.parse(value))

    def _repeat(self, value: str) -> None:
        if not self.sdp.timings:
            raise ValueError("r= line before any t= line")
        self.sdp.timings[-1].repeats.append(value)

    def _time_zones(self, value: str) -> None:
        self.sdp.time_zones = _once(self.sdp.time_zones, value, "z")

    def _key(self, value: str) -> None:
        if self.current is None:
            self.sdp.key = _once(self.sdp.key, value, "k")
        else:
            self.current.key = _once(self.current.key, value, "k")

    def _attribute(self, value: str) -> None:
        name, colon, attr_value = value.partition(":")
        if not name:
            raise ValueError("empty attribute name")
        target = self.sdp if self.current is None else self.current
        target.attributes.append((name, attr_value if colon else None))

    def _media(self, value: str) -> None:
        self.current = _parse_media_line(value)
        self.sdp.media.append(self.current)


def _once(existing: _T | None, value: _T, kind: str) -> _T:
    if existing is not None:
        raise ValueError(f"repeated {kind}= line")
    return value


def _parse_media_line(value: str) -> MediaDescription:
    """`<media> <port>[/<number of ports>] <proto> <fmt> ...` (§5.14)."""
    parts = value.split()
    if len(parts) < 3:
        raise ValueError("bad m= line, expected <media> <port> <proto> <fmt> ...")
    media, port_spec, proto, *formats = parts
    port_text, slash, count_text = port_spec.partition("/")
    if not is_decimal(port_text) or int(port_text) > MAX_PORT:
        raise ValueError("bad port in m= line")
    if slash and (not is_decimal(count_text) or int(count_text) < 1):
        raise ValueError("bad number of ports in m= line")
    count = int(count_text) if slash else None
    return MediaDescription(media, int(port_text), proto, formats, port_count=count)


_HANDLERS: dict[str, Callable[[_Parser, str], None]] = {
    "v": _Parser._version,
    "o": _Parser._origin,
    "s": _Parser._session_name,
    "i": _Parser._information,
    "u": _Parser._uri,
    "e": _Parser._email,
    "p": _Parser._phone,
    "c": _Parser._connection,
    "b": _Parser._bandwidth,
    "t": _Parser._timing,
    "r": _Parser._repeat,
    "z": _Parser._time_zones,
    "k": _Parser._key,
    "a": _Parser._attribute,
    "m": _Parser._media,
}
