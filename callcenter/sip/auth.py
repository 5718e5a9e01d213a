"""SIP Digest authentication, sans-I/O: RFC 3261 §22, RFC 7616, RFC 8760.

Everything here works on header *values*, methods, request-URIs and bodies, with time passed in
as ``now``; nothing reads a clock or touches the network. The parts:

- :mod:`.auth_params` — :class:`DigestChallenge`, :class:`DigestCredentials`,
  :func:`parse_challenge`, :func:`parse_credentials` and the errors.
- :mod:`.auth_digest` — :class:`DigestAlgorithm`, :func:`compute_ha1`,
  :func:`compute_response`, the client (:class:`DigestClient`, :func:`choose_challenge`).
- :mod:`.auth_server` — :class:`DigestServer` (stateless HMAC nonces, challenges,
  verification), :class:`AuthResult`, :func:`uri_matches`.
- :mod:`.auth_lockout` — :class:`AuthLockout`, slowing repeated failures.

A UAS or registrar answering one request::

    wait = lockout.check(now, source, claimed_username)
    if wait:                                   # blocked: no challenge, no evaluation
        answer 403 Forbidden, Retry-After: ceil(wait)
    elif no Authorization value has realm == server.realm:
        answer 401 with one WWW-Authenticate per value of server.challenge(now)
    else:
        credentials = parse_credentials(value)  # AuthParseError -> 400 Bad Request
        result = server.verify(credentials, method=..., now=now, lookup=...,
                               request_uri=str(request_uri))
        OK        -> lockout.record_success(...); go on as result.username
        STALE     -> 401 with server.challenge(now, stale=True)
        INVALID   -> lockout.record_failure(...); 401 with server.challenge(now)
        MALFORMED -> 400 Bad Request (log result.reason)

A proxy uses 407, ``Proxy-Authenticate`` and ``Proxy-Authorization`` instead (RFC 3261 §22.3).
``reason`` strings are for logs: they tell "unknown user" from "response mismatch", which the
peer must never see. Never log whole Authorization values: their response, with the nonces,
allows offline password guessing.

Decisions:

- Server: qop ``auth`` only; ``auth-int`` is not offered, so credentials using it are
  MALFORMED. The client computes ``auth-int`` when a server offers nothing else.
- No qop (RFC 2069) is accepted from MD5 clients unless ``allow_rfc2069=False``; such clients
  have no nc, so only the nonce lifetime limits replays.
- A nonce this key did not issue (forged, from another key or realm, garbled) is INVALID,
  like a wrong password: the peer gets a fresh challenge and a failure is counted.
- A reused ``(nonce, nc)`` is STALE rather than INVALID: the request is refused, but phones
  that reuse nc are re-challenged without being counted as guessing.
- ``-sess`` algorithms are computed and may be offered, but are not by default.
"""

from __future__ import annotations

from .auth_digest import (
    QOP_AUTH,
    QOP_AUTH_INT,
    DigestAlgorithm,
    DigestClient,
    choose_challenge,
    compute_ha1,
    compute_response,
)
from .auth_lockout import AuthLockout
from .auth_params import (
    AuthError,
    AuthParseError,
    DigestChallenge,
    DigestCredentials,
    UnsupportedDigestError,
    parse_challenge,
    parse_credentials,
)
from .auth_server import AuthResult, AuthStatus, DigestServer, uri_matches

__all__ = [
    "QOP_AUTH",
    "QOP_AUTH_INT",
    "AuthError",
    "AuthLockout",
    "AuthParseError",
    "AuthResult",
    "AuthStatus",
    "DigestAlgorithm",
    "DigestChallenge",
    "DigestClient",
    "DigestCredentials",
    "DigestServer",
    "UnsupportedDigestError",
    "choose_challenge",
    "compute_ha1",
    "compute_response",
    "parse_challenge",
    "parse_credentials",
    "uri_matches",
]
