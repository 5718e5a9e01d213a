"""An in-memory network of transaction layers on virtual time, for unit tests.

:class:`Network` moves the bytes each :class:`Node`'s layer queues to the node listening at
the destination address, through ``bytes()`` and ``parse_message`` (so serialization is
exercised both ways), after a delay the network's ``policy`` decides: ``[]`` drops a message,
``[0.0, 0.0]`` duplicates it, ``[0.3]`` delays it (and so reorders it behind later ones).
Time only moves in :meth:`Network.run`, from one deadline to the next: no sleeps.

A node may sit behind a NAT (``public=``): its requests then arrive from the public address
while its Via names the private one.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from callcenter.sip.events import TransactionEvent
from callcenter.sip.message import Headers, Request, Response
from callcenter.sip.parser import parse_message
from callcenter.sip.timers import TimerConfig
from callcenter.sip.transaction import Endpoint, ServerTransaction, TransactionLayer, new_branch

ALICE = "10.0.0.1"
BOB = "10.0.0.2"
PORT = 5060

Policy = Callable[["Datagram"], list[float]]


class Clocked(Protocol):
    """Anything with a deadline: a layer, a retransmitter."""

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> list[object]: ...  # pragma: no cover


@dataclass(order=True)
class Datagram:
    deliver_at: float
    seq: int
    data: bytes = field(compare=False)
    source: Endpoint = field(compare=False)
    destination: Endpoint = field(compare=False)

    @property
    def first_line(self) -> str:
        return self.data.split(b"\r\n", 1)[0].decode()


@dataclass
class Sent:
    """One message as it left a node (before the network's policy)."""

    at: float
    source: str
    destination: Endpoint
    first_line: str
    data: bytes


class Node:
    """A transaction layer at an address, with a TU callback and a log of its events."""

    def __init__(
        self,
        network: Network,
        name: str,
        host: str,
        port: int,
        transport: str,
        layer: TransactionLayer,
        public: tuple[str, int] | None,
    ) -> None:
        self.network = network
        self.name = name
        self.host = host
        self.port = port
        self.transport = transport
        self.layer = layer
        self.public = public
        self.events: list[object] = []
        self.tu: Callable[[Node, object, float], None] | None = None
        self.clocked: list[Clocked] = []

    @property
    def endpoint(self) -> Endpoint:
        """Where this node's messages appear to come from."""
        host, port = self.public or (self.host, self.port)
        return Endpoint(self.transport, host, port)

    @property
    def via(self) -> str:
        return f"SIP/2.0/{self.transport.upper()} {self.host}:{self.port};rport"

    def handle(self, events: Iterable[object], now: float) -> None:
        for event in events:
            self.events.append(event)
            if self.tu is not None:
                self.tu(self, event, now)

    def events_of(self, kind: type) -> list[object]:
        return [e for e in self.events if isinstance(e, kind)]

    def get_timer(self) -> float | None:
        deadlines = [self.layer.get_timer(), *(c.get_timer() for c in self.clocked)]
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    def fire(self, now: float) -> None:
        deadline = self.layer.get_timer()
        if deadline is not None and deadline <= now:
            events: list[TransactionEvent] = self.layer.handle_timer(now)
            following = self.layer.get_timer()
            assert following is None or following > now, "a fired timer left a deadline behind"
            self.handle(events, now)
        for clocked in list(self.clocked):
            deadline = clocked.get_timer()
            if deadline is not None and deadline <= now:
                self.handle(clocked.handle_timer(now), now)


class Network:
    """Nodes by address, messages in flight, and the clock."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.now = 0.0
        self.policy: Policy = policy or (lambda d: [0.0])
        self.nodes: dict[tuple[str, int], Node] = {}
        self.in_flight: list[Datagram] = []
        self.sent: list[Sent] = []
        self.undeliverable: list[Datagram] = []
        self._seq = 0

    def add(
        self,
        name: str,
        host: str,
        port: int = PORT,
        transport: str = "udp",
        *,
        timers: TimerConfig | None = None,
        public: tuple[str, int] | None = None,
        auto_trying: bool = False,
        report_terminated: bool = False,
    ) -> Node:
        layer = TransactionLayer(
            timers or TimerConfig(), auto_trying=auto_trying, report_terminated=report_terminated
        )
        node = Node(self, name, host, port, transport, layer, public)
        self.nodes[(host, port)] = node
        if public is not None:
            self.nodes[public] = node
        return node

    # -- moving bytes --
    def collect(self) -> None:
        """Take what every node queued and put it on the wire, as the policy says."""
        for node in dict.fromkeys(self.nodes.values()):
            for data, destination in node.layer.datagrams_to_send():
                self.sent.append(
                    Sent(self.now, node.name, destination, data.split(b"\r\n", 1)[0].decode(), data)
                )
                template = Datagram(0.0, 0, data, node.endpoint, destination)
                for delay in self.policy(template):
                    self._seq += 1
                    heapq.heappush(
                        self.in_flight,
                        Datagram(self.now + delay, self._seq, data, node.endpoint, destination),
                    )

    def deliver(self, datagram: Datagram) -> None:
        node = self.nodes.get((datagram.destination.host, datagram.destination.port))
        if node is None or node.transport != datagram.destination.transport:
            self.undeliverable.append(datagram)
            return
        message = parse_message(datagram.data, datagram=node.transport == "udp")
        node.handle(node.layer.receive(message, datagram.source, self.now), self.now)

    def next_time(self) -> float | None:
        times = [self.in_flight[0].deliver_at] if self.in_flight else []
        for node in dict.fromkeys(self.nodes.values()):
            deadline = node.get_timer()
            if deadline is not None:
                times.append(deadline)
        return min(times) if times else None

    def run(self, until: float = 1e9, *, max_steps: int = 100_000) -> None:
        """Deliver messages and fire timers in time order until *until* or quiet."""
        self.collect()
        for _ in range(max_steps):
            t = self.next_time()
            if t is None or t > until:
                break
            self.now = max(self.now, t)
            while self.in_flight and self.in_flight[0].deliver_at <= self.now:
                self.deliver(heapq.heappop(self.in_flight))
                self.collect()
            for node in dict.fromkeys(self.nodes.values()):
                node.fire(self.now)
            self.collect()
        else:  # pragma: no cover - a test that loops forever is a bug in the code under test
            raise AssertionError("network did not settle")
        if until < 1e9:
            self.now = max(self.now, until)

    def sent_by(self, name: str, first_line_prefix: str = "") -> list[Sent]:
        return [
            s for s in self.sent if s.source == name and s.first_line.startswith(first_line_prefix)
        ]


def make_request(
    method: str,
    *,
    via: str = f"SIP/2.0/UDP {ALICE}:{PORT};rport",
    branch: str | None = None,
    uri: str = f"sip:bob@{BOB}",
    call_id: str = "call-1@alice",
    cseq: int = 1,
    from_tag: str = "alice-tag",
    to_tag: str | None = None,
    contact: str | None = f"<sip:alice@{ALICE}:{PORT}>",
    extra: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Request:
    """A request from Alice to Bob; *branch* None gives a fresh RFC 3261 branch, ``""`` none."""
    if branch is None:
        branch = new_branch()
    via_value = f"{via};branch={branch}" if branch else via
    to = f"<sip:bob@{BOB}>" + (f";tag={to_tag}" if to_tag else "")
    items = [
        ("Via", via_value),
        ("Max-Forwards", "70"),
        ("From", f"<sip:alice@{ALICE}>;tag={from_tag}"),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
    ]
    if contact:
        items.append(("Contact", contact))
    items.extend(extra)
    return Request(method, uri, Headers(items), body)


def reparse(message: Request | Response) -> Request | Response:
    """The message as the far end would see it."""
    return parse_message(bytes(message))


class Scheduler:
    """TU-side deferred actions on the network's clock (add it to ``node.clocked``)."""

    def __init__(self) -> None:
        self._items: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = 0

    def at(self, when: float, action: Callable[[float], None]) -> None:
        self._seq += 1
        heapq.heappush(self._items, (when, self._seq, action))

    def get_timer(self) -> float | None:
        return self._items[0][0] if self._items else None

    def handle_timer(self, now: float) -> list[object]:
        while self._items and self._items[0][0] <= now:
            _, _, action = heapq.heappop(self._items)
            action(now)
        return []


class ResponseSource(Protocol):
    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> list[Any]: ...

    def responses_to_send(self) -> list[Response]: ...


class ResponsePump:
    """Hands what a TU-level retransmitter queues to a server transaction, on its timer."""

    def __init__(self, layer: TransactionLayer, tx: ServerTransaction, source: ResponseSource):
        self.layer = layer
        self.tx = tx
        self.source = source
        self.flush(0.0)

    def flush(self, now: float) -> None:
        for response in self.source.responses_to_send():
            self.layer.send_response(self.tx, response, now)

    def get_timer(self) -> float | None:
        return self.source.get_timer()

    def handle_timer(self, now: float) -> list[object]:
        events: list[object] = list(self.source.handle_timer(now))
        self.flush(now)
        return events
