"""UDP side of SipTransports over real sockets on 127.0.0.1, on the stock loop and uvloop."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from transport_helpers import Errors, Inbox, Runner, requires_ipv6_loopback

from callcenter.sip.transport import Endpoint, SipTransports, TransportError, TransportStats
from callcenter.sip.transport_udp import UdpSocket, bind_udp_socket

pytestmark = pytest.mark.integration


def sip(tag: str, size: int = 0) -> bytes:
    body = b"x" * size
    return (
        f"OPTIONS sip:{tag}@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n"
        f"Call-ID: {tag}\r\nCSeq: 1 OPTIONS\r\nContent-Length: {size}\r\n\r\n"
    ).encode() + body


def raw_udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_round_trip_reports_source_and_reply_reaches_it(run: Runner[None]) -> None:
    async def main() -> None:
        inbox_a, inbox_b = Inbox(), Inbox()
        async with SipTransports(inbox_a) as a, SipTransports(inbox_b) as b:
            local_a = await a.listen_udp("127.0.0.1", 0)
            local_b = await b.listen_udp("127.0.0.1", 0)
            assert local_a.port != 0
            assert a.local_endpoint("udp") == local_a
            b.send(sip("ping"), local_a)
            [(data, source)] = await inbox_a.wait(1)
            assert data == sip("ping")
            assert source == Endpoint("udp", "127.0.0.1", local_b.port)
            a.send(b"SIP/2.0 200 OK\r\n\r\n", source)
            [(reply, reply_source)] = await inbox_b.wait(1)
            assert reply == b"SIP/2.0 200 OK\r\n\r\n"
            assert reply_source == local_a
            assert a.stats.datagrams_in == 1 and a.stats.datagrams_out == 1
            assert a.stats.bytes_in == len(sip("ping"))

    run(main())


def test_queued_datagrams_are_delivered_in_capped_batches(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox, max_batch=16) as t:
            local = await t.listen_udp("127.0.0.1", 0)
            with raw_udp() as sender:
                for i in range(50):  # all queued in the kernel before the loop runs again
                    sender.sendto(sip(f"m{i}"), (local.host, local.port))
                messages = await inbox.wait(50)
            assert [len(batch) for batch in inbox.batches] == [16, 16, 16, 2]
            assert [data for data, _ in messages] == [sip(f"m{i}") for i in range(50)]
            assert t.stats.batches_in == 4

    run(main())


def test_oversize_and_keepalive_datagrams_are_dropped_and_counted(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox, max_message_size=1000) as t:
            local = await t.listen_udp("127.0.0.1", 0)
            fits = sip("fits", 1000 - len(sip("fits", 100)) + 100)  # exactly the limit
            assert len(fits) == 1000
            with raw_udp() as sender:
                sender.sendto(sip("big", 1200), (local.host, local.port))
                sender.sendto(b"\r\n\r\n", (local.host, local.port))
                sender.sendto(fits, (local.host, local.port))
                sender.sendto(sip("last"), (local.host, local.port))
                messages = await inbox.wait(2)
            assert [data for data, _ in messages] == [fits, sip("last")]
            assert t.stats.dropped_oversize == 1
            assert t.stats.dropped_keepalive == 1
            assert t.stats.datagrams_in == 4

    run(main())


def test_send_never_raises_and_reports_errors_later(run: Runner[None]) -> None:
    async def main() -> None:
        errors = Errors()
        async with SipTransports(Inbox(), on_send_error=errors) as t:
            await t.listen_udp("127.0.0.1", 0)
            to_v6 = Endpoint("udp", "::1", 5060)
            to_sctp = Endpoint("sctp", "127.0.0.1", 5060)
            t.send(sip("a"), to_v6)  # no IPv6 socket
            t.send(sip("b"), to_sctp)
            assert errors.seen == []  # never called from inside send()
            seen = await errors.wait(2)
            assert [destination for destination, _ in seen] == [to_v6, to_sctp]
            assert all(isinstance(error, TransportError) for _, error in seen)
            assert t.stats.send_errors == 2

    run(main())


def test_a_failing_callback_is_counted_and_delivery_goes_on(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        calls = 0

        def flaky(batch: list[tuple[bytes, Endpoint]]) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("bug in the caller")
            inbox(batch)

        async with SipTransports(flaky) as t:
            local = await t.listen_udp("127.0.0.1", 0)
            with raw_udp() as sender:
                sender.sendto(sip("lost"), (local.host, local.port))
                await asyncio.sleep(0.05)
                sender.sendto(sip("kept"), (local.host, local.port))
                [(data, _)] = await inbox.wait(1)
            assert data == sip("kept")
            assert t.stats.callback_errors == 1

    run(main())


def test_host_names_and_non_canonical_addresses_are_resolved(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox) as a, SipTransports(Inbox()) as b:
            local = await a.listen_udp("127.0.0.1", 0)
            await b.listen_udp("127.0.0.1", 0)
            b.send(sip("by-name"), Endpoint("udp", "localhost", local.port))
            b.send(sip("upper"), Endpoint("UDP", "127.0.0.1", local.port))
            messages = await inbox.wait(2)
            assert sorted(data for data, _ in messages) == sorted([sip("by-name"), sip("upper")])

    run(main())


def test_local_endpoint_of_a_missing_transport_is_a_lookup_error(run: Runner[None]) -> None:
    async def main() -> None:
        async with SipTransports(Inbox()) as t:
            await t.listen_udp("127.0.0.1", 0)
            with pytest.raises(LookupError):
                t.local_endpoint("tls")

    run(main())


class CongestedSocket(socket.socket):
    """Reports a full send buffer for the first ``full`` sends."""

    full = 3

    def sendto(self, data: Any, *args: Any) -> int:
        if self.full:
            self.full -= 1
            raise BlockingIOError
        return super().sendto(data, *args)


def test_sends_on_a_full_socket_wait_in_order_for_writability(run: Runner[None]) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        inbox = Inbox()
        stats = TransportStats()
        sock = CongestedSocket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(("127.0.0.1", 0))
        udp = UdpSocket(
            loop,
            sock,
            stats=stats,
            deliver=lambda batch: None,
            report_error=lambda destination, error: None,
            max_message_size=65535,
            max_batch=256,
        )
        async with SipTransports(inbox) as receiver:
            local = await receiver.listen_udp("127.0.0.1", 0)
            for i in range(5):
                udp.send(sip(f"q{i}"), local.host, local)
            assert stats.datagrams_out == 0
            messages = await inbox.wait(5)
            assert [data for data, _ in messages] == [sip(f"q{i}") for i in range(5)]
            assert stats.datagrams_out == 5
        udp.close()

    run(main())


def test_bind_udp_socket_closes_the_socket_when_bind_fails() -> None:
    with raw_udp() as taken, pytest.raises(OSError):
        bind_udp_socket(socket.AF_INET, taken.getsockname())


@requires_ipv6_loopback
def test_ipv6_round_trip_with_a_non_canonical_destination(run: Runner[None]) -> None:
    async def main() -> None:
        inbox_a, inbox_b = Inbox(), Inbox()
        async with SipTransports(inbox_a) as a, SipTransports(inbox_b) as b:
            local_a = await a.listen_udp("::1", 0)
            local_b = await b.listen_udp("::1", 0)
            assert local_a.host == "::1"
            b.send(sip("v6"), Endpoint("udp", "[0:0:0:0:0:0:0:1]", local_a.port))
            [(_, source)] = await inbox_a.wait(1)
            assert source == Endpoint("udp", "::1", local_b.port)
            a.send(sip("v6-reply"), source)
            await inbox_b.wait(1)

    run(main())


def test_endpoint_text_and_reliability() -> None:
    assert str(Endpoint("udp", "::1", 5060)) == "udp:[::1]:5060"
    assert str(Endpoint("tls", "192.0.2.1", 5061)) == "tls:192.0.2.1:5061"
    assert not Endpoint("udp", "192.0.2.1", 5060).reliable
    assert Endpoint("tcp", "192.0.2.1", 5060).reliable
