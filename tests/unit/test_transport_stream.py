"""TCP and TLS side of SipTransports over real sockets on 127.0.0.1 (stock loop and uvloop)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from transport_helpers import WAIT, Errors, Inbox, Runner, requires_ipv6_loopback

from callcenter.sip.tlscert import client_context, ensure_dev_certificate, server_context
from callcenter.sip.transport import ConnectionLimitError, Endpoint, SipTransports

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dev_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_dev_certificate(tmp_path_factory.mktemp("tls"), ["127.0.0.1"])


def sip(tag: str, body: bytes = b"") -> bytes:
    return (
        f"OPTIONS sip:{tag}@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n"
        f"Call-ID: {tag}\r\nCSeq: 1 OPTIONS\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@contextlib.asynccontextmanager
async def client(
    endpoint: Endpoint,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def read_closed(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed (or reset) the connection."""
    try:
        async with asyncio.timeout(WAIT):
            while await reader.read(65536):
                pass
    except ConnectionResetError:
        pass
    return True


async def eventually(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - polling counters, which have no event
            await asyncio.sleep(0.01)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_two_pipelined_messages_in_one_write(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox) as t:
            local = await t.listen_tcp("127.0.0.1", 0)
            async with client(local) as (_, writer):
                writer.write(sip("one", b"body-1") + sip("two"))
                messages = await inbox.wait(2)
                source = Endpoint("tcp", *writer.get_extra_info("sockname")[:2])
            assert messages == [(sip("one", b"body-1"), source), (sip("two"), source)]
            assert t.stats.stream_messages_in == 2

    run(main())


def test_one_message_split_over_many_writes(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox) as t:
            local = await t.listen_tcp("127.0.0.1", 0)
            message = sip("split", b"v=0\r\n" * 20)
            async with client(local) as (_, writer):
                for i in range(0, len(message), 7):
                    writer.write(message[i : i + 7])
                    await writer.drain()
                    await asyncio.sleep(0)
                [(data, _)] = await inbox.wait(1)
            assert data == message

    run(main())


def test_double_crlf_ping_is_answered_with_crlf(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox) as t:
            local = await t.listen_tcp("127.0.0.1", 0)
            async with client(local) as (reader, writer):
                writer.write(b"\r\n\r\n")
                async with asyncio.timeout(WAIT):
                    assert await reader.readexactly(2) == b"\r\n"
                writer.write(sip("after-ping"))
                await inbox.wait(1)
            assert t.stats.pings_in == 1

    run(main())


def test_response_goes_back_over_the_inbound_connection(run: Runner[None]) -> None:
    async def main() -> None:
        reply = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        transports: list[SipTransports] = []

        def answer(batch: list[tuple[bytes, Endpoint]]) -> None:
            for _, source in batch:
                transports[0].send(reply, source)

        async with SipTransports(answer) as t:
            transports.append(t)
            local = await t.listen_tcp("127.0.0.1", 0)
            async with client(local) as (reader, writer):
                writer.write(sip("req"))
                async with asyncio.timeout(WAIT):
                    assert await reader.readexactly(len(reply)) == reply
            assert t.stats.connections_accepted == 1
            assert t.stats.connections_opened == 0

    run(main())


def test_outbound_connection_is_opened_reused_and_answered_over(run: Runner[None]) -> None:
    async def main() -> None:
        inbox_a, inbox_b = Inbox(), Inbox()
        async with SipTransports(inbox_a) as a, SipTransports(inbox_b) as b:
            local_a = await a.listen_tcp("127.0.0.1", 0)
            for i in range(3):  # queued while connecting, flushed in order
                b.send(sip(f"m{i}"), local_a)
            messages = await inbox_a.wait(3)
            assert [data for data, _ in messages] == [sip(f"m{i}") for i in range(3)]
            source = messages[0][1]
            a.send(sip("back"), source)
            [(data, from_a)] = await inbox_b.wait(1)
            assert data == sip("back") and from_a == local_a
            b.send(sip("again"), Endpoint("tcp", "127.0.0.1", local_a.port))
            await inbox_a.wait(4)
            assert b.stats.connections_opened == 1
            assert a.stats.connections_accepted == 1
            assert b.stats.connections_open == 1

    run(main())


def test_connection_failure_is_counted_and_reported_per_message(run: Runner[None]) -> None:
    async def main() -> None:
        errors = Errors()
        async with SipTransports(Inbox(), on_send_error=errors) as t:
            nowhere = Endpoint("tcp", "127.0.0.1", closed_port())
            t.send(sip("a"), nowhere)
            t.send(sip("b"), nowhere)
            seen = await errors.wait(2)
            assert [destination for destination, _ in seen] == [nowhere, nowhere]
            assert all(isinstance(error, ConnectionRefusedError) for _, error in seen)
            assert t.stats.connect_failures == 1
            assert t.stats.send_errors == 2
            assert t.stats.connections_open == 0

    run(main())


def test_tls_round_trip_with_the_dev_certificate(
    run: Runner[None], dev_cert: tuple[Path, Path]
) -> None:
    cert, key = dev_cert

    async def main() -> None:
        inbox_a, inbox_b = Inbox(), Inbox()
        async with (
            SipTransports(inbox_a) as a,
            SipTransports(inbox_b, tls_client_context=client_context(cert)) as b,
        ):
            local = await a.listen_tls("127.0.0.1", 0, server_context(cert, key))
            assert local.transport == "tls"
            b.send(sip("secure"), local)
            [(data, source)] = await inbox_a.wait(1)
            assert data == sip("secure") and source.transport == "tls"
            a.send(sip("secure-reply"), source)
            [(reply, from_a)] = await inbox_b.wait(1)
            assert reply == sip("secure-reply") and from_a == local

    run(main())


def test_tls_to_an_untrusted_server_is_reported(
    run: Runner[None], dev_cert: tuple[Path, Path]
) -> None:
    cert, key = dev_cert

    async def main() -> None:
        errors = Errors()
        async with (
            SipTransports(Inbox()) as a,
            SipTransports(Inbox(), on_send_error=errors) as b,  # system CAs only
        ):
            local = await a.listen_tls("127.0.0.1", 0, server_context(cert, key))
            b.send(sip("x"), local)
            [(_, error)] = await errors.wait(1)
            assert isinstance(error, ssl.SSLCertVerificationError)

    run(main())


def test_tls_server_context_must_require_tls_1_2(run: Runner[None]) -> None:
    async def main() -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        async with SipTransports(Inbox()) as t:
            with pytest.raises(ValueError, match=r"TLS 1\.2"):
                await t.listen_tls("127.0.0.1", 0, context)

    run(main())


def test_idle_connections_are_closed(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox, idle_timeout=0.2) as t:
            local = await t.listen_tcp("127.0.0.1", 0)
            async with client(local) as (reader, writer):
                writer.write(sip("then-silence"))
                await inbox.wait(1)
                assert t.stats.connections_open == 1
                assert await read_closed(reader)
            await eventually(lambda: t.stats.connections_open == 0)
            assert t.stats.connections_idle_closed == 1

    run(main())


def test_connections_beyond_the_limit_are_rejected(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox, max_connections=2) as t:
            local = await t.listen_tcp("127.0.0.1", 0)
            async with client(local) as (_, w1), client(local) as (_, w2):
                w1.write(sip("c1"))
                w2.write(sip("c2"))
                await inbox.wait(2)
                async with client(local) as (r3, _):
                    assert await read_closed(r3)
                assert t.stats.connections_rejected == 1
                assert t.stats.connections_open == 2
                errors = Errors()
                t._on_send_error = errors  # outbound attempts obey the same limit
                t.send(sip("out"), Endpoint("tcp", "127.0.0.1", closed_port()))
                [(_, error)] = await errors.wait(1)
                assert isinstance(error, ConnectionLimitError)

    run(main())


def test_garbage_closes_only_that_connection(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox) as t:
            local = await t.listen_tcp("127.0.0.1", 0)
            async with client(local) as (bad_reader, bad), client(local) as (_, good):
                bad.write(b"GARBAGE no content length\r\n\r\n")
                assert await read_closed(bad_reader)
                good.write(sip("still-served"))
                [(data, _)] = await inbox.wait(1)
            assert data == sip("still-served")
            assert t.stats.framing_errors == 1
            async with client(local) as (_, later):
                later.write(sip("new-connection"))
                await inbox.wait(2)

    run(main())


def test_half_closed_and_reset_peers_do_not_disturb_the_loop(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(inbox) as t:
            local = await t.listen_tcp("127.0.0.1", 0)
            async with client(local) as (reader, writer):
                writer.write(sip("then-eof"))
                writer.write_eof()
                await inbox.wait(1)
                assert await read_closed(reader)
            with socket.create_connection((local.host, local.port)) as raw:
                raw.sendall(sip("then-reset")[:40])
                raw.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
            await eventually(lambda: t.stats.connections_open == 0)
            async with client(local) as (_, writer):
                writer.write(sip("still-fine"))
                await inbox.wait(2)
            assert t.stats.read_errors == 0

    run(main())


def test_close_with_open_connections_releases_everything(run: Runner[None]) -> None:
    async def main() -> None:
        inbox = Inbox()
        t = SipTransports(inbox)
        local = await t.listen_tcp("127.0.0.1", 0)
        async with client(local) as (reader, writer):
            writer.write(sip("x"))
            await inbox.wait(1)
            await t.close()
            assert await read_closed(reader)
        assert t.stats.connections_open == 0
        await t.close()  # twice is harmless

    run(main())


@requires_ipv6_loopback
def test_a_response_to_a_non_canonical_address_reuses_the_connection(run: Runner[None]) -> None:
    async def main() -> None:
        inbox_a, inbox_b = Inbox(), Inbox()
        async with SipTransports(inbox_a) as a, SipTransports(inbox_b) as b:
            local_a = await a.listen_tcp("::1", 0)
            b.send(sip("hello"), local_a)
            [(_, source)] = await inbox_a.wait(1)
            assert source.host == "::1"
            a.send(sip("reply"), Endpoint("TCP", "0:0:0:0:0:0:0:1", source.port))
            a.send(sip("reply-2"), Endpoint("tcp", "[::1]", source.port))
            await inbox_b.wait(2)
            assert a.stats.connections_opened == 0
            assert a.stats.send_errors == 0

    run(main())
