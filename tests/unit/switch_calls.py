"""Calls and answering behaviour of the scripted user agents in the switch tests.

:class:`SipCall` is one INVITE dialog of a :class:`~switch_phones.Phone`, placed or received;
:class:`Behaviour` scripts how a phone answers; :class:`Exchange` is any other request a phone
sent, with the responses it got.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from switch_net import Message

from callcenter.sip.dialog import Dialog
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.reliable import (
    PrackState,
    ReliableProvisionalSender,
    Uas2xxRetransmitter,
)
from callcenter.sip.transaction import (
    ClientTransaction,
    Endpoint,
    ServerTransaction,
    TransactionLayer,
    TransactionState,
)

if TYPE_CHECKING:
    from switch_phones import Phone


@dataclass(frozen=True)
class Step:
    delay: float
    status: int
    sdp: bool = False
    reliable: bool = False


@dataclass
class Behaviour:
    """How a phone answers an INVITE: responses after delays from its arrival."""

    steps: tuple[Step, ...] = (Step(0.0, 180), Step(1.0, 200, sdp=True))
    reinvite_status: int = 200
    reinvite_delay: float = 0.0
    answer_sdp: bool = True
    """A 2xx answers with SDP; off: a 2xx to an INVITE without an offer carries none either."""


def answers(after: float = 1.0, *, ring: int | None = 180, reliable: bool = False) -> Behaviour:
    ring_steps = () if ring is None else (Step(0.0, ring, reliable=reliable),)
    return Behaviour((*ring_steps, Step(after, 200, sdp=True)))


def rejects(status: int, after: float = 0.5, *, ring: bool = True) -> Behaviour:
    ring_steps = (Step(0.0, 180),) if ring else ()
    return Behaviour((*ring_steps, Step(after, status)))


def rings() -> Behaviour:
    return Behaviour((Step(0.0, 180),))


def silent() -> Behaviour:
    return Behaviour(())


@dataclass
class Received:
    at: float
    message: Message
    source: Endpoint


@dataclass(eq=False)
class Exchange:
    """A request a phone sent (not the initial INVITE) and the responses it got."""

    request: Request
    call: SipCall | None = None
    responses: list[Response] = field(default_factory=list)
    timed_out: bool = False
    ack: Request | None = None
    ack_body: bytes = b""

    @property
    def final(self) -> Response | None:
        finals = [r for r in self.responses if r.status_code >= 200]
        return finals[0] if finals else None

    @property
    def status(self) -> int | None:
        final = self.final
        return final.status_code if final is not None else None


class UaPump:
    """Hands what a UA-level retransmitter queues to its server transaction."""

    def __init__(
        self,
        layer: TransactionLayer,
        tx: ServerTransaction,
        source: Uas2xxRetransmitter | ReliableProvisionalSender,
    ) -> None:
        self.layer = layer
        self.tx = tx
        self.source = source
        self.gave_up = False

    def flush(self, now: float) -> None:
        for response in self.source.responses_to_send():
            if self.tx.state is not TransactionState.COMPLETED:
                self.layer.send_response(self.tx, response, now)

    def get_timer(self) -> float | None:
        return self.source.get_timer()

    def handle_timer(self, now: float) -> None:
        if self.source.handle_timer(now):
            self.gave_up = True
        self.flush(now)


Role = Literal["uac", "uas"]


@dataclass(eq=False)
class SipCall:
    """One INVITE dialog of a phone, placed (``uac``) or received (``uas``)."""

    phone: Phone
    role: Role
    invite: Request
    local_tag: str
    tx: ClientTransaction | ServerTransaction
    dialog: Dialog | None = None
    state: str = "calling"  # calling, early, confirmed, ended
    responses: list[Response] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    acks: list[Request] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    last_ack: Request | None = None
    ack_body: bytes = b""
    auto_ack: bool = True
    prack: bool = True
    pracks_sent: int = 0
    prack_state: PrackState = field(default_factory=PrackState)
    sender: ReliableProvisionalSender | None = None
    pumps: list[UaPump] = field(default_factory=list)
    auth_tries: int = 0
    cancelled: bool = False
    final: Response | None = None

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    @property
    def status(self) -> int | None:
        return self.final.status_code if self.final is not None else None

    def statuses(self) -> list[int]:
        return [r.status_code for r in self.responses]

    # -- caller side --
    def cancel(self) -> None:
        assert isinstance(self.tx, ClientTransaction)
        self.phone.layer.cancel(self.tx, self.phone.net.now)

    def bye(self) -> Exchange:
        return self.send("BYE")

    def reinvite(self, body: bytes | None, *, ack_body: bytes = b"") -> Exchange:
        exchange = self.send("INVITE", body or b"")
        exchange.ack_body = ack_body
        return exchange

    def info(self, body: bytes = b"Signal=5\r\nDuration=160\r\n") -> Exchange:
        return self.send("INFO", body, content_type="application/dtmf-relay")

    def send(self, method: str, body: bytes = b"", *, content_type: str | None = None) -> Exchange:
        assert self.dialog is not None, "no dialog yet"
        headers: list[tuple[str, str]] = []
        if body:
            headers.append(("Content-Type", content_type or "application/sdp"))
        if method == "INVITE":
            headers.append(("Contact", self.phone.contact))
        request = self.dialog.create_request(method, via=self.phone.via, headers=headers, body=body)
        exchange = Exchange(request, self)
        self.exchanges.append(exchange)
        self.phone.send_request(request, exchange)
        if method == "BYE":
            self.state = "ended"
        return exchange

    # -- callee side --
    def respond(
        self,
        status: int,
        *,
        body: bytes | None = None,
        reliable: bool = False,
        reason: str | None = None,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Response | None:
        phone, now = self.phone, self.phone.net.now
        assert isinstance(self.tx, ServerTransaction)
        if self.state == "ended" or self.tx.state is not TransactionState.PROCEEDING:
            return None
        headers = list(extra)
        if status < 300:
            headers.append(("Contact", phone.contact))
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = make_response(
            self.invite, status, reason, to_tag=self.local_tag, extra=headers, body=body or b""
        )
        if 100 < status < 300 and self.dialog is None:
            self.dialog = Dialog.from_uas(self.invite, response)
            self.state = "early"
        if 100 < status < 200 and reliable:
            if self.sender is None:
                self.sender = ReliableProvisionalSender(self.invite, phone.timers)
                self.pumps.append(UaPump(phone.layer, self.tx, self.sender))
            self.sender.send(response, now)
            self.pumps[0].flush(now)
            return response
        if status >= 200 and self.sender is not None:
            self.sender.stop()
        phone.layer.send_response(self.tx, response, now)
        if 200 <= status < 300:
            assert self.dialog is not None
            self.dialog.response_sent(response)
            self.state = "confirmed"
            self.final = response
            self.pumps.append(
                UaPump(phone.layer, self.tx, Uas2xxRetransmitter(response, now, phone.timers))
            )
        elif status >= 300:
            self.state = "ended"
            self.final = response
        return response

    def resend_final(self) -> None:
        """Send the final response again, as a retransmission would (outside the timers)."""
        assert self.final is not None and isinstance(self.tx, ServerTransaction)
        self.phone.layer.send_stateless(self.final, self.tx.response_destination)
