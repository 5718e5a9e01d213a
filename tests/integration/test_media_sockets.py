"""The media plane on real UDP sockets: in the switch's process and in a worker process."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator

import numpy as np
import pytest

from dsp.g711 import ulaw_decode
from dsp.level import snr_db
from dsp.tones import tone
from media.codecs import PCMA, PCMU
from media.control import LocalMedia
from media.engine import EngineSettings
from media.events import DtmfReceived, MediaEvent
from media.ports import PortAllocator
from media.rtp import RtpPacket
from media.stream import StreamParams
from media.telephone_event import TelephoneEvent
from media.worker import MediaWorkerPool

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"


_PHONES: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_phones() -> Iterator[None]:
    yield
    while _PHONES:
        _PHONES.pop().close()  # also when a test failed half-way


def phone() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _PHONES.append(sock)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    return sock


async def receive(sock: socket.socket, count: int, within: float = 3.0) -> list[bytes]:
    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    deadline = loop.time() + within
    while len(got) < count and loop.time() < deadline:
        try:
            got.append(sock.recv(2048))
        except BlockingIOError:
            await asyncio.sleep(0.005)
    return got


Plane = LocalMedia | MediaWorkerPool


async def with_plane(kind: str, body: Callable[[Plane, list[MediaEvent]], Awaitable[None]]) -> None:
    events: list[MediaEvent] = []
    ports = PortAllocator(31000 + 200 * (kind == "worker"), 31199 + 200 * (kind == "worker"))
    settings = EngineSettings(local_address=HOST)
    plane: Plane
    if kind == "worker":
        plane = MediaWorkerPool(1, ports, settings, events.extend)
    else:
        plane = LocalMedia(ports, settings, events.extend)
    plane.start()
    try:
        await body(plane, events)
    finally:
        plane.stop()
    assert ports.in_use == 0


def bridge(
    plane: Plane, a: socket.socket, b: socket.socket, pa: StreamParams, pb: StreamParams
) -> tuple[int, int]:
    port_a = plane.open_stream("call-a", "call")
    port_b = plane.open_stream("call-b", "call")
    plane.configure("call-a", pa)
    plane.configure("call-b", pb)
    plane.connect("call-a", "call-b")
    return port_a, port_b


@pytest.mark.parametrize("kind", ["local", "worker"])
def test_relay_carries_packets_both_ways_unchanged(kind: str) -> None:
    async def body(plane: Plane, events: list[MediaEvent]) -> None:
        a, b = phone(), phone()
        port_a, port_b = bridge(
            plane,
            a,
            b,
            StreamParams(PCMU, 0, a.getsockname(), telephone_event_pt=101),
            StreamParams(PCMU, 0, b.getsockname(), telephone_event_pt=101),
        )
        await asyncio.sleep(0.2 if kind == "worker" else 0.0)
        sent_ab = [RtpPacket(0, i, i * 160, 11, bytes([i]) * 160).serialize() for i in range(50)]
        sent_ba = [
            RtpPacket(0, i, i * 160, 22, bytes([255 - i]) * 160).serialize() for i in range(50)
        ]
        for x, y in zip(sent_ab, sent_ba, strict=True):
            a.sendto(x, (HOST, port_a))
            b.sendto(y, (HOST, port_b))
            await asyncio.sleep(0.001)
        assert await receive(b, 50) == sent_ab
        assert await receive(a, 50) == sent_ba
        for i, end in enumerate([False, True, True, True]):
            payload = TelephoneEvent(9, end, 10, 160 * (i + 1)).serialize()
            a.sendto(
                RtpPacket(101, 100 + i, 9000, 11, payload, marker=i == 0).serialize(),
                (HOST, port_a),
            )
        await receive(b, 4)
        deadline = asyncio.get_running_loop().time() + 3
        while not events and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        digits = [(e.digit, e.stream_id) for e in events if isinstance(e, DtmfReceived)]
        assert digits == [("9", "call-a")]
        plane.close_stream("call-a")
        plane.close_stream("call-b")
        a.close()
        b.close()

    asyncio.run(with_plane(kind, body))


@pytest.mark.parametrize("kind", ["local", "worker"])
def test_transcoded_tone_keeps_its_quality(kind: str) -> None:
    async def body(plane: Plane, events: list[MediaEvent]) -> None:
        a, b = phone(), phone()
        port_a, _ = bridge(
            plane,
            a,
            b,
            StreamParams(PCMA, 8, a.getsockname()),
            StreamParams(PCMU, 0, b.getsockname()),
        )
        await asyncio.sleep(0.2 if kind == "worker" else 0.0)
        from dsp.g711 import alaw_encode

        pcm = tone([700.0], 1.0, rate=8000, level_dbov=-12.0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(50):  # paced on a 20 ms grid, as a phone's audio clock does
            frame = pcm[i * 160 : (i + 1) * 160]
            a.sendto(
                RtpPacket(8, i, i * 160, 5, bytes(alaw_encode(frame))).serialize(), (HOST, port_a)
            )
            await asyncio.sleep(max(0.0, start + (i + 1) * 0.020 - loop.time()))
        got = [RtpPacket.parse(p) for p in await receive(b, 45)]
        assert len(got) >= 45 and all(p.payload_type == 0 for p in got)
        heard = np.concatenate([ulaw_decode(np.frombuffer(p.payload, np.uint8)) for p in got])
        voiced = heard[np.argmax(np.abs(heard) > 1000) :]
        a.close()
        b.close()
        assert snr_db(pcm[2000:6000], voiced[400:5600]) > 30
        plane.close_stream("call-a")
        plane.close_stream("call-b")

    asyncio.run(with_plane(kind, body))


def test_worker_waits_for_descriptors_that_arrive_after_their_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The socket descriptors travel as their own messages after the "open" command."""
    import time

    import media.worker

    real_send_handle = media.worker.send_handle

    def late_send_handle(conn: object, handle: int, pid: int) -> None:
        time.sleep(0.1)  # the worker has read "open" and looks for the descriptor meanwhile
        real_send_handle(conn, handle, pid)  # type: ignore[arg-type]

    monkeypatch.setattr(media.worker, "send_handle", late_send_handle)

    async def body(plane: Plane, events: list[MediaEvent]) -> None:
        a, b = phone(), phone()
        port_a, _ = bridge(
            plane,
            a,
            b,
            StreamParams(PCMU, 0, a.getsockname()),
            StreamParams(PCMU, 0, b.getsockname()),
        )
        await asyncio.sleep(0.3)
        packet = RtpPacket(0, 1, 160, 7, b"\xff" * 160).serialize()
        for _ in range(3):
            a.sendto(packet, (HOST, port_a))
        assert await receive(b, 3) == [packet] * 3
        plane.close_stream("call-a")
        plane.close_stream("call-b")

    asyncio.run(with_plane("worker", body))
