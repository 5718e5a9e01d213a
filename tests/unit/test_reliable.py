"""Reliable provisionals (RFC 3262) and the UAS 2xx retransmission (RFC 3261 §13.3.1.4)."""

from __future__ import annotations

import pytest
from sip_helpers import ALICE, BOB, Network, Node, ResponsePump, make_request

from callcenter.sip.dialog import Dialog
from callcenter.sip.events import (
    AckTimeout,
    PrackTimeout,
    RequestReceived,
    ResponseReceived,
)
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.parser import parse_message
from callcenter.sip.reliable import (
    PrackState,
    ProvisionalAction,
    ReliableProvisionalSender,
    Uas2xxRetransmitter,
    parse_rack,
    wants_100rel,
)
from callcenter.sip.transaction import ServerTransaction

VIA = "SIP/2.0/UDP 10.0.0.1:5060;rport"


def invite(require: bool = False) -> Request:
    header = "Require" if require else "Supported"
    return make_request("INVITE", cseq=7, extra=[(header, "timer, 100rel")])


def ringing(request: Request, status: int = 180) -> Response:
    return make_response(request, status, to_tag="bob-tag", extra=[("Contact", f"<sip:bob@{BOB}>")])


def prack_for(response: Response, rseq: int | None = None, cseq: int = 7) -> Request:
    value = rseq if rseq is not None else response.header_int("RSeq")
    return make_request(
        "PRACK", cseq=8, to_tag="bob-tag", extra=[("RAck", f"{value} {cseq} INVITE")]
    )


def deadlines(
    obj: ReliableProvisionalSender | Uas2xxRetransmitter, until: float
) -> list[tuple[float, int, list[object]]]:
    """(time, responses re-sent, events) at every deadline up to *until*."""
    log: list[tuple[float, int, list[object]]] = []
    while (deadline := obj.get_timer()) is not None and deadline <= until:
        events: list[object] = list(obj.handle_timer(deadline))
        log.append((deadline, len(obj.responses_to_send()), events))
    return log


# ------------------------------------------------------------------- UAS side
def test_100rel_is_wanted_from_supported_or_require() -> None:
    assert wants_100rel(invite()) and wants_100rel(invite(require=True))
    assert not wants_100rel(make_request("INVITE"))


def test_provisional_is_marked_reliable_with_rseq() -> None:
    request = invite()
    sender = ReliableProvisionalSender(request, rseq=41)
    response = ringing(request)
    sender.send(response, 0.0)
    assert sender.responses_to_send() == [response]
    parsed = parse_message(bytes(response))
    assert "100rel" in parsed.option_tags("Require")
    assert parsed.header_int("RSeq") == 41
    assert sender.unacknowledged is response and sender.pending


def test_random_rseq_start_is_below_2_31() -> None:
    values = {ReliableProvisionalSender(invite())._next_rseq for _ in range(200)}
    assert len(values) > 190 and all(1 <= v < 2**31 for v in values)


def test_retransmitted_at_t1_doubling_until_64_t1_then_prack_timeout() -> None:
    request = invite()
    sender = ReliableProvisionalSender(request)
    response = ringing(request)
    sender.send(response, 0.0)
    sender.responses_to_send()
    log = deadlines(sender, 100.0)
    assert [(t, n) for t, n, _ in log[:-1]] == [
        (0.5, 1), (1.5, 1), (3.5, 1), (7.5, 1), (15.5, 1), (31.5, 1),
    ]  # fmt: skip
    assert log[-1] == (32.0, 0, [PrackTimeout(response)])
    assert not sender.pending and sender.get_timer() is None


def test_prack_stops_retransmission_and_releases_the_queued_provisional() -> None:
    request = invite()
    sender = ReliableProvisionalSender(request, rseq=100)
    first, second = ringing(request, 180), ringing(request, 183)
    sender.send(first, 0.0)
    sender.send(second, 0.1)  # waits: one outstanding at a time
    assert sender.responses_to_send() == [first]
    assert sender.receive_prack(prack_for(first, rseq=99), 0.2) is None  # wrong RSeq → 481
    assert sender.receive_prack(prack_for(first, cseq=6), 0.2) is None  # wrong CSeq → 481
    assert sender.receive_prack(prack_for(first), 0.3) is first
    assert sender.responses_to_send() == [second]
    assert second.header_int("RSeq") == 101
    assert sender.get_timer() == pytest.approx(0.8)
    assert sender.receive_prack(prack_for(first), 0.4) is None  # already acknowledged → 481
    assert sender.receive_prack(prack_for(second), 0.5) is second
    assert not sender.pending and sender.get_timer() is None


def test_only_non_100_provisionals_are_reliable() -> None:
    request = invite()
    sender = ReliableProvisionalSender(request)
    for status in (100, 200):
        with pytest.raises(ValueError, match="101-199"):
            sender.send(make_response(request, status), 0.0)


def test_stop_forgets_everything_when_the_final_response_goes_out() -> None:
    request = invite()
    sender = ReliableProvisionalSender(request)
    sender.send(ringing(request), 0.0)
    sender.send(ringing(request, 183), 0.0)
    sender.stop()
    assert not sender.pending and sender.get_timer() is None
    assert sender.handle_timer(10.0) == []


def test_rack_parsing() -> None:
    assert parse_rack("776656 1 INVITE") == (776656, 1, "INVITE")
    for bad in (None, "", "1 INVITE", "x 1 INVITE", "1 2 INVITE extra", "12345678901 1 INVITE"):
        assert parse_rack(bad) is None


# ------------------------------------------------------------------- UAC side
def reliable_1xx(rseq: int, status: int = 180) -> Response:
    response = ringing(invite(), status)
    response.headers.add("Require", "100rel")
    response.headers.add("RSeq", str(rseq))
    return response


def test_prack_state_orders_reliable_provisionals() -> None:
    state = PrackState()
    assert state.receive_provisional(ringing(invite())) is ProvisionalAction.PROCESS
    assert state.receive_provisional(reliable_1xx(500)) is ProvisionalAction.PRACK
    assert (
        state.receive_provisional(reliable_1xx(500)) is ProvisionalAction.DISCARD
    )  # retransmission
    assert state.receive_provisional(reliable_1xx(502)) is ProvisionalAction.DISCARD  # out of order
    assert state.receive_provisional(reliable_1xx(501, 183)) is ProvisionalAction.PRACK
    assert state.last_rseq == 501
    no_rseq = ringing(invite())
    no_rseq.headers.add("Require", "100rel")
    assert state.receive_provisional(no_rseq) is ProvisionalAction.DISCARD


def test_prack_is_built_in_the_dialog_with_rack() -> None:
    request = invite()
    response = reliable_1xx(77)
    dialog = Dialog.from_uac(request, parse_message(bytes(response)))  # type: ignore[arg-type]
    prack = PrackState.create_prack(dialog, response, via=VIA)
    assert prack.method == "PRACK"
    assert prack.headers.get("RAck") == "77 7 INVITE"
    assert prack.cseq.seq == 8 and str(prack.uri) == f"sip:bob@{BOB}"


# --------------------------------------------------------- 2xx retransmission
def test_2xx_retransmitted_doubling_to_t2_until_ack() -> None:
    request = invite()
    ok = make_response(request, 200, to_tag="bob-tag")
    retransmitter = Uas2xxRetransmitter(ok, 10.0)
    log = deadlines(retransmitter, 20.0)
    assert [t for t, n, _ in log if n] == [10.5, 11.5, 13.5, 17.5]
    other_ack = make_request("ACK", cseq=6, to_tag="bob-tag")
    assert not retransmitter.receive_ack(other_ack)
    assert retransmitter.receive_ack(make_request("ACK", cseq=7, to_tag="bob-tag"))
    assert retransmitter.done and retransmitter.get_timer() is None


def test_2xx_without_ack_gives_up_after_64_t1() -> None:
    ok = make_response(invite(), 200, to_tag="bob-tag")
    retransmitter = Uas2xxRetransmitter(ok, 0.0)
    log = deadlines(retransmitter, 100.0)
    times = [t for t, n, _ in log if n]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert log[-1] == (32.0, 0, [AckTimeout(ok)])
    assert retransmitter.done


# ------------------------------------------------------------- end to end
class ReliableCallee:
    """Bob rings reliably; answers PRACK; sends 200 after the PRACK."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.invite_tx: ServerTransaction | None = None
        self.sender: ReliableProvisionalSender | None = None
        self.prack_answers: list[int] = []
        node.tu = self.on_event

    def on_event(self, node: Node, event: object, now: float) -> None:
        if not isinstance(event, RequestReceived):
            return
        tx = event.transaction
        request = tx.request
        if request.method == "INVITE" and wants_100rel(request):
            self.invite_tx = tx
            self.sender = ReliableProvisionalSender(request, node.layer.timers, rseq=1)
            self.sender.send(ringing(request), now)
            node.clocked.append(ResponsePump(node.layer, tx, self.sender))
        elif request.method == "PRACK":
            assert self.sender is not None and self.invite_tx is not None
            acknowledged = self.sender.receive_prack(request, now)
            status = 200 if acknowledged is not None else 481
            self.prack_answers.append(status)
            node.layer.send_response(tx, make_response(request, status), now)
            if acknowledged is not None:
                final = make_response(self.invite_tx.request, 486, to_tag="bob-tag")
                node.layer.send_response(self.invite_tx, final, now)


class ReliableCaller:
    def __init__(self, node: Node, peer: Node) -> None:
        self.node = node
        self.peer = peer
        self.state = PrackState()
        self.dialog: Dialog | None = None
        self.processed: list[int] = []
        node.tu = self.on_event

    def on_event(self, node: Node, event: object, now: float) -> None:
        if not isinstance(event, ResponseReceived) or event.transaction.request.method != "INVITE":
            return
        response = event.response
        if response.is_final:
            self.processed.append(response.status_code)
            return
        action = self.state.receive_provisional(response)
        if action is ProvisionalAction.DISCARD:
            return
        self.processed.append(response.status_code)
        if action is ProvisionalAction.PRACK:
            if self.dialog is None:
                self.dialog = Dialog.from_uac(
                    event.transaction.request, response, local_via=node.via
                )
            prack = PrackState.create_prack(self.dialog, response)
            node.layer.send_request(prack, self.peer.endpoint, now)


def test_prack_flow_with_a_lost_first_180() -> None:
    dropped: list[str] = []

    def policy(datagram: object) -> list[float]:
        line = datagram.first_line  # type: ignore[attr-defined]
        if line.startswith("SIP/2.0 180") and not dropped:
            dropped.append(line)
            return []
        return [0.01]

    net = Network(policy)
    alice = net.add("alice", ALICE)
    bob = net.add("bob", BOB)
    callee = ReliableCallee(bob)
    caller = ReliableCaller(alice, bob)
    alice.layer.send_request(invite(), bob.endpoint, 0.0)
    net.run()
    assert dropped  # the first 180 was lost; its retransmission at T1 got through
    ringing_sent = [s.at for s in net.sent_by("bob", "SIP/2.0 180")]
    assert ringing_sent[:2] == [0.01, 0.51]
    assert caller.processed == [180, 486]
    assert callee.prack_answers == [200]
    assert callee.sender is not None and not callee.sender.pending
    assert alice.layer.transaction_count == 0 and bob.layer.transaction_count == 0
