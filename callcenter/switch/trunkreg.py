"""Outbound registration of the switch to providers' registrars (RFC 3261 §10.2).

For each trunk with ``register: true`` a :class:`TrunkRegistration` keeps a binding alive:
REGISTER, answer a 401/407 challenge once per nonce with the trunk's credentials, refresh
before expiry (at 85 % of the granted time), retry failures with exponential back-off capped at
five minutes, and un-REGISTER at shutdown. Sans-I/O: it sends through the transaction layer
and schedules on the B2BUA's timer heap.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from callcenter.sip.auth import DigestClient
from callcenter.sip.ids import random_hex
from callcenter.sip.message import Headers, Request, Response
from callcenter.sip.transaction import ClientTransaction, Endpoint, TransactionLayer, new_branch
from callcenter.sip.uri import SipURI
from callcenter.switch.timers import TimerHandle, TimerHeap

__all__ = ["RegistrationState", "TrunkRegistration"]

log = logging.getLogger("callcenter.trunk")

MAX_BACKOFF = 300.0


class RegistrationState(enum.Enum):
    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"
    UNREGISTERED = "unregistered"


class TrunkRegistration:
    """Keeps one binding at a provider's registrar."""

    def __init__(
        self,
        *,
        name: str,
        registrar: Endpoint,
        domain: str,
        username: str,
        password: str,
        expires: int,
        transactions: TransactionLayer,
        timers: TimerHeap,
        local: Callable[[str], Endpoint],
        user_agent: str = "callcenter",
    ) -> None:
        self.name = name
        self.registrar = registrar
        self.domain = domain
        self.username = username
        self.expires = expires
        self.txl = transactions
        self.timers = timers
        self.local = local
        self.user_agent = user_agent
        self._client = DigestClient(username, password)
        self.state = RegistrationState.IDLE
        self.call_id = random_hex(12)
        self.tag = random_hex(6)
        self.cseq = 0
        self.expires_at: float | None = None
        self._backoff = 5.0
        self._timer: TimerHandle | None = None
        self._answered_nonces: set[str] = set()
        self._unregistering = False
        self._stopped = False
        self._sent_expires = expires

    def start(self, now: float) -> None:
        self._send(now, self.expires, authorization=None)

    def stop(self, now: float) -> None:
        """Un-REGISTER (Expires: 0) if a binding is held, or as soon as one in flight is."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stopped = True
        if self.state is RegistrationState.REGISTERED:
            self._unregister(now)
        self.state = RegistrationState.UNREGISTERED

    def _unregister(self, now: float) -> None:
        self._unregistering = True
        self._answered_nonces.clear()
        self._send(now, 0, authorization=None)

    def _send(self, now: float, expires: int, authorization: tuple[str, str] | None) -> None:
        self.cseq += 1
        self._sent_expires = expires
        local = self.local(self.registrar.transport)
        transport = "" if local.transport == "udp" else f";transport={local.transport}"
        uri = SipURI(self.domain)
        headers = Headers(
            [
                (
                    "Via",
                    f"SIP/2.0/{local.transport.upper()} {local.host}:{local.port}"
                    f";rport;branch={new_branch()}",
                ),
                ("Max-Forwards", "70"),
                ("From", f"<sip:{self.username}@{self.domain}>;tag={self.tag}"),
                ("To", f"<sip:{self.username}@{self.domain}>"),
                ("Call-ID", self.call_id),
                ("CSeq", f"{self.cseq} REGISTER"),
                ("Contact", f"<sip:{self.username}@{local.host}:{local.port}{transport}>"),
                ("Expires", str(expires)),
                ("User-Agent", self.user_agent),
            ]
        )
        if authorization is not None:
            headers.add(*authorization)
        request = Request("REGISTER", uri, headers)
        tx = self.txl.send_request(request, self.registrar, now)
        tx.tu_data = self
        if not self._unregistering:
            self.state = RegistrationState.REGISTERING

    def on_response(self, tx: ClientTransaction, response: Response, now: float) -> None:
        status = response.status_code
        if status < 200:
            return
        if self._unregistering:
            if status in (401, 407):  # the removal is challenged like any REGISTER
                self._on_challenge(tx.request, response, now)
            return
        if self._stopped:  # stopped while a REGISTER was out: remove what it may have made
            if 200 <= status < 300:
                self._unregister(now)
            elif status in (401, 407):
                self._on_challenge(tx.request, response, now)
            return
        if status in (401, 407):
            self._on_challenge(tx.request, response, now)
        elif 200 <= status < 300:
            granted = _granted_expires(response, self.expires)
            if granted <= 0:
                self._fail(now, "registrar granted no time")
                return
            self.state = RegistrationState.REGISTERED
            self.expires_at = now + granted
            self._backoff = 5.0
            self._schedule(now + max(granted * 0.85, min(granted, 5)))
            log.info("trunk %s registered for %d s", self.name, granted)
        elif status == 423:
            min_expires = response.header_int("Min-Expires") or self.expires
            self.expires = max(self.expires, min_expires)
            self._send(now, self.expires, authorization=None)
        else:
            self._fail(now, f"{status} {response.reason}")

    def on_timeout(self, now: float) -> None:
        self._fail(now, "timeout")

    def _on_challenge(self, request: Request, response: Response, now: float) -> None:
        header = "WWW-Authenticate" if response.status_code == 401 else "Proxy-Authenticate"
        try:
            challenge = self._client.choose_challenge(response.headers.get_all(header))
        except ValueError:
            self._fail(now, "unusable challenge")
            return
        if challenge.nonce in self._answered_nonces and not challenge.stale:
            self._fail(now, "credentials rejected")
            return
        self._answered_nonces.add(challenge.nonce)
        value = self._client.authorize(challenge, method="REGISTER", uri=str(request.uri))
        name = "Authorization" if response.status_code == 401 else "Proxy-Authorization"
        self._send(now, self._sent_expires, authorization=(name, value))

    def _fail(self, now: float, why: str) -> None:
        if self._stopped:
            return
        self.state = RegistrationState.FAILED
        log.warning(
            "trunk %s registration failed (%s); retry in %.0f s", self.name, why, self._backoff
        )
        self._schedule(now + self._backoff)
        self._backoff = min(self._backoff * 2, MAX_BACKOFF)

    def _schedule(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._answered_nonces.clear()
        self._timer = self.timers.schedule(at, self._refresh)

    def _refresh(self, now: float) -> None:
        self._timer = None
        self._send(now, self.expires, authorization=None)


def _granted_expires(response: Response, asked: int) -> int:
    """The expiry the registrar granted: our Contact's expires param, else Expires, else asked."""
    for contact in response.contacts:
        raw = contact.params.get("expires")
        if raw and raw.isdigit():
            return int(raw)
    value = response.header_int("Expires")
    return value if value is not None else asked
