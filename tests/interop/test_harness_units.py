"""The peer harness on its own: command lines, result parsing, ports, digest, peer lookup."""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

import pytest

from callcenter.testing import peers
from callcenter.testing.peers import (
    build_request,
    digest_authorization,
    parse_challenge,
    parse_response,
    require_peer,
)
from callcenter.testing.process import process_cpu_seconds
from callcenter.testing.sipp import (
    SippOptions,
    free_port,
    parse_errors,
    parse_rtt_csv,
    parse_stat_csv,
    port_is_free,
    sipp_command,
    wait_until_bound,
)

pytestmark = pytest.mark.interop


def test_command_line_carries_the_bounds_and_traces(tmp_path: Path) -> None:
    options = SippOptions(
        "scenarios/uac_call.xml",
        remote=("127.0.0.1", 5999),
        local_port=5998,
        service="2000",
        calls=10,
        rate=20,
        hold_ms=1000,
        timeout_s=30,
    )
    args = sipp_command(options, tmp_path, "/usr/bin/sipp")
    assert args[:3] == ["/usr/bin/sipp", "-sf", str(Path("scenarios/uac_call.xml").resolve())]
    assert "127.0.0.1:5999" in args
    pairs = {a: b for a, b in itertools.pairwise(args) if a.startswith("-")}
    assert pairs["-i"] == pairs["-ci"] == "127.0.0.1"
    assert (pairs["-p"], pairs["-s"], pairs["-m"], pairs["-r"]) == ("5998", "2000", "10", "20")
    assert (pairs["-d"], pairs["-timeout"], pairs["-buff_size"]) == ("1000", "30s", "4194304")
    assert pairs["-stf"] == str(tmp_path / "stat.csv")
    for flag in ("-timeout_error", "-nostdin", "-trace_err", "-trace_rtt", "-trace_stat"):
        assert flag in args
    assert "-trace_msg" not in args
    assert "-bg" not in args


def test_built_in_scenarios_use_sn_and_trace_msg_when_asked(tmp_path: Path) -> None:
    args = sipp_command(SippOptions("uas", local_port=5070, trace_msg=True), tmp_path)
    assert args[1:3] == ["-sn", "uas"]
    assert "-trace_msg" in args and str(tmp_path / "messages.log") in args


STAT = (
    "StartTime;CurrentTime;TotalCallCreated;CurrentCall;SuccessfulCall(P);SuccessfulCall(C);"
    "FailedCall(P);FailedCall(C);Retransmissions(C);\n"
    "2026-01-01;2026-01-01;0;0;0;0;0;0;0;\n"
    "2026-01-01;2026-01-01;12;1;3;10;1;2;7;\n"
)


def test_stat_csv_last_row_by_column(tmp_path: Path) -> None:
    path = tmp_path / "stat.csv"
    path.write_text(STAT)
    stats = parse_stat_csv(path)
    assert stats["SuccessfulCall(C)"] == "10"
    assert stats["FailedCall(C)"] == "2"
    assert stats["Retransmissions(C)"] == "7"
    assert parse_stat_csv(tmp_path / "absent.csv") == {}


def test_rtt_trace_pairs(tmp_path: Path) -> None:
    path = tmp_path / "uac_1_rtt.csv"
    path.write_text("Date_ms;response_time_ms;rtd_no\n104.001;0;1\n204.5;3;1\nbroken\n")
    assert parse_rtt_csv(path) == [(104.001, 0.0), (204.5, 3.0)]


ERRORS = (
    "2026-11-22\t04:01:11.761761\t1.0: Aborting call on unexpected message for Call-Id "
    "'1-7867@127.0.0.1': while pausing (index 6), received 'SIP/2.0 180 Ringing\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:15060;branch=z9hG4bK-1\r\n'"
    "2026-11-22\t04:01:11.761939\t1.1: Dead call 1-7867@127.0.0.1 (aborted at index 6), "
    "received 'SIP/2.0 200 OK\r\n'"
    "2026-11-22\t04:10:31.390039\t1.2: Aborting call on unexpected message for Call-Id "
    "'2-18693@127.0.0.1': while expecting '183' (index 3), received 'SIP/2.0 200 OK\r\n'"
)


def test_unexpected_messages_are_classified() -> None:
    found = parse_errors(ERRORS)
    assert [(u.call_id, u.during, u.index) for u in found] == [
        ("1-7867@127.0.0.1", "pausing", 6),
        ("2-18693@127.0.0.1", "expecting '183'", 3),
    ]
    assert [u.is_provisional_response for u in found] == [True, False]


def test_free_ports_are_distinct_and_free_for_udp_and_tcp() -> None:
    ports = {free_port() for _ in range(20)}
    assert len(ports) == 20
    assert all(port_is_free(port) for port in ports)
    first = free_port(span=3)
    assert all(port_is_free(p) for p in range(first, first + 3))


def test_a_port_bound_for_udp_only_is_not_free() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))
        assert not port_is_free(port)
    assert port_is_free(port)


def test_waiting_for_a_bound_port_does_not_bind_it() -> None:
    port = free_port()
    assert not wait_until_bound(port, timeout=0.1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))
        assert wait_until_bound(port, timeout=1.0)


def test_missing_peer_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = peers.Peer("binary", "no-such-sip-tool-xyz", "install it with apt-get")
    monkeypatch.setattr(peers, "PEERS", {**peers.PEERS, "ghost": missing})
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get"):
        require_peer("ghost")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get"):
        require_peer("ghost")


def test_present_module_peer_gives_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    present = peers.Peer("module", "json", "")
    monkeypatch.setattr(peers, "PEERS", {"json": present})
    assert require_peer("json").endswith("__init__.py")


def test_digest_md5_matches_rfc_2617_example() -> None:
    challenge = parse_challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int",'
        ' nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    value = digest_authorization(
        challenge,
        username="Mufasa",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce="0a4f113b",
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_matches_rfc_7616_examples(algorithm: str, expected: str) -> None:
    challenge = parse_challenge(
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm},'
        ' nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",'
        ' opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    value = digest_authorization(
        challenge,
        username="Mufasa",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert f'response="{expected}"' in value


def test_responses_parse_with_compact_and_repeated_headers() -> None:
    raw = (
        b"SIP/2.0 401 Unauthorized\r\nv: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1\r\n"
        b'WWW-Authenticate: Digest realm="a", nonce="1", algorithm=SHA-256\r\n'
        b'WWW-Authenticate: Digest realm="a", nonce="1", algorithm=MD5\r\n'
        b"i: abc\r\nl: 0\r\n\r\n"
    )
    response = parse_response(raw)
    assert response is not None
    assert (response.status, response.reason) == (401, "Unauthorized")
    assert response.header("Call-ID") == "abc"
    assert response.header("via") == "SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1"
    algorithms = [parse_challenge(v)["algorithm"] for v in response.values("www-authenticate")]
    assert algorithms == ["SHA-256", "MD5"]
    assert parse_response(b"OPTIONS sip:a SIP/2.0\r\n\r\n") is None
    assert parse_response(b"\x00\xff garbage") is None


def test_requests_are_well_formed_and_count_their_body() -> None:
    data = build_request("OPTIONS", "sip:127.0.0.1:5060", local=("127.0.0.1", 4000), body=b"hello")
    head, _, body = data.partition(b"\r\n\r\n")
    assert body == b"hello"
    lines = head.decode().split("\r\n")
    assert lines[0] == "OPTIONS sip:127.0.0.1:5060 SIP/2.0"
    assert lines[1].startswith("Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bK")
    assert "CSeq: 1 OPTIONS" in lines
    assert lines[-1] == "Content-Length: 5"


def test_cpu_seconds_of_this_process_grow() -> None:
    before = process_cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    assert process_cpu_seconds(os.getpid()) > before
