"""Retransmissions the transaction user owns: reliable provisionals (RFC 3262) and the 2xx
to an INVITE (RFC 3261 §13.3.1.4).

Each object here is sans-I/O with the same shape as the transaction layer: feed it input and
``now``; drain ``responses_to_send()`` and hand each response to
``layer.send_response(invite_transaction, response, now)``; arm ``get_timer()`` and call
``handle_timer(now)``, which returns events (:class:`~callcenter.sip.events.PrackTimeout`,
:class:`~callcenter.sip.events.AckTimeout`).

Retransmission happens whatever the transport: RFC 3262 §3 and RFC 3261 §13.3.1.4 put it in
the UA core, above the transport, because the ACK/PRACK is end to end.

- :class:`ReliableProvisionalSender` (UAS): marks 101-199 responses reliable (``Require:
  100rel``, ``RSeq``), retransmits the outstanding one at T1, 2*T1, 4*T1... until the
  matching PRACK, gives up after 64*T1 (the UAS then rejects the INVITE with a 5xx). One
  reliable provisional is outstanding at a time; later ones wait in order.
- :class:`PrackState` (UAC): decides, per early dialog, whether a provisional is processed
  and PRACKed, processed without PRACK, or discarded (retransmission or out of order), and
  builds the PRACK.
- :class:`Uas2xxRetransmitter` (UAS): the 2xx every T1 doubling up to T2 until the ACK, and
  :class:`~callcenter.sip.events.AckTimeout` after 64*T1.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterable
from enum import Enum

from callcenter.sip.dialog import Dialog
from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.events import AckTimeout, PrackTimeout
from callcenter.sip.message import Request, Response
from callcenter.sip.timers import TimerConfig

__all__ = [
    "PrackState",
    "ProvisionalAction",
    "ReliableProvisionalSender",
    "Uas2xxRetransmitter",
    "parse_rack",
    "wants_100rel",
]

DEFAULT_TIMERS = TimerConfig()
OPTION_TAG = "100rel"


def wants_100rel(invite: Request) -> bool:
    """True when the INVITE lists 100rel in Supported or Require (RFC 3262 §3)."""
    return OPTION_TAG in invite.option_tags("Require") or OPTION_TAG in invite.option_tags(
        "Supported"
    )


def parse_rack(value: str | None) -> tuple[int, int, str] | None:
    """``RAck: <rseq> <cseq number> <method>`` (RFC 3262 §7.2), or None when malformed."""
    if value is None:
        return None
    parts = value.split()
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    if len(parts[0]) > 10 or len(parts[1]) > 10:
        return None
    return int(parts[0]), int(parts[1]), parts[2]


class _Retransmitting:
    """What both retransmitters share: an output queue and one deadline."""

    __slots__ = ("_deadline", "_out")

    _deadline: float | None
    _out: list[Response]

    def responses_to_send(self) -> list[Response]:
        out = self._out
        self._out = []
        return out

    def get_timer(self) -> float | None:
        return self._deadline


class ReliableProvisionalSender(_Retransmitting):
    """The UAS side of RFC 3262 for one INVITE server transaction.

    ``send(response, now)`` takes a 101-199 response and makes it reliable (adds ``Require:
    100rel`` and ``RSeq``; the response object is modified). The RSeq space starts at a
    random value below 2**31 (§3) unless *rseq* is given.
    """

    __slots__ = (
        "_give_up_at",
        "_interval",
        "_next_rseq",
        "_queue",
        "_rseq",
        "_t1",
        "_window",
        "invite",
        "unacknowledged",
    )

    def __init__(
        self, invite: Request, timers: TimerConfig = DEFAULT_TIMERS, *, rseq: int | None = None
    ) -> None:
        self.invite = invite
        self._t1 = timers.t1
        self._window = 64 * timers.t1
        self._next_rseq = rseq if rseq is not None else secrets.randbelow(2**31 - 1) + 1
        self._queue: deque[Response] = deque()
        self._out: list[Response] = []
        self.unacknowledged: Response | None = None
        self._rseq = 0
        self._interval = 0.0
        self._deadline: float | None = None
        self._give_up_at = 0.0

    @property
    def pending(self) -> bool:
        """A reliable provisional is unacknowledged or waiting its turn."""
        return self.unacknowledged is not None or bool(self._queue)

    def send(self, response: Response, now: float) -> None:
        """Send *response* reliably: now, or after the outstanding one is acknowledged."""
        if not 100 < response.status_code < 200:
            raise ValueError("only 101-199 responses are sent reliably (RFC 3262 §3)")
        if self.unacknowledged is None:
            self._transmit(response, now)
        else:
            self._queue.append(response)

    def _transmit(self, response: Response, now: float) -> None:
        rseq = self._rseq = self._next_rseq
        self._next_rseq += 1
        headers = response.headers
        if OPTION_TAG not in response.option_tags("Require"):
            headers.add("Require", OPTION_TAG)
        headers.set("RSeq", str(rseq))
        self.unacknowledged = response
        self._out.append(response)
        self._interval = self._t1
        self._give_up_at = now + self._window
        self._deadline = now + self._t1

    def receive_prack(self, prack: Request, now: float) -> Response | None:
        """Match a PRACK (its RAck) against the outstanding provisional (§3).

        Returns the acknowledged response (answer the PRACK with 200; the next queued
        provisional, if any, is released), or None (answer 481).
        """
        outstanding = self.unacknowledged
        rack = parse_rack(prack.headers.get("RAck"))
        if outstanding is None or rack is None:
            return None
        cseq = self.invite.cseq
        rseq, seq, method = rack
        if rseq != self._rseq or seq != cseq.seq or method.upper() != cseq.method.upper():
            return None
        self.unacknowledged = None
        self._deadline = None
        if self._queue:
            self._transmit(self._queue.popleft(), now)
        return outstanding

    def stop(self) -> None:
        """A final response was sent: stop retransmitting and drop queued provisionals."""
        self.unacknowledged = None
        self._queue.clear()
        self._deadline = None

    def handle_timer(self, now: float) -> list[PrackTimeout]:
        deadline = self._deadline
        outstanding = self.unacknowledged
        if deadline is None or now < deadline or outstanding is None:
            return []
        if now >= self._give_up_at:
            self.stop()
            return [PrackTimeout(outstanding)]
        self._out.append(outstanding)
        self._interval *= 2  # doubles without the T2 cap of 2xx retransmissions (§3)
        self._deadline = min(now + self._interval, self._give_up_at)
        return []


class ProvisionalAction(Enum):
    """What a UAC does with a provisional response (RFC 3262 §4)."""

    PROCESS = "process"
    """Not sent reliably: process it, no PRACK."""
    PRACK = "prack"
    """A new reliable provisional, in order: process it and send a PRACK."""
    DISCARD = "discard"
    """A retransmission, or out of order: neither processed nor acknowledged."""


class PrackState:
    """The UAC side of RFC 3262 for one early dialog (RSeq spaces are per dialog)."""

    __slots__ = ("last_rseq",)

    def __init__(self) -> None:
        self.last_rseq: int | None = None

    @staticmethod
    def is_reliable(response: Response) -> bool:
        return 100 < response.status_code < 200 and OPTION_TAG in response.option_tags("Require")

    def receive_provisional(self, response: Response) -> ProvisionalAction:
        """Classify a provisional; a PRACK decision records its RSeq."""
        if not self.is_reliable(response):
            return ProvisionalAction.PROCESS
        try:
            rseq = response.header_int("RSeq")
        except SipSyntaxError:
            return ProvisionalAction.DISCARD
        if rseq is None:
            return ProvisionalAction.DISCARD
        if self.last_rseq is not None and rseq != self.last_rseq + 1:
            return ProvisionalAction.DISCARD
        self.last_rseq = rseq
        return ProvisionalAction.PRACK

    @staticmethod
    def create_prack(
        dialog: Dialog,
        response: Response,
        *,
        via: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Request:
        """The PRACK for a reliable provisional, with ``RAck: rseq cseq method`` (§7.2)."""
        rseq = response.header_int("RSeq")
        if rseq is None:
            raise SipSyntaxError("a reliable provisional needs an RSeq")
        cseq = response.cseq
        rack = [("RAck", f"{rseq} {cseq.seq} {cseq.method}")]
        return dialog.create_request("PRACK", via=via, headers=[*rack, *headers], body=body)


class Uas2xxRetransmitter(_Retransmitting):
    """Retransmits a 2xx to an INVITE until its ACK (RFC 3261 §13.3.1.4).

    Build it when the 2xx is first sent (at *now*): retransmissions follow at T1, then
    intervals doubling up to T2; after 64*T1 without ACK, ``handle_timer`` returns
    :class:`~callcenter.sip.events.AckTimeout` and the object is done.
    """

    __slots__ = ("_give_up_at", "_interval", "_t2", "response")

    def __init__(
        self, response: Response, now: float, timers: TimerConfig = DEFAULT_TIMERS
    ) -> None:
        self.response = response
        self._t2 = timers.t2
        self._interval = timers.t1
        self._give_up_at = now + 64 * timers.t1
        self._deadline: float | None = now + timers.t1
        self._out: list[Response] = []

    @property
    def done(self) -> bool:
        return self._deadline is None

    def receive_ack(self, ack: Request) -> bool:
        """Stop when *ack* acknowledges this 2xx (same Call-ID and CSeq number)."""
        cseq = self.response.cseq
        if ack.cseq.seq != cseq.seq or ack.call_id != self.response.call_id:
            return False
        self._deadline = None
        return True

    def stop(self) -> None:
        self._deadline = None

    def handle_timer(self, now: float) -> list[AckTimeout]:
        deadline = self._deadline
        if deadline is None or now < deadline:
            return []
        if now >= self._give_up_at:
            self._deadline = None
            return [AckTimeout(self.response)]
        self._out.append(self.response)
        self._interval = min(self._interval * 2, self._t2)
        self._deadline = min(now + self._interval, self._give_up_at)
        return []
