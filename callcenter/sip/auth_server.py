"""The server side of Digest: stateless nonces, challenges and verification (RFC 3261 §22.4).

Nonces (RFC 7616 §3.3, §5.4) are ``base64url(issued_ms || random || mac)`` where ``issued_ms``
is the issue time in milliseconds (8 bytes, signed big-endian), ``random`` 12 random bytes and
``mac`` the first 16 bytes of HMAC-SHA-256 under the server key over a label, the realm and the
first two parts. Checking one needs only the key, so a restarted switch, or several switches
sharing a key behind a load balancer, accept each other's nonces. For that to hold, ``now`` must
be wall-clock time (``time.time()``) on every switch; clocks may differ by up to
``clock_skew`` seconds.

Replays: a bounded LRU of the ``(nonce, nc)`` pairs accepted with ``qop=auth`` rejects a second
use of the same pair while the nonce is fresh. It is per process: behind a load balancer a pair
could be replayed once on each switch until the nonce expires. With no qop (RFC 2069) there is
no nc, so only the nonce lifetime bounds replays; construct with ``allow_rfc2069=False`` to
refuse such clients.

``auth-int`` is never offered, so credentials that use it are MALFORMED.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .auth_digest import QOP_AUTH, DigestAlgorithm, compute_response
from .auth_params import DigestChallenge, DigestCredentials

__all__ = ["AuthResult", "AuthStatus", "DigestServer", "uri_matches"]

MIN_KEY_LENGTH = 16
_NONCE_LABEL = b"callcenter sip digest nonce\x00"
_OPAQUE_LABEL = b"callcenter sip digest opaque\x00"
_TIME_BYTES = 8
_RANDOM_BYTES = 12
_MAC_BYTES = 16
_NONCE_BYTES = _TIME_BYTES + _RANDOM_BYTES + _MAC_BYTES
_NONCE_RE = re.compile(rf"[A-Za-z0-9_-]{{{_NONCE_BYTES * 4 // 3}}}")
_NC_RE = re.compile(r"[0-9A-Fa-f]{8}")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_DUMMY_HA1 = {
    DigestAlgorithm.MD5: "0" * 32,
    DigestAlgorithm.SHA_256: "0" * 64,
}


class AuthStatus(enum.Enum):
    """What :meth:`DigestServer.verify` concluded, and what the caller answers.

    - ``OK``: authenticated as ``AuthResult.username``.
    - ``STALE``: the response is right but the nonce expired or its nc was already used:
      re-challenge (401/407) with ``stale=True``; not a failure.
    - ``INVALID``: wrong password, unknown user, or a nonce this key did not issue: re-challenge
      (401/407) with a fresh nonce and count a failure. The peer is never told which.
    - ``MALFORMED``: missing or ill-formed fields, another realm, an algorithm or qop we did
      not offer, a uri that is not the request-URI: answer 400 Bad Request.
    """

    OK = "ok"
    STALE = "stale"
    INVALID = "invalid"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class AuthResult:
    """Outcome of a verification; ``reason`` is a short phrase for logs, without secrets."""

    status: AuthStatus
    reason: str
    username: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is AuthStatus.OK


_URI_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):(?:(?P<user>[^@]*)@)?(?P<rest>.*)")


def _normalize_uri(uri: str) -> tuple[str, str | None, str, str] | None:
    match = _URI_RE.fullmatch(uri)
    if match is None:
        return None
    rest = match["rest"]
    cut = min((i for i in (rest.find(";"), rest.find("?")) if i >= 0), default=len(rest))
    return match["scheme"].lower(), match["user"], rest[:cut].lower(), rest[cut:]


def uri_matches(credentials_uri: str, request_uri: str) -> bool:
    """Whether the credentials' ``uri`` names the request-URI (RFC 7616 §3.4.6).

    Equal strings match; otherwise both must be ``scheme:[user@]hostport[;params][?headers]``
    with the same scheme and host (and port), compared case-insensitively. The user part,
    URI parameters and headers are not compared: deployed clients put ``;transport=UDP`` in
    the digest uri but not in the Request-URI (pyVoIP), or leave the user out (SIPp's
    ``sip:host:port`` for ``sip:2000@host:port``). The response digest binds whatever uri the
    client used, and replays are stopped by the nonce lifetime and the nc record.
    """
    if credentials_uri == request_uri:
        return True
    left, right = _normalize_uri(credentials_uri), _normalize_uri(request_uri)
    return left is not None and right is not None and (left[0], left[2]) == (right[0], right[2])


class _ReplayCache:
    """Bounded LRU of accepted ``(nonce, nc)`` pairs, each kept until its nonce goes stale."""

    __slots__ = ("_entries", "_max_entries")

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, int], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def seen(self, key: tuple[str, int], now: float) -> bool:
        self._expire(now)
        return key in self._entries

    def add(self, key: tuple[str, int], expires: float) -> None:
        self._entries[key] = expires
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self._entries:
            key, expires = next(iter(self._entries.items()))
            if expires >= now:  # kept while the nonce is still fresh (age <= ttl)
                return
            del self._entries[key]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class DigestServer:
    """Issues Digest challenges for one realm and verifies the credentials that answer them."""

    def __init__(
        self,
        realm: str,
        key: bytes,
        nonce_ttl: float = 300.0,
        algorithms: Iterable[str | DigestAlgorithm] = ("SHA-256", "MD5"),
        *,
        allow_rfc2069: bool = True,
        replay_cache_size: int = 100_000,
        clock_skew: float = 30.0,
    ) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"key must be at least {MIN_KEY_LENGTH} bytes")
        if nonce_ttl <= 0 or clock_skew < 0 or replay_cache_size < 1:
            raise ValueError("nonce_ttl and replay_cache_size must be positive, clock_skew >= 0")
        DigestChallenge(realm=realm, nonce="")  # validates the realm can be carried
        self.realm = realm
        self.nonce_ttl = float(nonce_ttl)
        self.allow_rfc2069 = allow_rfc2069
        self.clock_skew = float(clock_skew)
        self.algorithms = _order_algorithms(algorithms)
        self._key = bytes(key)
        self._realm_bytes = realm.encode("utf-8")
        self._opaque = _b64(self._mac(_OPAQUE_LABEL, b"")[:12])
        self._replays = _ReplayCache(replay_cache_size)

    def __repr__(self) -> str:
        names = ", ".join(algorithm.value for algorithm in self.algorithms)
        return f"DigestServer(realm={self.realm!r}, algorithms=({names}))"

    # -- nonces ------------------------------------------------------------------------------

    def _mac(self, label: bytes, payload: bytes) -> bytes:
        message = label + self._realm_bytes + b"\x00" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def new_nonce(self, now: float) -> str:
        """A fresh nonce stamped with ``now``."""
        stamp = round(now * 1000).to_bytes(_TIME_BYTES, "big", signed=True)
        payload = stamp + secrets.token_bytes(_RANDOM_BYTES)
        return _b64(payload + self._mac(_NONCE_LABEL, payload)[:_MAC_BYTES])

    def nonce_issued_at(self, nonce: str) -> float | None:
        """When a nonce of ours was issued; None if this key and realm did not issue it."""
        if not _NONCE_RE.fullmatch(nonce):
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce)
        except ValueError:  # binascii.Error included
            return None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(_NONCE_LABEL, payload)[:_MAC_BYTES]):
            return None
        return int.from_bytes(payload[:_TIME_BYTES], "big", signed=True) / 1000.0

    # -- challenges ----------------------------------------------------------------------------

    def challenges(self, now: float, *, stale: bool = False) -> list[DigestChallenge]:
        """One challenge per algorithm, most preferred first, sharing one nonce."""
        nonce = self.new_nonce(now)
        return [
            DigestChallenge(
                realm=self.realm,
                nonce=nonce,
                algorithm=algorithm.value,
                qop=(QOP_AUTH,),
                opaque=self._opaque,
                stale=stale,
            )
            for algorithm in self.algorithms
        ]

    def challenge(self, now: float, *, stale: bool = False) -> list[str]:
        """The ``WWW-Authenticate``/``Proxy-Authenticate`` values to send (RFC 8760 §2.4)."""
        return [challenge.serialize() for challenge in self.challenges(now, stale=stale)]

    # -- verification --------------------------------------------------------------------------

    def verify(
        self,
        credentials: DigestCredentials,
        *,
        method: str,
        now: float,
        lookup: Callable[[str, str], str | None],
        request_uri: str | None = None,
    ) -> AuthResult:
        """Check credentials against a user's stored HA1.

        ``lookup(username, base_algorithm)`` returns the :func:`compute_ha1` hex for this realm
        and ``"MD5"`` or ``"SHA-256"``, or None for an unknown user. Pass ``request_uri`` to
        have the credentials' ``uri`` checked with :func:`uri_matches` here; otherwise the
        caller must check it.
        """
        username = credentials.username
        algorithm = DigestAlgorithm.lookup(credentials.algorithm)
        if algorithm is None or algorithm not in self.algorithms:
            return AuthResult(AuthStatus.MALFORMED, "algorithm not offered", username)
        malformed = self._check_form(credentials, algorithm, request_uri)
        if malformed is not None:
            return AuthResult(AuthStatus.MALFORMED, malformed, username)
        issued = self.nonce_issued_at(credentials.nonce)
        if issued is None:
            return AuthResult(AuthStatus.INVALID, "nonce not issued by this server", username)
        if issued > now + self.clock_skew:
            return AuthResult(AuthStatus.INVALID, "nonce issued in the future", username)
        if credentials.opaque is not None and credentials.opaque != self._opaque:
            return AuthResult(AuthStatus.INVALID, "opaque not issued by this server", username)
        failure = self._check_response(credentials, algorithm, method, lookup)
        if failure is not None:
            return AuthResult(AuthStatus.INVALID, failure, username)
        return self._check_freshness(credentials, issued, now)

    def _check_form(
        self, credentials: DigestCredentials, algorithm: DigestAlgorithm, request_uri: str | None
    ) -> str | None:
        """The reason the credentials are MALFORMED, or None."""
        if credentials.realm != self.realm:
            return "realm mismatch"
        if not credentials.username:
            return "empty username"
        qop = credentials.qop
        if qop is None:
            if not (self.allow_rfc2069 and algorithm is DigestAlgorithm.MD5):
                return "qop missing"
        elif qop.lower() != QOP_AUTH:
            return "qop not offered"
        elif credentials.nc is None or not _NC_RE.fullmatch(credentials.nc):
            return "nc missing or malformed"
        elif not credentials.cnonce:
            return "cnonce missing"
        response = credentials.response
        if len(response) != algorithm.hex_length or not _HEX_RE.fullmatch(response):
            return "response malformed"
        if request_uri is not None and not uri_matches(credentials.uri, request_uri):
            return "uri does not match the request-URI"
        return None

    def _check_response(
        self,
        credentials: DigestCredentials,
        algorithm: DigestAlgorithm,
        method: str,
        lookup: Callable[[str, str], str | None],
    ) -> str | None:
        """The reason the response is wrong, or None when it is right."""
        stored = lookup(credentials.username, algorithm.base.value)
        reason = None
        if stored is None:
            reason = "unknown user"
        elif len(stored) != algorithm.hex_length or not _HEX_RE.fullmatch(stored):
            reason = "stored HA1 unusable for the algorithm"
        ha1 = _DUMMY_HA1[algorithm.base] if reason is not None or stored is None else stored
        expected = compute_response(
            ha1,
            algorithm=algorithm,
            method=method,
            uri=credentials.uri,
            nonce=credentials.nonce,
            qop=credentials.qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
        )
        # Same work for unknown users as for known ones, so timing does not tell them apart.
        matches = hmac.compare_digest(expected, credentials.response.lower())
        if reason is None and not matches:
            reason = "response mismatch"
        return reason

    def _check_freshness(
        self, credentials: DigestCredentials, issued: float, now: float
    ) -> AuthResult:
        username = credentials.username
        if now - issued > self.nonce_ttl:
            return AuthResult(AuthStatus.STALE, "nonce expired", username)
        if credentials.qop is not None and credentials.nc is not None:
            key = (credentials.nonce, int(credentials.nc, 16))
            if self._replays.seen(key, now):
                return AuthResult(AuthStatus.STALE, "nonce count reused", username)
            self._replays.add(key, issued + self.nonce_ttl)
        return AuthResult(AuthStatus.OK, "authenticated", username)


def _order_algorithms(algorithms: Iterable[str | DigestAlgorithm]) -> tuple[DigestAlgorithm, ...]:
    found: list[DigestAlgorithm] = []
    for item in algorithms:
        algorithm = item if isinstance(item, DigestAlgorithm) else DigestAlgorithm.lookup(item)
        if algorithm is None:
            raise ValueError("unsupported digest algorithm")
        if algorithm not in found:
            found.append(algorithm)
    if not found:
        raise ValueError("at least one algorithm is required")
    return tuple(found)  # the caller's order is the order of preference (RFC 8760 §2.4)
