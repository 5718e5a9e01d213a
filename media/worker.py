"""Media worker processes: the engine on other cores, behind the `MediaControl` commands.

The switch process keeps the port allocator and binds every socket itself (so a port in SDP is
a port that is really ours); it hands the two file descriptors of a new stream to the worker
that owns the stream's group with `SCM_RIGHTS`, then sends commands as small tuples over the
same Unix socket pair. Each worker runs its own event loop with a `MediaEngine` and a
`MediaTransport` and sends `MediaEvent`s back. A worker that dies takes only its own calls'
media with it; the pool logs it and stops placing new streams there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.reduction import recv_handle, send_handle
from typing import Any

from media.engine import EngineSettings, MediaEngine
from media.events import MediaEvent
from media.io import MediaTransport, bind_free_pair
from media.ports import PortAllocator
from media.stream import StreamParams

__all__ = ["MediaWorkerPool", "WorkerDied"]

log = logging.getLogger("callcenter.media")

READY_TIMEOUT = 120.0
"""Seconds a new worker may take to import and warm its kernels up (a cold numba cache)."""


class WorkerDied(RuntimeError):
    """The worker that owns a stream is gone."""


@dataclass(eq=False)
class _Worker:
    index: int
    process: multiprocessing.process.BaseProcess
    conn: Connection
    streams: set[str] = field(default_factory=set)
    groups: dict[str, int] = field(default_factory=dict)
    alive: bool = True


class MediaWorkerPool:
    """``count`` worker processes; streams of one group always land on the same worker."""

    def __init__(
        self,
        count: int,
        ports: PortAllocator,
        settings: EngineSettings,
        on_events: Callable[[list[MediaEvent]], None],
        *,
        bind_host: str | None = None,
    ):
        if count < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.count = count
        self.ports = ports
        self.settings = settings
        self.on_events = on_events
        self.bind_host = bind_host or settings.local_address
        self._workers: list[_Worker] = []
        self._owner: dict[str, _Worker] = {}
        self._group_of: dict[str, str] = {}
        self._ports_of: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def address(self) -> str:
        return self.settings.local_address

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ctx = multiprocessing.get_context("spawn")
        for index in range(self.count):
            parent, child = ctx.Pipe(duplex=True)
            process = ctx.Process(
                target=worker_main,
                args=(child, self.settings, index),
                name=f"media-worker-{index}",
                daemon=True,
            )
            process.start()
            child.close()
            self._workers.append(_Worker(index, process, parent))
        for worker in self._workers:  # each warms its kernels up; they do so in parallel
            if not worker.conn.poll(READY_TIMEOUT) or worker.conn.recv() != ("ready",):
                self.stop(timeout=1.0)
                raise WorkerDied(f"media worker {worker.index} did not start")
            self._loop.add_reader(worker.conn.fileno(), self._readable, worker)

    def stop(self, timeout: float = 2.0) -> None:
        for worker in self._workers:
            if self._loop is not None and worker.alive:
                self._loop.remove_reader(worker.conn.fileno())
            if worker.alive:
                with contextlib.suppress(OSError):
                    worker.conn.send(("stop",))
        for worker in self._workers:
            worker.process.join(timeout)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout)
            worker.conn.close()
        self._workers.clear()

    def _readable(self, worker: _Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            self._lost(worker)
            return
        kind = message[0]
        if kind == "events":
            try:
                self.on_events(message[1])
            except Exception:
                log.exception("media event consumer failed")
        elif kind == "error":
            log.error("media worker %d: %s", worker.index, message[1])

    def _lost(self, worker: _Worker) -> None:
        if not worker.alive:
            return
        worker.alive = False
        if self._loop is not None:
            self._loop.remove_reader(worker.conn.fileno())
        log.error(
            "media worker %d exited (%s); %d streams lost",
            worker.index,
            worker.process.exitcode,
            len(worker.streams),
        )
        for stream_id in list(worker.streams):
            self._forget(stream_id)

    # -- commands ------------------------------------------------------------------------------

    def _pick(self, group: str) -> _Worker:
        for worker in self._workers:
            if worker.alive and group in worker.groups:
                return worker
        alive = [w for w in self._workers if w.alive]
        if not alive:
            raise WorkerDied("no media worker is running")
        return min(alive, key=lambda w: len(w.streams))

    def open_stream(self, stream_id: str, group: str) -> int:
        worker = self._pick(group)
        port, rtp, rtcp = bind_free_pair(self.ports, self.bind_host)
        try:
            worker.conn.send(("open", stream_id, port))
            send_handle(worker.conn, rtp.fileno(), worker.process.pid or 0)
            send_handle(worker.conn, rtcp.fileno(), worker.process.pid or 0)
        except OSError as exc:
            self.ports.release(port)
            self._lost(worker)
            raise WorkerDied(f"media worker {worker.index} is gone") from exc
        finally:
            rtp.close()  # the worker holds its own duplicates now
            rtcp.close()
        worker.streams.add(stream_id)
        worker.groups[group] = worker.groups.get(group, 0) + 1
        self._owner[stream_id] = worker
        self._group_of[stream_id] = group
        self._ports_of[stream_id] = port
        return port

    def _send(self, stream_id: str, *command: Any) -> None:
        worker = self._owner.get(stream_id)
        if worker is None or not worker.alive:
            return
        try:
            worker.conn.send(command)
        except OSError:
            self._lost(worker)

    def configure(self, stream_id: str, params: StreamParams) -> None:
        self._send(stream_id, "configure", stream_id, params)

    def connect(self, a: str, b: str) -> None:
        if self._owner.get(a) is not self._owner.get(b):
            raise ValueError(f"streams {a!r} and {b!r} live in different media workers")
        self._send(a, "connect", a, b)

    def disconnect(self, stream_id: str) -> None:
        self._send(stream_id, "disconnect", stream_id)

    def set_tapped(self, stream_id: str, tapped: bool) -> None:
        self._send(stream_id, "tapped", stream_id, tapped)

    def set_detect_inband(self, stream_id: str, detect: bool) -> None:
        self._send(stream_id, "detect_inband", stream_id, detect)

    def play(self, stream_id: str, prompt: str, playback_id: str, *, loop: bool = False) -> None:
        self._send(stream_id, "play", stream_id, prompt, playback_id, loop)

    def stop_playback(self, stream_id: str) -> None:
        self._send(stream_id, "stop_playback", stream_id)

    def close_stream(self, stream_id: str) -> None:
        self._send(stream_id, "close", stream_id)
        self._forget(stream_id)

    def _forget(self, stream_id: str) -> None:
        worker = self._owner.pop(stream_id, None)
        group = self._group_of.pop(stream_id, None)
        port = self._ports_of.pop(stream_id, None)
        if port is not None and port in self.ports:
            self.ports.release(port)
        if worker is None:
            return
        worker.streams.discard(stream_id)
        if group is not None and group in worker.groups:
            worker.groups[group] -= 1
            if worker.groups[group] <= 0:
                del worker.groups[group]

    def stream_count(self) -> int:
        return len(self._owner)

    def worker_pids(self) -> list[int]:
        return [w.process.pid or 0 for w in self._workers if w.alive]


# -- the worker side -----------------------------------------------------------------------------


def worker_main(conn: Connection, settings: EngineSettings, index: int) -> None:
    """Entry point of a media worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the switch decides when workers stop
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(conn, settings, index))


async def _serve(conn: Connection, settings: EngineSettings, index: int) -> None:
    from dsp.warmup import warm_up

    warm_up()
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()
    # the switch process owns the port range; the worker only gets bound sockets
    engine = MediaEngine(PortAllocator(0, 1), settings)

    def send_events(events: list[MediaEvent]) -> None:
        try:
            conn.send(("events", events))
        except OSError:
            if not stopped.done():
                stopped.set_result(None)

    transport = MediaTransport(engine, send_events)
    transport.start(loop)

    def on_command() -> None:
        try:
            command = conn.recv()
        except (EOFError, OSError):
            if not stopped.done():
                stopped.set_result(None)
            return
        try:
            _apply(command)
        except Exception as exc:  # report, keep serving the other calls
            conn.send(("error", f"{command[0]}: {type(exc).__name__}: {exc}"))

    def _apply(command: tuple[Any, ...]) -> None:
        kind = command[0]
        if kind == "open":
            # the descriptors follow the command as their own messages; the event loop made
            # the pipe non-blocking, so wait for them explicitly
            os.set_blocking(conn.fileno(), True)
            try:
                rtp_fd = recv_handle(conn)
                rtcp_fd = recv_handle(conn)
            finally:
                os.set_blocking(conn.fileno(), False)
            rtp = socket.socket(fileno=rtp_fd)
            rtcp = socket.socket(fileno=rtcp_fd)
            transport.adopt_stream(command[1], rtp, rtcp)
        elif kind == "configure":
            engine.configure(command[1], command[2])
        elif kind == "connect":
            engine.connect(command[1], command[2])
        elif kind == "disconnect":
            engine.disconnect(command[1])
        elif kind == "tapped":
            engine.set_tapped(command[1], command[2])
        elif kind == "detect_inband":
            engine.set_detect_inband(command[1], command[2])
        elif kind == "play":
            engine.play(command[1], command[2], command[3], loop=command[4])
        elif kind == "stop_playback":
            engine.stop_playback(command[1])
        elif kind == "close":
            transport.close_stream(command[1])
        elif kind == "stop" and not stopped.done():
            stopped.set_result(None)

    loop.add_reader(conn.fileno(), on_command)
    conn.send(("ready",))
    try:
        await stopped
    finally:
        loop.remove_reader(conn.fileno())
        transport.close()
