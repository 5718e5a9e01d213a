"""The back-to-back user agent: every call is two (or more) dialogs the switch joins.

Sans-I/O. :class:`B2BUA` consumes transaction-layer events and the current time, drives the
:class:`~callcenter.sip.transaction.TransactionLayer` (which owns retransmissions), and
reports what must be persisted (CDRs, registration changes) through callbacks. The asyncio
shell in :mod:`callcenter.switch.service` only moves bytes and arms one timer.

Behaviour (RFC 3261 unless stated): 100 Trying at once; 18x relayed with our To-tag; the first
2xx wins and the other forks are cancelled; CANCEL → 487 upstream and CANCEL downstream; the
best final response is relayed when every fork fails (§16.7 rule, simplified); BYE on either
side ends the other; re-INVITE/UPDATE/INFO are relayed across (hold/resume pass through);
no-answer timeout; Max-Forwards 0 → 483; an INVITE carrying a Call-ID the switch itself
generated → 482; an INVITE without a usable Contact → 400. A re-INVITE that would overlap
another INVITE transaction on either leg is refused (491 for glare, 500 for a second one from
the same side, §14). A transport failure acts as a 503 from that side; a request whose
handling raised still gets a final response (500), so no server transaction is left waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.events import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionEvent,
    TransactionTimeout,
    TransportFailed,
)
from callcenter.sip.ids import random_hex
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.status import reason_phrase
from callcenter.sip.transaction import (
    ClientTransaction,
    Endpoint,
    ServerTransaction,
    TransactionLayer,
    TransactionState,
)
from callcenter.sip.uri import SipURI
from callcenter.switch.authgate import Authenticated, AuthGate, Challenge, Rejected
from callcenter.switch.call import (
    Call,
    CallState,
    Disposition,
    Leg,
    LegState,
    MediaRejected,
    PassThroughSdp,
    SessionDescriptionHandler,
    Side,
)
from callcenter.switch.inleg import InDialogRelay
from callcenter.switch.outbound import OutboundRequests
from callcenter.switch.registrar import LocationService
from callcenter.switch.routing import Dialplan, TrunkTarget
from callcenter.switch.timers import TimerHeap
from callcenter.switch.trunkreg import TrunkRegistration

__all__ = ["B2BUA", "SwitchSettings", "TrunkPeer"]

log = logging.getLogger("callcenter.switch")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REGISTER"
SUPPORTED_OPTIONS = frozenset({"100rel", "replaces", "timer", "path", "outbound", "gruu"})
KNOWN_METHODS = frozenset(
    {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "UPDATE", "PRACK", "REGISTER",
     "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "REFER"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TrunkPeer:
    """A static SIP peer: calls from its address are trusted; routes can send calls to it."""

    name: str
    endpoint: Endpoint
    match_source_port: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SwitchSettings:
    domain: str
    user_agent: str = "callcenter"
    no_answer_timeout: float = 60.0
    max_forwards: int = 70


def new_tag() -> str:
    return random_hex(6)


class B2BUA:
    """Joins caller and callee dialogs; see the module docstring for the rules."""

    def __init__(
        self,
        transactions: TransactionLayer,
        settings: SwitchSettings,
        *,
        location: LocationService,
        dialplan: Dialplan,
        auth: AuthGate,
        trunks: list[TrunkPeer],
        extension_names: dict[str, str],
        local: Callable[[str], Endpoint],
        sdp: SessionDescriptionHandler | None = None,
        on_call_ended: Callable[[Call], None] = lambda call: None,
        on_registration: Callable[[list[object], list[object]], None] = lambda s, r: None,
    ) -> None:
        self.txl = transactions
        self.settings = settings
        self.location = location
        self.dialplan = dialplan
        self.auth = auth
        self.trunks = {t.name: t for t in trunks}
        self.extension_names = extension_names
        self.local = local
        self.sdp = sdp or PassThroughSdp()
        self.on_call_ended = on_call_ended
        self.on_registration = on_registration
        self.timers = TimerHeap()
        self.calls: dict[str, Call] = {}
        self.dialogs: dict[tuple[str, str], Leg] = {}
        self.callee_call_ids: dict[str, Leg] = {}
        self.accepting = True
        self.out = OutboundRequests(self)
        self.relay = InDialogRelay(self)
        self.counters: dict[str, int] = {}

    # ------------------------------------------------------------------ pump
    def handle_events(self, events: list[TransactionEvent], now: float) -> None:
        for event in events:
            try:
                self._dispatch(event, now)
            except Exception:  # one bad event must not stop the switch
                log.exception("error handling %s", type(event).__name__)
                self._count("event_errors")
                self._answer_after_error(event, now)

    def _answer_after_error(self, event: TransactionEvent, now: float) -> None:
        """Every request gets a final response, even when handling it failed: an unanswered
        server transaction has no timer and would stay forever. A call it made is ended."""
        match event:
            case RequestReceived(transaction=tx) | CancelReceived(cancel_transaction=tx):
                pass
            case _:
                return
        try:
            leg = tx.tu_data
            if isinstance(leg, Leg) and leg.call.state is not CallState.ENDED:
                self.abandon(leg.call, 500, None, Disposition.FAILED, now)
            if tx.state in (TransactionState.TRYING, TransactionState.PROCEEDING):
                self.reply(tx, 500, now)
        except Exception:
            log.exception("could not answer a request after an error")

    def get_timer(self) -> float | None:
        a = self.txl.get_timer()
        b = self.timers.next_deadline()
        if a is None:
            return b
        return a if b is None else min(a, b)

    def handle_timer(self, now: float) -> None:
        self.handle_events(self.txl.handle_timer(now), now)
        self.timers.run_due(now)

    def _dispatch(self, event: TransactionEvent, now: float) -> None:
        match event:
            case RequestReceived(transaction=tx):
                self._on_request(tx, now)
            case ResponseReceived(transaction=tx, response=response):
                self._on_response(tx, response, now)
            case AckReceived(request=ack):
                self.relay.on_ack(ack, now)
            case CancelReceived(cancel_transaction=ctx, invite_transaction=itx):
                self._on_cancel(ctx, itx, now)
            case StrayResponse(response=response):
                self.out.on_stray_response(response, now)
            case TransactionTimeout(transaction=tx):
                self._on_timeout(tx, 408, now)
            case TransportFailed(transaction=tx):
                self._on_timeout(tx, 503, now)
            case _:
                pass

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    # ------------------------------------------------------------- requests
    def _on_request(self, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        method = request.method
        self._count(f"requests_{method.lower()}" if method in KNOWN_METHODS else "requests_other")
        if request.to.tag is not None:
            self.relay.on_request(tx, now)
            return
        if method not in KNOWN_METHODS:
            self.reply(tx, 501, now, extra=[("Allow", ALLOW)])
            return
        if not request.uri.scheme.startswith(("sip", "tel")):
            self.reply(tx, 416, now)
            return
        if method not in ("REGISTER", "OPTIONS", "CANCEL") and self._reject_unsupported(tx, now):
            return
        handler = {
            "INVITE": self._on_invite,
            "REGISTER": self._on_register,
            "OPTIONS": self._on_options,
        }.get(method)
        if handler is not None:
            handler(tx, now)
        elif method in ("BYE", "INFO", "UPDATE", "PRACK", "NOTIFY"):
            self.reply(tx, 481, now)
        elif method == "SUBSCRIBE":
            self.reply(tx, 489, now)
        else:
            self.reply(tx, 405, now, extra=[("Allow", ALLOW)])

    def _reject_unsupported(self, tx: ServerTransaction, now: float) -> bool:
        required = tx.request.option_tags("Require")
        unsupported = sorted(required - SUPPORTED_OPTIONS)
        if unsupported:
            self.reply(tx, 420, now, extra=[("Unsupported", ", ".join(unsupported))])
            return True
        return False

    def reply(
        self,
        tx: ServerTransaction,
        status: int,
        now: float,
        reason: str | None = None,
        *,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        to_tag: str | None = None,
    ) -> None:
        headers = list(extra or ())
        headers.append(("Server", self.settings.user_agent))
        response = make_response(
            tx.request, status, reason, to_tag=to_tag or new_tag(), extra=headers, body=body
        )
        self.txl.send_response(tx, response, now)

    def _on_options(self, tx: ServerTransaction, now: float) -> None:
        self.reply(
            tx,
            200,
            now,
            extra=[
                ("Allow", ALLOW),
                ("Accept", "application/sdp"),
                ("Supported", "100rel, replaces"),
            ],
        )

    def trunk_for(self, source: Endpoint) -> TrunkPeer | None:
        for trunk in self.trunks.values():
            ep = trunk.endpoint
            if ep.host == source.host and (not trunk.match_source_port or ep.port == source.port):
                return trunk
        return None

    # ------------------------------------------------------------- register
    def _on_register(self, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        to_uri = request.to.uri
        if not isinstance(to_uri, SipURI) or not to_uri.user:
            self.reply(tx, 400, now, "Bad To")
            return
        if not self.dialplan.is_extension(to_uri.user):
            self.reply(tx, 404, now)
            return
        decision = self.auth.check(request, tx.source, now, proxy=False)
        if not self._auth_ok(tx, decision, to_uri.user, now):
            return
        aor = f"sip:{to_uri.user}@{self.settings.domain}"
        source = f"{tx.source.transport}:{tx.source.host}:{tx.source.port}"
        outcome = self.location.register(request, aor, source, now)
        if outcome.saved or outcome.removed:
            try:
                self.on_registration(list(outcome.saved), list(outcome.removed))
            except Exception:  # the binding holds in memory; persistence is best effort
                log.exception("registration hook failed for %s", aor)
        extra = list(outcome.headers)
        if outcome.status == 200:
            extra.append(("Date", _http_date(now)))
        self.reply(tx, outcome.status, now, outcome.reason, extra=extra)

    def _auth_ok(
        self, tx: ServerTransaction, decision: object, user: str | None, now: float
    ) -> bool:
        match decision:
            case Authenticated(username=name):
                if user is not None and name != user:
                    self.reply(tx, 403, now, "Credentials do not match the identity")
                    return False
                return True
            case Challenge(status=status, headers=headers):
                self.reply(tx, status, now, extra=headers)
            case Rejected(status=status, reason=reason, headers=headers):
                self.reply(tx, status, now, reason, extra=headers)
        return False

    # --------------------------------------------------------------- invite
    def _on_invite(self, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        if not self.accepting:
            self.reply(tx, 503, now, extra=[("Retry-After", "30")])
            return
        if request.call_id in self.callee_call_ids:
            self.reply(tx, 482, now)
            return
        max_forwards = request.header_int("Max-Forwards")
        max_forwards = self.settings.max_forwards if max_forwards is None else max_forwards
        if max_forwards <= 0:
            self.reply(tx, 483, now)
            return
        if not _has_contact(request):  # §8.1.1.8: a dialog needs the caller's Contact
            self.reply(tx, 400, now, "Missing Contact")
            return
        trunk = self.trunk_for(tx.source)
        from_uri = request.from_.uri
        caller = getattr(from_uri, "user", None) or "anonymous"
        if trunk is None:
            # 401, not 407: the switch is the caller's UAS (RFC 3261 §22.1), not a proxy
            decision = self.auth.check(request, tx.source, now, proxy=False)
            if not self._auth_ok(tx, decision, caller, now):
                return
        dialed = _dialed_number(request)
        call = Call(
            caller=caller,
            callee=dialed or "",
            direction="inbound" if trunk else "internal",
            created_at=now,
            trunk=trunk.name if trunk else None,
            caller_display=request.from_.display_name,
        )
        a = Leg(call, Side.CALLER, tx.source, request, new_tag(), self._contact_for(tx.source))
        a.server_tx = tx
        tx.tu_data = a
        call.a = a
        self.calls[call.id] = call
        self.txl.send_response(tx, make_response(request, 100), now)
        target = self.dialplan.resolve(dialed) if dialed else None
        if target is None:
            self.fail_call(call, 404, None, Disposition.FAILED, now)
            return
        if isinstance(target, TrunkTarget) and trunk is None:
            call.direction = "outbound"
        if isinstance(target, TrunkTarget):
            call.trunk = target.trunk
        if request.body:
            try:  # prepares the offer every fork will carry, or refuses it
                self.sdp.offer(call, a, request.body)
            except MediaRejected as exc:
                extra = [("Warning", exc.warning)]
                self.fail_call(call, exc.status, None, Disposition.FAILED, now, extra=extra)
                return
        self.out.start(call, target, max_forwards - 1, now)
        if call.state in (CallState.ROUTING, CallState.RINGING):
            call.no_answer_deadline = now + self.settings.no_answer_timeout
            call.no_answer_timer = self.timers.schedule(
                call.no_answer_deadline, lambda t: self._no_answer(call, t)
            )

    def _contact_for(self, peer: Endpoint) -> str:
        local = self.local(peer.transport)
        host = f"[{local.host}]" if ":" in local.host else local.host
        params = "" if local.transport == "udp" else f";transport={local.transport}"
        return f"<sip:{host}:{local.port}{params}>"

    @staticmethod
    def stop_no_answer_timer(call: Call) -> None:
        if call.no_answer_timer is not None:
            call.no_answer_timer.cancel()
            call.no_answer_timer = None

    def _no_answer(self, call: Call, now: float) -> None:
        call.no_answer_timer = None
        if call.state in (CallState.ROUTING, CallState.RINGING):
            self.abandon(call, 480, "No Answer", Disposition.NO_ANSWER, now)

    # ------------------------------------------------------------ responses
    def _on_response(self, tx: ClientTransaction, response: Response, now: float) -> None:
        owner = tx.tu_data
        if isinstance(owner, Leg) and owner.client_tx is tx:
            self.out.on_invite_response(owner, response, now)
        elif isinstance(owner, TrunkRegistration):
            owner.on_response(tx, response, now)
        elif isinstance(owner, EndedLeg):
            if 200 <= response.status_code < 300 and owner.last_ack is not None:
                self.txl.send_stateless(owner.last_ack, owner.endpoint)  # lost ACK: again
        else:
            self.relay.on_response(tx, response, now)

    def _on_timeout(
        self, tx: ClientTransaction | ServerTransaction, status: int, now: float
    ) -> None:
        """Timer B/F (*status* 408) or a transport failure (503): a client transaction acts
        as if that response had come (§8.1.3.1); a caller that cannot be reached any more is
        gone (timer H alone, on a server transaction, needs nothing)."""
        owner = tx.tu_data
        if isinstance(tx, ClientTransaction):
            if isinstance(owner, Leg) and owner.client_tx is tx:
                self.out.on_invite_response(owner, make_response(tx.request, status), now)
            elif isinstance(owner, TrunkRegistration):
                owner.on_timeout(now)
            else:
                self.relay.on_timeout(tx, now, status)
        elif status == 503 and isinstance(owner, Leg):
            self._caller_unreachable(owner, now)

    def _caller_unreachable(self, leg: Leg, now: float) -> None:
        call = leg.call
        if call.state is CallState.ENDED or leg is not call.a:
            return
        if leg.state is LegState.CONFIRMED:
            self.relay.hangup(call, now, by="system")
            return
        leg.state = LegState.ENDED  # its INVITE transaction is gone: nothing left to answer
        self.abandon(call, 503, None, Disposition.FAILED, now)

    def _on_cancel(
        self, cancel_tx: ServerTransaction, invite_tx: ServerTransaction | None, now: float
    ) -> None:
        if invite_tx is None:
            self.reply(cancel_tx, 481, now)
            return
        self.reply(cancel_tx, 200, now)
        leg = invite_tx.tu_data
        if not isinstance(leg, Leg) or leg.state not in (LegState.CALLING, LegState.EARLY):
            return  # answered already (or refused): the CANCEL has no effect (§9.2)
        call = leg.call
        if call.state is CallState.ENDED:
            return
        call.hangup_by = "caller"
        self.abandon(call, 487, None, Disposition.CANCELLED, now)

    # ------------------------------------------------------------ call end
    def abandon(
        self,
        call: Call,
        status: int,
        reason: str | None,
        disposition: Disposition,
        now: float,
    ) -> None:
        """End a call whose caller has no final response yet: cancel the ringing callee legs,
        hang up a callee that answered (its 2xx may wait for a PRACK), answer the caller."""
        self.out.cancel_forks(call, now)
        if call.b is not None:
            self.relay.send_bye(call.b, now)
        self.fail_call(call, status, reason, disposition, now)

    def fail_call(
        self,
        call: Call,
        status: int,
        reason: str | None,
        disposition: Disposition,
        now: float,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        """End an unanswered call: final response to the caller, CDR."""
        a = call.a
        if a is not None and a.server_tx is not None and a.state is not LegState.ENDED:
            self.relay.stop_reliable(a)
            self.reply(a.server_tx, status, now, reason, extra=extra, to_tag=a.local_tag)
            a.state = LegState.ENDED
        call.sip_code = status
        call.sip_reason = reason or reason_phrase(status)
        call.disposition = disposition
        self.end_call(call, now)

    def end_call(self, call: Call, now: float) -> None:
        if call.state is CallState.ENDED:
            return
        call.state = CallState.ENDED
        call.ended_at = now
        self.stop_no_answer_timer(call)
        for leg in call.legs:
            leg.invite.release_cache()  # it may linger in transactions: keep it small
            if leg.state is not LegState.ENDED and leg.dialog is None:
                leg.state = LegState.ENDED
            call_id = leg.dialog.call_id if leg.dialog is not None else leg.invite.call_id
            self.dialogs.pop((call_id, leg.local_tag), None)
        for leg in call.forks:
            self.callee_call_ids.pop(leg.invite.call_id, None)
        for leg in call.legs:
            _detach(leg)
        self.calls.pop(call.id, None)
        self.sdp.release(call)
        try:
            self.on_call_ended(call)
        except Exception:
            log.exception("CDR hook failed for call %s", call.id)

    def hangup_all(self, now: float) -> None:
        """Graceful shutdown: BYE answered calls, 503 unanswered ones."""
        self.accepting = False
        for call in list(self.calls.values()):
            a = call.a
            if a is not None and a.state is LegState.CONFIRMED:
                self.relay.hangup(call, now, by="system")
            else:
                call.hangup_by = "system"
                self.abandon(call, 503, "Shutting Down", Disposition.FAILED, now)


@dataclass(frozen=True, slots=True)
class EndedLeg:
    """What a settled INVITE transaction still needs once its call has ended: the ACK to
    re-send if the 2xx is retransmitted. It replaces the leg as the transaction's ``tu_data``
    so the call's objects are not kept alive for the transaction's remaining 32 s."""

    last_ack: Request | None
    endpoint: Endpoint


_SETTLED = frozenset(
    {
        TransactionState.COMPLETED,
        TransactionState.CONFIRMED,
        TransactionState.ACCEPTED,
        TransactionState.TERMINATED,
    }
)


def _detach(leg: Leg) -> None:
    ended: EndedLeg | None = None
    for tx in (leg.server_tx, leg.client_tx):
        if tx is not None and tx.tu_data is leg and tx.state in _SETTLED:
            ended = ended or EndedLeg(leg.last_ack, leg.endpoint)
            tx.tu_data = ended


def _dialed_number(request: Request) -> str | None:
    uri = request.uri
    if isinstance(uri, SipURI):
        return uri.user
    user = getattr(uri, "user", None)
    return user if isinstance(user, str) else None


def _has_contact(request: Request) -> bool:
    try:
        contacts = request.contacts
    except SipSyntaxError:
        return False
    return len(contacts) == 1 and not contacts[0].wildcard


def _http_date(now: float) -> str:
    from email.utils import formatdate

    return formatdate(now, usegmt=True)
