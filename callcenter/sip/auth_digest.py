"""Digest computations (RFC 7616 §3.4.1-3.4.3, RFC 8760 for SIP) and the client side.

- Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess. SHA-512-256 (RFC 8760) is not computed;
  a challenge offering it is skipped by :func:`choose_challenge`.
- qop: ``auth``, ``auth-int`` (client side only: the body is hashed into A2) and no qop at all
  (RFC 2069, still sent by old phones).
- The client prefers ``auth`` over ``auth-int`` when both are offered, generates a fresh cnonce
  for each request and counts ``nc`` per nonce.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from enum import Enum

from .auth_params import (
    AuthParseError,
    DigestChallenge,
    DigestCredentials,
    UnsupportedDigestError,
    parse_challenge,
)

__all__ = [
    "QOP_AUTH",
    "QOP_AUTH_INT",
    "DigestAlgorithm",
    "DigestClient",
    "choose_challenge",
    "compute_ha1",
    "compute_response",
]

QOP_AUTH = "auth"
QOP_AUTH_INT = "auth-int"

_MAX_TRACKED_NONCES = 64  # nonce counts a client remembers (one per realm in practice)


class DigestAlgorithm(Enum):
    """The algorithm tokens of RFC 7616 §3.3 that this implementation computes."""

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA_256 = "SHA-256"
    SHA_256_SESS = "SHA-256-sess"

    @classmethod
    def lookup(cls, token: str | None) -> DigestAlgorithm | None:
        """The algorithm a token names (case-insensitive); absent means MD5; unknown is None."""
        if token is None:
            return cls.MD5
        return _BY_TOKEN.get(token.lower())

    @property
    def base(self) -> DigestAlgorithm:
        """The algorithm without ``-sess``: the one a stored HA1 is computed with."""
        return DigestAlgorithm.SHA_256 if self.hash_name == "sha256" else DigestAlgorithm.MD5

    @property
    def is_session(self) -> bool:
        return self.value.endswith("-sess")

    @property
    def hash_name(self) -> str:
        """The :mod:`hashlib` name."""
        return "sha256" if self.value.startswith("SHA-256") else "md5"

    @property
    def hex_length(self) -> int:
        """Length of a digest in lower-case hex (32 for MD5, 64 for SHA-256)."""
        return 64 if self.hash_name == "sha256" else 32

    @property
    def preference(self) -> int:
        """Higher is preferred (RFC 8760 §2.4: SHA-256 before MD5)."""
        return _PREFERENCE[self]


_BY_TOKEN = {algorithm.value.lower(): algorithm for algorithm in DigestAlgorithm}
_PREFERENCE = {
    DigestAlgorithm.SHA_256: 4,
    DigestAlgorithm.SHA_256_SESS: 3,
    DigestAlgorithm.MD5: 2,
    DigestAlgorithm.MD5_SESS: 1,
}


def _algorithm(algorithm: DigestAlgorithm | str) -> DigestAlgorithm:
    if isinstance(algorithm, DigestAlgorithm):
        return algorithm
    found = DigestAlgorithm.lookup(algorithm)
    if found is None:
        raise UnsupportedDigestError("unsupported digest algorithm")
    return found


def _hex_digest(algorithm: DigestAlgorithm, data: str | bytes) -> str:
    # surrogatepass: a peer's odd text must hash (and then mismatch), never raise.
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return hashlib.new(algorithm.hash_name, raw).hexdigest()


def compute_ha1(
    username: str, realm: str, password: str, algorithm: DigestAlgorithm | str = "MD5"
) -> str:
    """``H(username ":" realm ":" password)`` in lower-case hex (RFC 7616 §3.4.2).

    For a ``-sess`` algorithm this is the storable part; :func:`compute_response` folds in the
    nonce and cnonce. A registrar stores this value per user and base algorithm instead of the
    password.
    """
    return _hex_digest(_algorithm(algorithm), f"{username}:{realm}:{password}")


def compute_response(
    ha1: str,
    *,
    algorithm: DigestAlgorithm | str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``response`` value (RFC 7616 §3.4.1), given the stored HA1 of :func:`compute_ha1`.

    With ``qop`` ``auth`` or ``auth-int`` (``nc`` and ``cnonce`` required)::

        response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(A2))

    without qop (RFC 2069) ``response = H(HA1 ":" nonce ":" H(A2))``. ``A2`` is
    ``method ":" uri``, followed by ``":" H(body)`` for ``auth-int``. ``-sess`` algorithms use
    ``H(HA1 ":" nonce ":" cnonce)`` as HA1.
    """
    digest = _algorithm(algorithm)
    ha1 = ha1.lower()
    if digest.is_session:
        if cnonce is None:
            raise UnsupportedDigestError("a -sess algorithm needs a cnonce")
        ha1 = _hex_digest(digest, f"{ha1}:{nonce}:{cnonce}")
    a2 = f"{method}:{uri}"
    if qop is not None and qop.lower() == QOP_AUTH_INT:
        a2 = f"{a2}:{_hex_digest(digest, body)}"
    elif qop is not None and qop.lower() != QOP_AUTH:
        raise UnsupportedDigestError("unsupported qop")
    ha2 = _hex_digest(digest, a2)
    if qop is None:
        return _hex_digest(digest, f"{ha1}:{nonce}:{ha2}")
    if nc is None or cnonce is None:
        raise UnsupportedDigestError("qop needs nc and cnonce")
    return _hex_digest(digest, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def _pick_qop(offered: tuple[str, ...] | None) -> str | None:
    """``auth`` when offered, else ``auth-int``; None for an RFC 2069 challenge."""
    if offered is None:
        return None
    lowered = {option.lower() for option in offered}
    for qop in (QOP_AUTH, QOP_AUTH_INT):
        if qop in lowered:
            return qop
    raise UnsupportedDigestError("no supported qop offered")


def _answerable(challenge: DigestChallenge) -> DigestAlgorithm | None:
    algorithm = DigestAlgorithm.lookup(challenge.algorithm)
    if algorithm is None:
        return None
    try:
        qop = _pick_qop(challenge.qop)
    except UnsupportedDigestError:
        return None
    if qop is None and algorithm.is_session:
        return None
    return algorithm


def choose_challenge(values: Iterable[str]) -> DigestChallenge:
    """Of several challenge header values, the one with the strongest algorithm we can answer.

    Values that do not parse, use another scheme, or offer only what we cannot compute are
    skipped; among equals the first wins. Raise :class:`UnsupportedDigestError` if none is left.
    """
    best: DigestChallenge | None = None
    best_preference = 0
    for value in values:
        try:
            challenge = parse_challenge(value)
        except AuthParseError:
            continue
        algorithm = _answerable(challenge)
        if algorithm is not None and algorithm.preference > best_preference:
            best, best_preference = challenge, algorithm.preference
    if best is None:
        raise UnsupportedDigestError("no supported Digest challenge")
    return best


def _default_cnonce() -> str:
    return secrets.token_urlsafe(18)


class DigestClient:
    """Answers Digest challenges for one username and password.

    The password is kept only to compute HA1 for whatever realm challenges us; it never
    appears in ``repr``/``str``.
    """

    __slots__ = ("_cnonce_factory", "_nonce_counts", "_password", "username")

    def __init__(
        self,
        username: str,
        password: str,
        *,
        cnonce_factory: Callable[[], str] | None = None,
    ) -> None:
        self.username = username
        self._password = password
        self._cnonce_factory = cnonce_factory or _default_cnonce
        self._nonce_counts: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"DigestClient(username={self.username!r})"

    def choose_challenge(self, values: Iterable[str]) -> DigestChallenge:
        """Same as :func:`choose_challenge`."""
        return choose_challenge(values)

    def authorize(
        self, challenge: DigestChallenge | str, *, method: str, uri: str, body: bytes = b""
    ) -> str:
        """The ``Authorization`` (or ``Proxy-Authorization``) value answering ``challenge``.

        ``uri`` is the request-URI of the request being sent; ``body`` matters only when the
        server offers nothing but ``auth-int``. Raise :class:`UnsupportedDigestError` for an
        algorithm or qop we cannot compute and AuthParseError for an unparsable challenge.
        """
        if isinstance(challenge, str):
            challenge = parse_challenge(challenge)
        algorithm = DigestAlgorithm.lookup(challenge.algorithm)
        if algorithm is None:
            raise UnsupportedDigestError("unsupported digest algorithm")
        qop = _pick_qop(challenge.qop)
        nc = cnonce = None
        if qop is not None:
            nc = f"{self._next_count(challenge.nonce):08x}"
            cnonce = self._cnonce_factory()
        elif algorithm.is_session:
            raise UnsupportedDigestError("a -sess algorithm needs qop")
        ha1 = compute_ha1(self.username, challenge.realm, self._password, algorithm)
        response = compute_response(
            ha1,
            algorithm=algorithm,
            method=method,
            uri=uri,
            nonce=challenge.nonce,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
            body=body,
        )
        credentials = DigestCredentials(
            username=self.username,
            realm=challenge.realm,
            nonce=challenge.nonce,
            uri=uri,
            response=response,
            algorithm=challenge.algorithm,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
            opaque=challenge.opaque,
        )
        return credentials.serialize()

    def _next_count(self, nonce: str) -> int:
        count = self._nonce_counts.pop(nonce, 0) + 1
        self._nonce_counts[nonce] = count  # re-inserted: the dict stays in least-recent order
        while len(self._nonce_counts) > _MAX_TRACKED_NONCES:
            del self._nonce_counts[next(iter(self._nonce_counts))]
        return count
