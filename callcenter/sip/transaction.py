"""The SIP transaction layer (RFC 3261 §17, RFC 6026), sans-I/O.

:class:`TransactionLayer` is fed parsed messages with their source and the current time and
returns events for the transaction user (:mod:`callcenter.sip.events`); what it must send
is drained with :meth:`~TransactionLayer.datagrams_to_send`, and the one deadline to arm is
:meth:`~TransactionLayer.get_timer`. An adapter's pump is::

    events = layer.receive(parse_message(data), source, now)   # or layer.handle_timer(now)
    ...the TU handles events, calling send_request/send_response/cancel/send_stateless...
    for data, destination in layer.datagrams_to_send(): transport.send(data, destination)
    deadline = layer.get_timer()                                  # re-arm one timer

Matching (§17.1.3, §17.2.3): a response finds its client transaction by (top Via branch,
CSeq method). A request finds its server transaction by (branch, sent-by, method), with ACK
looked up as INVITE and CANCEL getting a transaction of its own; a request whose branch lacks
the magic cookie is matched the RFC 2543 way, on (Call-ID, From tag, CSeq number, top Via
sent-by, Request-URI, method) — the To tag is not compared, which is enough for
retransmissions, the ACK of a non-2xx and CANCEL.

On every request the top Via gets ``received`` when its host is not the source address and,
when it carries an empty ``rport``, both ``rport`` and ``received`` (RFC 3581 §4); responses
then go to :func:`response_endpoint`.

What the TU must do (the layer does not do it):

- answer every :class:`~callcenter.sip.events.RequestReceived` with a final response (a
  server transaction in Trying/Proceeding has no timer of its own, so an unanswered request
  stays in the table); answer every CANCEL (200, or 481 when ``invite_transaction`` is None),
  then 487 the INVITE if it is still Proceeding;
- retransmit its 2xx to an INVITE until the ACK (:class:`~callcenter.sip.reliable.
  Uas2xxRetransmitter`), and ACK every 2xx it receives (``send_stateless``), including
  :class:`~callcenter.sip.events.StrayResponse`;
- bound a client INVITE in Proceeding (no-answer timeout → :meth:`TransactionLayer.cancel`;
  after a CANCEL, timer B bounds the INVITE transaction again).

100 Trying is sent only by the TU, unless the layer is built with ``auto_trying=True``: then
a server INVITE transaction sends it after 200 ms without a response from the TU (§17.2.1).
"""

from __future__ import annotations

from callcenter.sip.errors import TransactionError
from callcenter.sip.events import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    StrayResponse,
    TransactionEvent,
    TransportFailed,
)
from callcenter.sip.headers import Via
from callcenter.sip.message import Request, Response
from callcenter.sip.timers import TimerConfig
from callcenter.sip.transaction_base import (
    MAGIC_COOKIE,
    Endpoint,
    Input,
    TransactionCore,
    TransactionState,
    is_reliable,
    new_branch,
    response_endpoint,
)
from callcenter.sip.transaction_client import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    build_ack,
    build_cancel,
    start_client_transaction,
)
from callcenter.sip.transaction_server import (
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    new_server_transaction,
)
from callcenter.sip.transport_common import canonical_host

__all__ = [
    "MAGIC_COOKIE",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
    "Endpoint",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "ServerTransaction",
    "TransactionLayer",
    "TransactionState",
    "build_ack",
    "build_cancel",
    "is_reliable",
    "new_branch",
    "response_endpoint",
    "stamp_via",
]

DEFAULT_TIMERS = TimerConfig()
_WAITING = frozenset(
    {TransactionState.CALLING, TransactionState.TRYING, TransactionState.PROCEEDING}
)


class TransactionLayer(TransactionCore):
    """Client and server transactions of one SIP element, with one timer heap.

    *auto_trying*: server INVITE transactions send 100 Trying themselves after
    ``timers.trying_delay`` (200 ms) when the TU has not responded (§17.2.1).
    *report_terminated*: emit :class:`~callcenter.sip.events.TransactionTerminated` when a
    transaction leaves the table (off by default: ``tu_data`` usually makes it unnecessary).
    """

    def __init__(
        self,
        timers: TimerConfig = DEFAULT_TIMERS,
        *,
        auto_trying: bool = False,
        report_terminated: bool = False,
    ) -> None:
        super().__init__(timers, auto_trying=auto_trying, report_terminated=report_terminated)

    # ------------------------------------------------------------------ input
    def receive(
        self, message: Request | Response, source: Endpoint, now: float
    ) -> list[TransactionEvent]:
        """Process one parsed message from *source*; returns the events for the TU.

        Raises :class:`~callcenter.sip.errors.SipSyntaxError` when a header the matching
        needs cannot be parsed (the parser already checked Via, From, To, Call-ID, CSeq).
        """
        if isinstance(message, Request):
            self._receive_request(message, source, now)
        else:
            self._receive_response(message, source, now)
        return self._drain_events()

    def _receive_request(self, request: Request, source: Endpoint, now: float) -> None:
        via = stamp_via(request, source)
        method = request.method
        branch = via.branch
        base: tuple[object, ...]
        if branch is not None and branch.startswith(MAGIC_COOKIE):
            # §17.2.3 keys on branch, sent-by and method. The CSeq number is added because
            # some UAs (pyVoIP) resend an authenticated INVITE with the branch of the one
            # that was challenged; a retransmission, its ACK and its CANCEL share the number.
            base = (branch, via.host.lower(), via.port, request.cseq.seq)
        else:  # RFC 2543 peer (§17.2.3)
            base = (
                request.call_id,
                request.from_.tag,
                request.cseq.seq,
                via.host.lower(),
                via.port,
                str(request.uri),
            )
        servers = self._servers
        if method == "ACK":
            invite = servers.get((*base, "INVITE"))
            if isinstance(invite, ServerInviteTransaction):
                invite.receive_ack(request, source, now)
            else:
                self._events.append(AckReceived(request, source))
            return
        key = (*base, method)
        tx = servers.get(key)
        if tx is not None:
            tx._handle(Input.REQUEST, request, now)
            return
        tx = new_server_transaction(self, request, key, source, response_endpoint(via, source), now)
        if method == "CANCEL":
            invite = servers.get((*base, "INVITE"))
            self._events.append(CancelReceived(tx, invite))
        else:
            self._events.append(RequestReceived(tx))

    def _receive_response(self, response: Response, source: Endpoint, now: float) -> None:
        branch = response.top_via.branch
        cseq = response.cseq
        tx = self._clients.get((branch, cseq.method)) if branch else None
        if tx is not None:
            tx._receive(response, now)
        elif 200 <= response.status_code < 300 and cseq.method == "INVITE":
            self._events.append(StrayResponse(response, source))

    def transport_error(self, destination: Endpoint, now: float) -> list[TransactionEvent]:
        """The transport could not send to *destination* (RFC 3261 §17.1.1.2, §17.2.4, §18.4):
        every live transaction whose messages go there is terminated and reported with
        :class:`~callcenter.sip.events.TransportFailed`. O(number of transactions)."""
        for tx in list(self._clients.values()):
            if tx.destination == destination:
                self._emit(TransportFailed(tx), now)
                tx._terminate(now)
        for tx in list(self._servers.values()):
            if tx.response_destination == destination:
                self._emit(TransportFailed(tx), now)
                tx._terminate(now)
        return self._drain_events()

    # ----------------------------------------------------------------- output
    def send_request(
        self, request: Request, destination: Endpoint, now: float
    ) -> ClientTransaction:
        """Start a client transaction for *request* (not ACK) and send it to *destination*.

        The request must carry its top Via with a ``z9hG4bK`` branch (see :func:`new_branch`);
        the sent-by is the caller's, since it depends on the local transport.
        """
        return start_client_transaction(self, request, destination, now)

    def send_response(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        """Send *response* through *transaction*; raises
        :class:`~callcenter.sip.errors.TransactionError` when its state forbids it."""
        transaction._respond(response, now)

    def send_stateless(self, message: Request | Response, destination: Endpoint) -> None:
        """Send outside any transaction: the ACK for a 2xx, 2xx retransmissions, stateless
        error responses."""
        self._out.append((bytes(message), destination))

    def cancel(
        self, invite: ClientTransaction, now: float, *, reason: str | None = None
    ) -> ClientTransaction | None:
        """Cancel a client INVITE (§9.1); returns the CANCEL's client transaction, or None.

        In Proceeding the CANCEL is sent at once. In Calling (no provisional yet) it is sent
        when the first provisional arrives, and None is returned (``invite.cancel_pending``).
        After a final response there is nothing to cancel: None. Calling it again returns
        the CANCEL already sent. *reason* is a Reason header value (RFC 3326).
        """
        if not isinstance(invite, ClientInviteTransaction):
            raise TransactionError(
                f"client {invite.method} transaction in state {invite.state.value} "
                "cannot take CANCEL (only INVITE is cancelled)"
            )
        return invite.cancel(now, reason)

    @property
    def transaction_count(self) -> int:
        """Live transactions (client + server); for monitoring."""
        return len(self._clients) + len(self._servers)

    def pending_client_transactions(self) -> int:
        """Client transactions still waiting for their final response (Calling, Trying,
        Proceeding): what a graceful shutdown waits for. O(number of client transactions)."""
        return sum(1 for tx in self._clients.values() if tx.state in _WAITING)


def stamp_via(request: Request, source: Endpoint) -> Via:
    """Add ``received`` (and fill an empty ``rport``) to the top Via of a received request
    (RFC 3261 §18.2.1, RFC 3581 §4); returns the (new) top Via."""
    via = request.top_via
    params = via.params
    want_rport = "rport" in params and params["rport"] is None
    if not want_rport and (
        via.host == source.host or canonical_host(via.host) == canonical_host(source.host)
    ):
        return via
    new_params = dict(params)
    if want_rport:
        new_params["rport"] = str(source.port)
    new_params["received"] = source.host
    new_via = Via(via.transport, via.host, via.port, new_params)
    headers = request.headers
    # Only the top Via changes: keep the other parsed headers (From, To, CSeq...) cached.
    parsed = dict(headers._cache)
    headers.remove_first_value("Via")
    headers.prepend("Via", str(new_via))
    parsed["via"] = new_via
    headers._cache.update(parsed)
    return new_via
