"""In-dialog traffic of the B2BUA: answering the caller, ACK, BYE and relayed requests.

Requests inside one leg's dialog (re-INVITE for hold/resume, UPDATE, INFO) are re-issued on
the other leg's dialog and the final response is carried back; when the call ends first they
are answered 487/481 at once (§15.1.2). A 2xx the switch sends is retransmitted (T1 doubling
to T2, over every transport) until its ACK arrives, or the call is released after 64*T1
(RFC 3261 §13.3.1.4); every 2xx received is ACKed, even on a leg being hung up. Reliable
provisionals (RFC 3262) are sent to callers that require them, and the caller's 2xx waits
until they are PRACKed (§3); callees' reliable provisionals are acknowledged with PRACK.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from callcenter.sip.dialog import Dialog, record_route_headers
from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.reliable import ReliableProvisionalSender, Uas2xxRetransmitter
from callcenter.sip.timers import TimerConfig
from callcenter.sip.transaction import ClientTransaction, Endpoint, ServerTransaction
from callcenter.switch.call import Call, CallState, Disposition, Leg, LegState, MediaRejected
from callcenter.switch.timers import TimerHandle

if TYPE_CHECKING:
    from callcenter.switch.b2bua import B2BUA

__all__ = ["InDialogRelay", "Relayed"]

log = logging.getLogger("callcenter.switch")

RELAYED_METHODS = frozenset({"INVITE", "UPDATE", "INFO"})


@dataclass(eq=False, slots=True)
class Relayed:
    """A request received on ``from_leg`` and re-issued on ``to_leg``."""

    server_tx: ServerTransaction
    from_leg: Leg
    to_leg: Leg
    method: str
    answered: bool = False
    """The final response went back to ``from_leg``."""
    final_seen: bool = False
    """``to_leg`` answered (later 2xx are retransmissions)."""


@dataclass(eq=False, slots=True)
class Pending2xx:
    """A 2xx the switch sent on a leg, retransmitted until its ACK."""

    retransmitter: Uas2xxRetransmitter
    destination: Endpoint
    handle: TimerHandle | None = None
    relayed_ack_to: Leg | None = field(default=None)


class InDialogRelay:
    """The in-dialog half of the B2BUA."""

    def __init__(self, b2bua: B2BUA, timers: TimerConfig | None = None) -> None:
        self.b = b2bua
        self.t = timers or TimerConfig()

    # ---------------------------------------------------------- caller side
    def provisional_to_caller(
        self, call: Call, status: int, reason: str | None, body: bytes, now: float
    ) -> None:
        a = call.a
        if a is None or a.server_tx is None or a.state is LegState.ENDED:
            return
        # RFC 3261 §12.1.1: a dialog-creating response carries the request's Record-Route
        extra = [*record_route_headers(a.invite), ("Contact", a.local_contact)]
        if body:
            extra.append(("Content-Type", "application/sdp"))
        a.state = LegState.EARLY
        if "100rel" in a.invite.option_tags("Require"):
            self._send_reliably(a, status, reason, extra, body, now)
            return
        self.b.reply(a.server_tx, status, now, reason, extra=extra, body=body, to_tag=a.local_tag)

    # ------------------------------------------------ reliable provisionals
    def _send_reliably(
        self,
        a: Leg,
        status: int,
        reason: str | None,
        extra: list[tuple[str, str]],
        body: bytes,
        now: float,
    ) -> None:
        """RFC 3262 §3: the caller requires 100rel, so 18x are retransmitted until PRACK."""
        sender = a.reliable
        if not isinstance(sender, ReliableProvisionalSender):
            sender = a.reliable = ReliableProvisionalSender(a.invite, self.t)
            self.b.dialogs[(a.invite.call_id, a.local_tag)] = a
        extra = [*extra, ("Server", self.b.settings.user_agent)]
        response = make_response(
            a.invite, status, reason, to_tag=a.local_tag, extra=extra, body=body
        )
        sender.send(response, now)
        self._drain_reliable(a, sender, now)

    def _drain_reliable(self, a: Leg, sender: ReliableProvisionalSender, now: float) -> None:
        if a.server_tx is None:
            return
        for response in sender.responses_to_send():
            self.b.txl.send_response(a.server_tx, response, now)
        deadline = sender.get_timer()
        if deadline is not None:
            self.b.timers.schedule(deadline, lambda t: self._on_reliable_timer(a, sender, t))

    def _on_reliable_timer(self, a: Leg, sender: ReliableProvisionalSender, now: float) -> None:
        if a.reliable is not sender or a.state is not LegState.EARLY:
            return
        deadline = sender.get_timer()
        if deadline is None or now < deadline:
            return
        if sender.handle_timer(now):  # RFC 3262 §3: no PRACK within 64*T1 → 5xx
            a.held_answer = None
            reason = "Reliable Provisional Not Acknowledged"
            self.b.abandon(a.call, 500, reason, Disposition.FAILED, now)
            return
        self._drain_reliable(a, sender, now)

    def _on_prack(self, leg: Leg, tx: ServerTransaction, now: float) -> None:
        sender = leg.reliable
        if not isinstance(sender, ReliableProvisionalSender):
            self.b.reply(tx, 481, now)
            return
        if sender.receive_prack(tx.request, now) is None:
            self.b.reply(tx, 481, now)
            return
        self.b.reply(tx, 200, now)
        self._drain_reliable(leg, sender, now)
        held = leg.held_answer
        if held is not None and not sender.pending and leg.call.state is CallState.ANSWERED:
            leg.held_answer = None
            self.answer_caller(leg.call, held, now)

    @staticmethod
    def stop_reliable(leg: Leg) -> None:
        if isinstance(leg.reliable, ReliableProvisionalSender):
            leg.reliable.stop()

    def answer_caller(self, call: Call, body: bytes, now: float) -> None:
        a = call.a
        assert a is not None and a.server_tx is not None
        if isinstance(a.reliable, ReliableProvisionalSender) and a.reliable.pending:
            a.held_answer = body  # RFC 3262 §3: no 2xx while a reliable 1xx awaits its PRACK
            return
        extra = [
            *record_route_headers(a.invite),
            ("Contact", a.local_contact),
            ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK"),
            ("Supported", "100rel, replaces"),
            ("Server", self.b.settings.user_agent),
        ]
        if body:
            extra.append(("Content-Type", "application/sdp"))
        response = make_response(a.invite, 200, to_tag=a.local_tag, extra=extra, body=body)
        self.stop_reliable(a)
        a.dialog = Dialog.from_uas(a.invite, response)
        a.state = LegState.CONFIRMED
        self.b.dialogs[(a.dialog.call_id, a.local_tag)] = a
        self.b.txl.send_response(a.server_tx, response, now)
        self._retransmit_2xx(a, a.server_tx, response, now)

    # ----------------------------------------------------------------- 2xx
    def _retransmit_2xx(
        self, leg: Leg, tx: ServerTransaction, response: Response, now: float
    ) -> Pending2xx:
        """Retransmit *response* until its ACK, over any transport: the ACK is end to end,
        and hops beyond a reliable first one may be UDP (RFC 3261 §13.3.1.4)."""
        pending = Pending2xx(Uas2xxRetransmitter(response, now, self.t), tx.response_destination)
        leg.pending_2xx = pending
        self._schedule_2xx(leg, pending)
        return pending

    def _schedule_2xx(self, leg: Leg, pending: Pending2xx) -> None:
        at = pending.retransmitter.get_timer()
        if at is not None:
            pending.handle = self.b.timers.schedule(
                at, lambda t: self._on_2xx_timer(leg, pending, t)
            )

    def _on_2xx_timer(self, leg: Leg, pending: Pending2xx, now: float) -> None:
        if leg.pending_2xx is not pending:
            return
        if pending.retransmitter.handle_timer(now):  # 64*T1 without an ACK
            leg.pending_2xx = None
            log.info("no ACK for 2xx on call %s: releasing", leg.call.id)
            self.hangup(leg.call, now, by="system")
            return
        for response in pending.retransmitter.responses_to_send():
            self.b.txl.send_stateless(response, pending.destination)
        self._schedule_2xx(leg, pending)

    def on_ack(self, ack: Request, now: float) -> None:
        try:
            key = (ack.call_id, ack.to.tag or "")
        except SipSyntaxError:
            return
        leg = self.b.dialogs.get(key)
        if leg is None:
            return
        pending = leg.pending_2xx
        if not isinstance(pending, Pending2xx):
            return
        leg.pending_2xx = None
        if pending.handle is not None:
            pending.handle.cancel()
        other = leg.call.other(leg)
        target = pending.relayed_ack_to
        if target is None and other is not None and other.pending_ack_body:
            target = other
        if target is not None and target.state is LegState.CONFIRMED:
            target.pending_ack_body = False
            body = self.b.sdp.answer(leg.call, leg, ack.body) if ack.body else b""
            self.send_ack(target, body, now)

    # ------------------------------------------------------- build and send
    def new_request(self, leg: Leg, method: str, body: bytes = b"") -> Request:
        assert leg.dialog is not None
        headers: list[tuple[str, str]] = [("User-Agent", self.b.settings.user_agent)]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        if method in ("INVITE", "UPDATE"):
            headers.append(("Contact", leg.local_contact))
        return leg.dialog.create_request(
            method, via=self.b.out.via(leg.endpoint), headers=headers, body=body
        )

    def send_ack(self, leg: Leg, body: bytes, now: float) -> None:
        assert leg.dialog is not None
        headers: list[tuple[str, str]] = []
        if body:
            headers.append(("Content-Type", "application/sdp"))
        ack = leg.dialog.create_ack(
            leg.invite.cseq.seq, via=self.b.out.via(leg.endpoint), headers=headers, body=body
        )
        leg.last_ack = ack
        self.b.txl.send_stateless(ack, leg.endpoint)

    def _ack_owed(self, leg: Leg, now: float) -> None:
        """A 2xx from *leg* whose ACK waited for the other side's answer is ACKed now: the
        call is ending and every 2xx needs its ACK (§13.2.2.4)."""
        if leg.pending_ack_body:
            leg.pending_ack_body = False
            self.send_ack(leg, b"", now)

    def resend_ack(self, leg: Leg) -> None:
        if leg.last_ack is not None:
            self.b.txl.send_stateless(leg.last_ack, leg.endpoint)

    def send_bye(self, leg: Leg, now: float) -> None:
        if leg.dialog is None or leg.state is LegState.ENDED:
            return
        self._ack_owed(leg, now)
        bye = self.new_request(leg, "BYE")
        self.b.txl.send_request(bye, leg.endpoint, now)
        leg.state = LegState.ENDED
        self.b.dialogs.pop((leg.dialog.call_id, leg.local_tag), None)

    def hangup(self, call: Call, now: float, *, by: str) -> None:
        """Release an answered call from the switch's side: BYE to every confirmed leg."""
        for leg in (call.a, call.b):
            if leg is not None:
                self._stop_2xx(leg)
                self.send_bye(leg, now)
        call.hangup_by = call.hangup_by or by
        self._finish(call, now)

    def _finish(self, call: Call, now: float) -> None:
        for leg in (call.a, call.b):
            for relay in list(leg.pending_relays if leg is not None else ()):
                if isinstance(relay, Relayed):
                    self._answer_ended(relay, now)
        if call.disposition is None:
            call.disposition = Disposition.ANSWERED
            call.sip_code = call.sip_code or 200
            call.sip_reason = call.sip_reason or "OK"
        self.b.end_call(call, now)

    def _stop_2xx(self, leg: Leg) -> None:
        pending = leg.pending_2xx
        if isinstance(pending, Pending2xx) and pending.handle is not None:
            pending.handle.cancel()
        leg.pending_2xx = None

    # ------------------------------------------------------ in-dialog requests
    def on_request(self, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        key = (request.call_id, request.to.tag or "")
        leg = self.b.dialogs.get(key)
        if leg is not None and request.method == "PRACK" and leg.dialog is None:
            self._on_prack(leg, tx, now)  # PRACK in the caller's early dialog
            return
        if leg is None or leg.dialog is None:
            self.b.reply(tx, 481, now)
            return
        status = leg.dialog.receive_request(request, now)
        if status is not None:
            self.b.reply(tx, status, now)
            return
        method = request.method
        if method == "BYE":
            self._on_bye(leg, tx, now)
        elif method in RELAYED_METHODS:
            self._relay(leg, tx, now)
        elif method == "OPTIONS":
            self.b.reply(tx, 200, now, extra=[("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")])
        elif method == "PRACK":
            self.b.reply(tx, 481, now)
        else:
            self.b.reply(tx, 501, now)

    def _on_bye(self, leg: Leg, tx: ServerTransaction, now: float) -> None:
        self.b.reply(tx, 200, now)
        self._stop_2xx(leg)
        self._ack_owed(leg, now)
        leg.state = LegState.ENDED
        if leg.dialog is not None:
            self.b.dialogs.pop((leg.dialog.call_id, leg.local_tag), None)
        call = leg.call
        if call.state is CallState.ENDED:
            return
        call.hangup_by = "caller" if leg is call.a else "callee"
        other = call.other(leg)
        if other is not None:
            self._stop_2xx(other)
            self.send_bye(other, now)
        a = call.a
        if a is not None and a.state in (LegState.CALLING, LegState.EARLY):
            # the callee hung up before the caller got the 2xx (held for a PRACK)
            self.b.fail_call(call, 487, None, Disposition.FAILED, now)
            return
        self._finish(call, now)

    def _relay(self, leg: Leg, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        call = leg.call
        other = call.other(leg)
        if other is None or other.dialog is None or other.state is not LegState.CONFIRMED:
            if request.method == "INFO":
                self.b.reply(tx, 200, now)
            else:
                self.b.reply(tx, 491, now, extra=[("Retry-After", "1")])
            return
        if request.method == "INVITE":
            conflict = _reinvite_conflict(leg, other)
            if conflict is not None:
                self.b.reply(tx, conflict, now, extra=[("Retry-After", "1")])
                return
            leg.remote_reinvite_pending = True
            other.local_reinvite_pending = True
        body = request.body
        if body and request.method in ("INVITE", "UPDATE"):
            try:
                body = self.b.sdp.offer(call, leg, body)
            except MediaRejected as exc:
                leg.remote_reinvite_pending = other.local_reinvite_pending = False
                self.b.reply(tx, exc.status, now, extra=[("Warning", exc.warning)])
                return
        relayed = self.new_request(other, request.method, body)
        if request.method == "INFO" and request.body:
            ctype = request.headers.get("Content-Type")
            if ctype:
                relayed.headers.set("Content-Type", ctype)
        if request.method == "INVITE":
            other.invite = relayed
        client = self.b.txl.send_request(relayed, other.endpoint, now)
        relay = Relayed(tx, leg, other, request.method)
        client.tu_data = relay
        leg.pending_relays.append(relay)

    def on_response(self, tx: ClientTransaction, response: Response, now: float) -> None:
        relay = tx.tu_data
        if not isinstance(relay, Relayed) or response.status_code < 200:
            return
        from_leg, to_leg = relay.from_leg, relay.to_leg
        if relay.final_seen:  # a retransmitted 2xx to a relayed re-INVITE: ACK it again
            if not to_leg.pending_ack_body:
                self.resend_ack(to_leg)
            return
        relay.final_seen = True
        call = from_leg.call
        status = response.status_code
        body = response.body
        extra: list[tuple[str, str]] = []
        if call.state is CallState.ENDED:  # hung up meanwhile: close both transactions
            if relay.method == "INVITE" and status < 300:
                self.send_ack(to_leg, b"", now)
            self._answer_ended(relay, now)
            return
        self._settle(relay)
        if relay.method in ("INVITE", "UPDATE") and status < 300:
            _refresh_target(to_leg, response)
        if relay.method == "INVITE" and status < 300:
            extra.append(("Contact", from_leg.local_contact))
            original_had_offer = bool(relay.server_tx.request.body)
            if original_had_offer:
                self.send_ack(to_leg, b"", now)
                body = self.b.sdp.answer(call, to_leg, body) if body else b""
            else:
                to_leg.pending_ack_body = True
                body = self.b.sdp.offer(call, to_leg, body) if body else b""
        if body:
            ctype = response.headers.get("Content-Type") or "application/sdp"
            extra.append(("Content-Type", ctype))
        out = make_response(
            relay.server_tx.request, status, response.reason, extra=extra, body=body
        )
        self.b.txl.send_response(relay.server_tx, out, now)
        if relay.method == "INVITE" and status < 300:
            pending = self._retransmit_2xx(from_leg, relay.server_tx, out, now)
            if to_leg.pending_ack_body:
                pending.relayed_ack_to = to_leg

    def on_timeout(self, tx: ClientTransaction, now: float, status: int = 408) -> None:
        """A relayed request got no response (408) or could not be sent (503)."""
        relay = tx.tu_data
        if isinstance(relay, Relayed) and not relay.final_seen:
            relay.final_seen = True
            if relay.from_leg.call.state is CallState.ENDED:
                self._answer_ended(relay, now)
            else:
                self._settle(relay)
                self.b.reply(relay.server_tx, status, now)

    @staticmethod
    def _settle(relay: Relayed) -> None:
        """*relay* gets its final response now: the legs may take another re-INVITE."""
        relay.answered = True
        if relay in relay.from_leg.pending_relays:
            relay.from_leg.pending_relays.remove(relay)
        if relay.method == "INVITE":
            relay.from_leg.remote_reinvite_pending = False
            relay.to_leg.local_reinvite_pending = False

    def _answer_ended(self, relay: Relayed, now: float) -> None:
        """The call ended while *relay* was out: the request was not carried out (§15.1.2)."""
        if relay.answered:
            return
        self._settle(relay)
        status = 487 if relay.method == "INVITE" else 481
        self.b.reply(relay.server_tx, status, now)

    # ---------------------------------------------------------------- PRACK
    def prack_if_required(self, leg: Leg, response: Response, now: float) -> None:
        """Acknowledge a reliable provisional (RFC 3262 §4) once, in RSeq order."""
        if "100rel" not in response.option_tags("Require") or leg.dialog is None:
            return
        try:
            rseq = response.header_int("RSeq")
        except SipSyntaxError:
            return
        if rseq is None:
            return
        last = leg.reliable if isinstance(leg.reliable, int) else None
        if last is not None and rseq <= last:
            return
        leg.reliable = rseq
        prack = self.new_request(leg, "PRACK")
        cseq = leg.invite.cseq
        prack.headers.add("RAck", f"{rseq} {cseq.seq} {cseq.method}")
        self.b.txl.send_request(prack, leg.endpoint, now)


def _reinvite_conflict(leg: Leg, other: Leg) -> int | None:
    """The status refusing a re-INVITE from *leg*, or None (RFC 3261 §14.1, §14.2).

    An INVITE transaction may not start on a dialog while another is in progress in either
    direction, until its ACK: a second re-INVITE from the same side is 500, one that crosses
    ours (glare) is 491, and so is one we cannot forward yet because the other leg is busy.
    """
    if leg.remote_reinvite_pending:
        return 500
    if leg.local_reinvite_pending or leg.pending_ack_body:
        return 491
    busy = (
        other.local_reinvite_pending
        or other.remote_reinvite_pending
        or other.pending_ack_body
        or other.pending_2xx is not None
    )
    return 491 if busy else None


def _refresh_target(leg: Leg, response: Response) -> None:
    """A 2xx to a target refresh request updates the remote target (§12.2.1.2)."""
    if leg.dialog is None:
        return
    try:
        contacts = response.contacts
    except SipSyntaxError:
        return
    if contacts:
        leg.dialog.remote_target = contacts[0].uri
