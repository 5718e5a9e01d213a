"""Scripted user agents for the switch tests (phones and trunks alike).

A :class:`Phone` records everything it receives (:attr:`Phone.received`, retransmissions
included), places calls (:meth:`Phone.call` → :class:`SipCall`), answers calls following a
:class:`Behaviour` (or by hand with :meth:`SipCall.respond`), registers with digest
credentials, and can act as a provider's registrar and digest-protected proxy.
"""

from __future__ import annotations

import heapq
import secrets
from collections.abc import Callable, Iterable
from functools import partial

from switch_calls import Behaviour, Exchange, Received, SipCall, Step, UaPump
from switch_net import (
    DOMAIN,
    MIRRORED_DIRECTION,
    SWITCH,
    Message,
    Net,
    direction_of,
    ha1_lookup,
    sdp,
)

from callcenter.sip.auth import (
    AuthParseError,
    AuthStatus,
    DigestClient,
    DigestServer,
    parse_credentials,
)
from callcenter.sip.dialog import Dialog
from callcenter.sip.events import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionEvent,
    TransactionTimeout,
)
from callcenter.sip.message import Headers, Request, Response, make_response
from callcenter.sip.reliable import (
    PrackState,
    ProvisionalAction,
    Uas2xxRetransmitter,
)
from callcenter.sip.timers import TimerConfig
from callcenter.sip.transaction import (
    ClientTransaction,
    Endpoint,
    ServerTransaction,
    TransactionLayer,
    TransactionState,
    new_branch,
)


class Phone:
    """A scripted user agent (phone or trunk) on the virtual network."""

    def __init__(
        self,
        net: Net,
        name: str,
        host: str,
        port: int = 5060,
        *,
        user: str,
        password: str | None = None,
        public: Endpoint | None = None,
        timers: TimerConfig | None = None,
    ) -> None:
        self.net = net
        self.name = name
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.public = public
        self.timers = timers or TimerConfig()
        self.layer = TransactionLayer(self.timers)
        self.behaviour = Behaviour()
        self.outbound = SWITCH
        self.received: list[Received] = []
        self.calls: list[SipCall] = []
        self.incoming: list[SipCall] = []
        self.exchanges: list[Exchange] = []
        self.out_of_dialog: list[Request] = []
        self.registers: list[Request] = []
        self.auth_server: DigestServer | None = None
        self.auth_passwords: dict[str, str] = {}
        self.register_status: int | None = None
        self.grant_expires: int | None = None
        self.auth_client = DigestClient(user, password) if password else None
        self._actions: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = 0
        self.register_call_id = secrets.token_hex(8)
        self.register_cseq = 0
        net.attach(self)

    # -- identity --
    @property
    def endpoint(self) -> Endpoint:
        return self.public or Endpoint("udp", self.host, self.port)

    @property
    def via(self) -> str:
        return f"SIP/2.0/UDP {self.host}:{self.port};rport;branch={new_branch()}"

    @property
    def contact(self) -> str:
        return f"<sip:{self.user}@{self.host}:{self.port}>"

    def sdp(self, direction: str = "sendrecv") -> bytes:
        return sdp(self.name, self.host, 40000, direction)

    def protect(self, realm: str, passwords: dict[str, str]) -> None:
        """Challenge INVITE (407) and REGISTER (401) like a provider would."""
        self.auth_server = DigestServer(realm, b"p" * 32)
        self.auth_passwords = passwords

    # -- NetNode --
    def receive(self, message: Message, source: Endpoint, now: float) -> None:
        self.received.append(Received(now, message, source))
        self._handle(self.layer.receive(message, source, now), now)

    def get_timer(self) -> float | None:
        deadlines = [self.layer.get_timer(), self._actions[0][0] if self._actions else None]
        for call in [*self.calls, *self.incoming]:
            deadlines.extend(p.get_timer() for p in call.pumps)
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    def handle_timer(self, now: float) -> None:
        self._handle(self.layer.handle_timer(now), now)
        while self._actions and self._actions[0][0] <= now:
            _, _, action = heapq.heappop(self._actions)
            action(now)
        for call in [*self.calls, *self.incoming]:
            for pump in call.pumps:
                deadline = pump.get_timer()
                if deadline is not None and deadline <= now:
                    pump.handle_timer(now)
                    if pump.gave_up and call.role == "uas" and call.state == "early":
                        call.respond(500, reason="Reliable Provisional Not Acknowledged")

    def datagrams_to_send(self) -> list[tuple[bytes, Endpoint]]:
        return self.layer.datagrams_to_send()

    def at(self, delay: float, action: Callable[[float], None]) -> None:
        self._seq += 1
        heapq.heappush(self._actions, (self.net.now + delay, self._seq, action))

    # -- what came in --
    def requests(self, method: str) -> list[Request]:
        return [
            r.message
            for r in self.received
            if isinstance(r.message, Request) and r.message.method == method
        ]

    def responses(self, method: str | None = None) -> list[Response]:
        return [
            r.message
            for r in self.received
            if isinstance(r.message, Response)
            and (method is None or r.message.cseq.method == method)
        ]

    def statuses(self, method: str | None = None) -> list[int]:
        return [r.status_code for r in self.responses(method)]

    # -- placing requests --
    def call(
        self,
        number: str,
        *,
        body: bytes | None = None,
        offer: bool = True,
        extra: Iterable[tuple[str, str]] = (),
        from_user: str | None = None,
        call_id: str | None = None,
        max_forwards: int = 70,
        contact: bool = True,
    ) -> SipCall:
        """INVITE *number* through the switch; *offer* False sends no SDP (late offer)."""
        if body is None and offer:
            body = self.sdp()
        tag = secrets.token_hex(6)
        headers = Headers(
            [
                ("Via", self.via),
                ("Max-Forwards", str(max_forwards)),
                ("From", f'"{self.name}" <sip:{from_user or self.user}@{DOMAIN}>;tag={tag}'),
                ("To", f"<sip:{number}@{DOMAIN}>"),
                ("Call-ID", call_id or f"{secrets.token_hex(8)}@{self.host}"),
                ("CSeq", "1 INVITE"),
                ("Supported", "100rel"),
                *extra,
            ]
        )
        if contact:
            headers.add("Contact", self.contact)
        if body:
            headers.add("Content-Type", "application/sdp")
        invite = Request("INVITE", f"sip:{number}@{DOMAIN}", headers, body or b"")
        tx = self.layer.send_request(invite, self.outbound, self.net.now)
        call = SipCall(self, "uac", invite, tag, tx)
        tx.tu_data = call
        self.calls.append(call)
        return call

    def request(
        self,
        method: str,
        uri: str | None = None,
        *,
        to_tag: str | None = None,
        extra: Iterable[tuple[str, str]] = (),
        call_id: str | None = None,
    ) -> Exchange:
        """An out-of-dialog request (OPTIONS, BYE without dialog, unknown methods...)."""
        uri = uri or f"sip:{DOMAIN}"
        to = f"<{uri}>" + (f";tag={to_tag}" if to_tag else "")
        headers = Headers(
            [
                ("Via", self.via),
                ("Max-Forwards", "70"),
                ("From", f"<sip:{self.user}@{DOMAIN}>;tag={secrets.token_hex(6)}"),
                ("To", to),
                ("Call-ID", call_id or secrets.token_hex(8)),
                ("CSeq", f"1 {method}"),
                ("Contact", self.contact),
                *extra,
            ]
        )
        exchange = Exchange(Request(method, uri, headers))
        self.send_request(exchange.request, exchange)
        return exchange

    def register(self, expires: int = 3600, *, contact: str | None = None) -> Exchange:
        self.register_cseq += 1
        aor = f"sip:{self.user}@{DOMAIN}"
        headers = Headers(
            [
                ("Via", self.via),
                ("Max-Forwards", "70"),
                ("From", f"<{aor}>;tag={secrets.token_hex(6)}"),
                ("To", f"<{aor}>"),
                ("Call-ID", self.register_call_id),
                ("CSeq", f"{self.register_cseq} REGISTER"),
                ("Contact", contact or self.contact),
                ("Expires", str(expires)),
            ]
        )
        exchange = Exchange(Request("REGISTER", f"sip:{DOMAIN}", headers))
        self.send_request(exchange.request, exchange)
        return exchange

    def send_request(self, request: Request, exchange: Exchange) -> None:
        tx = self.layer.send_request(request, self.outbound, self.net.now)
        tx.tu_data = exchange
        self.exchanges.append(exchange)

    # -- events --
    def _handle(self, events: list[TransactionEvent], now: float) -> None:
        for event in events:
            match event:
                case RequestReceived(transaction=tx):
                    self._on_request(tx, now)
                case CancelReceived(cancel_transaction=ctx, invite_transaction=itx):
                    self._on_cancel(ctx, itx, now)
                case AckReceived(request=ack):
                    self._on_ack(ack)
                case ResponseReceived(transaction=tx, response=response):
                    self._on_response(tx, response, now)
                case StrayResponse(response=response):
                    self._on_stray(response)
                case TransactionTimeout(transaction=tx):
                    if isinstance(tx.tu_data, Exchange):
                        tx.tu_data.timed_out = True
                    elif isinstance(tx.tu_data, SipCall):
                        tx.tu_data.state = "ended"

    def _reply(
        self,
        tx: ServerTransaction,
        status: int,
        now: float,
        *,
        extra: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        to_tag: str | None = None,
    ) -> Response:
        headers = list(extra)
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = make_response(
            tx.request, status, to_tag=to_tag or secrets.token_hex(6), extra=headers, body=body
        )
        self.layer.send_response(tx, response, now)
        return response

    def _find(self, call_id: str, local_tag: str | None) -> SipCall | None:
        for call in [*self.calls, *self.incoming]:
            if call.call_id == call_id and call.local_tag == local_tag:
                return call
        return None

    def _on_request(self, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        if request.to.tag is not None:
            self._in_dialog(tx, now)
            return
        self.out_of_dialog.append(request)
        if request.method == "INVITE":
            if self._challenged(tx, "Proxy", now):
                return
            self._on_invite(tx, now)
        elif request.method == "REGISTER":
            self.registers.append(request)
            if self._challenged(tx, "", now):
                return
            self._on_register(tx, now)
        else:
            self._reply(tx, 481 if request.method in ("BYE", "INFO") else 200, now)

    def _challenged(self, tx: ServerTransaction, kind: str, now: float) -> bool:
        server = self.auth_server
        if server is None:
            return False
        header = "Proxy-Authorization" if kind else "Authorization"
        values = tx.request.headers.get_all(header)
        if values:
            try:
                credentials = parse_credentials(values[0])
            except AuthParseError:
                self._reply(tx, 400, now)
                return True
            result = server.verify(
                credentials,
                method=tx.request.method,
                now=now,
                lookup=ha1_lookup(server.realm, self.auth_passwords),
                request_uri=str(tx.request.uri),
            )
            if result.status is AuthStatus.OK:
                return False
        status, challenge = (407, "Proxy-Authenticate") if kind else (401, "WWW-Authenticate")
        self._reply(tx, status, now, extra=[(challenge, v) for v in server.challenge(now)])
        return True

    def _on_register(self, tx: ServerTransaction, now: float) -> None:
        if self.register_status is not None:
            self._reply(tx, self.register_status, now)
            return
        request = tx.request
        expires = request.header_int("Expires") or 0
        if expires and self.grant_expires is not None:
            expires = self.grant_expires
        contact = request.headers.get("Contact") or ""
        granted = expires or self.grant_expires is not None
        extra = [("Contact", f"{contact};expires={expires}")] if granted else []
        self._reply(tx, 200, now, extra=extra)

    def _on_invite(self, tx: ServerTransaction, now: float) -> None:
        call = SipCall(self, "uas", tx.request, secrets.token_hex(6), tx)
        tx.tu_data = call
        self.incoming.append(call)
        for step in self.behaviour.steps:
            if step.delay <= 0:
                self._perform(call, step)
            else:
                self.at(step.delay, partial(self._perform_at, call, step))

    def _perform_at(self, call: SipCall, step: Step, now: float) -> None:
        self._perform(call, step)

    def _perform(self, call: SipCall, step: Step) -> None:
        body = None
        if step.sdp or (200 <= step.status < 300 and self.behaviour.answer_sdp):
            body = self.sdp()
        if 100 < step.status < 200 and not step.sdp:
            body = None
        call.respond(step.status, body=body, reliable=step.reliable)

    def _on_cancel(self, ctx: ServerTransaction, itx: ServerTransaction | None, now: float) -> None:
        self._reply(ctx, 481 if itx is None else 200, now)
        if itx is None:
            return
        call = itx.tu_data
        if isinstance(call, SipCall) and itx.state is TransactionState.PROCEEDING:
            call.cancelled = True
            call.respond(487)

    def _on_ack(self, ack: Request) -> None:
        call = self._find(ack.call_id, ack.to.tag)
        if call is None:
            return
        call.acks.append(ack)
        for pump in call.pumps:
            if isinstance(pump.source, Uas2xxRetransmitter):
                pump.source.receive_ack(ack)

    def _in_dialog(self, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        call = self._find(request.call_id, request.to.tag)
        if call is None or call.dialog is None:
            self._reply(tx, 481, now)
            return
        call.requests.append(request)
        rejected = call.dialog.receive_request(request, now)
        if rejected is not None:
            self._reply(tx, rejected, now)
            return
        method = request.method
        if method == "BYE":
            call.state = "ended"
            self._reply(tx, 200, now)
        elif method == "PRACK":
            ok = call.sender is not None and call.sender.receive_prack(request, now) is not None
            self._reply(tx, 200 if ok else 481, now)
            if call.pumps:
                call.pumps[0].flush(now)
        elif method == "INVITE":
            self._on_reinvite(call, tx, now)
        else:
            self._reply(tx, 200, now)

    def _on_reinvite(self, call: SipCall, tx: ServerTransaction, now: float) -> None:
        delay = self.behaviour.reinvite_delay
        if delay > 0:
            self.at(delay, lambda t: self._answer_reinvite(call, tx, t))
        else:
            self._answer_reinvite(call, tx, now)

    def _answer_reinvite(self, call: SipCall, tx: ServerTransaction, now: float) -> None:
        status = self.behaviour.reinvite_status
        if status >= 300:
            self._reply(tx, status, now)
            return
        offer = tx.request.body
        if offer:
            direction = direction_of(offer) or "sendrecv"
            body = self.sdp(MIRRORED_DIRECTION.get(direction, "sendrecv"))
        else:
            body = self.sdp()
        response = self._reply(tx, status, now, extra=[("Contact", self.contact)], body=body)
        call.pumps.append(UaPump(self.layer, tx, Uas2xxRetransmitter(response, now, self.timers)))

    def _on_response(self, tx: ClientTransaction, response: Response, now: float) -> None:
        owner = tx.tu_data
        if isinstance(owner, SipCall):
            self._on_invite_response(owner, tx, response, now)
        elif isinstance(owner, Exchange):
            owner.responses.append(response)
            if response.status_code in (401, 407) and self._retry_exchange(owner, tx, response):
                return
            if owner.request.method == "INVITE" and 200 <= response.status_code < 300:
                self._ack_reinvite(owner, response)

    def _on_invite_response(
        self, call: SipCall, tx: ClientTransaction, response: Response, now: float
    ) -> None:
        if tx is not call.tx:
            return
        call.responses.append(response)
        status = response.status_code
        if status < 200:
            if response.to.tag is not None and call.dialog is None and status > 100:
                call.dialog = Dialog.from_uac(call.invite, response)
                call.state = "early"
            action = call.prack_state.receive_provisional(response)
            if action is ProvisionalAction.PRACK and call.prack and call.dialog is not None:
                prack = PrackState.create_prack(call.dialog, response, via=self.via)
                call.pracks_sent += 1
                self.send_request(prack, Exchange(prack, call))
            return
        if status < 300:
            if call.last_ack is not None:
                self.layer.send_stateless(call.last_ack, self.outbound)
                return
            if call.dialog is not None and call.dialog.remote_tag == response.to.tag:
                call.dialog.receive_response(response)
            else:
                call.dialog = Dialog.from_uac(call.invite, response)
            call.state = "confirmed"
            call.final = response
            if call.auto_ack:
                self.ack(call)
            return
        if status in (401, 407) and self._retry_invite(call, response, now):
            return
        call.state = "ended"
        call.final = response

    def ack(self, call: SipCall) -> None:
        assert call.dialog is not None
        body = call.ack_body
        ack = call.dialog.create_ack(
            call.invite.cseq.seq,
            via=self.via,
            headers=[("Content-Type", "application/sdp")] if body else [],
            body=body,
        )
        call.last_ack = ack
        self.layer.send_stateless(ack, self.outbound)

    def _ack_reinvite(self, exchange: Exchange, response: Response) -> None:
        call = exchange.call
        if exchange.ack is not None:
            self.layer.send_stateless(exchange.ack, self.outbound)
            return
        if call is None or call.dialog is None:
            return
        body = exchange.ack_body
        ack = call.dialog.create_ack(
            exchange.request.cseq.seq,
            via=self.via,
            headers=[("Content-Type", "application/sdp")] if body else [],
            body=body,
        )
        exchange.ack = ack
        self.layer.send_stateless(ack, self.outbound)

    def _on_stray(self, response: Response) -> None:
        for call in self.calls:
            if call.call_id == response.call_id and call.last_ack is not None:
                self.layer.send_stateless(call.last_ack, self.outbound)

    def _authorization(self, request: Request, response: Response) -> tuple[str, str] | None:
        client = self.auth_client
        if client is None:
            return None
        proxy = response.status_code == 407
        values = response.headers.get_all("Proxy-Authenticate" if proxy else "WWW-Authenticate")
        challenge = client.choose_challenge(values)
        value = client.authorize(challenge, method=request.method, uri=str(request.uri))
        return ("Proxy-Authorization" if proxy else "Authorization", value)

    def _retry_invite(self, call: SipCall, response: Response, now: float) -> bool:
        credentials = self._authorization(call.invite, response)
        if credentials is None or call.auth_tries:
            return False
        call.auth_tries += 1
        headers = call.invite.headers.copy()
        headers.set("Via", self.via)
        headers.set("CSeq", f"{call.invite.cseq.seq + 1} INVITE")
        headers.set(*credentials)
        call.invite = Request("INVITE", call.invite.uri, headers, call.invite.body)
        call.tx = self.layer.send_request(call.invite, self.outbound, now)
        call.tx.tu_data = call
        call.responses.clear()
        return True

    def _retry_exchange(
        self, exchange: Exchange, tx: ClientTransaction, response: Response
    ) -> bool:
        request = exchange.request
        if any(name in ("Authorization", "Proxy-Authorization") for name, _ in request.headers):
            return False
        credentials = self._authorization(request, response)
        if credentials is None:
            return False
        headers = request.headers.copy()
        headers.set("Via", self.via)
        seq = request.cseq.seq + 1
        if request.method == "REGISTER":
            self.register_cseq = seq
        headers.set("CSeq", f"{seq} {request.method}")
        headers.set(*credentials)
        exchange.request = Request(request.method, request.uri, headers, request.body)
        exchange.responses.clear()
        tx2 = self.layer.send_request(exchange.request, self.outbound, self.net.now)
        tx2.tu_data = exchange
        return True
