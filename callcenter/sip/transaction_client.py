"""Client transactions: INVITE (RFC 3261 §17.1.1, RFC 6026 §7.2) and non-INVITE (§17.1.2).

The INVITE client transaction builds and sends the ACK for a 300-699 final response itself
(§17.1.1.3) and re-sends it for every retransmission of that response while timer D runs.
A 2xx moves it to "Accepted" (RFC 6026), where every further 2xx — retransmissions and the
answers of other forks — is passed to the TU until timer M fires; the ACK for a 2xx is the
TU's (a new transaction, §13.2.2.4).

CANCEL (§9.1) is sent through :meth:`ClientInviteTransaction.cancel`: at once when a
provisional response has arrived, else as soon as one does (the RFC forbids sending it
before). Sending a CANCEL re-arms timer B on the INVITE: if no final response arrives within
64*T1, the INVITE transaction times out, so a UAS that never answers cannot keep it alive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from callcenter.sip.errors import TransactionError
from callcenter.sip.events import ResponseReceived
from callcenter.sip.grammar import split_list
from callcenter.sip.message import Headers, Request, Response
from callcenter.sip.transaction_base import (
    MAGIC_COOKIE,
    Endpoint,
    Input,
    Transaction,
    TransactionCore,
    TransactionState,
)

if TYPE_CHECKING:
    from callcenter.sip.timers import TransportTimers

__all__ = [
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
    "build_ack",
    "build_cancel",
    "start_client_transaction",
]

S = TransactionState
I = Input  # noqa: E741


def _top_via_value(request: Request) -> str:
    value = request.headers.get("Via") or ""
    return split_list(value)[0] if "," in value else value


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK for a 300-699 response to *invite* (RFC 3261 §17.1.1.3).

    Request-URI, Call-ID, From and CSeq number of the INVITE; To of the response (with its
    tag); one Via, the INVITE's top Via (same branch); the INVITE's Route header fields.
    """
    h = invite.headers
    items = [("Via", _top_via_value(invite)), ("Max-Forwards", "70")]
    items.extend(("Route", value) for value in h.get_all("Route"))
    items.append(("From", h.get("From") or ""))
    items.append(("To", response.headers.get("To") or ""))
    items.append(("Call-ID", invite.call_id))
    items.append(("CSeq", f"{invite.cseq.seq} ACK"))
    return Request("ACK", invite.uri, Headers(items))


def build_cancel(invite: Request, reason: str | None = None) -> Request:
    """The CANCEL for *invite* (RFC 3261 §9.1): same Request-URI, Call-ID, From, To, CSeq
    number, top Via and Route; *reason* becomes a Reason header (RFC 3326), e.g.
    ``'SIP;cause=200;text="Call completed elsewhere"'``."""
    h = invite.headers
    items = [("Via", _top_via_value(invite)), ("Max-Forwards", "70")]
    items.extend(("Route", value) for value in h.get_all("Route"))
    items.append(("From", h.get("From") or ""))
    items.append(("To", h.get("To") or ""))
    items.append(("Call-ID", invite.call_id))
    items.append(("CSeq", f"{invite.cseq.seq} CANCEL"))
    if reason:
        items.append(("Reason", reason))
    return Request("CANCEL", invite.uri, Headers(items))


class ClientTransaction(Transaction):
    """A client transaction; ``destination`` is where its request (and ACK/CANCEL) go."""

    __slots__ = ("_wire", "destination")

    role = "client"

    def __init__(
        self,
        core: TransactionCore,
        request: Request,
        key: tuple[str, str],
        destination: Endpoint,
        state: TransactionState,
    ) -> None:
        super().__init__(core, request, key, core._clients, destination, state)
        self.destination = destination
        self._wire = bytes(request)

    @property
    def branch(self) -> str:
        return str(self.key[0])

    # The machine's first retransmission timer and its timeout timer, with the name of
    # each one's duration in TransportTimers: A/B for INVITE, E/F otherwise (§17.1).
    RETRANSMIT_TIMER: ClassVar[tuple[Input, str]]
    TIMEOUT_TIMER: ClassVar[tuple[Input, str]]

    def _start(self, now: float) -> None:
        self._send_request()
        timer, name = self.RETRANSMIT_TIMER
        interval: float | None = getattr(self._tt, name)
        if interval is not None:  # None on reliable transports
            self._interval = interval
            self._arm(timer, interval, now)
        timer, name = self.TIMEOUT_TIMER
        self._arm(timer, getattr(self._tt, name), now)

    def _receive(self, response: Response, now: float) -> None:
        code = response.status_code
        inp = I.PROVISIONAL if code < 200 else I.SUCCESS if code < 300 else I.FAILURE
        self._handle(inp, response, now)

    def _send_request(self) -> None:
        self._core._out.append((self._wire, self.destination))

    def _pass_up(self, message: Request | Response | None, now: float) -> None:
        assert isinstance(message, Response)
        self.last_response = message
        self._core._events.append(ResponseReceived(self, message))


class ClientInviteTransaction(ClientTransaction):
    """RFC 3261 Figure 5 with RFC 6026's Accepted state."""

    RETRANSMIT_TIMER = (I.TIMER_A, "a")
    TIMEOUT_TIMER = (I.TIMER_B, "b")

    __slots__ = ("_ack_wire", "cancel_pending", "cancel_reason", "cancel_transaction")

    TRANSITIONS = {
        (S.CALLING, I.TIMER_A): (S.CALLING, "_retransmit"),
        (S.CALLING, I.TIMER_B): (S.TERMINATED, "_time_out"),
        (S.CALLING, I.PROVISIONAL): (S.PROCEEDING, "_proceed"),
        (S.CALLING, I.SUCCESS): (S.ACCEPTED, "_accept"),
        (S.CALLING, I.FAILURE): (S.COMPLETED, "_complete"),
        (S.PROCEEDING, I.PROVISIONAL): (S.PROCEEDING, "_pass_up"),
        (S.PROCEEDING, I.SUCCESS): (S.ACCEPTED, "_accept"),
        (S.PROCEEDING, I.FAILURE): (S.COMPLETED, "_complete"),
        (S.PROCEEDING, I.TIMER_B): (S.TERMINATED, "_time_out"),  # only after CANCEL (§9.1)
        (S.COMPLETED, I.FAILURE): (S.COMPLETED, "_resend_ack"),
        (S.COMPLETED, I.TIMER_D): (S.TERMINATED, "_end"),
        (S.ACCEPTED, I.SUCCESS): (S.ACCEPTED, "_pass_up"),
        (S.ACCEPTED, I.TIMER_M): (S.TERMINATED, "_end"),
    }

    def __init__(
        self, core: TransactionCore, request: Request, key: tuple[str, str], destination: Endpoint
    ) -> None:
        super().__init__(core, request, key, destination, S.CALLING)
        self._ack_wire: bytes | None = None
        self.cancel_pending = False
        self.cancel_reason: str | None = None
        self.cancel_transaction: ClientTransaction | None = None

    def _retransmit(self, message: Request | Response | None, now: float) -> None:
        self._send_request()
        self._interval *= 2  # timer A doubles without a cap (§17.1.1.2)
        self._arm(I.TIMER_A, self._interval, now)

    def _stop_request_timers(self) -> None:
        core = self._core
        core._disarm(self, I.TIMER_A)
        core._disarm(self, I.TIMER_B)

    def _proceed(self, message: Request | Response | None, now: float) -> None:
        self._stop_request_timers()
        self._pass_up(message, now)
        if self.cancel_pending:
            self._send_cancel(now)

    def _accept(self, message: Request | Response | None, now: float) -> None:
        self._stop_request_timers()
        self.cancel_pending = False
        self._arm(I.TIMER_M, self._tt.m, now)
        self._pass_up(message, now)

    def _complete(self, message: Request | Response | None, now: float) -> None:
        assert isinstance(message, Response)
        self._stop_request_timers()
        self.cancel_pending = False
        ack = bytes(build_ack(self.request, message))
        self._ack_wire = ack
        self._core._out.append((ack, self.destination))
        self._pass_up(message, now)
        if self._tt.d > 0:
            self._arm(I.TIMER_D, self._tt.d, now)
        else:
            self._terminate(now)

    def _resend_ack(self, message: Request | Response | None, now: float) -> None:
        if self._ack_wire is not None:
            self._core._out.append((self._ack_wire, self.destination))

    # -- CANCEL (§9.1) --
    def cancel(self, now: float, reason: str | None = None) -> ClientTransaction | None:
        """Cancel this INVITE; see :meth:`TransactionLayer.cancel`."""
        if self.cancel_transaction is not None:
            return self.cancel_transaction
        if self.state is S.CALLING:
            self.cancel_pending = True
            self.cancel_reason = reason
            return None
        if self.state is S.PROCEEDING:
            self.cancel_reason = reason
            return self._send_cancel(now)
        return None

    def _send_cancel(self, now: float) -> ClientTransaction:
        self.cancel_pending = False
        cancel = build_cancel(self.request, self.cancel_reason)
        tx = start_client_transaction(self._core, cancel, self.destination, now)
        tx.tu_data = self.tu_data
        self.cancel_transaction = tx
        self._arm(I.TIMER_B, self._tt.b, now)
        return tx


class ClientNonInviteTransaction(ClientTransaction):
    """RFC 3261 Figure 6."""

    RETRANSMIT_TIMER = (I.TIMER_E, "e")
    TIMEOUT_TIMER = (I.TIMER_F, "f")

    __slots__ = ()

    TRANSITIONS = {
        (S.TRYING, I.TIMER_E): (S.TRYING, "_retransmit"),
        (S.TRYING, I.TIMER_F): (S.TERMINATED, "_time_out"),
        (S.TRYING, I.PROVISIONAL): (S.PROCEEDING, "_pass_up"),
        (S.TRYING, I.SUCCESS): (S.COMPLETED, "_complete"),
        (S.TRYING, I.FAILURE): (S.COMPLETED, "_complete"),
        (S.PROCEEDING, I.TIMER_E): (S.PROCEEDING, "_retransmit"),
        (S.PROCEEDING, I.TIMER_F): (S.TERMINATED, "_time_out"),
        (S.PROCEEDING, I.PROVISIONAL): (S.PROCEEDING, "_pass_up"),
        (S.PROCEEDING, I.SUCCESS): (S.COMPLETED, "_complete"),
        (S.PROCEEDING, I.FAILURE): (S.COMPLETED, "_complete"),
        (S.COMPLETED, I.TIMER_K): (S.TERMINATED, "_end"),
    }

    def __init__(
        self, core: TransactionCore, request: Request, key: tuple[str, str], destination: Endpoint
    ) -> None:
        super().__init__(core, request, key, destination, S.TRYING)

    def _retransmit(self, message: Request | Response | None, now: float) -> None:
        self._send_request()
        tt: TransportTimers = self._tt
        if self.state is S.TRYING:
            self._interval = min(self._interval * 2, tt.t2)
        else:
            self._interval = tt.t2  # §17.1.2.2: in Proceeding, E is reset to T2
        self._arm(I.TIMER_E, self._interval, now)

    def _complete(self, message: Request | Response | None, now: float) -> None:
        core = self._core
        core._disarm(self, I.TIMER_E)
        core._disarm(self, I.TIMER_F)
        self._pass_up(message, now)
        if self._tt.k > 0:
            self._arm(I.TIMER_K, self._tt.k, now)
        else:
            self._terminate(now)


def start_client_transaction(
    core: TransactionCore, request: Request, destination: Endpoint, now: float
) -> ClientTransaction:
    """Create the client transaction for *request*, send it, and start its timers."""
    method = request.method
    if method == "ACK":
        raise TransactionError(
            "client transaction cannot take ACK: an ACK for a 2xx is sent with send_stateless"
        )
    branch = request.top_via.branch
    if not branch or not branch.startswith(MAGIC_COOKIE):
        raise TransactionError(f"client {method} needs a Via branch starting with {MAGIC_COOKIE}")
    key = (branch, method)
    if key in core._clients:
        raise TransactionError(f"client transaction {key!r} already exists")
    tx: ClientTransaction
    if method == "INVITE":
        tx = ClientInviteTransaction(core, request, key, destination)
    else:
        tx = ClientNonInviteTransaction(core, request, key, destination)
    tx._start(now)
    return tx
