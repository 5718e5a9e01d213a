"""How many two-leg G.711 calls the media plane carries on one core, and at what cost.

For increasing N, a child process runs the switch's media plane (`media.control.LocalMedia`, or
`MediaWorkerPool` with ``--workers``) with N bridged stream pairs; this process (on the other
core) sends 20 ms PCMU packets (172 bytes) into both legs of every call with `sendmmsg` and
receives what the switch relays with `recvmmsg`. Each step runs a bounded time and prints
packets/s relayed, loss, added jitter (p50/p99 of |inter-arrival - 20 ms|) and the child's CPU.
The same run measures a bare Python UDP echo loop (`add_reader` + `recvfrom`/`sendto`, no
engine) on the same sockets as the ceiling for Python here. A step is sustained with at most
0.1 % loss and a p99 added jitter under 50 ms (beyond that, packets queue in the socket
buffers: the switch has fallen behind); the steps stop at the first that is not.

    python benchmarks/media_relay.py [--quick] [--mode relay|process] [--workers N]
        [--calls 100,400,...] [--duration S]

``--mode process`` decodes every stream through the jitter buffer, detects in-band DTMF, feeds
a tap (what the recorder will use) and re-encodes: the full per-call work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmsg import MmsgReceiver, MmsgSender, sockaddr_in

LOOPBACK = "127.0.0.1"
PACKET = 172
PAYLOAD = 160
LOSS_LIMIT = 0.001
JITTER_LIMIT_MS = 50.0
"""A step whose p99 added jitter exceeds this is queueing: the switch has fallen behind."""
SETTLE = 1.0


# --------------------------------------------------------------------- the child (media plane)
def serve(args: argparse.Namespace) -> None:
    from callcenter.app import _raise_open_file_limit

    _raise_open_file_limit()  # four sockets per call
    os.sched_setaffinity(0, {0})
    gen_a = (LOOPBACK, args.gen_a)
    gen_b = (LOOPBACK, args.gen_b)
    import uvloop  # what `callcenter run` uses

    if args.mode == "echo":
        uvloop.run(_serve_echo(args.calls, gen_a, gen_b))
    else:
        uvloop.run(_serve_engine(args, gen_a, gen_b))


async def _serve_engine(
    args: argparse.Namespace, gen_a: tuple[str, int], gen_b: tuple[str, int]
) -> None:
    from dsp.warmup import warm_up
    from media.codecs import PCMU
    from media.control import LocalMedia
    from media.engine import EngineSettings
    from media.ports import PortAllocator
    from media.stream import StreamParams
    from media.tap import QueueSubscriber

    warm_up()
    ports = PortAllocator(args.port_low, args.port_low + 4 * args.calls + 3)
    settings = EngineSettings(local_address=LOOPBACK)
    plane: object
    if args.workers:
        from media.worker import MediaWorkerPool

        plane = MediaWorkerPool(args.workers, ports, settings, lambda events: None)
    else:
        plane = LocalMedia(ports, settings, lambda events: None)
    plane.start()  # type: ignore[attr-defined]
    recorder = QueueSubscriber(maxlen=10_000)
    if not args.workers:
        plane.taps.subscribe(None, recorder)  # type: ignore[attr-defined]
    pairs = []
    for i in range(args.calls):
        a, b = f"c{i}-a", f"c{i}-b"
        pa = plane.open_stream(a, f"c{i}")  # type: ignore[attr-defined]
        pb = plane.open_stream(b, f"c{i}")  # type: ignore[attr-defined]
        plane.configure(a, StreamParams(PCMU, 0, gen_a))  # type: ignore[attr-defined]
        plane.configure(b, StreamParams(PCMU, 0, gen_b))  # type: ignore[attr-defined]
        plane.connect(a, b)  # type: ignore[attr-defined]
        if args.mode == "process":
            for s in (a, b):
                plane.set_tapped(s, True)  # type: ignore[attr-defined]
                plane.set_detect_inband(s, True)  # type: ignore[attr-defined]
        pairs.append((pa, pb))
    if args.workers:
        await asyncio.sleep(2.0)  # workers warm their kernels up
    from callcenter.app import _tune_garbage_collector

    _tune_garbage_collector()  # as `callcenter run` does once started
    if os.environ.get("BENCH_NO_GC"):
        import gc

        gc.disable()
    print(json.dumps({"pairs": pairs, "pids": _pids(plane)}), flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
    while not done.done():
        await asyncio.sleep(0.5)
        recorder.drain()
    plane.stop()  # type: ignore[attr-defined]


def _pids(plane: object) -> list[int]:
    pids = [os.getpid()]
    worker_pids = getattr(plane, "worker_pids", None)
    if worker_pids is not None:
        pids += worker_pids()
    return pids


async def _serve_echo(calls: int, gen_a: tuple[str, int], gen_b: tuple[str, int]) -> None:
    """The ceiling: 2N sockets, each datagram sent on to the other generator socket."""
    loop = asyncio.get_running_loop()
    pairs = []
    socks = []
    for _ in range(calls):
        sa = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for s in (sa, sb):
            s.bind((LOOPBACK, 0))
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        socks += [sa, sb]
        loop.add_reader(sa.fileno(), _echo, sa, sb, gen_b)
        loop.add_reader(sb.fileno(), _echo, sb, sa, gen_a)
        pairs.append((sa.getsockname()[1], sb.getsockname()[1]))
    print(json.dumps({"pairs": pairs, "pids": [os.getpid()]}), flush=True)
    done = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
    await done


def _echo(sock: socket.socket, out: socket.socket, dest: tuple[str, int]) -> None:
    for _ in range(256):
        try:
            data = sock.recvfrom(2048)[0]
        except BlockingIOError:
            return
        out.sendto(data, dest)


# --------------------------------------------------------------------- the generator
def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_step(
    calls: int, mode: str, duration: float, workers: int, port_low: int
) -> dict[str, float]:
    gen_a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gen_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for s in (gen_a, gen_b):
        s.bind((LOOPBACK, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            "--mode",
            mode,
            "--calls",
            str(calls),
            "--gen-a",
            str(gen_a.getsockname()[1]),
            "--gen-b",
            str(gen_b.getsockname()[1]),
            "--workers",
            str(workers),
            "--port-low",
            str(port_low),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        if not line:
            raise RuntimeError("media plane child did not start")
        info = json.loads(line)
        return _drive(calls, info, gen_a, gen_b, duration)
    finally:
        if child.stdin:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
        gen_a.close()
        gen_b.close()


def _drive(
    calls: int, info: dict[str, list], gen_a: socket.socket, gen_b: socket.socket, duration: float
) -> dict[str, float]:
    os.sched_setaffinity(0, {1})
    pairs = info["pairs"]
    pids = info["pids"]
    # leg A of call i is fed from gen_a; the switch relays it to leg B's remote: gen_b
    buf_a = np.zeros((calls, PACKET), dtype=np.uint8)
    buf_b = np.zeros((calls, PACKET), dtype=np.uint8)
    for buf, base in ((buf_a, 0), (buf_b, 1 << 20)):
        buf[:, 0] = 0x80
        ssrc = (np.arange(calls, dtype=np.uint32) + base).astype(">u4")
        buf[:, 8:12] = ssrc.view(np.uint8).reshape(calls, 4)
        buf[:, 12:] = 0xFF  # µ-law silence
    send_a = MmsgSender(gen_a, buf_a, PACKET, [sockaddr_in(LOOPBACK, p[0]) for p in pairs])
    send_b = MmsgSender(gen_b, buf_b, PACKET, [sockaddr_in(LOOPBACK, p[1]) for p in pairs])
    recv = [MmsgReceiver(gen_a), MmsgReceiver(gen_b)]
    received = 0
    sent = 0
    seq = 0
    start = time.monotonic()
    measure_from = start + SETTLE
    end = measure_from + duration
    cpu0 = None
    next_tick = start
    measured_sent = 0
    measured_received = 0
    last_arrival = np.full((2, calls), np.nan)
    seen: list[dict[int, int]] = [{}, {}]
    deltas: list[np.ndarray] = []
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if cpu0 is None and now >= measure_from:
            cpu0 = (_cpu_seconds(pids), now)
            measured_sent = 0
            measured_received = 0
        if now >= next_tick:
            for buf in (buf_a, buf_b):
                buf[:, 2] = (seq >> 8) & 0xFF
                buf[:, 3] = seq & 0xFF
                ts = (seq * 160) & 0xFFFFFFFF
                buf[:, 4:8] = np.frombuffer(ts.to_bytes(4, "big"), dtype=np.uint8)
            n = send_a.send_all() + send_b.send_all()
            sent += n
            measured_sent += n
            seq = (seq + 1) & 0xFFFF
            next_tick += 0.020
        for side, r in enumerate(recv):
            while True:
                n = r.receive()
                if n == 0:
                    break
                t = time.monotonic()
                received += n
                measured_received += n
                ssrc = r.buffer[:n, 8:12].copy().view(">u4").reshape(n).astype(np.int64)
                # relayed packets keep our SSRC; processed ones carry the switch's own, which
                # is learned at first sight (one stream per SSRC and side)
                unique, inverse = np.unique(ssrc, return_inverse=True)
                slots = np.array([_slot(seen[side], int(u)) for u in unique], dtype=np.int64)
                index = slots[inverse]
                index = index[index < calls]
                prev = last_arrival[side, index]
                d = t - prev
                if t >= measure_from:
                    deltas.append(np.abs(d[~np.isnan(d)] - 0.020))
                last_arrival[side, index] = t
        time.sleep(max(0.0, min(0.002, next_tick - time.monotonic())))
    # drain what is still in flight
    drain_until = time.monotonic() + 0.3
    while time.monotonic() < drain_until:
        for r in recv:
            n = r.receive()
            measured_received += n
        time.sleep(0.005)
    cpu1 = (_cpu_seconds(pids), time.monotonic())
    assert cpu0 is not None
    cpu = (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1])
    jitter = np.concatenate([np.zeros(1), *deltas])
    loss = max(0.0, 1 - measured_received / measured_sent) if measured_sent else 1.0
    return {
        "calls": calls,
        "pps": measured_received / duration,
        "loss": loss,
        "jitter_p50_ms": float(np.percentile(jitter, 50) * 1000),
        "jitter_p99_ms": float(np.percentile(jitter, 99) * 1000),
        "cpu": cpu,
    }


def sustained(r: dict[str, float]) -> bool:
    """No more than 0.1 % lost, and packets not queueing (p99 added jitter under 50 ms)."""
    return r["loss"] <= LOSS_LIMIT and r["jitter_p99_ms"] <= JITTER_LIMIT_MS


def _slot(seen: dict[int, int], ssrc: int) -> int:
    slot = seen.get(ssrc)
    if slot is None:
        slot = seen[ssrc] = len(seen)
    return slot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gen-a", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--gen-b", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port-low", type=int, default=40000)
    parser.add_argument("--mode", choices=["relay", "process", "echo"], default="relay")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--calls", default=None, help="comma-separated N per step")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    parser.add_argument("--quick", action="store_true", help="short steps, few sizes")
    args = parser.parse_args()
    if args.serve:
        args.calls = int(args.calls)
        serve(args)
        return
    if args.quick:
        steps = [100, 400]
        args.duration = min(args.duration, 3.0)
    elif args.calls:
        steps = [int(c) for c in args.calls.split(",")]
    elif args.mode == "process":
        steps = [100, 200, 400, 600, 800, 1000]
    else:
        steps = [200, 500, 800, 1100, 1400, 1700]
    print(
        f"media relay, mode={args.mode}, workers={args.workers}, {args.duration:.0f} s steps, "
        f"172-byte PCMU packets, 50 packets/s per leg"
    )
    header = (
        f"{'':10} {'calls':>6} {'pkts/s':>9} {'loss %':>7} {'jit p50':>8} {'jit p99':>8} "
        f"{'CPU':>6}  sustained"
    )
    print(header)
    for label, mode in (("switch", args.mode), ("echo", "echo")):
        for calls in steps:
            r = run_step(
                calls, mode, args.duration, args.workers if mode != "echo" else 0, args.port_low
            )
            print(
                f"{label:10} {calls:>6} {r['pps']:>9.0f} {100 * r['loss']:>7.3f} "
                f"{r['jitter_p50_ms']:>6.2f}ms {r['jitter_p99_ms']:>6.2f}ms "
                f"{100 * r['cpu']:>5.0f}%  {'yes' if sustained(r) else 'no'}",
                flush=True,
            )
            if not sustained(r):
                break


if __name__ == "__main__":
    main()
