"""Calls and legs: the B2BUA's view of a conversation.

A :class:`Call` joins the caller's leg (``a``, the dialog the caller created with us) and the
callee's leg (``b``, a dialog we created, one per forked branch until one answers). Each leg is a
separate SIP dialog with its own Call-ID, tags and CSeq space, so media anchoring, recording and
transfer can act on one side without the other side seeing SIP details of it.

Media is deliberately a slot: :class:`SessionDescriptionHandler` sees every SDP body crossing
the switch (offer or answer, from which leg) and returns the body to send on. The default passes
SDP through unchanged; the media plane replaces it to anchor RTP.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from callcenter.store.records import Disposition  # the CDR's vocabulary, shared

if TYPE_CHECKING:
    from callcenter.sip.dialog import Dialog
    from callcenter.sip.message import Request
    from callcenter.sip.transaction import ClientTransaction, Endpoint, ServerTransaction
    from callcenter.switch.timers import TimerHandle

__all__ = [
    "Call",
    "CallState",
    "Disposition",
    "Leg",
    "LegState",
    "MediaRejected",
    "PassThroughSdp",
    "SessionDescriptionHandler",
    "Side",
]


class Side(enum.Enum):
    CALLER = "caller"
    CALLEE = "callee"


class LegState(enum.Enum):
    CALLING = "calling"  # INVITE sent (callee) or received (caller), no provisional yet
    EARLY = "early"  # a provisional with a To-tag
    CONFIRMED = "confirmed"  # 2xx exchanged
    ENDED = "ended"


class CallState(enum.Enum):
    ROUTING = "routing"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


@dataclass(eq=False, slots=True)
class Leg:
    """One side of a call: a SIP dialog between the switch and one peer."""

    call: Call
    side: Side
    endpoint: Endpoint
    """Where requests for this leg go (the flow it arrived on, or the trunk/contact address)."""
    invite: Request
    """The initial INVITE: received (caller leg) or sent (callee leg)."""
    local_tag: str
    local_contact: str
    dialog: Dialog | None = None
    state: LegState = LegState.CALLING
    server_tx: ServerTransaction | None = None
    client_tx: ClientTransaction | None = None
    cancel_pending: bool = False
    auth_attempted: bool = False
    final_status: int | None = None
    final_reason: str | None = None
    pending_ack_body: bool = False
    """A 2xx carried an offer (late-offer call): its ACK must carry the other side's answer."""
    reliable: object | None = None
    """State for reliable provisionals (RFC 3262) on this leg, when in use."""
    target: str = ""
    """The number or extension this leg reaches (callee legs)."""
    last_ack: Request | None = None
    """The ACK sent for this leg's 2xx, re-sent when the 2xx is retransmitted."""
    pending_2xx: object | None = None
    """Retransmission state of a 2xx we sent on this leg, until its ACK arrives."""
    relayed_ack_body: bool = False
    """A relayed re-INVITE's ACK must wait for the other side's ACK (it carries the answer)."""
    pending_relays: list[object] = field(default_factory=list)
    """Requests received on this leg and relayed to the other, not yet answered."""
    held_answer: bytes | None = None
    """The 2xx body for the caller, held until its reliable provisionals are PRACKed."""
    local_reinvite_pending: bool = False
    """A re-INVITE the switch sent on this leg awaits its final response."""
    remote_reinvite_pending: bool = False
    """A re-INVITE this leg sent awaits the switch's final response."""


@dataclass(eq=False, slots=True)
class Call:
    """A conversation through the switch, and what its CDR will say."""

    caller: str
    callee: str
    direction: str
    created_at: float
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    trunk: str | None = None
    caller_display: str | None = None
    a: Leg | None = None
    forks: list[Leg] = field(default_factory=list)
    b: Leg | None = None
    state: CallState = CallState.ROUTING
    answered_at: float | None = None
    ended_at: float | None = None
    disposition: Disposition | None = None
    sip_code: int | None = None
    sip_reason: str | None = None
    hangup_by: str | None = None
    no_answer_deadline: float | None = None
    no_answer_timer: TimerHandle | None = None

    @property
    def legs(self) -> list[Leg]:
        legs = [self.a] if self.a is not None else []
        legs.extend(self.forks)
        return legs

    def other(self, leg: Leg) -> Leg | None:
        """The leg bridged to *leg* (None before answer on the caller side)."""
        if leg is self.a:
            return self.b
        return self.a


class MediaRejected(Exception):
    """An SDP body the switch cannot accept: answered with ``status`` (RFC 3264 §6: 488)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason

    @property
    def warning(self) -> str:
        """A Warning header value (RFC 3261 §20.43, code 304/305/399)."""
        text = self.reason.replace('"', "'")
        return f'399 callcenter "{text}"'


class SessionDescriptionHandler(Protocol):
    """Sees each SDP body crossing the switch and returns the body to forward.

    ``offer`` may raise `MediaRejected`; the switch then answers the offer with its status.
    """

    def offer(self, call: Call, from_leg: Leg, body: bytes) -> bytes: ...

    def answer(self, call: Call, from_leg: Leg, body: bytes) -> bytes: ...

    def release(self, call: Call) -> None: ...


class PassThroughSdp:
    """Forwards SDP unchanged: media flows end to end, not through the switch."""

    def offer(self, call: Call, from_leg: Leg, body: bytes) -> bytes:
        return body

    def answer(self, call: Call, from_leg: Leg, body: bytes) -> bytes:
        return body

    def release(self, call: Call) -> None:
        return None
