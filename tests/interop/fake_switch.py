"""A stand-in for ``python -m callcenter`` that checks SwitchProcess itself.

It takes the same ``run --config --data-dir --sip-listen --log-format`` arguments, writes
``<data-dir>/callcenter.pid``, answers ``OPTIONS`` over UDP with 200 and exits 0 on
SIGTERM. Behaviour for the negative tests comes from the environment:
``FAKE_SWITCH_EXIT`` (status on SIGTERM), ``FAKE_SWITCH_SILENT=1`` (never answer),
``FAKE_SWITCH_CRASH=1`` (exit 3 at once), ``FAKE_SWITCH_IGNORE_TERM=1`` (ignore SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

stopping = False


def on_term(signum: int, frame: FrameType | None) -> None:
    global stopping
    stopping = True


def answer(request: bytes) -> bytes | None:
    text = request.decode("utf-8", "replace")
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    if not head[0].startswith("OPTIONS "):
        return None
    keep = [line for line in head[1:] if line.split(":", 1)[0].lower() in _ECHOED]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


_ECHOED = {"via", "from", "to", "call-id", "cseq"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--config", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--sip-listen", required=True)
    parser.add_argument("--log-format", default="text")
    args = parser.parse_args()
    if os.environ.get("FAKE_SWITCH_CRASH") == "1":
        print("fake switch: crashing on purpose", file=sys.stderr)
        return 3
    signal.signal(
        signal.SIGTERM,
        signal.SIG_IGN if os.environ.get("FAKE_SWITCH_IGNORE_TERM") == "1" else on_term,
    )
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "callcenter.pid").write_text(f"{os.getpid()}\n")
    host, port = args.sip_listen.rsplit(":", 1)
    silent = os.environ.get("FAKE_SWITCH_SILENT") == "1"
    print(json.dumps({"event": "listening", "config": args.config, "port": int(port)}))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, int(port)))
        sock.settimeout(0.05)
        while not stopping:
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            reply = None if silent else answer(data)
            if reply is not None:
                sock.sendto(reply, peer)
    print(json.dumps({"event": "stopped"}))
    return int(os.environ.get("FAKE_SWITCH_EXIT", "0"))


if __name__ == "__main__":
    sys.exit(main())
