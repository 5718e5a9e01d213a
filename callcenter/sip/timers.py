"""SIP timer values (RFC 3261 §17 Table 4, RFC 6026 §8.11) as arithmetic on T1, T2 and T4.

:class:`TimerConfig` holds the three base values; every derived timer is a property computed
from them, so a test can shrink the whole set by building ``TimerConfig(t1=0.01)``. The
transaction layer does not read the properties per message: it asks once for a
:class:`TransportTimers` per kind of transport (``config.for_transport(reliable)``), where the
timers a reliable transport does not use are ``None`` and the "wait for retransmissions"
timers are ``0``.

Nothing here reads a clock; values are durations in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["T1", "T2", "T4", "TimerConfig", "TransportTimers"]

T1 = 0.5
"""RTT estimate (RFC 3261 §17.1.1.1)."""
T2 = 4.0
"""Maximum retransmission interval for non-INVITE requests and INVITE responses (§17.1.2.2)."""
T4 = 5.0
"""Maximum duration a message may remain in the network (§17.1.2.2)."""
TRYING_DELAY = 0.2
"""A server INVITE transaction sends 100 Trying unless the TU answers within 200 ms (§17.2.1)."""


@dataclass(frozen=True, slots=True)
class TransportTimers:
    """The timer durations for one kind of transport (seconds; ``None`` = timer not used)."""

    a: float | None
    """INVITE request retransmission interval, initially T1 (§17.1.1.2; UDP only)."""
    b: float
    """INVITE client transaction timeout, 64*T1 (§17.1.1.2)."""
    d: float
    """Wait for response retransmissions (client INVITE), 32 s UDP / 0 reliable (§17.1.1.2)."""
    e: float | None
    """Non-INVITE request retransmission interval, initially T1 (§17.1.2.2; UDP only)."""
    f: float
    """Non-INVITE client transaction timeout, 64*T1 (§17.1.2.2)."""
    g: float | None
    """INVITE final response retransmission interval, initially T1 (§17.2.1; UDP only)."""
    h: float
    """Wait for ACK receipt, 64*T1 (§17.2.1)."""
    i: float
    """Wait for ACK retransmissions, T4 UDP / 0 reliable (§17.2.1)."""
    j: float
    """Wait for non-INVITE request retransmissions, 64*T1 UDP / 0 reliable (§17.2.2)."""
    k: float
    """Wait for non-INVITE response retransmissions, T4 UDP / 0 reliable (§17.1.2.2)."""
    l: float  # noqa: E741 - the RFC's name
    """Wait for retransmitted INVITEs after a 2xx, 64*T1 (RFC 6026 §8.7, §17.2.1)."""
    m: float
    """Wait for 2xx retransmissions and other forks' 2xx, 64*T1 (RFC 6026 §8.4, §17.1.1)."""
    t2: float
    """Cap of the doubling intervals (E and G)."""
    trying: float
    """Delay of the automatic 100 Trying (§17.2.1)."""


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """Base timer values; everything else is derived (RFC 3261 §17, Table 4 of Appendix A).

    ``t1`` must stay positive: every retransmission interval is a multiple of it.
    """

    t1: float = T1
    """RTT estimate; RFC 3261 recommends 500 ms and allows larger values."""
    t2: float = T2
    """Maximum retransmission interval for non-INVITE requests and INVITE responses."""
    t4: float = T4
    """Maximum time a message remains in the network."""
    trying_delay: float = TRYING_DELAY
    """Delay after which the layer sends 100 Trying itself, when asked to (§17.2.1)."""

    def __post_init__(self) -> None:
        if not (self.t1 > 0 and self.t2 >= self.t1 and self.t4 >= 0 and self.trying_delay > 0):
            raise ValueError("timer values must satisfy 0 < t1 <= t2, t4 >= 0, trying_delay > 0")

    # -- the derived timers, by their RFC names --
    @property
    def timer_a(self) -> float:
        """INVITE request retransmit interval, initially T1 (§17.1.1.2), UDP only."""
        return self.t1

    @property
    def timer_b(self) -> float:
        """INVITE transaction timeout, 64*T1 (§17.1.1.2)."""
        return 64 * self.t1

    @property
    def timer_d(self) -> float:
        """Wait time for response retransmits, ">32 s" for UDP (§17.1.1.2): 64*T1 (32 s)."""
        return 64 * self.t1

    @property
    def timer_e(self) -> float:
        """Non-INVITE request retransmit interval, initially T1 (§17.1.2.2), UDP only."""
        return self.t1

    @property
    def timer_f(self) -> float:
        """Non-INVITE transaction timeout, 64*T1 (§17.1.2.2)."""
        return 64 * self.t1

    @property
    def timer_g(self) -> float:
        """INVITE response retransmit interval, initially T1 (§17.2.1), UDP only."""
        return self.t1

    @property
    def timer_h(self) -> float:
        """Wait time for ACK receipt, 64*T1 (§17.2.1)."""
        return 64 * self.t1

    @property
    def timer_i(self) -> float:
        """Wait time for ACK retransmits, T4 for UDP (§17.2.1)."""
        return self.t4

    @property
    def timer_j(self) -> float:
        """Wait time for non-INVITE request retransmits, 64*T1 for UDP (§17.2.2)."""
        return 64 * self.t1

    @property
    def timer_k(self) -> float:
        """Wait time for response retransmits, T4 for UDP (§17.1.2.2)."""
        return self.t4

    @property
    def timer_l(self) -> float:
        """Wait time for accepted INVITE request retransmits, 64*T1 (RFC 6026 §8.11)."""
        return 64 * self.t1

    @property
    def timer_m(self) -> float:
        """Wait time for 2xx retransmissions and forked 2xx, 64*T1 (RFC 6026 §8.11)."""
        return 64 * self.t1

    def for_transport(self, reliable: bool) -> TransportTimers:
        """The durations for UDP (``reliable=False``) or TCP/TLS/WS (``reliable=True``).

        Over a reliable transport A, E and G are not used and D, I, J, K are zero
        (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
        """
        if reliable:
            return TransportTimers(
                a=None, b=self.timer_b, d=0.0, e=None, f=self.timer_f, g=None,
                h=self.timer_h, i=0.0, j=0.0, k=0.0, l=self.timer_l, m=self.timer_m,
                t2=self.t2, trying=self.trying_delay,
            )  # fmt: skip
        return TransportTimers(
            a=self.timer_a, b=self.timer_b, d=self.timer_d, e=self.timer_e, f=self.timer_f,
            g=self.timer_g, h=self.timer_h, i=self.timer_i, j=self.timer_j, k=self.timer_k,
            l=self.timer_l, m=self.timer_m, t2=self.t2, trying=self.trying_delay,
        )  # fmt: skip
