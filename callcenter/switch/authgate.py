"""Who may use the switch: digest authentication of requests, with lock-out.

:class:`AuthGate` turns a request into a decision: :class:`Authenticated`, :class:`Challenge`
(401/407 with fresh nonces) or :class:`Rejected` (400 for garbled credentials, 403 while a
source or user is locked out after repeated failures). It follows the recipe of
:mod:`callcenter.sip.auth`; failure reasons go to the log, never to the peer, and never carry
credentials.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.sip.auth import (
    AuthLockout,
    AuthParseError,
    AuthStatus,
    DigestServer,
    parse_credentials,
)
from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.message import Request
from callcenter.sip.transaction import Endpoint

__all__ = ["AuthGate", "Authenticated", "Challenge", "Decision", "Rejected"]

log = logging.getLogger("callcenter.auth")


@dataclass(frozen=True, slots=True)
class Authenticated:
    username: str


@dataclass(frozen=True, slots=True)
class Challenge:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rejected:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)


Decision = Authenticated | Challenge | Rejected

HA1Lookup = Callable[[str, str], str | None]


class AuthGate:
    """Digest authentication of requests: 401 as a UAS (the switch uses it for REGISTER and
    INVITE), 407 as a proxy."""

    def __init__(self, server: DigestServer, lockout: AuthLockout, lookup: HA1Lookup) -> None:
        self.server = server
        self.lockout = lockout
        self.lookup = lookup
        self.failures = 0

    def check(self, request: Request, source: Endpoint, now: float, *, proxy: bool) -> Decision:
        status = 407 if proxy else 401
        credentials_header = "Proxy-Authorization" if proxy else "Authorization"
        challenge_header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        claimed = _claimed_user(request)
        wait = self.lockout.check(now, source.host, claimed)
        if wait > 0:
            return Rejected(403, "Locked Out", [("Retry-After", str(math.ceil(wait)))])
        credentials = None
        for value in request.headers.get_all(credentials_header):
            try:
                parsed = parse_credentials(value)
            except AuthParseError:
                return Rejected(400, "Bad Credentials")
            if parsed.realm == self.server.realm:
                credentials = parsed
                break
        if credentials is None:
            return self._challenge(status, challenge_header, now)
        result = self.server.verify(
            credentials,
            method=request.method,
            now=now,
            lookup=self.lookup,
            request_uri=str(request.uri),
        )
        if result.status is AuthStatus.OK and result.username is not None:
            self.lockout.record_success(now, source.host, result.username)
            return Authenticated(result.username)
        if result.status is AuthStatus.STALE:
            return self._challenge(status, challenge_header, now, stale=True)
        if result.status is AuthStatus.MALFORMED:
            log.info("malformed credentials from %s: %s", source.host, result.reason)
            return Rejected(400, "Bad Credentials")
        self.failures += 1
        log.info(
            "authentication failed",
            extra={"source": source.host, "user": credentials.username, "why": result.reason},
        )
        self.lockout.record_failure(now, source.host, credentials.username)
        return self._challenge(status, challenge_header, now)

    def _challenge(self, status: int, header: str, now: float, *, stale: bool = False) -> Challenge:
        return Challenge(status, [(header, v) for v in self.server.challenge(now, stale=stale)])


def _claimed_user(request: Request) -> str | None:
    try:
        address = request.to if request.method == "REGISTER" else request.from_
    except SipSyntaxError:
        return None
    return getattr(address.uri, "user", None)
