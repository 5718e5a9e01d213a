"""Request/response matching (§17.1.3, §17.2.3), CANCEL (§9.2), Via stamping (RFC 3581)."""

from __future__ import annotations

import pytest
from sip_helpers import ALICE, BOB, make_request

from callcenter.sip.events import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    StrayResponse,
    TransportFailed,
)
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.parser import parse_message
from callcenter.sip.transaction import (
    Endpoint,
    ServerTransaction,
    TransactionLayer,
    TransactionState,
    new_branch,
    response_endpoint,
)

S = TransactionState
UDP_ALICE = Endpoint("udp", ALICE, 5060)


def wire(message: Request | Response) -> Request | Response:
    return parse_message(bytes(message))


def new_tx(
    layer: TransactionLayer, request: Request, source: Endpoint = UDP_ALICE
) -> ServerTransaction:
    (event,) = layer.receive(wire(request), source, 0.0)
    assert isinstance(event, RequestReceived)
    return event.transaction


# ---------------------------------------------------------------------- CANCEL
def test_cancel_matches_the_invite_and_gets_its_own_transaction() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE")
    invite_tx = new_tx(layer, invite)
    cancel = make_request("CANCEL", branch=invite.branch, contact=None)
    (event,) = layer.receive(wire(cancel), UDP_ALICE, 1.0)
    assert isinstance(event, CancelReceived)
    assert event.invite_transaction is invite_tx
    cancel_tx = event.cancel_transaction
    assert cancel_tx is not invite_tx and cancel_tx.request.method == "CANCEL"
    assert layer.datagrams_to_send() == []  # the TU answers the CANCEL
    layer.send_response(cancel_tx, make_response(cancel_tx.request, 200, to_tag="t"), 1.0)
    layer.send_response(invite_tx, make_response(invite_tx.request, 487, to_tag="t"), 1.0)
    assert [d[:20] for d, _ in layer.datagrams_to_send()] == [
        b"SIP/2.0 200 OK\r\nVia:",
        b"SIP/2.0 487 Request ",
    ]
    # a retransmitted CANCEL is answered by its transaction, not reported again
    assert layer.receive(wire(cancel), UDP_ALICE, 1.5) == []
    assert [d[:14] for d, _ in layer.datagrams_to_send()] == [b"SIP/2.0 200 OK"]


def test_cancel_without_matching_invite_reports_none() -> None:
    layer = TransactionLayer()
    cancel = make_request("CANCEL", contact=None)
    (event,) = layer.receive(wire(cancel), UDP_ALICE, 0.0)
    assert isinstance(event, CancelReceived) and event.invite_transaction is None


def test_cancel_from_another_sent_by_does_not_match() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE")
    new_tx(layer, invite)
    cancel = make_request("CANCEL", branch=invite.branch, via="SIP/2.0/UDP 10.9.9.9:5060")
    (event,) = layer.receive(wire(cancel), Endpoint("udp", "10.9.9.9", 5060), 0.0)
    assert isinstance(event, CancelReceived) and event.invite_transaction is None


# ---------------------------------------------------------------- RFC 2543 peers
def test_rfc2543_requests_match_without_a_magic_cookie() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE", branch="")
    tx = new_tx(layer, invite)
    assert layer.receive(wire(invite), UDP_ALICE, 0.1) == []  # retransmission
    cancel = make_request("CANCEL", branch="", contact=None)
    (event,) = layer.receive(wire(cancel), UDP_ALICE, 0.2)
    assert isinstance(event, CancelReceived) and event.invite_transaction is tx
    layer.send_response(tx, make_response(tx.request, 487, to_tag="t"), 0.3)
    ack = make_request("ACK", branch="", to_tag="t", contact=None)
    assert layer.receive(wire(ack), UDP_ALICE, 0.4) == []
    assert tx.state is S.CONFIRMED


def test_rfc2543_new_request_with_other_cseq_is_a_new_transaction() -> None:
    layer = TransactionLayer()
    first = new_tx(layer, make_request("OPTIONS", branch=""))
    second = new_tx(layer, make_request("OPTIONS", branch="", cseq=2))
    assert first is not second


def test_rfc2543_ack_with_other_branch_param_value_still_falls_back() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE", branch="1234")  # a branch without the cookie
    tx = new_tx(layer, invite)
    layer.send_response(tx, make_response(tx.request, 404, to_tag="t"), 0.1)
    ack = make_request("ACK", branch="5678", to_tag="t")
    assert layer.receive(wire(ack), UDP_ALICE, 0.2) == []
    assert tx.state is S.CONFIRMED


# ------------------------------------------------------------------------ ACK
def test_ack_without_transaction_goes_to_the_tu() -> None:
    layer = TransactionLayer()
    ack = make_request("ACK", to_tag="t")
    events = layer.receive(wire(ack), UDP_ALICE, 0.0)
    assert [type(e) for e in events] == [AckReceived]
    assert layer.transaction_count == 0


# ------------------------------------------------------------- Via stamping
def test_received_and_rport_are_filled_and_responses_follow_them() -> None:
    layer = TransactionLayer()
    nat = Endpoint("udp", "203.0.113.7", 61000)
    tx = new_tx(layer, make_request("OPTIONS", via="SIP/2.0/UDP 192.168.1.20:5060;rport"), nat)
    via = tx.request.top_via
    assert via.params["rport"] == "61000"
    assert via.params["received"] == "203.0.113.7"
    assert (tx.request.headers.get("Via") or "").startswith(
        "SIP/2.0/UDP 192.168.1.20:5060;rport=61000"
    )
    assert tx.response_destination == nat
    layer.send_response(tx, make_response(tx.request, 200), 0.0)
    ((data, destination),) = layer.datagrams_to_send()
    assert destination == nat
    response = parse_message(data)
    assert response.top_via.params["received"] == "203.0.113.7"


def test_received_without_rport_keeps_the_via_port() -> None:
    layer = TransactionLayer()
    source = Endpoint("udp", "203.0.113.7", 61000)
    tx = new_tx(layer, make_request("OPTIONS", via="SIP/2.0/UDP phone.example.com:5070"), source)
    assert tx.request.top_via.params == {"branch": tx.request.branch, "received": "203.0.113.7"}
    assert tx.response_destination == Endpoint("udp", "203.0.113.7", 5070)


def test_rport_always_comes_with_received_even_for_the_same_host() -> None:
    layer = TransactionLayer()
    tx = new_tx(layer, make_request("OPTIONS", via=f"SIP/2.0/UDP {ALICE}:5060;rport"))
    assert tx.request.top_via.params["received"] == ALICE
    assert tx.request.top_via.params["rport"] == "5060"


def test_matching_via_is_left_untouched() -> None:
    layer = TransactionLayer()
    request = make_request("OPTIONS", via=f"SIP/2.0/UDP {ALICE}:5060")
    tx = new_tx(layer, request)
    assert tx.request.headers.get("Via") == request.headers.get("Via")
    assert tx.response_destination == UDP_ALICE


def test_ipv6_sources_compare_canonically() -> None:
    layer = TransactionLayer()
    source = Endpoint("udp", "2001:db8::1", 5060)
    tx = new_tx(layer, make_request("OPTIONS", via="SIP/2.0/UDP [2001:DB8:0::1]:5060"), source)
    assert "received" not in tx.request.top_via.params


def test_stamped_request_keeps_its_other_parsed_headers_consistent() -> None:
    layer = TransactionLayer()
    request = make_request("OPTIONS", via="SIP/2.0/UDP 192.168.1.20:5060;rport")
    tx = new_tx(layer, request, Endpoint("udp", "203.0.113.7", 1))
    again = parse_message(bytes(tx.request))
    assert again.top_via == tx.request.top_via
    assert again.from_ == tx.request.from_ and again.cseq == tx.request.cseq


def test_response_endpoint_over_a_connection_is_the_source() -> None:
    source = Endpoint("tls", "203.0.113.7", 50000)
    via = make_request("OPTIONS", via="SIP/2.0/TLS host.invalid:5061").top_via
    assert response_endpoint(via, source) == source


# ---------------------------------------------------------------- responses
def test_stray_responses_only_2xx_to_invite_reach_the_tu() -> None:
    layer = TransactionLayer()
    bob = Endpoint("udp", BOB, 5060)
    invite = make_request("INVITE")
    stray_ok = wire(make_response(invite, 200, to_tag="x"))
    assert [type(e) for e in layer.receive(stray_ok, bob, 0.0)] == [StrayResponse]
    assert layer.receive(wire(make_response(invite, 486, to_tag="x")), bob, 0.0) == []
    bye = make_request("BYE")
    assert layer.receive(wire(make_response(bye, 200, to_tag="x")), bob, 0.0) == []


def test_invite_and_cancel_client_transactions_share_a_branch() -> None:
    layer = TransactionLayer()
    bob = Endpoint("udp", BOB, 5060)
    invite = make_request("INVITE")
    tx = layer.send_request(invite, bob, 0.0)
    layer.receive(wire(make_response(invite, 180, to_tag="x")), bob, 0.1)
    cancel_tx = layer.cancel(tx, 0.2)
    assert cancel_tx is not None and layer.transaction_count == 2
    cancel = cancel_tx.request
    (event,) = layer.receive(wire(make_response(cancel, 200, to_tag="x")), bob, 0.3)
    assert event.transaction is cancel_tx  # type: ignore[union-attr]
    assert tx.state is S.PROCEEDING


# ------------------------------------------------------------- transport errors
def test_transport_error_fails_every_transaction_to_that_endpoint() -> None:
    layer = TransactionLayer()
    bob = Endpoint("tcp", BOB, 5060)
    other = Endpoint("tcp", "10.0.0.3", 5060)
    to_bob = layer.send_request(make_request("INVITE"), bob, 0.0)
    to_other = layer.send_request(make_request("OPTIONS"), other, 0.0)
    from_bob = new_tx(layer, make_request("OPTIONS", via="SIP/2.0/TCP 10.0.0.2:5060"), bob)
    events = layer.transport_error(bob, 1.0)
    assert events == [TransportFailed(to_bob), TransportFailed(from_bob)]
    assert to_bob.state is S.TERMINATED and from_bob.state is S.TERMINATED
    assert to_other.state is S.TRYING and layer.transaction_count == 1


def test_pending_client_transactions_counts_those_awaiting_a_final_response() -> None:
    layer = TransactionLayer()
    bob = Endpoint("udp", BOB, 5060)
    invite = make_request("INVITE")
    layer.send_request(invite, bob, 0.0)
    options = make_request("OPTIONS")
    layer.send_request(options, bob, 0.0)
    assert layer.pending_client_transactions() == 2
    layer.receive(wire(make_response(options, 200)), bob, 0.1)
    assert layer.pending_client_transactions() == 1  # Completed (timer K) does not count
    assert layer.transaction_count == 2


# ------------------------------------------------------------------- the heap
@pytest.mark.parametrize("count", [3000])
def test_cancelled_timers_do_not_accumulate(count: int) -> None:
    layer = TransactionLayer()
    bob = Endpoint("udp", BOB, 5060)
    for i in range(count):
        invite = make_request("INVITE", call_id=f"c{i}")
        layer.send_request(invite, bob, float(i) * 0.001)
        # a final response at once cancels A and B and arms D: two stale entries each
        layer.receive(wire(make_response(invite, 486, to_tag="x")), bob, float(i) * 0.001)
    assert len(layer._heap) < 2 * count  # compaction kept stale entries bounded
    assert layer.get_timer() is not None
    while (deadline := layer.get_timer()) is not None:
        layer.handle_timer(deadline)
    assert layer.transaction_count == 0 and layer._heap == []


def test_branches_are_unique_and_carry_the_cookie() -> None:
    branches = {new_branch() for _ in range(10_000)}
    assert len(branches) == 10_000
    assert all(b.startswith("z9hG4bK") and len(b) >= 7 + 16 for b in branches)
