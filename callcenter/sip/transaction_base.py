"""What the four transaction state machines share: states, inputs, the timer heap, output.

Each machine (RFC 3261 §17.1.1, §17.1.2, §17.2.1, §17.2.2 with RFC 6026) is a class whose
``TRANSITIONS`` table maps ``(state, input)`` to ``(next state, action)``. An input the table
does not list is dropped when it comes from the network or a timer (a late retransmission),
and raises :class:`TransactionError` when it comes from the TU (a programming error).

Timers live in one binary heap owned by :class:`TransactionCore`: an entry is
``(deadline, sequence, transaction, input)`` and is valid only while the transaction still
holds that sequence number for that input, so cancelling is O(1) (forget the number) and the
stale entry is skipped when it surfaces. The heap is compacted when stale entries outnumber
live ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from callcenter.sip.errors import TransactionError
from callcenter.sip.events import TransactionTerminated, TransactionTimeout
from callcenter.sip.headers import Via
from callcenter.sip.ids import random_hex
from callcenter.sip.timers import TimerConfig, TransportTimers
from callcenter.sip.transport_common import Endpoint

if TYPE_CHECKING:
    from callcenter.sip.events import TransactionEvent
    from callcenter.sip.message import Request, Response

__all__ = [
    "MAGIC_COOKIE",
    "Endpoint",
    "Input",
    "Transaction",
    "TransactionCore",
    "TransactionState",
    "is_reliable",
    "new_branch",
    "response_endpoint",
]

MAGIC_COOKIE = "z9hG4bK"
"""Branch prefix of RFC 3261 requests (§8.1.1.7); without it, RFC 2543 matching applies."""


def new_branch() -> str:
    """A new Via branch: the magic cookie and 64 random bits (unique and unguessable)."""
    return MAGIC_COOKIE + random_hex(8)


def is_reliable(endpoint: Endpoint) -> bool:
    """True for connection transports (TCP, TLS, WS, WSS), where SIP does not retransmit."""
    return endpoint.transport != "udp"


def response_endpoint(via: Via, source: Endpoint) -> Endpoint:
    """Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4).

    Over a connection, back to the connection the request came on (``source``); over UDP, to
    the top Via's ``maddr``/``received``/sent-by host and its ``rport``/sent-by port.
    """
    if source.transport != "udp":
        return source
    host, port = via.response_address()
    return Endpoint("udp", host, port)


class TransactionState(Enum):
    """The states of RFC 3261 §17 and RFC 6026 (``ACCEPTED``)."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(Enum):
    """What can happen to a transaction: network input, TU input, or a timer firing."""

    REQUEST = "request retransmission"
    ACK = "ACK"
    PROVISIONAL = "1xx"
    SUCCESS = "2xx"
    FAILURE = "300-699"
    TU_PROVISIONAL = "1xx from TU"
    TU_SUCCESS = "2xx from TU"
    TU_FAILURE = "300-699 from TU"
    TIMER_A = "timer A"
    TIMER_B = "timer B"
    TIMER_D = "timer D"
    TIMER_E = "timer E"
    TIMER_F = "timer F"
    TIMER_G = "timer G"
    TIMER_H = "timer H"
    TIMER_I = "timer I"
    TIMER_J = "timer J"
    TIMER_K = "timer K"
    TIMER_L = "timer L"
    TIMER_M = "timer M"
    TIMER_TRYING = "100 Trying timer"


TU_INPUTS = frozenset({Input.TU_PROVISIONAL, Input.TU_SUCCESS, Input.TU_FAILURE})

S = TransactionState
Action = Callable[[Any, "Request | Response | None", float], None]
_HeapEntry = tuple[float, int, "Transaction", Input]


class TransactionCore:
    """The shared machinery of a transaction layer: timer heap, output queue, events, tables."""

    def __init__(self, timers: TimerConfig, *, auto_trying: bool, report_terminated: bool) -> None:
        self.timers = timers
        self.auto_trying = auto_trying
        self.report_terminated = report_terminated
        self._timers_udp = timers.for_transport(False)
        self._timers_reliable = timers.for_transport(True)
        self._heap: list[_HeapEntry] = []
        self._seq = 0
        self._stale = 0
        self._out: list[tuple[bytes, Endpoint]] = []
        self._events: list[TransactionEvent] = []
        self._events_at: float | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._servers: dict[tuple[object, ...], Any] = {}

    def transport_timers(self, endpoint: Endpoint) -> TransportTimers:
        return self._timers_udp if endpoint.transport == "udp" else self._timers_reliable

    # -- events raised outside receive()/handle_timer() wait for the next call --
    def _emit(self, event: TransactionEvent, now: float) -> None:
        self._events.append(event)
        if self._events_at is None:
            self._events_at = now

    def _drain_events(self) -> list[TransactionEvent]:
        events = self._events
        self._events = []
        self._events_at = None
        return events

    # -- timers --
    def _arm(self, tx: Transaction, timer: Input, deadline: float) -> None:
        self._seq += 1
        if timer in tx._timers:
            self._stale += 1
        tx._timers[timer] = self._seq
        heapq.heappush(self._heap, (deadline, self._seq, tx, timer))
        if self._stale > 1024 and self._stale * 2 > len(self._heap):
            self._compact()

    def _disarm(self, tx: Transaction, timer: Input) -> None:
        if tx._timers.pop(timer, None) is not None:
            self._stale += 1

    def _disarm_all(self, tx: Transaction) -> None:
        self._stale += len(tx._timers)
        tx._timers.clear()

    def _compact(self) -> None:
        self._heap = [e for e in self._heap if e[2]._timers.get(e[3]) == e[1]]
        heapq.heapify(self._heap)
        self._stale = 0

    def get_timer(self) -> float | None:
        """The earliest deadline at which :meth:`handle_timer` must be called, or None."""
        heap = self._heap
        while heap:
            deadline, seq, tx, timer = heap[0]
            if tx._timers.get(timer) == seq:
                break
            heapq.heappop(heap)
            self._stale -= 1
        else:
            return self._events_at
        if self._events_at is not None and self._events_at < deadline:
            return self._events_at
        return deadline

    def handle_timer(self, now: float) -> list[TransactionEvent]:
        """Fire every timer due at *now*; returns the events they (and earlier calls) raised."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, seq, tx, timer = heapq.heappop(heap)
            if tx._timers.get(timer) != seq:
                self._stale -= 1
                continue
            del tx._timers[timer]
            tx._handle(timer, None, now)
        return self._drain_events()

    def datagrams_to_send(self) -> list[tuple[bytes, Endpoint]]:
        """Messages to send, in order, each with its destination; the queue is emptied."""
        out = self._out
        self._out = []
        return out


_SETTLED = frozenset({S.COMPLETED, S.CONFIRMED, S.ACCEPTED, S.TERMINATED})


class Transaction:
    """A transaction: the request, its last response, state, and the TU's own context.

    ``tu_data`` is free for the transaction user (the switch keeps its call leg there).
    """

    __slots__ = (
        "_core",
        "_interval",
        "_table",
        "_timers",
        "_tt",
        "key",
        "last_response",
        "reliable",
        "request",
        "state",
        "tu_data",
    )

    role: ClassVar[str] = "transaction"
    TRANSITIONS: ClassVar[dict[tuple[TransactionState, Input], tuple[TransactionState, str]]] = {}
    _dispatch: ClassVar[dict[tuple[TransactionState, Input], tuple[TransactionState, Action]]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {
            key: (state, getattr(cls, name)) for key, (state, name) in cls.TRANSITIONS.items()
        }

    def __init__(
        self,
        core: TransactionCore,
        request: Request,
        key: Any,
        table: dict[Any, Any],
        endpoint: Endpoint,
        state: TransactionState,
    ) -> None:
        self._core = core
        self._timers: dict[Input, int] = {}
        self._table = table
        self._tt = core.transport_timers(endpoint)
        self._interval = 0.0
        self.key = key
        self.request = request
        self.state = state
        self.reliable = endpoint.transport != "udp"
        self.last_response: Response | None = None
        self.tu_data: object = None
        table[key] = self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.method} {self.state.value} key={self.key!r}>"

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def terminated(self) -> bool:
        return self.state is S.TERMINATED

    def _handle(self, inp: Input, message: Request | Response | None, now: float) -> bool:
        """Apply the transition for *inp*; False when the input is ignored in this state."""
        entry = self._dispatch.get((self.state, inp))
        if entry is None:
            if inp in TU_INPUTS:
                raise TransactionError(
                    f"{self.role} transaction in state {self.state.value} cannot take {inp.value}"
                )
            return False
        state = self.state = entry[0]
        entry[1](self, message, now)
        if state in _SETTLED:
            # Only retransmissions are handled from here on: drop the parsed header values.
            self.request.release_cache()
            if self.last_response is not None:
                self.last_response.release_cache()
        return True

    # -- actions common to every machine --
    def _absorb(self, message: Request | Response | None, now: float) -> None:
        """The input is a retransmission the machine swallows."""

    def _end(self, message: Request | Response | None, now: float) -> None:
        self._terminate(now)

    def _time_out(self, message: Request | Response | None, now: float) -> None:
        self._core._emit(TransactionTimeout(self), now)  # type: ignore[arg-type]
        self._terminate(now)

    def _arm(self, timer: Input, delay: float, now: float) -> None:
        self._core._arm(self, timer, now + delay)

    def _terminate(self, now: float) -> None:
        """Enter Terminated: forget timers and leave the table (RFC 3261 §17: destroyed)."""
        self.state = S.TERMINATED
        core = self._core
        if self._timers:
            core._disarm_all(self)
        if self._table.get(self.key) is self:
            del self._table[self.key]
        if core.report_terminated:
            core._emit(TransactionTerminated(self), now)  # type: ignore[arg-type]
