"""The composition root over real sockets: reload, restart, graceful shutdown."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from callcenter.app import Softswitch
from callcenter.config import load_config
from callcenter.sip import parse_message
from callcenter.sip.auth import DigestClient

# outside the kernel's ephemeral range: no socket bound to port 0 can take it meanwhile
from callcenter.testing import free_port

pytestmark = pytest.mark.integration


def write_config(path: Path, port: int, extra_extension: str = "") -> Path:
    path.write_text(
        f"""
sip:
  domain: "127.0.0.1"
  listen: {{udp: "127.0.0.1:{port}", tcp: "127.0.0.1:{port}", tls: null}}
extensions:
  - {{number: "1001", password: "secret-1001"}}
{extra_extension}
"""
    )
    return path


class UdpPeer:
    """A bare UDP socket that sends requests and waits (bounded) for the answer."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])

    async def request(self, data: bytes, port: int) -> bytes:
        loop = asyncio.get_running_loop()
        await loop.sock_sendto(self.sock, data, ("127.0.0.1", port))
        reply = await asyncio.wait_for(loop.sock_recv(self.sock, 65535), 5)
        return reply

    def close(self) -> None:
        self.sock.close()


_branches = iter(range(1, 1_000_000))


def register_bytes(peer_port: int, user: str, cseq: int, authorization: str = "") -> bytes:
    branch = next(_branches)
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"REGISTER sip:127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer_port};branch=z9hG4bK-reg{branch};rport\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag=reg\r\n"
        f"To: <sip:{user}@127.0.0.1>\r\n"
        f"Call-ID: reg-{user}@test\r\n"
        f"CSeq: {cseq} REGISTER\r\n"
        f"Contact: <sip:{user}@127.0.0.1:{peer_port}>\r\n"
        f"Expires: 600\r\n{auth}Content-Length: 0\r\n\r\n"
    ).encode()


async def register(peer: UdpPeer, port: int, user: str, password: str) -> int:
    challenge = parse_message(await peer.request(register_bytes(peer.port, user, 1), port))
    assert challenge.status_code == 401  # type: ignore[union-attr]
    client = DigestClient(user, password)
    chosen = client.choose_challenge(challenge.headers.get_all("WWW-Authenticate"))
    value = client.authorize(chosen, method="REGISTER", uri="sip:127.0.0.1")
    final = parse_message(await peer.request(register_bytes(peer.port, user, 2, value), port))
    return int(final.status_code)  # type: ignore[union-attr]


def test_registration_survives_restart(tmp_path: Path) -> None:
    asyncio.run(_registration_survives_restart(tmp_path))


async def _registration_survives_restart(tmp_path: Path) -> None:
    port = free_port()
    config_path = write_config(tmp_path / "cfg.yaml", port)
    data = tmp_path / "data"
    peer = UdpPeer()
    try:
        async with Softswitch(load_config(config_path, data_dir=data), data) as switch:
            assert await register(peer, port, "1001", "secret-1001") == 200
            assert switch.b2bua is not None
        async with Softswitch(load_config(config_path, data_dir=data), data) as switch:
            assert switch.b2bua is not None
            bindings = switch.b2bua.location.all_bindings(now=__import__("time").time())
            assert [b.contact for b in bindings] == [f"sip:1001@127.0.0.1:{peer.port}"]
            assert bindings[0].source == f"udp:127.0.0.1:{peer.port}"
    finally:
        peer.close()


def test_reload_keeps_last_good_config(tmp_path: Path) -> None:
    asyncio.run(_reload_keeps_last_good_config(tmp_path))


async def _reload_keeps_last_good_config(tmp_path: Path) -> None:
    port = free_port()
    config_path = write_config(tmp_path / "cfg.yaml", port)
    data = tmp_path / "data"
    async with Softswitch(
        load_config(config_path, data_dir=data), data, config_path=config_path
    ) as switch:
        assert switch.b2bua is not None
        config_path.write_text("sip:\n  domain: [unclosed\n")
        assert switch.reload() is False
        assert switch.b2bua.dialplan.is_extension("1001")
        write_config(config_path, port, '  - {number: "1002", password: "secret-1002"}')
        assert switch.reload() is True
        assert switch.b2bua.dialplan.is_extension("1002")
        peer = UdpPeer()
        try:
            assert await register(peer, port, "1002", "secret-1002") == 200
            assert await register(peer, port, "1002", "wrong-password") == 401
        finally:
            peer.close()


def test_malformed_datagrams_are_answered_or_dropped(tmp_path: Path) -> None:
    asyncio.run(_malformed_datagrams_are_answered_or_dropped(tmp_path))


async def _malformed_datagrams_are_answered_or_dropped(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    config = load_config(write_config(tmp_path / "cfg.yaml", port), data_dir=data)
    peer = UdpPeer()
    try:
        async with Softswitch(config, data) as switch:
            bad = register_bytes(peer.port, "1001", 1).replace(b"CSeq: 1 REGISTER", b"CSeq: x")
            raw = await peer.request(bad, port)  # the 400 echoes the bad CSeq as RFC 3261 says
            assert raw.startswith(b"SIP/2.0 400 ")
            loop = asyncio.get_running_loop()
            await loop.sock_sendto(peer.sock, b"\x00garbage\r\n\r\n", ("127.0.0.1", port))
            options = register_bytes(peer.port, "1001", 3).replace(b"REGISTER", b"OPTIONS")
            reply = parse_message(await peer.request(options, port))
            assert reply.status_code == 200  # type: ignore[union-attr]
            assert switch.pump is not None
            assert switch.pump.counters["parse_errors"] == 2
            assert switch.pump.counters["parse_errors_answered"] == 1
    finally:
        peer.close()
