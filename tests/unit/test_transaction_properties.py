"""Property: whatever the network does to the first messages (drop, duplicate, delay), every
transaction ends, each client transaction has exactly one outcome, and both tables empty."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from sip_helpers import ALICE, BOB, Datagram, Network, Node, ResponsePump, Scheduler, make_request

from callcenter.sip.dialog import Dialog
from callcenter.sip.events import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionTimeout,
    TransportFailed,
)
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.reliable import Uas2xxRetransmitter
from callcenter.sip.transaction import ClientTransaction, ServerTransaction, TransactionState

S = TransactionState


@dataclass(frozen=True)
class Plan:
    """One request Alice sends, and what Bob's TU does with it."""

    method: str
    status: int  # 0: Bob never answers (Alice cancels)
    send_at: float
    answer_after: float
    cancel_after: float | None


plans = st.builds(
    Plan,
    method=st.sampled_from(["INVITE", "INVITE", "OPTIONS", "BYE"]),
    status=st.sampled_from([0, 200, 202, 404, 486, 603]),
    send_at=st.sampled_from([0.0, 0.05, 1.0, 5.0]),
    answer_after=st.sampled_from([0.0, 0.1, 2.0, 40.0]),
    cancel_after=st.one_of(st.none(), st.sampled_from([0.0, 0.3, 10.0])),
)
fates = st.sampled_from(["ok", "drop", "dup", "delay"])


class Bob:
    def __init__(self, node: Node, plans: dict[str, Plan]) -> None:
        self.node = node
        self.plans = plans
        self.later = Scheduler()
        self.pumps: list[ResponsePump] = []
        node.clocked.append(self.later)
        node.tu = self.on_event
        self.transactions: list[ServerTransaction] = []

    def on_event(self, node: Node, event: object, now: float) -> None:
        match event:
            case RequestReceived(transaction=tx):
                self.transactions.append(tx)
                plan = self.plans[tx.request.call_id]
                if tx.request.method == "INVITE":
                    self.send(tx, 180, now)
                if plan.status:
                    self.later.at(
                        now + plan.answer_after, lambda t: self.answer(tx, plan.status, t)
                    )
                else:  # a TU answers every request: a no-answer timeout at worst
                    self.later.at(now + 100.0, lambda t: self.answer(tx, 480, t))
            case CancelReceived(cancel_transaction=ctx, invite_transaction=itx):
                self.transactions.append(ctx)
                self.send(ctx, 481 if itx is None else 200, now)
                if itx is not None and itx.state is S.PROCEEDING:
                    self.send(itx, 487, now)
            case AckReceived(request=ack):
                for pump in self.pumps:
                    assert isinstance(pump.source, Uas2xxRetransmitter)
                    pump.source.receive_ack(ack)

    def send(self, tx: ServerTransaction, status: int, now: float) -> Response:
        extra = [("Contact", f"<sip:bob@{BOB}>")] if status < 300 else []
        response = make_response(tx.request, status, to_tag="bob", extra=extra)
        self.node.layer.send_response(tx, response, now)
        return response

    def answer(self, tx: ServerTransaction, status: int, now: float) -> None:
        if tx.state not in (S.TRYING, S.PROCEEDING):
            return  # already answered (487 after CANCEL) or timed out
        response = self.send(tx, status, now)
        if tx.request.method == "INVITE" and status < 300:
            retransmitter = Uas2xxRetransmitter(response, now, self.node.layer.timers)
            pump = ResponsePump(self.node.layer, tx, retransmitter)
            self.pumps.append(pump)
            self.node.clocked.append(pump)


class Alice:
    def __init__(self, node: Node, bob: Node, plans: list[Plan]) -> None:
        self.node = node
        self.bob = bob
        self.later = Scheduler()
        node.clocked.append(self.later)
        node.tu = self.on_event
        self.transactions: list[ClientTransaction] = []
        self.invites: dict[str, Request] = {}
        for i, plan in enumerate(plans):
            self.later.at(plan.send_at, self._starter(i, plan))

    def _starter(self, i: int, plan: Plan) -> Callable[[float], None]:
        return lambda now: self.start(i, plan, now)

    def start(self, i: int, plan: Plan, now: float) -> None:
        call_id = f"call-{i}"
        request = make_request(plan.method, via=self.node.via, call_id=call_id)
        tx = self.node.layer.send_request(request, self.bob.endpoint, now)
        self.transactions.append(tx)
        if plan.method == "INVITE":
            self.invites[call_id] = request
            cancel_after = plan.cancel_after
            if cancel_after is None and plan.status == 0:
                cancel_after = 5.0  # a TU always bounds an unanswered INVITE
            if cancel_after is not None:
                self.later.at(now + cancel_after, lambda t: self.cancel(tx, t))

    def cancel(self, tx: ClientTransaction, now: float) -> None:
        cancel = self.node.layer.cancel(tx, now)
        if cancel is not None:
            self.transactions.append(cancel)

    def on_event(self, node: Node, event: object, now: float) -> None:
        match event:
            case ResponseReceived(transaction=tx, response=response):
                if tx.request.method == "INVITE" and 200 <= response.status_code < 300:
                    self.ack(tx.request, response)
                if tx.request.method == "CANCEL" and tx not in self.transactions:
                    self.transactions.append(tx)  # sent when the provisional arrived
            case StrayResponse(response=response):
                self.ack(self.invites[response.call_id], response)

    def ack(self, invite: Request, response: Response) -> None:
        dialog = Dialog.from_uac(invite, response, local_via=self.node.via)
        self.node.layer.send_stateless(dialog.create_ack(), self.bob.endpoint)


def outcomes(node: Node, tx: ClientTransaction) -> int:
    finals = [
        e
        for e in node.events
        if isinstance(e, ResponseReceived) and e.transaction is tx and e.response.is_final
    ]
    failures = [
        e
        for e in node.events
        if isinstance(e, TransactionTimeout | TransportFailed) and e.transaction is tx
    ]
    return (1 if finals else 0) + len(failures)


@settings(max_examples=150, deadline=None)
@given(
    transport=st.sampled_from(["udp", "udp", "tcp"]),
    plan_list=st.lists(plans, min_size=1, max_size=4),
    fate_list=st.lists(fates, max_size=40),
    report_terminated=st.booleans(),
)
def test_transactions_always_end(
    transport: str, plan_list: list[Plan], fate_list: list[str], report_terminated: bool
) -> None:
    remaining = list(fate_list) if transport == "udp" else []

    def policy(datagram: Datagram) -> list[float]:
        fate = remaining.pop(0) if remaining else "ok"
        return {"ok": [0.01], "drop": [], "dup": [0.01, 0.02], "delay": [0.7]}[fate]

    net = Network(policy)
    alice_node = net.add("alice", ALICE, transport=transport, report_terminated=report_terminated)
    bob_node = net.add("bob", BOB, transport=transport, report_terminated=report_terminated)
    bob = Bob(bob_node, {f"call-{i}": plan for i, plan in enumerate(plan_list)})
    alice = Alice(alice_node, bob_node, plan_list)
    net.run()

    for node in (alice_node, bob_node):
        assert node.layer.transaction_count == 0
        assert node.layer.get_timer() is None
        assert node.layer._heap == []
    assert all(tx.state is S.TERMINATED for tx in alice.transactions)
    assert all(tx.state is S.TERMINATED for tx in bob.transactions)
    assert all(outcomes(alice_node, tx) == 1 for tx in alice.transactions)
    assert all(pump.get_timer() is None for pump in bob.pumps)
    assert len(alice.transactions) >= len(plan_list)
