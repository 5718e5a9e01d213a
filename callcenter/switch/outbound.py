"""Callee legs: forking the INVITE, relaying provisional and final responses, cancelling.

Part of the B2BUA (sans-I/O). Each callee leg is a new dialog: fresh Call-ID, From-tag, CSeq
and Via; the caller's identity travels in From, its SDP (through the session description
handler) in the body.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from callcenter.sip.auth import DigestClient
from callcenter.sip.dialog import Dialog
from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.ids import random_hex
from callcenter.sip.message import Headers, Request, Response
from callcenter.sip.transaction import Endpoint, TransactionState, new_branch
from callcenter.sip.uri import SipURI
from callcenter.switch.call import (
    Call,
    CallState,
    Disposition,
    Leg,
    LegState,
    MediaRejected,
    Side,
)
from callcenter.switch.routing import ExtensionTarget, Target

if TYPE_CHECKING:
    from callcenter.switch.b2bua import B2BUA

__all__ = ["OutboundRequests", "disposition_for", "endpoint_from_source"]

log = logging.getLogger("callcenter.switch")


def endpoint_from_source(source: str) -> Endpoint:
    """``udp:127.0.0.1:5062`` → Endpoint (IPv6 hosts keep their colons)."""
    transport, rest = source.split(":", 1)
    host, _, port = rest.rpartition(":")
    return Endpoint(transport, host.strip("[]"), int(port))


def disposition_for(status: int) -> Disposition:
    if status in (486, 600):
        return Disposition.BUSY
    if status == 487:
        return Disposition.CANCELLED
    if status in (408, 480):
        return Disposition.NO_ANSWER
    if status in (403, 603):
        return Disposition.REJECTED
    return Disposition.FAILED


def _rank(status: int) -> tuple[int, int]:
    """Order for choosing the best failure to relay (RFC 3261 §16.7 step 6, simplified)."""
    cls = status // 100
    if cls == 6:
        return (0, status)
    preferred = {486: 1, 480: 2, 404: 3, 487: 4}
    return (1, preferred.get(status, 10 + (status if status != 408 else 999)))


class OutboundRequests:
    """The B2BUA's callee side."""

    def __init__(self, b2bua: B2BUA) -> None:
        self.b = b2bua

    # -------------------------------------------------------------- start
    def start(self, call: Call, target: Target, max_forwards: int, now: float) -> None:
        if isinstance(target, ExtensionTarget):
            aor = f"sip:{target.number}@{self.b.settings.domain}"
            bindings = self.b.location.lookup(aor, now)
            if not bindings:
                self.b.fail_call(call, 480, None, Disposition.FAILED, now)
                return
            for binding in bindings:
                try:
                    uri = SipURI.parse(binding.contact)
                    endpoint = endpoint_from_source(binding.source)
                except (SipSyntaxError, ValueError):
                    continue
                self.fork(call, uri, endpoint, target.number, max_forwards, now)
        else:
            trunk = self.b.trunks[target.trunk]
            ep = trunk.endpoint
            params: dict[str, str | None] = (
                {} if ep.transport == "udp" else {"transport": ep.transport}
            )
            uri = SipURI(ep.host, user=target.number, port=ep.port, params=params)
            self.fork(call, uri, ep, target.number, max_forwards, now)
        if not call.forks and call.state is not CallState.ENDED:
            self.b.fail_call(call, 480, None, Disposition.FAILED, now)

    def fork(
        self,
        call: Call,
        uri: SipURI,
        endpoint: Endpoint,
        number: str,
        max_forwards: int,
        now: float,
    ) -> Leg:
        a = call.a
        assert a is not None
        tag = new_tag()
        contact = self.b._contact_for(endpoint)
        call_id = random_hex(12)
        body = self.b.sdp.offer(call, a, a.invite.body) if a.invite.body else b""
        request = self._build_invite(call, uri, endpoint, number, tag, contact, call_id, body)
        request.headers.set("Max-Forwards", str(max_forwards))
        leg = Leg(call, Side.CALLEE, endpoint, request, tag, contact)
        leg.target = number
        call.forks.append(leg)
        self.b.callee_call_ids[call_id] = leg
        self._send(leg, request, now)
        return leg

    def _build_invite(
        self,
        call: Call,
        uri: SipURI,
        endpoint: Endpoint,
        number: str,
        tag: str,
        contact: str,
        call_id: str,
        body: bytes,
    ) -> Request:
        settings = self.b.settings
        display = call.caller_display or self.b.extension_names.get(call.caller)
        name = f'"{_escape(display)}" ' if display else ""
        headers = Headers(
            [
                ("Via", self.via(endpoint)),
                ("Max-Forwards", str(settings.max_forwards)),
                ("From", f"{name}<sip:{call.caller}@{settings.domain}>;tag={tag}"),
                ("To", f"<sip:{number}@{uri.host}>"),
                ("Call-ID", call_id),
                ("CSeq", "1 INVITE"),
                ("Contact", contact),
                ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK"),
                ("Supported", "100rel"),
                ("User-Agent", settings.user_agent),
            ]
        )
        if body:
            a = call.a
            ctype = a.invite.headers.get("Content-Type") if a else None
            headers.add("Content-Type", ctype or "application/sdp")
        return Request("INVITE", uri, headers, body)

    def via(self, endpoint: Endpoint) -> str:
        local = self.b.local(endpoint.transport)
        host = f"[{local.host}]" if ":" in local.host else local.host
        return f"SIP/2.0/{local.transport.upper()} {host}:{local.port};rport;branch={new_branch()}"

    def _send(self, leg: Leg, request: Request, now: float) -> None:
        tx = self.b.txl.send_request(request, leg.endpoint, now)
        tx.tu_data = leg
        leg.client_tx = tx

    # ---------------------------------------------------------- responses
    def on_invite_response(self, leg: Leg, response: Response, now: float) -> None:
        status = response.status_code
        if status < 200:
            self._provisional(leg, response, now)
        elif status < 300:
            self._answered(leg, response, now)
        else:
            self._failed(leg, response, now)

    def _provisional(self, leg: Leg, response: Response, now: float) -> None:
        if leg.cancel_pending and leg.client_tx is not None:
            leg.cancel_pending = False
            self.b.txl.cancel(leg.client_tx, now)
            return
        if response.status_code == 100 or leg.state is LegState.ENDED:
            return
        call = leg.call
        if response.to.tag is not None and leg.dialog is None:
            try:
                leg.dialog = Dialog.from_uac(leg.invite, response)
            except SipSyntaxError:
                leg.dialog = None
        leg.state = LegState.EARLY
        self.b.relay.prack_if_required(leg, response, now)
        if call.state not in (CallState.ROUTING, CallState.RINGING) or call.b is not None:
            return
        call.state = CallState.RINGING
        body = self.b.sdp.answer(call, leg, response.body) if response.body else b""
        self.b.relay.provisional_to_caller(call, response.status_code, response.reason, body, now)

    def _answered(self, leg: Leg, response: Response, now: float) -> None:
        call = leg.call
        early = leg.dialog
        same_dialog = early is not None and early.remote_tag == response.to.tag
        if same_dialog and leg.state in (LegState.CONFIRMED, LegState.ENDED):
            self.b.relay.resend_ack(leg)  # a retransmission of the 2xx we acknowledged
            return
        try:
            dialog = Dialog.from_uac(leg.invite, response)
        except SipSyntaxError:
            log.warning("2xx without a usable dialog on call %s", call.id)
            return
        if same_dialog and early is not None and early.local_cseq is not None:
            # the early dialog carried PRACKs: keep counting from them (§12.2.1.1)
            dialog.local_cseq = max(dialog.local_cseq or 0, early.local_cseq)
        leg.dialog = dialog
        leg.state = LegState.CONFIRMED
        self.b.dialogs[(dialog.call_id, leg.local_tag)] = leg
        if call.b is not None or call.state is CallState.ENDED:
            # another fork won, or the caller left: acknowledge then release this branch
            self.b.relay.send_ack(leg, b"", now)
            self.b.relay.send_bye(leg, now)
            return
        call.b = leg
        call.state = CallState.ANSWERED
        call.answered_at = now
        self.b.stop_no_answer_timer(call)
        self.cancel_forks(call, now, keep=leg, reason=COMPLETED_ELSEWHERE)
        a = call.a
        assert a is not None
        if a.invite.body:
            self.b.relay.send_ack(leg, b"", now)
            body = self.b.sdp.answer(call, leg, response.body) if response.body else b""
        else:
            leg.pending_ack_body = True
            try:
                body = self.b.sdp.offer(call, leg, response.body) if response.body else b""
            except MediaRejected as exc:  # RFC 3264 §6: acknowledge, then end the session
                leg.pending_ack_body = False
                self.b.relay.send_ack(leg, b"", now)
                self.b.relay.send_bye(leg, now)
                extra = [("Warning", exc.warning)]
                self.b.fail_call(call, exc.status, None, Disposition.FAILED, now, extra=extra)
                return
        self.b.relay.answer_caller(call, body, now)

    def _failed(self, leg: Leg, response: Response, now: float) -> None:
        status = response.status_code
        call = leg.call
        leg.state = LegState.ENDED
        leg.final_status = status
        leg.final_reason = response.reason
        if status in (401, 407) and self._retry_with_credentials(leg, response, now):
            return
        if call.state is CallState.ENDED or call.b is not None:
            return
        if status >= 600:
            self.cancel_forks(call, now)
        elif any(f.state is not LegState.ENDED for f in call.forks):
            return
        best = min(
            (f for f in call.forks if f.final_status is not None),
            key=lambda f: _rank(f.final_status or 500),
        )
        code = best.final_status or 500
        if code in (401, 407):  # our trunk credentials failed: not the caller's business
            code = 503
        self.b.fail_call(call, code, best.final_reason, disposition_for(code), now)

    def _retry_with_credentials(self, leg: Leg, response: Response, now: float) -> bool:
        call = leg.call
        trunk = self.b.trunks.get(call.trunk or "")
        if trunk is None or not trunk.username or not trunk.password or leg.auth_attempted:
            return False
        if call.state is CallState.ENDED:
            return False
        header = "WWW-Authenticate" if response.status_code == 401 else "Proxy-Authenticate"
        values = response.headers.get_all(header)
        if not values:
            return False
        client = DigestClient(trunk.username, trunk.password)
        try:
            challenge = client.choose_challenge(values)
            credentials = client.authorize(
                challenge, method="INVITE", uri=str(leg.invite.uri), body=leg.invite.body
            )
        except ValueError:
            return False
        request = leg.invite
        headers = request.headers.copy()
        headers.set("Via", self.via(leg.endpoint))
        headers.set("CSeq", f"{request.cseq.seq + 1} INVITE")
        auth_header = "Authorization" if response.status_code == 401 else "Proxy-Authorization"
        headers.set(auth_header, credentials)
        retry = Request("INVITE", request.uri, headers, request.body)
        leg.invite = retry
        leg.auth_attempted = True
        leg.state = LegState.CALLING
        leg.final_status = None
        self._send(leg, retry, now)
        return True

    # -------------------------------------------------------------- cancel
    def cancel_forks(
        self, call: Call, now: float, keep: Leg | None = None, reason: str | None = None
    ) -> None:
        """CANCEL every ringing callee leg but *keep*; *reason* is a Reason header value.

        Before any provisional the transaction layer holds the CANCEL until one arrives
        (RFC 3261 §9.1); timer B still ends a callee that never answers.
        """
        for leg in call.forks:
            if leg is keep or leg.state in (LegState.ENDED, LegState.CONFIRMED):
                continue
            tx = leg.client_tx
            if tx is None or tx.state not in _CANCELLABLE:
                continue
            if self.b.txl.cancel(tx, now, reason=reason) is None:
                leg.cancel_pending = True

    def on_stray_response(self, response: Response, now: float) -> None:
        """A 2xx retransmission after the INVITE transaction ended: acknowledge it again."""
        if response.status_code // 100 != 2:
            return
        try:
            call_id = response.call_id
            # a response to our request: our tag is the From tag (the dialog table's key)
            leg = self.b.callee_call_ids.get(call_id) or self.b.dialogs.get(
                (call_id, response.from_.tag or "")
            )
        except SipSyntaxError:
            return
        if leg is not None:
            self.b.relay.resend_ack(leg)


COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'
"""Reason (RFC 3326) of the CANCEL sent to the forks that lost to another answer."""
_CANCELLABLE = frozenset({TransactionState.CALLING, TransactionState.PROCEEDING})


def new_tag() -> str:
    return random_hex(6)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
