"""Slowing down password guessing: failures counted per source address and per username.

Each source address and each username has its own counter. A failure more than ``window``
seconds after the previous one (or after the end of the last block) starts the count again.
The ``max_failures``-th failure in a row blocks the key for ``base_delay`` seconds; each
further failure doubles that, up to ``max_delay``. A success clears the source's and the
user's counters. While a key is blocked the caller should not look at credentials at all.

Recommended answer while :meth:`AuthLockout.check` returns a positive number:
``403 Forbidden`` with no challenge and ``Retry-After: <ceil(seconds)>``. RFC 3261 has no
429; 503 would make well-behaved clients fail over to another server (RFC 3263) and 401/407
would invite another guess. ``Retry-After`` is not defined for 403 but is harmless and tells
honest phones when to come back.

Answering failures quickly helps attackers try faster: the asyncio shell may hold each 401
after a failed attempt (and each 403 while blocked) for about a second, using a deadline on
its one timer, never a sleep. Over UDP, dropping requests instead of answering only brings
retransmissions (Timer E/G), so answering is cheaper.

Memory is bounded: entries expire once ``window`` seconds have passed after their last failure
and block, and at most ``max_entries`` are kept (least recently failed evicted first). An
attacker able to fail from that many distinct keys could push an older block out; counting
IPv6 sources by prefix (e.g. /64) when calling is advisable.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["AuthLockout"]

_MAX_EXPONENT = 63  # 2 ** 63 times any sensible base delay is far above any max_delay


@dataclass(slots=True)
class _Counter:
    failures: int = 0
    last_failure: float = -math.inf
    blocked_until: float = -math.inf

    def quiet_since(self) -> float:
        return max(self.last_failure, self.blocked_until)


_Key = tuple[str, str]


class AuthLockout:
    """Failure counters per source and per username, with exponential blocks.

    All times are ``now`` arguments in seconds (the same clock on every call).
    """

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 300.0,
        base_delay: float = 2.0,
        max_delay: float = 600.0,
        *,
        max_entries: int = 100_000,
    ) -> None:
        if max_failures < 1 or window <= 0 or base_delay <= 0 or max_entries < 2:
            raise ValueError("max_failures, window, base_delay and max_entries must be positive")
        if max_delay < base_delay:
            raise ValueError("max_delay must be at least base_delay")
        self.max_failures = max_failures
        self.window = float(window)
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.max_entries = max_entries
        self._counters: OrderedDict[_Key, _Counter] = OrderedDict()

    def __len__(self) -> int:
        """Number of counters held (sources plus usernames)."""
        return len(self._counters)

    def __repr__(self) -> str:
        return (
            f"AuthLockout(max_failures={self.max_failures}, window={self.window}, "
            f"base_delay={self.base_delay}, max_delay={self.max_delay}, entries={len(self)})"
        )

    def check(self, now: float, source: str, username: str | None) -> float:
        """0.0 when the attempt may be evaluated, else the seconds left in the longer block."""
        self._expire(now)
        remaining = self._remaining(("source", source), now)
        if username is not None:
            remaining = max(remaining, self._remaining(("user", username), now))
        return remaining

    def record_failure(self, now: float, source: str, username: str | None) -> float:
        """Count a failed attempt; return the seconds now blocked (0.0 when not blocked)."""
        self._expire(now)
        blocked = self._fail(("source", source), now)
        if username is not None:
            blocked = max(blocked, self._fail(("user", username), now))
        while len(self._counters) > self.max_entries:
            self._counters.popitem(last=False)
        return blocked

    def record_success(self, now: float, source: str, username: str | None) -> None:
        """Forget the failures of this source and of this username."""
        self._expire(now)
        self._counters.pop(("source", source), None)
        if username is not None:
            self._counters.pop(("user", username), None)

    def _remaining(self, key: _Key, now: float) -> float:
        counter = self._counters.get(key)
        if counter is None:
            return 0.0
        return max(0.0, counter.blocked_until - now)

    def _fail(self, key: _Key, now: float) -> float:
        counter = self._counters.pop(key, None) or _Counter()
        if now - counter.quiet_since() > self.window:
            counter.failures = 0
        counter.failures += 1
        counter.last_failure = now
        if counter.failures >= self.max_failures:
            exponent = min(counter.failures - self.max_failures, _MAX_EXPONENT)
            delay = min(self.max_delay, self.base_delay * 2.0**exponent)
            counter.blocked_until = max(counter.blocked_until, now + delay)
        self._counters[key] = counter  # re-inserted last: the dict stays in least-recent order
        return max(0.0, counter.blocked_until - now)

    def _expire(self, now: float) -> None:
        """Drop counters, oldest first, whose quiet period has outlasted the window."""
        while self._counters:
            key, counter = next(iter(self._counters.items()))
            if now - counter.quiet_since() <= self.window:
                return
            del self._counters[key]
