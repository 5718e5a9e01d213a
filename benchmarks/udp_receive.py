"""How many SIP datagrams per second one core can take off a UDP socket.

Receivers under test, each on a fresh event loop:

- ``SipTransports`` (``add_reader``, batched ``recvfrom``) on the stock loop and on uvloop;
- the baseline ``loop.create_datagram_endpoint`` with a ``DatagramProtocol``, on both loops.

Two measurements of a ~450-byte INVITE on 127.0.0.1, each bounded by ``--count`` datagrams and
``--seconds``:

- **flood**: a sender process sends as fast as it can; the receiver's datagrams/s (wall clock)
  and datagrams per CPU-second of the receiving process. On a small machine the sender, not
  the receiver, may be the limit: then wall rates are alike and the CPU column tells more.
- **burst**: the receiving process itself queues bursts of 2,000 datagrams in the kernel
  while its loop is not running, then times only the loop draining them: the receive path's
  own ceiling, with no sender competing for the CPU.

Usage: ``python benchmarks/udp_receive.py [--count 200000] [--seconds 10]``.
Figures are recorded in docs/decisions/0002-udp-receive-path.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import uvloop

from callcenter.sip.transport import Endpoint, SipTransports

HOST = "127.0.0.1"
BURST = 2000
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)
INVITE = (
    "INVITE sip:1001@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-bench-1;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:caller@127.0.0.1>;tag=bench1\r\n"
    "To: <sip:1001@127.0.0.1>\r\n"
    "Call-ID: bench-0001@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:caller@127.0.0.1:5070>\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n\r\n{SDP}"
).encode()


class Counter:
    """Counts received datagrams and the callbacks that delivered them."""

    def __init__(self) -> None:
        self.received = 0
        self.calls = 0
        self.target = 0
        self.reached = asyncio.Event()

    def add(self, n: int) -> None:
        self.received += n
        self.calls += 1
        if self.received >= self.target:
            self.reached.set()

    async def until(self, target: int, within: float) -> bool:
        """Wait until *target* datagrams arrived; False after *within* seconds."""
        self.target = target
        if self.received < target:
            self.reached.clear()
            try:
                async with asyncio.timeout(within):
                    await self.reached.wait()
            except TimeoutError:
                return False
        return True


Receiver = Callable[[Counter], AbstractAsyncContextManager[int]]
"""Starts a receiver feeding *counter*; yields its UDP port."""


@contextlib.asynccontextmanager
async def transports_receiver(counter: Counter) -> AsyncIterator[int]:
    def on_messages(batch: list[tuple[bytes, Endpoint]]) -> None:
        counter.add(len(batch))

    async with SipTransports(on_messages) as transports:
        local = await transports.listen_udp(HOST, 0)
        yield local.port


@contextlib.asynccontextmanager
async def protocol_receiver(counter: Counter) -> AsyncIterator[int]:
    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
            counter.add(1)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Protocol, local_addr=(HOST, 0))
    try:
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        yield sock.getsockname()[1]
    finally:
        transport.close()


@dataclass
class Figures:
    received: int
    wall: float
    cpu: float
    calls: int

    def row(self, name: str) -> str:
        rate = self.received / self.wall if self.wall else 0.0
        per_cpu = self.received / self.cpu if self.cpu else 0.0
        per_call = self.received / self.calls if self.calls else 0.0
        return f"{name:36} {rate:12,.0f} {per_cpu:10,.0f} {self.received:9,} {per_call:12.1f}"


async def flood(receiver: Receiver, count: int, seconds: float) -> Figures:
    counter = Counter()
    async with receiver(counter) as port:
        sender = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--send", str(port), "--seconds", str(seconds + 5)
        )
        try:
            await counter.until(1, seconds)
            wall, cpu, first = time.perf_counter(), time.process_time(), counter.received
            await counter.until(count, seconds)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            sender.kill()
            await sender.wait()
        return Figures(counter.received - first, wall, cpu, counter.calls)


async def burst(receiver: Receiver, count: int, seconds: float) -> Figures:
    counter = Counter()
    wall = cpu = 0.0
    async with receiver(counter) as port:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.connect((HOST, port))
            deadline = time.monotonic() + seconds
            while counter.received < count and time.monotonic() < deadline:
                target = counter.received + BURST
                for _ in range(BURST):  # queued in the kernel; the loop is not running
                    sender.send(INVITE)
                start, start_cpu = time.perf_counter(), time.process_time()
                if not await counter.until(target, 5.0):
                    break  # datagrams lost: the kernel buffer was smaller than a burst
                wall += time.perf_counter() - start
                cpu += time.process_time() - start_cpu
    return Figures(counter.received, wall, cpu, counter.calls)


def send_forever(port: int, seconds: float) -> None:
    """Sender process for ``flood``: send INVITEs to (HOST, port) as fast as possible."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((HOST, port))  # send() on a connected socket skips address parsing
        send, payload = sock.send, INVITE
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                for _ in range(1000):
                    send(payload)


CASES: list[tuple[str, Receiver, Callable[[], asyncio.AbstractEventLoop] | None]] = [
    ("SipTransports add_reader, asyncio", transports_receiver, None),
    ("SipTransports add_reader, uvloop", transports_receiver, uvloop.new_event_loop),
    ("DatagramProtocol, asyncio", protocol_receiver, None),
    ("DatagramProtocol, uvloop", protocol_receiver, uvloop.new_event_loop),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000, help="datagrams per receiver")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per receiver")
    parser.add_argument("--send", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send is not None:
        send_forever(args.send, args.seconds)
        return
    print(f"payload {len(INVITE)} bytes, up to {args.count:,} datagrams or {args.seconds:g} s each")
    for title, measure in (("flood from a sender process", flood), ("burst drain", burst)):
        print(f"\n{title}")
        header = ("receiver", "datagrams/s", "per CPU-s", "received", "per callback")
        print(f"{header[0]:36} {header[1]:>12} {header[2]:>10} {header[3]:>9} {header[4]:>12}")
        for name, receiver, factory in CASES:
            with asyncio.Runner(loop_factory=factory) as runner:
                figures = runner.run(measure(receiver, args.count, args.seconds))
            print(figures.row(name))


if __name__ == "__main__":
    main()
