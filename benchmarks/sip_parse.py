"""Cost of parsing and serializing SIP messages, next to naive baselines in the same process.

    python benchmarks/sip_parse.py [-n N] [--repeat R]

For a typical INVITE (with SDP), 200 OK and BYE it prints microseconds per message and
messages per second for:

- ``callcenter parse_message``: our parser, with the full validation the stack relies on
  (Request-Line, every header line, Via, From, To, CSeq, Call-ID, Max-Forwards, Contact,
  Route, Record-Route, Content-Length, control characters);
- ``baseline split-lines dict``: a plain split-lines parser into a dict, no validation at all,
  which shows what the validation costs;
- ``baseline email.parser``: the standard library's RFC 5322 header parser;
- ``callcenter bytes(message)``: our serializer (Content-Length recomputed);
- ``baseline join``: joining pre-split header lines, the least a serializer can do.

The switch's target is 1,000 calls/s on one core, about 14,000 messages/s parsed and as many
serialized. Each figure is the best of ``--repeat`` runs of N messages (N is capped).
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import time
from collections.abc import Callable
from functools import partial

from callcenter.sip.parser import parse_message

MAX_N = 200_000

SDP = (
    b"v=0\r\n"
    b"o=- 3866227450 3866227450 IN IP4 192.0.2.20\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.20\r\n"
    b"t=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)
INVITE = (
    b"INVITE sip:1002@192.0.2.10:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK-524287-1---8a5b5cd2b2b8a7e1;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"Contact: <sip:1001@192.0.2.20:5062;transport=udp>\r\n"
    b"To: <sip:1002@192.0.2.10>\r\n"
    b'From: "Alice Agent" <sip:1001@192.0.2.10>;tag=3a9f7c1e\r\n'
    b"Call-ID: 8f3e2a1b-77c4-4d2e-9a51-1f0c2b3d4e5f\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Supported: replaces, norefersub, extended-refer, timer, outbound, path\r\n"
    b"User-Agent: Softphone 5.6.1\r\n"
    b"Allow-Events: presence, kpml, talk\r\n"
    b"Content-Length: %d\r\n"
    b"\r\n" % len(SDP)
) + SDP
OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK-524287-1---8a5b5cd2b2b8a7e1;rport=5062"
    b";received=192.0.2.20\r\n"
    b"Record-Route: <sip:192.0.2.10;lr>\r\n"
    b"Contact: <sip:1002@192.0.2.30:5060>\r\n"
    b"To: <sip:1002@192.0.2.10>;tag=b71c3f\r\n"
    b'From: "Alice Agent" <sip:1001@192.0.2.10>;tag=3a9f7c1e\r\n'
    b"Call-ID: 8f3e2a1b-77c4-4d2e-9a51-1f0c2b3d4e5f\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Server: callcenter\r\n"
    b"Content-Length: %d\r\n"
    b"\r\n" % len(SDP)
) + SDP
BYE = (
    b"BYE sip:1001@192.0.2.20:5062;transport=udp SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-d8754z-9f2c1a;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "Alice Agent" <sip:1001@192.0.2.10>;tag=3a9f7c1e\r\n'
    b"From: <sip:1002@192.0.2.10>;tag=b71c3f\r\n"
    b"Call-ID: 8f3e2a1b-77c4-4d2e-9a51-1f0c2b3d4e5f\r\n"
    b"CSeq: 2 BYE\r\n"
    b"User-Agent: callcenter\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)
MESSAGES = {"INVITE": INVITE, "200 OK": OK, "BYE": BYE}


def split_lines_parse(data: bytes) -> tuple[str, dict[str, list[str]], bytes]:
    """Baseline: start line, a dict of header lists and the body; nothing is checked."""
    head, _, body = data.partition(b"\r\n\r\n")
    start, *lines = head.decode().split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return start, headers, body


_EMAIL = email.parser.BytesParser(policy=email.policy.compat32)


def email_parse(data: bytes) -> object:
    """Baseline: the standard library's header parser, headers only (no SIP semantics)."""
    start, _, rest = data.partition(b"\r\n")
    return start, _EMAIL.parsebytes(rest, headersonly=True)


def join_serialize(parts: tuple[str, list[tuple[str, str]], bytes]) -> bytes:
    """Baseline serializer: join already-split lines and append the body."""
    start, lines, body = parts
    out = [start, *[f"{n}: {v}" for n, v in lines], f"Content-Length: {len(body)}\r\n\r\n"]
    return "\r\n".join(out).encode() + body


def best_time(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Seconds per call: the best of *repeat* runs of *n* calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n


def run(n: int, repeat: int) -> list[tuple[str, str, float]]:
    rows: list[tuple[str, str, float]] = []
    for label, data in MESSAGES.items():
        message = parse_message(data)
        start, headers, body = split_lines_parse(data)
        pairs = [(k, v) for k, values in headers.items() if k != "content-length" for v in values]
        cases: list[tuple[str, Callable[[], object]]] = [
            ("callcenter parse_message (validating)", partial(parse_message, data)),
            ("baseline split-lines dict (no checks)", partial(split_lines_parse, data)),
            ("baseline email.parser (stdlib)", partial(email_parse, data)),
            ("callcenter bytes(message)", message.__bytes__),
            ("baseline join (pre-split lines)", partial(join_serialize, (start, pairs, body))),
        ]
        for name, fn in cases:
            rows.append((label, name, best_time(fn, n, repeat)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", type=int, default=20_000, help=f"messages per run (max {MAX_N})")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best one counts")
    args = parser.parse_args()
    n = max(1, min(args.n, MAX_N))
    repeat = max(1, min(args.repeat, 50))
    print(f"{n} messages per run, best of {repeat} runs\n")
    print(f"{'message':8s}  {'implementation':40s} {'µs/msg':>8s} {'msg/s':>10s}")
    for label, name, seconds in run(n, repeat):
        print(f"{label:8s}  {name:40s} {seconds * 1e6:8.2f} {1 / seconds:10,.0f}")


if __name__ == "__main__":
    main()
