"""Server transactions: INVITE (RFC 3261 §17.2.1, RFC 6026 §7.1) and non-INVITE (§17.2.2).

The TU answers with :meth:`TransactionLayer.send_response`; the machines retransmit the
last response when the request is retransmitted, retransmit a 300-699 final response to an
INVITE on timer G until the ACK (or timer H), and absorb the ACK.

A 2xx to an INVITE moves the transaction to "Accepted" (RFC 6026) for timer L: retransmitted
INVITEs are absorbed, ACKs that match it are passed to the TU, and further 2xx the TU hands
down (its own retransmissions, §13.3.1.4) are sent. Because the TU's 2xx retransmissions may
outlast timer L, a 2xx handed to a transaction that already ended after a 2xx is still sent,
to the same destination.

``response_destination`` is computed once, when the request arrives: the connection it came
on for TCP/TLS/WS, the top Via's received/rport address for UDP (§18.2.2, RFC 3581).
"""

from __future__ import annotations

from callcenter.sip.errors import TransactionError
from callcenter.sip.events import AckReceived
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.transaction_base import (
    Endpoint,
    Input,
    Transaction,
    TransactionCore,
    TransactionState,
)

__all__ = ["ServerInviteTransaction", "ServerNonInviteTransaction", "ServerTransaction"]

S = TransactionState
I = Input  # noqa: E741


class ServerTransaction(Transaction):
    """A server transaction; ``source`` is where its request came from."""

    __slots__ = ("_response_wire", "response_destination", "source")

    role = "server"

    def __init__(
        self,
        core: TransactionCore,
        request: Request,
        key: tuple[object, ...],
        source: Endpoint,
        response_destination: Endpoint,
        state: TransactionState,
    ) -> None:
        super().__init__(core, request, key, core._servers, source, state)
        self.source = source
        self.response_destination = response_destination
        self._response_wire: bytes | None = None

    def _start(self, now: float) -> None:
        """Start the timers a new transaction runs before the TU answers (none by default)."""

    def _respond(self, response: Response, now: float) -> None:
        code = response.status_code
        inp = I.TU_PROVISIONAL if code < 200 else I.TU_SUCCESS if code < 300 else I.TU_FAILURE
        self._handle(inp, response, now)

    def _send(self, message: Request | Response | None, now: float) -> None:
        assert isinstance(message, Response)
        self.last_response = message
        wire = self._response_wire = bytes(message)
        self._core._out.append((wire, self.response_destination))

    def _resend(self, message: Request | Response | None, now: float) -> None:
        if self._response_wire is not None:
            self._core._out.append((self._response_wire, self.response_destination))


class ServerInviteTransaction(ServerTransaction):
    """RFC 3261 Figure 7 with RFC 6026's Accepted state."""

    __slots__ = ()

    TRANSITIONS = {
        (S.PROCEEDING, I.REQUEST): (S.PROCEEDING, "_resend"),
        (S.PROCEEDING, I.TIMER_TRYING): (S.PROCEEDING, "_send_trying"),
        (S.PROCEEDING, I.TU_PROVISIONAL): (S.PROCEEDING, "_send_provisional"),
        (S.PROCEEDING, I.TU_SUCCESS): (S.ACCEPTED, "_accept"),
        (S.PROCEEDING, I.TU_FAILURE): (S.COMPLETED, "_complete"),
        (S.COMPLETED, I.REQUEST): (S.COMPLETED, "_resend"),
        (S.COMPLETED, I.TIMER_G): (S.COMPLETED, "_retransmit"),
        (S.COMPLETED, I.TIMER_H): (S.TERMINATED, "_time_out"),
        (S.COMPLETED, I.ACK): (S.CONFIRMED, "_confirm"),
        (S.CONFIRMED, I.REQUEST): (S.CONFIRMED, "_absorb"),
        (S.CONFIRMED, I.ACK): (S.CONFIRMED, "_absorb"),
        (S.CONFIRMED, I.TIMER_I): (S.TERMINATED, "_end"),
        (S.ACCEPTED, I.REQUEST): (S.ACCEPTED, "_absorb"),
        (S.ACCEPTED, I.ACK): (S.ACCEPTED, "_absorb"),  # reported by receive_ack()
        (S.ACCEPTED, I.TU_SUCCESS): (S.ACCEPTED, "_send"),
        (S.ACCEPTED, I.TIMER_L): (S.TERMINATED, "_end"),
        (S.TERMINATED, I.TU_SUCCESS): (S.TERMINATED, "_send_after_end"),
    }

    def __init__(
        self,
        core: TransactionCore,
        request: Request,
        key: tuple[object, ...],
        source: Endpoint,
        response_destination: Endpoint,
    ) -> None:
        super().__init__(core, request, key, source, response_destination, S.PROCEEDING)

    def _start(self, now: float) -> None:
        if self._core.auto_trying:
            self._arm(I.TIMER_TRYING, self._tt.trying, now)

    def receive_ack(self, ack: Request, source: Endpoint, now: float) -> None:
        """An ACK matched this transaction (§17.2.3); in Accepted it belongs to the TU."""
        if self.state is S.ACCEPTED:
            self._core._events.append(AckReceived(ack, source))
        self._handle(I.ACK, ack, now)

    def _send_trying(self, message: Request | Response | None, now: float) -> None:
        if self.last_response is None:
            self._send(make_response(self.request, 100), now)

    def _send_provisional(self, message: Request | Response | None, now: float) -> None:
        self._core._disarm(self, I.TIMER_TRYING)
        self._send(message, now)

    def _accept(self, message: Request | Response | None, now: float) -> None:
        self._core._disarm(self, I.TIMER_TRYING)
        self._send(message, now)
        self._arm(I.TIMER_L, self._tt.l, now)

    def _complete(self, message: Request | Response | None, now: float) -> None:
        self._core._disarm(self, I.TIMER_TRYING)
        self._send(message, now)
        tt = self._tt
        if tt.g is not None:
            self._interval = tt.g
            self._arm(I.TIMER_G, tt.g, now)
        self._arm(I.TIMER_H, tt.h, now)

    def _retransmit(self, message: Request | Response | None, now: float) -> None:
        self._resend(message, now)
        self._interval = min(self._interval * 2, self._tt.t2)
        self._arm(I.TIMER_G, self._interval, now)

    def _confirm(self, message: Request | Response | None, now: float) -> None:
        core = self._core
        core._disarm(self, I.TIMER_G)
        core._disarm(self, I.TIMER_H)
        if self._tt.i > 0:
            self._arm(I.TIMER_I, self._tt.i, now)
        else:
            self._terminate(now)

    def _send_after_end(self, message: Request | Response | None, now: float) -> None:
        last = self.last_response
        if last is None or not 200 <= last.status_code < 300:
            raise TransactionError(
                "server transaction in state Terminated cannot take 2xx from TU "
                "(it did not end with a 2xx)"
            )
        assert isinstance(message, Response)
        self._core._out.append((bytes(message), self.response_destination))


class ServerNonInviteTransaction(ServerTransaction):
    """RFC 3261 Figure 8."""

    __slots__ = ()

    TRANSITIONS = {
        (S.TRYING, I.REQUEST): (S.TRYING, "_absorb"),
        (S.TRYING, I.TU_PROVISIONAL): (S.PROCEEDING, "_send"),
        (S.TRYING, I.TU_SUCCESS): (S.COMPLETED, "_complete"),
        (S.TRYING, I.TU_FAILURE): (S.COMPLETED, "_complete"),
        (S.PROCEEDING, I.REQUEST): (S.PROCEEDING, "_resend"),
        (S.PROCEEDING, I.TU_PROVISIONAL): (S.PROCEEDING, "_send"),
        (S.PROCEEDING, I.TU_SUCCESS): (S.COMPLETED, "_complete"),
        (S.PROCEEDING, I.TU_FAILURE): (S.COMPLETED, "_complete"),
        (S.COMPLETED, I.REQUEST): (S.COMPLETED, "_resend"),
        (S.COMPLETED, I.TIMER_J): (S.TERMINATED, "_end"),
    }

    def __init__(
        self,
        core: TransactionCore,
        request: Request,
        key: tuple[object, ...],
        source: Endpoint,
        response_destination: Endpoint,
    ) -> None:
        super().__init__(core, request, key, source, response_destination, S.TRYING)

    def _complete(self, message: Request | Response | None, now: float) -> None:
        self._send(message, now)
        if self._tt.j > 0:
            self._arm(I.TIMER_J, self._tt.j, now)
        else:
            self._terminate(now)


def new_server_transaction(
    core: TransactionCore,
    request: Request,
    key: tuple[object, ...],
    source: Endpoint,
    response_destination: Endpoint,
    now: float,
) -> ServerTransaction:
    """Create (and register) the server transaction for a new request."""
    tx: ServerTransaction
    if request.method == "INVITE":
        tx = ServerInviteTransaction(core, request, key, source, response_destination)
    else:
        tx = ServerNonInviteTransaction(core, request, key, source, response_destination)
    tx._start(now)
    return tx
