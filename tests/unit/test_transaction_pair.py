"""Two transaction layers talking through the in-memory network (bytes both ways)."""

from __future__ import annotations

from sip_helpers import ALICE, BOB, Datagram, Network, Node, ResponsePump, make_request

from callcenter.sip.dialog import Dialog
from callcenter.sip.events import (
    AckReceived,
    AckTimeout,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionTimeout,
)
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.reliable import Uas2xxRetransmitter
from callcenter.sip.timers import TimerConfig
from callcenter.sip.transaction import ClientTransaction, Endpoint, ServerTransaction


class Callee:
    """Bob's TU: answers INVITE with 180 then *status*; CANCEL → 200 + 487; BYE → 200."""

    def __init__(self, node: Node, status: int = 200, *, ring: bool = True) -> None:
        self.node = node
        self.status = status
        self.ring = ring
        self.pumps: list[ResponsePump] = []
        self.acks: list[Request] = []
        node.tu = self.on_event

    def on_event(self, node: Node, event: object, now: float) -> None:
        layer = node.layer
        match event:
            case RequestReceived(transaction=tx) if tx.request.method == "INVITE":
                if self.ring:
                    layer.send_response(tx, self.response(tx, 180), now)
                if self.status:
                    self.final(tx, self.status, now)
            case RequestReceived(transaction=tx):
                layer.send_response(tx, self.response(tx, 200), now)
            case CancelReceived(cancel_transaction=ctx, invite_transaction=itx):
                layer.send_response(ctx, self.response(ctx, 481 if itx is None else 200), now)
                if itx is not None and itx.state.value == "Proceeding":
                    layer.send_response(itx, self.response(itx, 487), now)
            case AckReceived(request=ack):
                self.acks.append(ack)
                for pump in self.pumps:
                    assert isinstance(pump.source, Uas2xxRetransmitter)
                    pump.source.receive_ack(ack)

    def response(self, tx: ServerTransaction, status: int) -> Response:
        extra = (
            [("Contact", f"<sip:bob@{self.node.host}:{self.node.port}>")] if status < 300 else []
        )
        return make_response(tx.request, status, to_tag="bob-tag", extra=extra)

    def final(self, tx: ServerTransaction, status: int, now: float) -> None:
        response = self.response(tx, status)
        self.node.layer.send_response(tx, response, now)
        if status < 300:
            pump = ResponsePump(
                self.node.layer, tx, Uas2xxRetransmitter(response, now, self.node.layer.timers)
            )
            self.pumps.append(pump)
            self.node.clocked.append(pump)


class Caller:
    """Alice's TU: ACKs every 2xx (also stray ones) through a dialog."""

    def __init__(self, node: Node, peer: Endpoint) -> None:
        self.node = node
        self.peer = peer
        self.finals: list[Response] = []
        self.acks_sent = 0
        self.invites: list[Request] = []
        node.tu = self.on_event

    def invite(self, now: float = 0.0, **kw: object) -> ClientTransaction:
        request = make_request("INVITE", via=self.node.via, **kw)  # type: ignore[arg-type]
        self.invites.append(request)
        return self.node.layer.send_request(request, self.peer, now)

    def on_event(self, node: Node, event: object, now: float) -> None:
        match event:
            case ResponseReceived(transaction=tx, response=response) if response.is_final:
                self.finals.append(response)
                if tx.request.method == "INVITE" and response.status_code < 300:
                    self.ack(tx.request, response)
            case StrayResponse(response=response):
                self.finals.append(response)
                invite = next(i for i in self.invites if i.call_id == response.call_id)
                self.ack(invite, response)

    def ack(self, invite: Request, response: Response) -> None:
        dialog = Dialog.from_uac(invite, response, local_via=self.node.via)
        self.node.layer.send_stateless(dialog.create_ack(), self.peer)
        self.acks_sent += 1


def pair(  # type: ignore[no-untyped-def]
    transport: str = "udp", *, policy=None, status: int = 200, bob_timers=None
):
    net = Network(policy)
    alice = net.add("alice", ALICE, transport=transport)
    bob = net.add("bob", BOB, transport=transport, timers=bob_timers)
    return net, Caller(alice, bob.endpoint), Callee(bob, status)


def drop_first(prefixes: list[str]):  # type: ignore[no-untyped-def]
    """A policy dropping the first message starting with each prefix, once."""
    pending = list(prefixes)

    def policy(datagram: Datagram) -> list[float]:
        for prefix in pending:
            if datagram.first_line.startswith(prefix):
                pending.remove(prefix)
                return []
        return [0.01]

    return policy


def test_invite_486_over_lossy_udp_gets_one_final_and_one_request_event() -> None:
    net, caller, callee = pair(policy=drop_first(["INVITE", "SIP/2.0 486", "ACK"]), status=486)
    tx = caller.invite()
    net.run()
    assert [r.status_code for r in caller.finals] == [486]
    bob = callee.node
    assert len(bob.events_of(RequestReceived)) == 1
    assert bob.events_of(TransactionTimeout) == []  # the ACK arrived (second try)
    assert len(net.sent_by("alice", "INVITE")) == 2  # one loss, one timer A retransmission
    assert len(net.sent_by("bob", "SIP/2.0 486")) >= 2
    assert len(net.sent_by("alice", "ACK")) >= 2  # re-ACK for the retransmitted 486
    assert tx.state.value == "Terminated"
    assert caller.node.layer.transaction_count == 0 and bob.layer.transaction_count == 0


def test_2xx_is_retransmitted_by_the_tu_until_the_ack() -> None:
    net, caller, callee = pair(policy=drop_first(["SIP/2.0 200", "SIP/2.0 200"]))
    caller.invite()
    net.run()
    assert [r.status_code for r in caller.finals] == [200]
    assert len(net.sent_by("bob", "SIP/2.0 200")) == 3  # 0, T1, 3*T1
    assert caller.acks_sent == 1 and len(callee.acks) == 1
    assert all(p.source.get_timer() is None for p in callee.pumps)
    assert callee.node.events_of(AckTimeout) == []
    assert callee.node.layer.transaction_count == 0


def test_lost_ack_makes_the_2xx_come_again_and_it_is_acked_again() -> None:
    net, caller, callee = pair(policy=drop_first(["ACK"]))
    caller.invite()
    net.run()
    assert caller.acks_sent == 2
    assert len(callee.acks) == 1
    assert [r.status_code for r in caller.finals] == [200, 200]


def test_lost_ack_after_timer_m_is_repaired_through_stray_response() -> None:
    # Bob's T1 is 1 s, so he retransmits his 2xx for 64 s; Alice's timer M ends at 32 s.
    drops = ["ACK"] * 10  # every ACK sent while Alice's INVITE transaction is Accepted
    net, caller, callee = pair(policy=drop_first(drops), bob_timers=TimerConfig(t1=1.0))
    caller.invite()
    net.run()
    (stray,) = caller.node.events_of(StrayResponse)
    assert stray.response.status_code == 200
    assert caller.acks_sent == 11
    assert len(callee.acks) == 1


def test_duplicated_datagrams_never_duplicate_tu_events() -> None:
    net, caller, callee = pair(policy=lambda d: [0.0, 0.001], status=404)
    caller.invite()
    net.run()
    assert len(callee.node.events_of(RequestReceived)) == 1
    assert [r.status_code for r in caller.finals] == [404]


def test_tcp_call_sends_each_message_once() -> None:
    net, caller, callee = pair("tcp")
    caller.invite()
    net.run()
    lines = [s.first_line.split(" ")[0] + " " + s.first_line.split(" ")[1] for s in net.sent]
    assert lines[:4] == [
        "INVITE sip:bob@10.0.0.2",
        "SIP/2.0 180",
        "SIP/2.0 200",
        "ACK sip:bob@10.0.0.2:5060",
    ]
    # the TU retransmits its 2xx even over TCP until the ACK (§13.3.1.4): it came at once
    assert len(net.sent_by("bob", "SIP/2.0 200")) == 1
    assert caller.node.layer.transaction_count == 0 and callee.node.layer.transaction_count == 0


def test_cancel_end_to_end() -> None:
    net, caller, callee = pair(status=0)  # Bob rings and never answers
    tx = caller.invite()
    net.run(until=1.0)
    cancel_tx = caller.node.layer.cancel(tx, net.now)
    assert cancel_tx is not None
    net.run()
    assert sorted(r.status_code for r in caller.finals) == [200, 487]
    assert len(net.sent_by("alice", "ACK")) == 1  # the ACK of the 487, by the transaction
    assert callee.node.layer.transaction_count == 0


def test_requests_from_behind_a_nat_get_their_responses() -> None:
    net = Network()
    alice = net.add("alice", "192.168.1.20", public=("203.0.113.5", 40000))
    bob = net.add("bob", BOB)
    caller, callee = Caller(alice, bob.endpoint), Callee(bob, 486)
    caller.invite()
    net.run()
    assert [r.status_code for r in caller.finals] == [486]
    assert net.undeliverable == []
    (request_event,) = bob.events_of(RequestReceived)
    via = request_event.transaction.request.top_via  # type: ignore[attr-defined]
    assert (via.params["received"], via.params["rport"]) == ("203.0.113.5", "40000")
    assert callee.node.layer.transaction_count == 0
