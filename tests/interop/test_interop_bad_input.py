"""Bad input over real sockets (UDP and TCP): the switch answers 400 where it can, stays
silent where it cannot (no usable Via), never dies, and still connects calls afterwards.

The switch here has ``sip.max_message_size: 32768`` so that a ~65 KB datagram and a 100 KB
header line are over the limit; 513 (Message Too Large) is accepted for those, and over TCP
closing the connection is accepted where the stream cannot be framed any more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from callcenter.testing import (
    LOOPBACK,
    RawSipClient,
    SippOptions,
    SippRunner,
    SwitchProcess,
    build_request,
    free_port,
    route,
    sip_options_ping,
    switch_config,
    trunk,
)
from callcenter.testing.peers import Transport

pytestmark = [pytest.mark.interop, pytest.mark.integration]

SILENCE = "silence"
CLOSED = "closed"
WAIT_S = 1.0
MAX_MESSAGE_SIZE = 32768

Build = Callable[[tuple[str, int], Transport, int], bytes]


@dataclass(frozen=True)
class Case:
    name: str
    build: Build
    udp: frozenset[str] | None
    """Acceptable outcomes over UDP (status codes, SILENCE); None: not a UDP case."""
    tcp: frozenset[str] | None


def outcomes(*items: str | int) -> frozenset[str]:
    return frozenset(str(item) for item in items)


def options(**fields: object) -> Build:
    def build(local: tuple[str, int], transport: Transport, port: int) -> bytes:
        return build_request(
            "OPTIONS",
            f"sip:{LOOPBACK}:{port}",
            local=local,
            transport=transport,
            **fields,  # type: ignore[arg-type]
        )

    return build


def raw(data: bytes) -> Build:
    return lambda local, transport, port: data


def truncated(local: tuple[str, int], transport: Transport, port: int) -> bytes:
    whole = options()(local, transport, port)
    return whole[: whole.index(b"\r\nCall-ID:") + 8]  # cut inside the Call-ID header


def stray_response(local: tuple[str, int], transport: Transport, port: int) -> bytes:
    via = f"SIP/2.0/{transport.upper()} {LOOPBACK}:{port};branch=z9hG4bKnosuchtransaction"
    return (
        f"SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: <sip:a@{LOOPBACK}>;tag=1\r\n"
        f"To: <sip:b@{LOOPBACK}>;tag=2\r\nCall-ID: stray@{LOOPBACK}\r\nCSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


GARBAGE = bytes(range(256)) * 4 + b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"

CASES = [
    Case("garbage", raw(GARBAGE), outcomes(SILENCE), outcomes(SILENCE, CLOSED)),
    Case("truncated", truncated, outcomes(400, SILENCE), outcomes(SILENCE, CLOSED)),
    Case(
        "content_length_beyond_body",
        options(body=b"v=0\r\n", content_length="500"),
        outcomes(400),
        None,
    ),
    Case(
        "content_length_negative",
        options(content_length="-5"),
        outcomes(400),
        outcomes(400, CLOSED),
    ),
    Case(
        "content_length_not_a_number",
        options(content_length="abc"),
        outcomes(400),
        outcomes(400, CLOSED),
    ),
    Case("no_call_id", options(omit=["Call-ID"]), outcomes(400), outcomes(400)),
    Case("no_via", options(omit=["Via"]), outcomes(SILENCE), outcomes(SILENCE, CLOSED)),
    Case("no_cseq", options(omit=["CSeq"]), outcomes(400), outcomes(400)),
    Case("cseq_method_mismatch", options(cseq_method="INVITE"), outcomes(400), outcomes(400)),
    Case(
        "header_flood_1000",
        options(headers=[("X-Flood", str(i)) for i in range(1000)]),
        outcomes(400),
        outcomes(400),
    ),
    Case(
        "header_line_20k",
        options(headers=[("X-Long", "a" * 20_000)]),
        outcomes(400),
        None,
    ),
    Case(
        "header_line_100k",
        options(headers=[("X-Long", "a" * 100_000)]),
        None,
        outcomes(400, 513, CLOSED),
    ),
    Case(
        "datagram_65k",
        options(body=b"x" * 64_000, headers=[("Content-Type", "text/plain")]),
        outcomes(400, 513, SILENCE),
        None,
    ),
    Case("response_without_transaction", stray_response, outcomes(SILENCE), outcomes(SILENCE)),
]

PARAMS = [
    pytest.param(case, transport, id=f"{case.name}-{transport}")
    for case in CASES
    for transport, allowed in (("udp", case.udp), ("tcp", case.tcp))
    if allowed is not None
]


@pytest.fixture(scope="module")
def trunk_ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture(scope="module")
def abused_switch(
    tmp_path_factory: pytest.TempPathFactory, trunk_ports: tuple[int, int]
) -> Iterator[SwitchProcess]:
    uac_port, uas_port = trunk_ports
    config = switch_config(
        sip={"max_message_size": MAX_MESSAGE_SIZE},
        trunks=[trunk("uac", uac_port), trunk("uas", uas_port)],
        routes=[route(r"^(2\d{3})$", "uas")],
    )
    switch = SwitchProcess(tmp_path_factory.mktemp("bad-input") / "switch", config).start()
    yield switch
    switch.stop()


def observe(client: RawSipClient) -> str:
    response = client.receive_response(WAIT_S)
    if response is not None:
        return str(response.status)
    return CLOSED if client.peer_closed else SILENCE


@pytest.mark.parametrize(("case", "transport"), PARAMS)
def test_bad_input(abused_switch: SwitchProcess, case: Case, transport: Transport) -> None:
    allowed = case.udp if transport == "udp" else case.tcp
    assert allowed is not None
    with RawSipClient(abused_switch.sip_address, transport) as client:
        client.send(case.build(client.local, transport, abused_switch.sip_port))
        seen = observe(client)
    assert seen in allowed, f"{case.name} over {transport}: got {seen}, expected {set(allowed)}"
    assert abused_switch.alive(), "the switch died"
    assert sip_options_ping(abused_switch.sip_port, timeout=2.0) == 200


def test_calls_still_connect_after_bad_input(
    abused_switch: SwitchProcess, trunk_ports: tuple[int, int], sipp: SippRunner
) -> None:
    uac_port, uas_port = trunk_ports
    with sipp.start(SippOptions("uas_answer.xml", local_port=uas_port, calls=2)) as uas:
        calling = sipp.run(
            SippOptions(
                "uac_call.xml",
                remote=abused_switch.sip_address,
                local_port=uac_port,
                service="2000",
                calls=2,
                rate=10,
                hold_ms=200,
            )
        )
        called = uas.wait(timeout=20)
    assert calling.ok, calling.describe()
    assert called.ok, called.describe()
    assert abused_switch.alive()
