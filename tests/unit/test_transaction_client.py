"""Client transactions (RFC 3261 §17.1, RFC 6026 §7.2) driven directly, on virtual time."""

from __future__ import annotations

import pytest
from sip_helpers import BOB, make_request, reparse

from callcenter.sip.errors import TransactionError
from callcenter.sip.events import ResponseReceived, StrayResponse, TransactionTimeout
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.parser import parse_message
from callcenter.sip.timers import TimerConfig
from callcenter.sip.transaction import (
    ClientInviteTransaction,
    Endpoint,
    TransactionLayer,
    TransactionState,
)

S = TransactionState
UDP_BOB = Endpoint("udp", BOB, 5060)
TCP_BOB = Endpoint("tcp", BOB, 5060)


def sends(layer: TransactionLayer) -> list[bytes]:
    return [data for data, _ in layer.datagrams_to_send()]


def run_timers(
    layer: TransactionLayer, until: float
) -> list[tuple[float, list[bytes], list[object]]]:
    """Fire every timer up to *until*; returns (time, datagrams, events) per firing."""
    log: list[tuple[float, list[bytes], list[object]]] = []
    while (deadline := layer.get_timer()) is not None and deadline <= until:
        events: list[object] = list(layer.handle_timer(deadline))
        log.append((deadline, sends(layer), events))
    return log


def answer(request: Request, status: int, to_tag: str = "bob-tag") -> Response:
    response = make_response(request, status, to_tag=to_tag)
    parsed = reparse(response)
    assert isinstance(parsed, Response)
    return parsed


def start(method: str = "INVITE", destination: Endpoint = UDP_BOB, **kw: object):  # type: ignore[no-untyped-def]
    layer = TransactionLayer()
    request = make_request(method, **kw)  # type: ignore[arg-type]
    tx = layer.send_request(request, destination, 0.0)
    assert sends(layer) == [bytes(request)]
    return layer, tx, request


# ---------------------------------------------------------------- INVITE, timers A/B
def test_invite_udp_retransmits_with_timer_a_doubling_then_times_out_on_timer_b() -> None:
    layer, tx, request = start()
    log = run_timers(layer, 100.0)
    retransmit_times = [t for t, data, _ in log if data]
    assert retransmit_times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(data == [bytes(request)] for _, data, _ in log if data)
    last_time, _, events = log[-1]
    assert last_time == 32.0
    assert events == [TransactionTimeout(tx)]
    assert tx.state is S.TERMINATED
    assert layer.transaction_count == 0
    assert layer.get_timer() is None


def test_invite_tcp_is_never_retransmitted_but_times_out() -> None:
    layer, tx, _ = start(destination=TCP_BOB)
    log = run_timers(layer, 100.0)
    assert [(t, data) for t, data, _ in log] == [(32.0, [])]
    assert log[0][2] == [TransactionTimeout(tx)]


def test_shrunk_timers_scale_every_interval() -> None:
    layer = TransactionLayer(TimerConfig(t1=0.01, t2=0.08, t4=0.1))
    layer.send_request(make_request("INVITE"), UDP_BOB, 0.0)
    sends(layer)
    log = run_timers(layer, 10.0)
    assert [round(t, 6) for t, data, _ in log if data] == [0.01, 0.03, 0.07, 0.15, 0.31, 0.63]
    assert round(log[-1][0], 6) == 0.64


# ----------------------------------------------------------------- INVITE, responses
def test_provisional_moves_to_proceeding_and_stops_retransmissions() -> None:
    layer, tx, request = start()
    events = layer.receive(answer(request, 180), UDP_BOB, 0.2)
    assert [type(e) for e in events] == [ResponseReceived]
    assert tx.state is S.PROCEEDING
    assert layer.get_timer() is None  # no A, no B in Proceeding
    again = layer.receive(answer(request, 183), UDP_BOB, 0.3)
    assert isinstance(again[0], ResponseReceived) and again[0].response.status_code == 183
    assert tx.last_response is not None and tx.last_response.status_code == 183


@pytest.mark.parametrize("destination", [UDP_BOB, TCP_BOB])
def test_2xx_accepted_state_passes_every_2xx_until_timer_m(destination: Endpoint) -> None:
    layer, tx, request = start(destination=destination)
    ok = answer(request, 200)
    assert [type(e) for e in layer.receive(ok, destination, 1.0)] == [ResponseReceived]
    assert tx.state is S.ACCEPTED
    assert sends(layer) == []  # the ACK for a 2xx is the TU's
    # a retransmission and another fork's 2xx are both passed up (RFC 6026 §7.2)
    assert len(layer.receive(answer(request, 200), destination, 2.0)) == 1
    fork = layer.receive(answer(request, 200, to_tag="other-fork"), destination, 3.0)
    assert isinstance(fork[0], ResponseReceived) and fork[0].response.to.tag == "other-fork"
    # non-2xx in Accepted is dropped
    assert layer.receive(answer(request, 486), destination, 4.0) == []
    assert layer.get_timer() == 33.0  # timer M = 64*T1 after the first 2xx
    assert layer.handle_timer(33.0) == []
    assert tx.state is S.TERMINATED and layer.transaction_count == 0
    # after M, a 2xx retransmission still reaches the TU
    late = layer.receive(answer(request, 200), destination, 40.0)
    assert [type(e) for e in late] == [StrayResponse]


def test_non_2xx_final_generates_the_ack_inside_the_transaction() -> None:
    route = ("Route", "<sip:proxy.example.com;lr>")
    layer, tx, request = start(extra=[route])
    layer.receive(answer(request, 180), UDP_BOB, 0.1)
    busy = answer(request, 486)
    events = layer.receive(busy, UDP_BOB, 1.0)
    assert [type(e) for e in events] == [ResponseReceived]
    assert tx.state is S.COMPLETED
    (ack_bytes,) = sends(layer)
    ack = parse_message(ack_bytes)
    assert isinstance(ack, Request)
    assert ack.method == "ACK"
    assert str(ack.uri) == str(request.uri)
    assert ack.branch == request.branch
    assert ack.to.tag == "bob-tag"
    assert ack.from_.tag == request.from_.tag
    assert ack.call_id == request.call_id
    assert (ack.cseq.seq, ack.cseq.method) == (request.cseq.seq, "ACK")
    assert ack.headers.get_all("Route") == ["<sip:proxy.example.com;lr>"]
    assert len(ack.vias) == 1
    # retransmitted final: ACK again, not passed up
    assert layer.receive(answer(request, 486), UDP_BOB, 2.0) == []
    assert sends(layer) == [ack_bytes]
    # timer D (32 s for UDP)
    assert layer.get_timer() == 33.0
    layer.handle_timer(33.0)
    assert tx.state is S.TERMINATED and layer.transaction_count == 0


def test_non_2xx_over_tcp_terminates_at_once() -> None:
    layer, tx, request = start(destination=TCP_BOB)
    layer.receive(answer(request, 603), TCP_BOB, 1.0)
    assert len(sends(layer)) == 1  # the ACK
    assert tx.state is S.TERMINATED
    assert layer.transaction_count == 0 and layer.get_timer() is None


def test_final_in_calling_state_also_acks() -> None:
    layer, tx, request = start()
    layer.receive(answer(request, 404), UDP_BOB, 0.1)
    assert tx.state is S.COMPLETED
    assert sends(layer)[0].startswith(b"ACK ")
    assert run_timers(layer, 1.0) == []  # timer A was stopped


# ---------------------------------------------------------------------- CANCEL
def test_cancel_waits_for_a_provisional_then_is_sent() -> None:
    layer, tx, request = start()
    assert isinstance(tx, ClientInviteTransaction)
    assert layer.cancel(tx, 0.1, reason="SIP;cause=487") is None
    assert tx.cancel_pending
    assert sends(layer) == []
    events = layer.receive(answer(request, 180), UDP_BOB, 0.2)
    assert [type(e) for e in events] == [ResponseReceived]
    (data,) = sends(layer)
    cancel = parse_message(data)
    assert isinstance(cancel, Request) and cancel.method == "CANCEL"
    assert cancel.branch == request.branch
    assert (cancel.cseq.seq, cancel.cseq.method) == (request.cseq.seq, "CANCEL")
    assert cancel.to.tag is None and cancel.from_.tag == request.from_.tag
    assert cancel.headers.get("Reason") == "SIP;cause=487"
    assert tx.cancel_transaction is not None
    assert layer.cancel(tx, 0.3) is tx.cancel_transaction  # idempotent
    assert sends(layer) == []


def test_cancel_response_and_invite_487_are_separate_transactions() -> None:
    layer, tx, request = start()
    layer.receive(answer(request, 180), UDP_BOB, 0.2)
    cancel_tx = layer.cancel(tx, 0.3)
    assert cancel_tx is not None
    cancel_request = parse_message(sends(layer)[0])
    assert isinstance(cancel_request, Request)
    ok = layer.receive(answer(cancel_request, 200), UDP_BOB, 0.4)
    assert ok == [ResponseReceived(cancel_tx, ok[0].response)]
    terminated = layer.receive(answer(request, 487), UDP_BOB, 0.5)
    assert terminated[0].transaction is tx
    assert tx.state is S.COMPLETED


def test_cancelled_invite_without_final_response_times_out_after_64_t1() -> None:
    layer, tx, request = start()
    layer.receive(answer(request, 180), UDP_BOB, 10.0)
    layer.cancel(tx, 20.0)
    sends(layer)
    cancel_tx = tx.cancel_transaction
    events = [e for _, _, evs in run_timers(layer, 100.0) for e in evs]
    assert TransactionTimeout(tx) in events  # §9.1: 64*T1 after the CANCEL
    assert TransactionTimeout(cancel_tx) in events  # the CANCEL itself got no answer
    assert layer.transaction_count == 0


def test_cancel_after_final_response_does_nothing() -> None:
    layer, tx, request = start()
    layer.receive(answer(request, 200), UDP_BOB, 1.0)
    assert layer.cancel(tx, 2.0) is None
    assert sends(layer) == []


def test_cancel_of_a_non_invite_is_an_error() -> None:
    layer, tx, _ = start("OPTIONS")
    with pytest.raises(TransactionError, match="client OPTIONS transaction in state Trying"):
        layer.cancel(tx, 0.1)


# ------------------------------------------------------------------ non-INVITE
def test_non_invite_udp_timer_e_caps_at_t2_and_f_times_out() -> None:
    layer, tx, _ = start("OPTIONS")
    log = run_timers(layer, 100.0)
    times = [t for t, data, _ in log if data]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert log[-1][0] == 32.0 and log[-1][2] == [TransactionTimeout(tx)]
    assert layer.transaction_count == 0


def test_non_invite_proceeding_retransmits_every_t2() -> None:
    layer, tx, request = start("BYE")
    run_timers(layer, 0.5)
    layer.receive(answer(request, 100), UDP_BOB, 0.7)
    assert tx.state is S.PROCEEDING
    times = [t for t, data, _ in run_timers(layer, 14.0) if data]
    assert times == [1.5, 5.5, 9.5, 13.5]


@pytest.mark.parametrize(("destination", "k"), [(UDP_BOB, 5.0), (TCP_BOB, 0.0)])
def test_non_invite_final_completes_and_timer_k_absorbs_retransmissions(
    destination: Endpoint, k: float
) -> None:
    layer, tx, request = start("REGISTER", destination=destination)
    events = layer.receive(answer(request, 200), destination, 1.0)
    assert [type(e) for e in events] == [ResponseReceived]
    assert run_timers(layer, 2.0) == []  # E and F were stopped
    if k:
        assert tx.state is S.COMPLETED
        assert layer.receive(answer(request, 200), destination, 2.0) == []
        assert layer.get_timer() == 1.0 + k
        layer.handle_timer(1.0 + k)
    assert tx.state is S.TERMINATED and layer.transaction_count == 0


def test_non_invite_over_tcp_is_sent_once() -> None:
    layer, _, _ = start("INFO", destination=TCP_BOB)
    assert [(t, data) for t, data, _ in run_timers(layer, 100.0)] == [(32.0, [])]


# -------------------------------------------------------------------- misuse
def test_ack_cannot_start_a_client_transaction() -> None:
    layer = TransactionLayer()
    with pytest.raises(TransactionError, match="send_stateless"):
        layer.send_request(make_request("ACK"), UDP_BOB, 0.0)


def test_branch_must_carry_the_magic_cookie_and_be_unique() -> None:
    layer = TransactionLayer()
    with pytest.raises(TransactionError, match="z9hG4bK"):
        layer.send_request(make_request("OPTIONS", branch="old-style"), UDP_BOB, 0.0)
    request = make_request("OPTIONS", branch="z9hG4bKsame")
    layer.send_request(request, UDP_BOB, 0.0)
    with pytest.raises(TransactionError, match="already exists"):
        layer.send_request(make_request("OPTIONS", branch="z9hG4bKsame"), UDP_BOB, 0.0)


def test_responses_match_on_branch_and_cseq_method() -> None:
    layer, tx, request = start()
    wrong_method = make_request("OPTIONS", branch=request.branch)
    assert layer.receive(answer(wrong_method, 486), UDP_BOB, 0.1) == []  # no ACK either
    assert sends(layer) == []
    other_branch = make_request("INVITE")
    assert layer.receive(answer(other_branch, 486), UDP_BOB, 0.1) == []
    assert tx.state is S.CALLING
