"""CPU per call of the switch core, without sockets.

Drives the real pump (parse → transaction layer → B2BUA → serialize) with the messages of a
SIPp-style call (trunk caller → switch → trunk callee: INVITE, 100, 180, 200, ACK, BYE, 200)
and measures the CPU time spent inside the switch only (the peers' side is built outside the
timed sections). Prints microseconds per call and the implied calls/s on one core, next to the
same figure for parsing and serializing those messages alone (the floor any design pays).

    python benchmarks/switch_core.py [--calls 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time

from callcenter.sip import Endpoint, Request, Response, TransactionLayer, make_response
from callcenter.sip.auth import AuthLockout, DigestServer
from callcenter.sip.parser import parse_message
from callcenter.switch.authgate import AuthGate
from callcenter.switch.b2bua import B2BUA, SwitchSettings, TrunkPeer
from callcenter.switch.registrar import LocationService
from callcenter.switch.routing import Dialplan, Route
from callcenter.switch.service import SwitchPump

SWITCH = Endpoint("udp", "127.0.0.1", 5060)
UAC = Endpoint("udp", "127.0.0.1", 6000)
UAS = Endpoint("udp", "127.0.0.1", 6001)
SDP = (
    b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def build_switch() -> tuple[SwitchPump, list[tuple[bytes, Endpoint]]]:
    sent: list[tuple[bytes, Endpoint]] = []
    txl = TransactionLayer()
    b2bua = B2BUA(
        txl,
        SwitchSettings(domain="127.0.0.1"),
        location=LocationService(),
        dialplan=Dialplan(set(), [Route(re.compile(r"^(2\d{3})$"), "uas")]),
        auth=AuthGate(DigestServer("127.0.0.1", b"k" * 32), AuthLockout(), lambda u, a: None),
        trunks=[TrunkPeer("uac", UAC), TrunkPeer("uas", UAS)],
        extension_names={},
        local=lambda transport: SWITCH,
    )
    pump = SwitchPump(txl, b2bua, lambda data, dest: sent.append((data, dest)))
    return pump, sent


def invite(n: int) -> bytes:
    return (
        f"INVITE sip:2000@127.0.0.1:5060 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bK-{n}-1-0\r\n"
        f"From: sipp <sip:sipp@127.0.0.1:6000>;tag={n}SIPpTag001\r\n"
        f"To: 2000 <sip:2000@127.0.0.1:5060>\r\n"
        f"Call-ID: {n}-bench@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
        f"Contact: sip:sipp@127.0.0.1:6000\r\nMax-Forwards: 70\r\n"
        f"Subject: Performance Test\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(SDP)}\r\n\r\n"
    ).encode() + SDP


def uac_request(method: str, n: int, to_tag: str, cseq: int, branch: str) -> bytes:
    return (
        f"{method} sip:2000@127.0.0.1:5060 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bK-{n}-{branch}\r\n"
        f"From: sipp <sip:sipp@127.0.0.1:6000>;tag={n}SIPpTag001\r\n"
        f"To: 2000 <sip:2000@127.0.0.1:5060>;tag={to_tag}\r\n"
        f"Call-ID: {n}-bench@127.0.0.1\r\nCSeq: {cseq} {method}\r\n"
        f"Contact: sip:sipp@127.0.0.1:6000\r\nMax-Forwards: 70\r\n"
        f"Subject: Performance Test\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def take(sent: list[tuple[bytes, Endpoint]], to: Endpoint) -> list[Request | Response]:
    out = [parse_message(d) for d, e in sent if e == to]
    sent.clear()
    return out


def one_call(pump: SwitchPump, sent: list[tuple[bytes, Endpoint]], n: int) -> float:
    """Run one call; return the CPU seconds spent in the switch."""
    cpu = 0.0

    def feed(data: bytes, source: Endpoint) -> None:
        nonlocal cpu
        t = time.process_time()
        pump.on_messages([(data, source)])
        cpu += time.process_time() - t

    feed(invite(n), UAC)
    (b_invite,) = [m for m in take(sent, UAS) if isinstance(m, Request)]
    assert isinstance(b_invite, Request)
    for status in (100, 180):
        feed(bytes(make_response(b_invite, status, to_tag="uas" + str(n))), UAS)
    ok = make_response(
        b_invite,
        200,
        to_tag="uas" + str(n),
        extra=[("Contact", "<sip:uas@127.0.0.1:6001>"), ("Content-Type", "application/sdp")],
        body=SDP,
    )
    feed(bytes(ok), UAS)
    to_uac = take(sent, UAC)
    final = next(m for m in to_uac if isinstance(m, Response) and m.status_code == 200)
    a_tag = final.to.tag or ""
    feed(uac_request("ACK", n, a_tag, 1, "1-5"), UAC)
    feed(uac_request("BYE", n, a_tag, 2, "1-7"), UAC)
    (bye,) = [m for m in take(sent, UAS) if isinstance(m, Request) and m.method == "BYE"]
    assert isinstance(bye, Request)
    feed(bytes(make_response(bye, 200)), UAS)
    sent.clear()
    return cpu


def parse_floor(n: int) -> float:
    """CPU seconds to parse and serialize the 7 messages the switch receives per call and the
    7 it sends, without any protocol work: the floor of a design built on this parser."""
    messages = [invite(n), uac_request("ACK", n, "t", 1, "a"), uac_request("BYE", n, "t", 2, "b")]
    request = parse_message(messages[0])
    assert isinstance(request, Request)
    responses = [bytes(make_response(request, s, to_tag="x")) for s in (100, 180, 200)]
    data = messages + responses + [bytes(make_response(request, 200))]
    t = time.process_time()
    for raw in data:
        message = parse_message(raw)
        bytes(message)
        bytes(message)
    return time.process_time() - t


async def run(calls: int) -> tuple[float, float, int]:
    """Inside a loop (the pump arms its timer on it), but never yielding: no timer fires."""
    pump, sent = build_switch()
    for n in range(200):  # warm up
        one_call(pump, sent, n)
    total = sum(one_call(pump, sent, n) for n in range(1000, 1000 + calls))
    floor = sum(parse_floor(n) for n in range(calls))
    pump.close()
    return total, floor, pump.txl.transaction_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    total, floor, left = asyncio.run(run(args.calls))
    per_call = total / args.calls * 1e6
    per_floor = floor / args.calls * 1e6
    print(f"{'path':<46} {'µs CPU/call':>12} {'calls/s/core':>14}")
    print(
        f"{'switch core (parse, transactions, B2BUA, send)':<46} {per_call:12.0f} "
        f"{1e6 / per_call:14.0f}"
    )
    print(
        f"{'baseline: parse + serialize only (7 in, 7 out)':<46} {per_floor:12.0f} "
        f"{1e6 / per_floor:14.0f}"
    )
    print(f"(transactions left in the table: {left}; they end on their timers)")


if __name__ == "__main__":
    main()
