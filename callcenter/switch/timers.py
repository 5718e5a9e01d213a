"""A deadline heap for the switch's own timers (no-answer, 2xx retransmission, sweeps).

Sans-I/O: :meth:`TimerHeap.schedule` returns a handle; :meth:`next_deadline` is what the
asyncio shell arms; :meth:`pop_due` returns the callbacks whose time has come. Cancelling is
lazy (O(1)); cancelled entries are skipped when they reach the top.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

__all__ = ["TimerHandle", "TimerHeap"]


def _noop(now: float) -> None:
    return None


class TimerHandle:
    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[float], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Cancel; the callback (and whatever its closure holds) is released at once, not
        when the entry reaches the top of the heap."""
        self.cancelled = True
        self.callback = _noop


class TimerHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()

    def schedule(self, deadline: float, callback: Callable[[float], None]) -> TimerHandle:
        handle = TimerHandle(deadline, callback)
        heapq.heappush(self._heap, (deadline, next(self._seq), handle))
        return handle

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> list[TimerHandle]:
        due: list[TimerHandle] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, handle = heapq.heappop(heap)
            if not handle.cancelled:
                handle.cancelled = True
                due.append(handle)
        return due

    def run_due(self, now: float) -> None:
        for handle in self.pop_due(now):
            handle.callback(now)

    def __len__(self) -> int:
        return sum(1 for _, _, h in self._heap if not h.cancelled)
