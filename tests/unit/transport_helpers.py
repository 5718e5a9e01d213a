"""What the transport tests share: both event loops, callback recorders, IPv6 detection."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import uvloop

from callcenter.sip.transport import Endpoint

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]
WAIT = 5.0


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Iterator[Runner[Any]]:
    """Runs a test coroutine on the stock loop and on uvloop, bounded in time."""
    factory = uvloop.new_event_loop if request.param == "uvloop" else None

    def runner(coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as r:
            return r.run(asyncio.wait_for(coro, 30))

    yield runner


class Inbox:
    """An ``on_messages`` callback that records batches and lets a test wait for them."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[bytes, Endpoint]]] = []
        self.messages: list[tuple[bytes, Endpoint]] = []
        self._event = asyncio.Event()

    def __call__(self, batch: list[tuple[bytes, Endpoint]]) -> None:
        self.batches.append(batch)
        self.messages.extend(batch)
        self._event.set()

    async def wait(self, count: int) -> list[tuple[bytes, Endpoint]]:
        async with asyncio.timeout(WAIT):
            while len(self.messages) < count:
                self._event.clear()
                await self._event.wait()
        return self.messages


class Errors:
    """An ``on_send_error`` callback that records failures and lets a test wait for them."""

    def __init__(self) -> None:
        self.seen: list[tuple[Endpoint, Exception]] = []
        self._event = asyncio.Event()

    def __call__(self, destination: Endpoint, error: Exception) -> None:
        self.seen.append((destination, error))
        self._event.set()

    async def wait(self, count: int) -> list[tuple[Endpoint, Exception]]:
        async with asyncio.timeout(WAIT):
            while len(self.seen) < count:
                self._event.clear()
                await self._event.wait()
        return self.seen


def ipv6_loopback() -> bool:
    """Whether this machine has ``::1`` (an environment property, not a peer program)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


requires_ipv6_loopback = pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
