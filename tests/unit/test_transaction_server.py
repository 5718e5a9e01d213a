"""Server transactions (RFC 3261 §17.2, RFC 6026 §7.1) driven directly, on virtual time."""

from __future__ import annotations

from typing import Any

import pytest
from sip_helpers import ALICE, make_request

from callcenter.sip.errors import TransactionError
from callcenter.sip.events import (
    AckReceived,
    RequestReceived,
    TransactionTerminated,
    TransactionTimeout,
)
from callcenter.sip.message import Request, make_response
from callcenter.sip.parser import parse_message
from callcenter.sip.transaction import (
    Endpoint,
    ServerTransaction,
    TransactionLayer,
    TransactionState,
)

S = TransactionState
UDP_ALICE = Endpoint("udp", ALICE, 5060)
TCP_ALICE = Endpoint("tcp", ALICE, 40123)


def sends(layer: TransactionLayer) -> list[bytes]:
    return [data for data, _ in layer.datagrams_to_send()]


def wire(request: Request) -> Request:
    parsed = parse_message(bytes(request))
    assert isinstance(parsed, Request)
    return parsed


def run_timers(layer: TransactionLayer, until: float) -> list[tuple[float, list[bytes], list[Any]]]:
    log: list[tuple[float, list[bytes], list[Any]]] = []
    while (deadline := layer.get_timer()) is not None and deadline <= until:
        events: list[Any] = list(layer.handle_timer(deadline))
        log.append((deadline, sends(layer), events))
    return log


def receive_new(
    layer: TransactionLayer, request: Request, source: Endpoint = UDP_ALICE, now: float = 0.0
) -> ServerTransaction:
    events = layer.receive(wire(request), source, now)
    assert len(events) == 1 and isinstance(events[0], RequestReceived)
    return events[0].transaction


def respond(layer: TransactionLayer, tx: ServerTransaction, status: int, now: float) -> bytes:
    layer.send_response(tx, make_response(tx.request, status, to_tag="bob-tag"), now)
    (data,) = sends(layer)
    return data


def ack_for(invite: Request, *, branch: str | None = None) -> Request:
    return make_request(
        "ACK", branch=branch or invite.branch, cseq=invite.cseq.seq, to_tag="bob-tag"
    )


# --------------------------------------------------------------- INVITE, Proceeding
def test_invite_retransmission_is_absorbed_and_repeats_the_last_provisional() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE")
    tx = receive_new(layer, invite)
    assert tx.state is S.PROCEEDING
    assert layer.receive(wire(invite), UDP_ALICE, 0.1) == []
    assert sends(layer) == []  # nothing to repeat yet, and no automatic 100
    ringing = respond(layer, tx, 180, 0.2)
    assert layer.receive(wire(invite), UDP_ALICE, 0.3) == []
    assert sends(layer) == [ringing]


def test_no_automatic_100_trying_unless_asked() -> None:
    layer = TransactionLayer()
    receive_new(layer, make_request("INVITE"))
    assert layer.get_timer() is None


def test_automatic_100_trying_after_200_ms_without_tu_response() -> None:
    layer = TransactionLayer(auto_trying=True)
    invite = make_request("INVITE", extra=[("Timestamp", "54")])
    tx = receive_new(layer, invite)
    assert layer.get_timer() == pytest.approx(0.2)
    assert layer.handle_timer(0.2) == []
    (trying,) = sends(layer)
    assert trying.startswith(b"SIP/2.0 100 Trying\r\n")
    assert b"Timestamp: 54" in trying
    assert tx.state is S.PROCEEDING and layer.get_timer() is None


def test_automatic_100_is_skipped_when_the_tu_answers_in_time() -> None:
    layer = TransactionLayer(auto_trying=True)
    tx = receive_new(layer, make_request("INVITE"))
    respond(layer, tx, 180, 0.1)
    assert run_timers(layer, 1.0) == []


# ---------------------------------------------------------- INVITE, non-2xx final
def test_non_2xx_retransmitted_on_timer_g_capped_at_t2_until_timer_h() -> None:
    layer = TransactionLayer()
    tx = receive_new(layer, make_request("INVITE"))
    busy = respond(layer, tx, 486, 0.0)
    assert tx.state is S.COMPLETED
    log = run_timers(layer, 100.0)
    times = [t for t, data, _ in log if data]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert all(data == [busy] for _, data, _ in log if data)
    assert log[-1][0] == 32.0 and log[-1][2] == [TransactionTimeout(tx)]
    assert layer.transaction_count == 0


def test_ack_confirms_then_timer_i_terminates() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE")
    tx = receive_new(layer, invite)
    busy = respond(layer, tx, 486, 0.0)
    assert layer.receive(wire(invite), UDP_ALICE, 0.2) == []  # retransmitted INVITE
    assert sends(layer) == [busy]
    assert layer.receive(wire(ack_for(invite)), UDP_ALICE, 0.3) == []  # ACK absorbed
    assert tx.state is S.CONFIRMED
    assert layer.receive(wire(ack_for(invite)), UDP_ALICE, 0.4) == []
    assert layer.receive(wire(invite), UDP_ALICE, 0.4) == []
    assert sends(layer) == []  # no more G, nothing re-sent in Confirmed
    assert layer.get_timer() == pytest.approx(5.3)  # timer I = T4
    layer.handle_timer(5.3)
    assert tx.state is S.TERMINATED and layer.transaction_count == 0


def test_non_2xx_over_tcp_has_no_timer_g_and_ack_terminates_at_once() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE", via="SIP/2.0/TCP 10.0.0.1:5060")
    tx = receive_new(layer, invite, TCP_ALICE)
    respond(layer, tx, 486, 0.0)
    assert layer.get_timer() == 32.0  # only H
    layer.receive(wire(ack_for(invite)), TCP_ALICE, 0.1)
    assert tx.state is S.TERMINATED and layer.get_timer() is None


def test_responses_over_tcp_go_back_on_the_connection() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE", via="SIP/2.0/TCP 10.0.0.1:5060")
    tx = receive_new(layer, invite, TCP_ALICE)
    layer.send_response(tx, make_response(tx.request, 180, to_tag="t"), 0.0)
    assert [dest for _, dest in layer.datagrams_to_send()] == [TCP_ALICE]


# ------------------------------------------------------------ INVITE, 2xx (RFC 6026)
def test_2xx_enters_accepted_absorbs_invites_and_passes_acks_up() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE")
    tx = receive_new(layer, invite)
    ok = respond(layer, tx, 200, 0.0)
    assert tx.state is S.ACCEPTED
    assert layer.receive(wire(invite), UDP_ALICE, 0.5) == []
    assert sends(layer) == []  # the TU retransmits the 2xx, not the transaction
    layer.send_response(tx, make_response(tx.request, 200, to_tag="bob-tag"), 0.5)
    assert sends(layer) == [ok]
    # an ACK with a new branch matches no transaction; one reusing the INVITE's branch
    # matches it in Accepted: both reach the TU
    new_branch_ack = layer.receive(wire(ack_for(invite, branch="z9hG4bKack")), UDP_ALICE, 0.6)
    same_branch_ack = layer.receive(wire(ack_for(invite)), UDP_ALICE, 0.7)
    assert [type(e) for e in new_branch_ack + same_branch_ack] == [AckReceived, AckReceived]
    assert same_branch_ack[0].source == UDP_ALICE  # type: ignore[union-attr]
    assert layer.get_timer() == 32.0  # timer L
    layer.handle_timer(32.0)
    assert tx.state is S.TERMINATED and layer.transaction_count == 0


def test_2xx_retransmission_after_timer_l_is_still_sent() -> None:
    layer = TransactionLayer()
    tx = receive_new(layer, make_request("INVITE"))
    ok = respond(layer, tx, 200, 0.0)
    layer.handle_timer(32.0)
    layer.send_response(tx, make_response(tx.request, 200, to_tag="bob-tag"), 32.0)
    assert sends(layer) == [ok]


def test_after_a_2xx_only_2xx_may_follow() -> None:
    layer = TransactionLayer()
    tx = receive_new(layer, make_request("INVITE"))
    respond(layer, tx, 200, 0.0)
    with pytest.raises(TransactionError, match="server transaction in state Accepted"):
        layer.send_response(tx, make_response(tx.request, 486), 0.1)
    with pytest.raises(TransactionError, match="1xx from TU"):
        layer.send_response(tx, make_response(tx.request, 180), 0.1)


def test_terminated_after_non_2xx_rejects_any_response() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE", via="SIP/2.0/TCP 10.0.0.1:5060")
    tx = receive_new(layer, invite, TCP_ALICE)
    respond(layer, tx, 486, 0.0)
    layer.receive(wire(ack_for(invite)), TCP_ALICE, 0.1)
    with pytest.raises(TransactionError, match="Terminated"):
        layer.send_response(tx, make_response(tx.request, 200), 0.2)


# ------------------------------------------------------------------ non-INVITE
@pytest.mark.parametrize(("source", "j"), [(UDP_ALICE, 32.0), (TCP_ALICE, 0.0)])
def test_non_invite_trying_proceeding_completed_and_timer_j(source: Endpoint, j: float) -> None:
    layer = TransactionLayer()
    bye = make_request("BYE", to_tag="bob-tag")
    tx = receive_new(layer, bye, source)
    assert tx.state is S.TRYING
    assert layer.receive(wire(bye), source, 0.1) == []
    assert sends(layer) == []  # Trying: retransmission discarded
    trying = respond(layer, tx, 100, 0.2)
    assert tx.state is S.PROCEEDING
    layer.receive(wire(bye), source, 0.3)
    assert sends(layer) == [trying]
    ok = respond(layer, tx, 200, 1.0)
    if j:
        assert tx.state is S.COMPLETED
        layer.receive(wire(bye), source, 1.5)
        assert sends(layer) == [ok]
        assert layer.get_timer() == 1.0 + j
        layer.handle_timer(1.0 + j)
    assert tx.state is S.TERMINATED and layer.transaction_count == 0
    with pytest.raises(TransactionError, match="server transaction in state Terminated"):
        layer.send_response(tx, make_response(tx.request, 200), 40.0)


def test_second_final_response_is_an_error() -> None:
    layer = TransactionLayer()
    tx = receive_new(layer, make_request("OPTIONS"))
    respond(layer, tx, 200, 0.0)
    with pytest.raises(TransactionError, match="Completed cannot take 300-699 from TU"):
        layer.send_response(tx, make_response(tx.request, 500), 0.1)


def test_terminated_events_are_reported_when_asked() -> None:
    layer = TransactionLayer(report_terminated=True)
    tx = receive_new(layer, make_request("OPTIONS"), TCP_ALICE)
    layer.send_response(tx, make_response(tx.request, 200), 5.0)
    assert layer.get_timer() == 5.0  # the event waits for the next pump
    assert layer.handle_timer(5.0) == [TransactionTerminated(tx)]
    assert layer.get_timer() is None
