"""SIP requests and responses (RFC 3261 §7) with an ordered, case-insensitive header list.

Headers are kept as written (name canonicalised, value raw, folding undone) and parsed into
typed values when asked for; the values are cached until a header changes. A message from
:func:`~callcenter.sip.parser.parse_message` has already had Via, From, To, CSeq, Contact, Route
and Record-Route parsed once, so those accessors cannot raise on it. ``bytes(message)``
serializes it, recomputing ``Content-Length`` from the body and writing it last.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.grammar import is_token, split_list
from callcenter.sip.headers import CSeq, Via, canonical_name, parse_via_list
from callcenter.sip.status import reason_phrase
from callcenter.sip.uri import URI, Address, SipURI, parse_uri

__all__ = ["Headers", "Message", "Request", "Response", "make_response"]

SIP_VERSION = "SIP/2.0"
_T = TypeVar("_T")
_DIGITS = re.compile(r"[0-9]+\Z")
_TO_TAG = re.compile(r";[ \t]*tag[ \t]*=", re.IGNORECASE)


def _checked(name: str, value: str) -> str:
    """The canonical *name*, after refusing what would corrupt the serialized message."""
    if not is_token(name):
        raise SipSyntaxError(f"bad header name {name[:40]!r}")
    if "\r" in value or "\n" in value:
        raise SipSyntaxError(f"CR or LF in the value of {name[:40]}")
    return canonical_name(name)


class Headers:
    """An ordered multi-map of header lines; names compare case-insensitively.

    Values are strings as they appeared on one header line (after unfolding). List headers
    combined on one line stay combined; :meth:`values` splits them. Names must be tokens and
    values may not contain CR or LF (:class:`SipSyntaxError` otherwise), so a value taken
    from elsewhere can never inject a header line.
    """

    __slots__ = ("_cache", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._cache: dict[str, object] = {}
        self._items: list[tuple[str, str, str]] = [
            (name.lower(), name, value) for name, value in ((_checked(n, v), v) for n, v in items)
        ]

    @classmethod
    def _from_canonical(cls, items: list[tuple[str, str, str]]) -> Headers:
        h = cls.__new__(cls)
        h._items = items
        h._cache = {}
        return h

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of *name*, or *default*."""
        return self._first(canonical_name(name).lower(), default)

    def _first(self, key: str, default: str | None = None) -> str | None:
        for k, _, v in self._items:
            if k == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every header line's value for *name*, in order."""
        key = canonical_name(name).lower()
        return [v for k, _, v in self._items if k == key]

    def values(self, name: str) -> list[str]:
        """All list elements of *name* across its lines (``a, b`` + ``c`` → ``[a, b, c]``)."""
        return [item for line in self.get_all(name) for item in split_list(line)]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = canonical_name(name).lower()
        return any(k == key for k, _, _ in self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((n, v) for _, n, v in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, name: str, value: str) -> None:
        """Append a header line."""
        name = _checked(name, value)
        self._cache.clear()
        self._items.append((name.lower(), name, value))

    def prepend(self, name: str, value: str) -> None:
        """Insert a header line before every other (how a new top Via is added)."""
        name = _checked(name, value)
        self._cache.clear()
        self._items.insert(0, (name.lower(), name, value))

    def set(self, name: str, value: str) -> None:
        """Replace every line of *name* by one line, kept where the first one stood."""
        name = _checked(name, value)
        self._cache.clear()
        key = name.lower()
        for i, (k, _, _) in enumerate(self._items):
            if k == key:
                self._items[i] = (key, name, value)
                self._items[i + 1 :] = [t for t in self._items[i + 1 :] if t[0] != key]
                return
        self._items.append((key, name, value))

    def remove(self, name: str) -> None:
        self._cache.clear()
        key = canonical_name(name).lower()
        self._items = [t for t in self._items if t[0] != key]

    def remove_first_value(self, name: str) -> None:
        """Drop the first list element of *name* (e.g. the top Via or Route)."""
        self._cache.clear()
        key = canonical_name(name).lower()
        for i, (k, n, v) in enumerate(self._items):
            if k == key:
                rest = split_list(v)[1:]
                if rest:
                    self._items[i] = (k, n, ", ".join(rest))
                else:
                    del self._items[i]
                return

    def copy(self) -> Headers:
        return Headers._from_canonical(list(self._items))

    def serialize_into(self, out: list[str]) -> None:
        """Append ``"Name: value\\r\\n"`` lines, leaving out Content-Length."""
        out += [f"{n}: {v}\r\n" for k, n, v in self._items if k != "content-length"]

    def __repr__(self) -> str:
        return f"Headers({[(n, v) for _, n, v in self._items]!r})"


class Message:
    """What requests and responses share: headers, body and typed accessors."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: Headers | None = None, body: bytes = b"") -> None:
        self.headers = headers if headers is not None else Headers()
        self.body = body

    # -- typed accessors: Via, From, To, CSeq, Contact, Route and Record-Route are parsed once
    # and cached until a header changes; the returned objects are shared, so copy them
    # before changing them (the lists are fresh each time). --
    def release_cache(self) -> None:
        """Drop the parsed header values cached on this message (they are parsed again if
        read). Long-lived messages (a completed transaction's, a call's INVITE) hold far fewer
        objects that way, which keeps garbage-collection passes short."""
        self.headers._cache.clear()

    def _cached(self, key: str, build: Callable[[], _T]) -> _T:
        cache = self.headers._cache
        value = cache.get(key)
        if value is None:
            value = cache[key] = build()
        return value  # type: ignore[return-value]

    @property
    def call_id(self) -> str:
        value = self.headers._first("call-id")
        if not value:
            raise SipSyntaxError("missing Call-ID")
        return value

    @property
    def cseq(self) -> CSeq:
        value = self.headers._cache.get("cseq")
        if value is None:
            value = self.headers._cache["cseq"] = self._parse_cseq()
        return value  # type: ignore[return-value]

    def _parse_cseq(self) -> CSeq:
        value = self.headers._first("cseq")
        if value is None:
            raise SipSyntaxError("missing CSeq")
        return CSeq.parse(value)

    @property
    def vias(self) -> list[Via]:
        return parse_via_list(self.headers.get_all("Via"))

    @property
    def top_via(self) -> Via:
        value = self.headers._cache.get("via")
        if value is None:
            value = self.headers._cache["via"] = self._parse_top_via()
        return value  # type: ignore[return-value]

    def _parse_top_via(self) -> Via:
        value = self.headers._first("via")
        if value is None:
            raise SipSyntaxError("missing Via")
        first = split_list(value)
        if not first:
            raise SipSyntaxError("empty Via")
        return Via.parse(first[0])

    @property
    def from_(self) -> Address:
        value = self.headers._cache.get("from")
        if value is None:
            value = self.headers._cache["from"] = self._parse_from()
        return value  # type: ignore[return-value]

    def _parse_from(self) -> Address:
        value = self.headers._first("from")
        if value is None:
            raise SipSyntaxError("missing From")
        return Address.parse(value)

    @property
    def to(self) -> Address:
        value = self.headers._cache.get("to")
        if value is None:
            value = self.headers._cache["to"] = self._parse_to()
        return value  # type: ignore[return-value]

    def _parse_to(self) -> Address:
        value = self.headers._first("to")
        if value is None:
            raise SipSyntaxError("missing To")
        return Address.parse(value)

    @property
    def contacts(self) -> list[Address]:
        return list(self._address_list("contact"))

    @property
    def record_routes(self) -> list[Address]:
        return list(self._address_list("record-route"))

    @property
    def routes(self) -> list[Address]:
        return list(self._address_list("route"))

    def _address_list(self, key: str) -> list[Address]:
        """Every address of the list header *key* (lower-case), parsed once and cached."""
        cache = self.headers._cache
        value = cache.get(key)
        if value is None:
            value = cache[key] = [
                Address.parse(item)
                for k, _, line in self.headers._items
                if k == key
                for item in split_list(line)
            ]
        return value  # type: ignore[return-value]

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return value.split(";", 1)[0].strip().lower() if value else None

    def header_int(self, name: str) -> int | None:
        """An integer-valued header (Expires, Max-Forwards, RSeq...), or None when absent."""
        value = self.headers.get(name)
        if value is None:
            return None
        value = value.strip(" \t")
        if len(value) > 10 or not _DIGITS.match(value):
            raise SipSyntaxError(f"bad {name} value")
        return int(value)

    def option_tags(self, name: str) -> set[str]:
        """Option tags of Supported / Require / Proxy-Require, lower-cased."""
        return {t.lower() for t in self.headers.values(name)}

    # -- serialization: ``bytes(message)`` (Request and Response give the start line) --
    def _serialize(self, start_line: str) -> bytes:
        body = self.body
        out = [start_line]
        out += [f"{n}: {v}" for k, n, v in self.headers._items if k != "content-length"]
        out.append(f"Content-Length: {len(body)}\r\n\r\n")
        return "\r\n".join(out).encode() + body


class Request(Message):
    """A SIP request. ``uri`` is the parsed Request-URI."""

    __slots__ = ("method", "uri")

    def __init__(
        self,
        method: str,
        uri: URI | str,
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri: URI = parse_uri(uri) if isinstance(uri, str) else uri

    def __bytes__(self) -> bytes:
        return self._serialize(f"{self.method} {self.uri} {SIP_VERSION}")

    serialize = __bytes__

    @property
    def sip_uri(self) -> SipURI:
        if not isinstance(self.uri, SipURI):
            raise SipSyntaxError(f"Request-URI scheme {self.uri.scheme!r} is not SIP")
        return self.uri

    @property
    def branch(self) -> str | None:
        return self.top_via.branch

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} call-id={self.headers.get('Call-ID')!r}>"


class Response(Message):
    """A SIP response."""

    __slots__ = ("reason", "status_code")

    def __init__(
        self,
        status_code: int,
        reason: str | None = None,
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.status_code = status_code
        self.reason = reason if reason is not None else reason_phrase(status_code)

    def __bytes__(self) -> bytes:
        return self._serialize(f"{SIP_VERSION} {self.status_code} {self.reason}")

    serialize = __bytes__

    @property
    def is_provisional(self) -> bool:
        return self.status_code < 200

    @property
    def is_final(self) -> bool:
        return self.status_code >= 200

    def __repr__(self) -> str:
        call_id = self.headers.get("Call-ID")
        return f"<Response {self.status_code} {self.reason} call-id={call_id!r}>"


def _has_tag(request: Request, to_value: str) -> bool:
    """True when the request's To carries a tag header parameter (not a URI parameter)."""
    try:
        return request.to.tag is not None
    except SipSyntaxError:  # a partial request being answered with an error
        gt = to_value.rfind(">")
        params = to_value[gt + 1 :] if gt >= 0 else to_value[to_value.find(";") :]
        return _TO_TAG.search(params) is not None


def make_response(
    request: Request,
    status_code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """Build a response to *request*: Via, From, To, Call-ID and CSeq copied (§8.2.6.2).

    *to_tag* is added to To when the request's To has no tag (and the status is not 100).
    """
    items: list[tuple[str, str, str]] = []
    for k, n, v in request.headers._items:
        if k in ("via", "from", "call-id", "cseq"):
            items.append((k, n, v))
        elif k == "to":
            if to_tag and status_code != 100 and not _has_tag(request, v):
                v = f"{v};tag={to_tag}"
            items.append((k, n, v))
    if status_code == 100 and "Timestamp" in request.headers:
        ts = request.headers.get("Timestamp")
        if ts:
            items.append(("timestamp", "Timestamp", ts))
    headers = Headers._from_canonical(items)
    for name, value in extra:
        headers.add(name, value)
    return Response(status_code, reason, headers, body)
