"""The switch on a virtual network, for deterministic call-flow tests of the B2BUA.

:class:`World` builds the switch the way ``Softswitch.start`` does (a
:class:`~callcenter.sip.transaction.TransactionLayer` plus the :class:`B2BUA`) at
udp 10.0.0.1:5060 on a :class:`~switch_net.Net`, and scripted user agents
(:class:`~switch_phones.Phone`) around it. Tests import everything from here.
"""

from __future__ import annotations

import re

from switch_calls import (
    Behaviour,
    Exchange,
    SipCall,
    Step,
    answers,
    rejects,
    rings,
    silent,
)
from switch_net import (
    CARRIER,
    DOMAIN,
    EXTENSIONS,
    PASSWORDS,
    PSTN,
    SECURE,
    SECURE_PASSWORD,
    SECURE_USER,
    SWITCH,
    SWITCH_HOST,
    SWITCH_PORT,
    Message,
    Net,
    Wire,
    direction_of,
    ha1_lookup,
    host_of,
    parse_challenge_algorithms,
    sdp,
)
from switch_phones import Phone

from callcenter.sip.auth import (
    AuthLockout,
    DigestServer,
)
from callcenter.sip.transaction import (
    Endpoint,
    TransactionLayer,
)
from callcenter.switch.authgate import AuthGate
from callcenter.switch.b2bua import B2BUA, SwitchSettings, TrunkPeer
from callcenter.switch.call import Call, SessionDescriptionHandler
from callcenter.switch.registrar import LocationService, RegistrarPolicy
from callcenter.switch.routing import Dialplan, Route

__all__ = [
    "CARRIER",
    "DOMAIN",
    "PASSWORDS",
    "PSTN",
    "SECURE",
    "SECURE_PASSWORD",
    "SECURE_USER",
    "SWITCH",
    "SWITCH_HOST",
    "Behaviour",
    "Exchange",
    "Net",
    "Phone",
    "SipCall",
    "Step",
    "SwitchNode",
    "Wire",
    "World",
    "answers",
    "direction_of",
    "host_of",
    "parse_challenge_algorithms",
    "rejects",
    "rings",
    "sdp",
    "silent",
]


# ------------------------------------------------------------------------------ switch
class SwitchNode:
    """The switch: a transaction layer and the B2BUA, pumped like ``SwitchPump`` does."""

    name = "switch"

    def __init__(self, txl: TransactionLayer, b2bua: B2BUA) -> None:
        self.txl = txl
        self.b2bua = b2bua

    @property
    def endpoint(self) -> Endpoint:
        return SWITCH

    def receive(self, message: Message, source: Endpoint, now: float) -> None:
        self.b2bua.handle_events(self.txl.receive(message, source, now), now)

    def get_timer(self) -> float | None:
        return self.b2bua.get_timer()

    def handle_timer(self, now: float) -> None:
        self.b2bua.handle_timer(now)

    def datagrams_to_send(self) -> list[tuple[bytes, Endpoint]]:
        return self.txl.datagrams_to_send()


DEFAULT_ROUTES = [
    Route(re.compile(r"^9(\d+)$"), "carrier", r"\1"),
    Route(re.compile(r"^8(\d+)$"), "secure", r"\1"),
]


def default_trunks() -> list[TrunkPeer]:
    return [
        TrunkPeer("pstn", PSTN),
        TrunkPeer("carrier", CARRIER),
        TrunkPeer("secure", SECURE, username=SECURE_USER, password=SECURE_PASSWORD),
    ]


class World:
    """The switch on a virtual network, with its CDRs and registration changes."""

    def __init__(
        self,
        *,
        no_answer_timeout: float = 60.0,
        max_forwards: int = 70,
        lockout: AuthLockout | None = None,
        trunks: list[TrunkPeer] | None = None,
        routes: list[Route] | None = None,
        latency: float = 0.0,
        jitter: float = 0.0,
        seed: int = 0,
        sdp: SessionDescriptionHandler | None = None,
    ) -> None:
        self.net = Net(latency, jitter=jitter, seed=seed)
        self.txl = TransactionLayer()
        self.cdrs: list[Call] = []
        self.registrations: list[tuple[list[object], list[object]]] = []
        self.location = LocationService(RegistrarPolicy())
        self.auth = AuthGate(
            DigestServer(DOMAIN, b"k" * 32, 300.0),
            lockout or AuthLockout(3, 300.0, 2.0, 600.0),
            ha1_lookup(DOMAIN, PASSWORDS),
        )
        self.b2bua = B2BUA(
            self.txl,
            SwitchSettings(
                domain=DOMAIN, no_answer_timeout=no_answer_timeout, max_forwards=max_forwards
            ),
            location=self.location,
            dialplan=Dialplan(set(EXTENSIONS), DEFAULT_ROUTES if routes is None else routes),
            auth=self.auth,
            trunks=default_trunks() if trunks is None else trunks,
            extension_names=dict(EXTENSIONS),
            local=lambda transport: Endpoint(transport, SWITCH_HOST, SWITCH_PORT),
            on_call_ended=self.cdrs.append,
            on_registration=lambda saved, removed: self.registrations.append((saved, removed)),
            sdp=sdp,
        )
        self.switch = SwitchNode(self.txl, self.b2bua)
        self.net.attach(self.switch)

    def phone(
        self,
        name: str,
        host: str,
        port: int = 5060,
        *,
        user: str | None = None,
        password: str | None = None,
        public: Endpoint | None = None,
        behaviour: Behaviour | None = None,
    ) -> Phone:
        if user is not None and password is None:
            password = PASSWORDS.get(user)
        phone = Phone(
            self.net, name, host, port, user=user or name, password=password, public=public
        )
        if behaviour is not None:
            phone.behaviour = behaviour
        return phone

    def trunk(self, name: str, endpoint: Endpoint, behaviour: Behaviour | None = None) -> Phone:
        return self.phone(name, endpoint.host, endpoint.port, user=name, behaviour=behaviour)

    def register(self, phone: Phone, expires: int = 3600) -> Exchange:
        exchange = phone.register(expires)
        assert self.net.run_until(lambda: exchange.final is not None, 10)
        return exchange

    def cdr(self) -> Call:
        assert len(self.cdrs) == 1, self.cdrs
        return self.cdrs[0]

    def assert_idle(self, max_time: float = 600.0) -> None:
        """Let every timer run out, then check the switch holds nothing."""
        self.net.settle(max_time)
        b = self.b2bua
        assert b.calls == {}, b.calls
        assert b.dialogs == {}, b.dialogs
        assert b.callee_call_ids == {}, b.callee_call_ids
        assert self.txl.transaction_count == 0, (self.txl._clients, self.txl._servers)
        assert b.get_timer() is None
        assert "event_errors" not in b.counters
        assert self.net.undeliverable == []
