"""The virtual network of the switch tests: addresses, SDP helpers and :class:`Net`.

:class:`Net` carries datagrams between nodes on virtual time. Every hop goes through ``bytes()``
and ``parse_message`` (so serialization is exercised); :meth:`Net.drop` and
:meth:`Net.duplicate` tamper with chosen messages; latency and seeded jitter reorder them.
Time moves only in :meth:`Net.run_until` (and its friends), from one deadline of one node to
the next: no sleeps, no sockets.
"""

from __future__ import annotations

import heapq
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from callcenter.sip.auth import (
    DigestAlgorithm,
    compute_ha1,
    parse_challenge,
)
from callcenter.sip.message import Request, Response
from callcenter.sip.parser import parse_message
from callcenter.sip.transaction import (
    Endpoint,
)
from callcenter.sip.uri import URI, SipURI

SWITCH_HOST = "10.0.0.1"
SWITCH_PORT = 5060
SWITCH = Endpoint("udp", SWITCH_HOST, SWITCH_PORT)
DOMAIN = "pbx.test"
EXTENSIONS = {"1001": "Alice Agent", "1002": "Bob Agent", "1003": "Carol Agent"}
PASSWORDS = {number: f"secret-{number}" for number in EXTENSIONS}
PSTN = Endpoint("udp", "10.0.0.100", 5060)  # inbound trunk
CARRIER = Endpoint("udp", "10.0.0.101", 5060)  # outbound trunk, routes ^9
SECURE = Endpoint("udp", "10.0.0.102", 5060)  # outbound trunk with credentials, routes ^8
SECURE_USER, SECURE_PASSWORD = "pbx-account", "trunk-secret"

Message = Request | Response


# ------------------------------------------------------------------------------ SDP
def sdp(owner: str, host: str, port: int = 40000, direction: str = "sendrecv") -> bytes:
    return (
        f"v=0\r\no={owner} 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    ).encode()


_DIRECTION = re.compile(rb"a=(sendrecv|sendonly|recvonly|inactive)")
MIRRORED_DIRECTION = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}


def direction_of(body: bytes) -> str | None:
    m = _DIRECTION.search(body)
    return m.group(1).decode() if m else None


def host_of(uri: URI) -> str:
    assert isinstance(uri, SipURI), uri
    return uri.host


def parse_challenge_algorithms(values: Iterable[str]) -> list[str | None]:
    return [parse_challenge(value).algorithm for value in values]


def ha1_lookup(realm: str, passwords: dict[str, str]) -> Callable[[str, str], str | None]:
    def lookup(user: str, algorithm: str) -> str | None:
        password = passwords.get(user)
        if password is None:
            return None
        return compute_ha1(user, realm, password, DigestAlgorithm(algorithm))

    return lookup


# ------------------------------------------------------------------------------ network
class NetNode(Protocol):
    name: str

    @property
    def endpoint(self) -> Endpoint: ...

    def receive(self, message: Message, source: Endpoint, now: float) -> None: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...

    def datagrams_to_send(self) -> list[tuple[bytes, Endpoint]]: ...


@dataclass
class Wire:
    """One message as it left a node."""

    at: float
    source: str
    destination: str
    to: Endpoint
    message: Message
    dropped: bool = False

    @property
    def first_line(self) -> str:
        return bytes(self.message).split(b"\r\n", 1)[0].decode()

    def is_request(self, method: str) -> bool:
        return isinstance(self.message, Request) and self.message.method == method

    def is_response(self, status: int, method: str | None = None) -> bool:
        m = self.message
        return (
            isinstance(m, Response)
            and m.status_code == status
            and (method is None or m.cseq.method == method)
        )


WirePredicate = Callable[[Wire], bool]


@dataclass
class _Rule:
    predicate: WirePredicate
    copies: int  # 0 drops, 2 duplicates
    remaining: int | None


class Net:
    """Nodes by address, datagrams in flight, the virtual clock."""

    def __init__(self, latency: float = 0.0, *, jitter: float = 0.0, seed: int = 0) -> None:
        self.now = 0.0
        self.latency = latency
        self.jitter = jitter
        self._rng = random.Random(seed)
        self.nodes: dict[tuple[str, str, int], NetNode] = {}
        self.wire: list[Wire] = []
        self.undeliverable: list[Wire] = []
        self._in_flight: list[tuple[float, int, bytes, Endpoint, Endpoint]] = []
        self._rules: list[_Rule] = []
        self._seq = 0

    def attach(self, node: NetNode, *also: Endpoint) -> None:
        for ep in (node.endpoint, *also):
            self.nodes[(ep.transport, ep.host, ep.port)] = node

    def name_of(self, endpoint: Endpoint) -> str:
        node = self.nodes.get((endpoint.transport, endpoint.host, endpoint.port))
        return node.name if node is not None else str(endpoint)

    # -- tampering --
    def drop(self, predicate: WirePredicate, count: int | None = 1) -> None:
        """Drop the next *count* messages matching (None: all of them)."""
        self._rules.append(_Rule(predicate, 0, count))

    def duplicate(self, predicate: WirePredicate, count: int | None = 1) -> None:
        self._rules.append(_Rule(predicate, 2, count))

    def _copies(self, wire: Wire) -> int:
        for rule in self._rules:
            if rule.remaining != 0 and rule.predicate(wire):
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.copies
        return 1

    # -- moving bytes --
    def collect(self) -> None:
        for node in dict.fromkeys(self.nodes.values()):
            for data, destination in node.datagrams_to_send():
                message = parse_message(data)  # what we sent must parse
                wire = Wire(self.now, node.name, self.name_of(destination), destination, message)
                self.wire.append(wire)
                copies = self._copies(wire)
                wire.dropped = copies == 0
                for _ in range(copies):
                    self._seq += 1
                    delay = self.latency + (self._rng.uniform(0, self.jitter) if self.jitter else 0)
                    item = (self.now + delay, self._seq, data, node.endpoint, destination)
                    heapq.heappush(self._in_flight, item)

    def _deliver(self, data: bytes, source: Endpoint, destination: Endpoint) -> None:
        node = self.nodes.get((destination.transport, destination.host, destination.port))
        message = parse_message(data)
        if node is None:
            self.undeliverable.append(Wire(self.now, "?", str(destination), destination, message))
            return
        node.receive(message, source, self.now)

    def next_time(self) -> float | None:
        times = [self._in_flight[0][0]] if self._in_flight else []
        for node in dict.fromkeys(self.nodes.values()):
            deadline = node.get_timer()
            if deadline is not None:
                times.append(deadline)
        return min(times) if times else None

    def _step(self) -> None:
        while self._in_flight and self._in_flight[0][0] <= self.now:
            _, _, data, source, destination = heapq.heappop(self._in_flight)
            self._deliver(data, source, destination)
            self.collect()
        for node in dict.fromkeys(self.nodes.values()):
            deadline = node.get_timer()
            if deadline is not None and deadline <= self.now:
                node.handle_timer(self.now)
                self.collect()

    def run_until(
        self, predicate: Callable[[], bool], max_time: float = 60.0, *, max_steps: int = 50_000
    ) -> bool:
        """Advance until *predicate* holds (True) or *max_time* virtual seconds pass (False)."""
        deadline = self.now + max_time
        self.collect()
        for _ in range(max_steps):
            if predicate():
                return True
            t = self.next_time()
            if t is None or t > deadline:
                self.now = max(self.now, deadline)
                return predicate()
            self.now = max(self.now, t)
            self._step()
        raise AssertionError(f"virtual network still busy after {max_steps} steps")

    def run_for(self, seconds: float) -> None:
        self.run_until(lambda: False, seconds)

    def settle(self, max_time: float = 600.0) -> None:
        """Run until no message is in flight and no node has a deadline."""
        self.run_until(lambda: not self._in_flight and self.next_time() is None, max_time)

    def sent(self, source: str | None = None, *, to: str | None = None) -> list[Wire]:
        return [
            w
            for w in self.wire
            if (source is None or w.source == source) and (to is None or w.destination == to)
        ]
