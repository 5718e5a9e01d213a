"""RTP port pairs from the configured range (RFC 3550 §11: RTP on an even port, RTCP on the next).

Released pairs go to the back of the free list, so a port is reused as late as possible and a
late packet of a finished call does not land in a new one. Pairs that the operating system
refused (another program holds them) are set aside and retried after the rest.
"""

from __future__ import annotations

from collections import deque

__all__ = ["NoFreePorts", "PortAllocator"]


class NoFreePorts(RuntimeError):
    """Every RTP port pair of the range is in use."""


class PortAllocator:
    """Hands out even RTP ports (RTCP = port + 1) from ``[low, high]``."""

    def __init__(self, low: int, high: int):
        if low % 2:
            low += 1
        if high - low < 1:
            raise ValueError(f"RTP port range {low}-{high} holds no port pair")
        self.low = low
        self.high = high
        self._free: deque[int] = deque(range(low, high, 2))
        self._used: set[int] = set()

    @property
    def capacity(self) -> int:
        return len(self._free) + len(self._used)

    @property
    def in_use(self) -> int:
        return len(self._used)

    def allocate(self) -> int:
        """The RTP port of a free pair; raise `NoFreePorts` when none is left."""
        if not self._free:
            raise NoFreePorts(
                f"all {self.capacity} RTP port pairs of {self.low}-{self.high} in use"
            )
        port = self._free.popleft()
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        """Return a pair; releasing a port twice or one not from this range is an error."""
        if port not in self._used:
            raise ValueError(f"RTP port {port} is not allocated")
        self._used.remove(port)
        self._free.append(port)

    def refused(self, port: int) -> None:
        """The pair could not be bound: keep it out of use until the others are tried."""
        self.release(port)

    def __contains__(self, port: object) -> bool:
        return port in self._used
