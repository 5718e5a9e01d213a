"""RtcpSession: two endpoints exchanging RTP and RTCP over a simulated network, virtual time."""

from __future__ import annotations

import ast
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from media.rtcp import (
    RtcpBye,
    RtcpReceiverReport,
    RtcpSenderReport,
    RtcpSourceDescription,
    parse_compound,
)
from media.rtcp_session import RTCP_MIN_INTERVAL, RtcpSession
from media.rtp import RtpPacket

RATE = 8000
PTIME = 0.02
UNIX_EPOCH_NOW = 1_700_000_000.0


def constant(value: float) -> Callable[[], float]:
    return lambda: value


@dataclass
class Endpoint:
    session: RtcpSession
    sending: bool = True
    seq: int = 1000
    timestamp: int = 50_000
    reports: list[bytes] = field(default_factory=list)

    def next_packet(self) -> RtpPacket:
        packet = RtpPacket(0, self.seq & 0xFFFF, self.timestamp, self.session.ssrc, bytes(160))
        self.seq += 1
        self.timestamp = (self.timestamp + 160) & 0xFFFF_FFFF
        return packet


@dataclass
class Network:
    """Moves RTP and RTCP between two endpoints with a one-way delay and a drop rule."""

    a: Endpoint
    b: Endpoint
    delay: float = 0.040
    drop_rtp: Callable[[Endpoint, RtpPacket], bool] = lambda sender, packet: False
    now: float = 0.0
    _queue: list[tuple[float, int, Callable[[], object]]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def peer(self, endpoint: Endpoint) -> Endpoint:
        return self.b if endpoint is self.a else self.a

    def _at(self, when: float, action: Callable[[], object]) -> None:
        heapq.heappush(self._queue, (when, next(self._order), action))

    def _send_rtp(self, sender: Endpoint) -> None:
        packet = sender.next_packet()
        sender.session.on_rtp_sent(packet, self.now)
        if not self.drop_rtp(sender, packet):
            receiver = self.peer(sender)
            self._at(
                self.now + self.delay, lambda: receiver.session.on_rtp_received(packet, self.now)
            )

    def _send_rtcp(self, sender: Endpoint, datagram: bytes) -> None:
        sender.reports.append(datagram)
        receiver = self.peer(sender)
        self._at(self.now + self.delay, lambda: receiver.session.receive_rtcp(datagram, self.now))

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        for endpoint in (self.a, self.b):
            endpoint.session.start(self.now)
        next_tick = self.now
        while True:
            timers = [e.session.get_timer() for e in (self.a, self.b)]
            candidates = [t for t in timers if t is not None] + [next_tick]
            if self._queue:
                candidates.append(self._queue[0][0])
            self.now = min(candidates)
            if self.now > end:
                self.now = end
                return
            if self._queue and self._queue[0][0] <= self.now:
                heapq.heappop(self._queue)[2]()
                continue
            if next_tick <= self.now:
                for endpoint in (self.a, self.b):
                    if endpoint.sending:
                        self._send_rtp(endpoint)
                next_tick += PTIME
            for endpoint in (self.a, self.b):
                for datagram in endpoint.session.handle_timer(self.now):
                    self._send_rtcp(endpoint, datagram)


def pair(**network: object) -> Network:
    a = Endpoint(
        RtcpSession(
            0xA, RATE, "a@callcenter", wallclock_offset=UNIX_EPOCH_NOW, random=constant(0.5)
        )
    )
    b = Endpoint(
        RtcpSession(
            0xB,
            RATE,
            "b@phone",
            wallclock_offset=UNIX_EPOCH_NOW + 1234.5,  # the phone's clock is off: no matter
            random=constant(0.5),
        )
    )
    return Network(a, b, **network)  # type: ignore[arg-type]


# --- scheduling -----------------------------------------------------------------------------


def test_first_report_after_half_the_minimum_then_every_interval() -> None:
    session = RtcpSession(1, RATE, "x", random=constant(0.5))
    assert session.get_timer() is None
    session.start(100.0)
    assert session.get_timer() == pytest.approx(100.0 + RTCP_MIN_INTERVAL / 2)
    assert session.handle_timer(101.0) == []
    (report,) = session.handle_timer(102.5)
    assert session.get_timer() == pytest.approx(102.5 + RTCP_MIN_INTERVAL)
    assert isinstance(parse_compound(report)[0], RtcpReceiverReport)


@pytest.mark.parametrize(("draw", "factor"), [(0.0, 0.5), (0.25, 0.75), (0.999, 1.499)])
def test_interval_is_randomised_between_half_and_one_and_a_half(draw: float, factor: float) -> None:
    session = RtcpSession(1, RATE, "x", random=constant(draw))
    session.start(0.0)
    assert session.report_due(session.get_timer() or 0.0)
    session.build_report(10.0)
    assert session.get_timer() == pytest.approx(10.0 + RTCP_MIN_INTERVAL * factor)


def test_default_random_source_stays_within_bounds() -> None:
    session = RtcpSession(1, RATE, "x")
    for _ in range(50):
        session.build_report(0.0)
        deadline = session.get_timer()
        assert deadline is not None
        assert 0.5 * RTCP_MIN_INTERVAL <= deadline <= 1.5 * RTCP_MIN_INTERVAL


def test_the_first_event_arms_the_timer() -> None:
    session = RtcpSession(1, RATE, "x", random=constant(0.5))
    session.on_rtp_received(RtpPacket(0, 1, 160, 2), 7.0)
    assert session.get_timer() == pytest.approx(7.0 + RTCP_MIN_INTERVAL / 2)


# --- reports --------------------------------------------------------------------------------


def test_sender_report_when_we_sent_receiver_report_when_not() -> None:
    network = pair()
    network.b.sending = False
    network.run(12.0)
    a_reports = [parse_compound(d) for d in network.a.reports]
    b_reports = [parse_compound(d) for d in network.b.reports]
    assert len(a_reports) == len(b_reports) == 2  # at 2.5 s and 7.5 s
    assert all(isinstance(r[0], RtcpSenderReport) for r in a_reports)
    assert all(isinstance(r[0], RtcpReceiverReport) for r in b_reports)
    assert all(isinstance(r[1], RtcpSourceDescription) for r in a_reports + b_reports)
    # a hears nothing: its SRs carry no report block; b reports on a.
    assert all(r[0].reports == () for r in a_reports)  # type: ignore[union-attr]
    last = b_reports[-1][0]
    assert isinstance(last, RtcpReceiverReport)
    (block,) = last.reports
    assert block.ssrc == 0xA
    assert block.fraction_lost == 0


def test_sender_info_counts_and_extrapolated_rtp_time() -> None:
    session = RtcpSession(9, RATE, "x", wallclock_offset=UNIX_EPOCH_NOW)
    for i in range(10):
        session.on_rtp_sent(RtpPacket(0, i, 1000 + 160 * i, 9, bytes(160)), 0.02 * i)
    sr, sdes = parse_compound(session.build_report(0.18 + 0.01))
    assert isinstance(sr, RtcpSenderReport)
    assert sr.sender_info.packet_count == 10
    assert sr.sender_info.octet_count == 1600
    assert sr.sender_info.rtp_timestamp == 1000 + 160 * 9 + 80  # 10 ms after the last packet
    assert sr.sender_info.ntp_timestamp >> 32 == int(UNIX_EPOCH_NOW + 0.19) + 2_208_988_800
    assert isinstance(sdes, RtcpSourceDescription)
    assert sdes.chunks[0].cname == "x"
    # Nothing sent since: the next report is an RR.
    assert isinstance(parse_compound(session.build_report(5.0))[0], RtcpReceiverReport)


def test_round_trip_time_is_measured_both_ways() -> None:
    network = pair(delay=0.040)
    network.run(20.0)
    assert network.a.session.rtt == pytest.approx(0.080, abs=1e-4)
    assert network.b.session.rtt == pytest.approx(0.080, abs=1e-4)
    summary = network.a.session.summary()
    assert summary.rtt_ms == pytest.approx(80.0, abs=0.1)


def test_remote_reports_loss_we_cause_and_we_measure_loss_we_receive() -> None:
    network = pair(
        drop_rtp=lambda sender, packet: (
            sender.session.ssrc == 0xB and packet.sequence_number % 20 == 0
        )
    )
    network.run(30.0)
    a, b = network.a.session, network.b.session
    a_view = a.summary()
    assert a_view.loss_fraction == pytest.approx(0.05, abs=0.002)
    assert a_view.packets_lost == pytest.approx(0.05 * a_view.packets_received / 0.95, abs=2)
    assert a_view.remote_loss_fraction == 0.0  # b lost nothing of a's stream
    b_view = b.summary()
    assert b_view.loss_fraction == 0.0
    assert b_view.remote_loss_fraction == pytest.approx(0.05, abs=0.01)
    assert b_view.remote_packets_lost is not None and b_view.remote_packets_lost > 50
    assert a_view.mos < b_view.mos


def test_summary_of_a_clean_call() -> None:
    network = pair(delay=0.030)
    network.run(11.99)  # 600 packets of 20 ms
    summary = network.a.session.summary()
    assert summary.packets_sent == 600
    assert summary.octets_sent == 600 * 160
    assert summary.packets_received > 590
    assert summary.packets_lost == 0
    assert summary.jitter_ms == pytest.approx(0.0, abs=1e-6)
    assert summary.remote_jitter_ms == 0.0
    assert summary.one_way_delay_ms == pytest.approx(30 + 0 + 20, abs=0.1)
    assert summary.r_factor > 90
    assert summary.mos > 4.3
    assert summary.ssrc_changes == 0


def test_jitter_buffer_delay_lowers_the_rating() -> None:
    network = pair()
    network.run(8.0)
    session = network.a.session
    assert session.summary(jitter_buffer_ms=300).mos < session.summary(jitter_buffer_ms=40).mos


def test_remote_cname_is_learned() -> None:
    network = pair()
    network.run(4.0)
    assert network.a.session.remote_cname == "b@phone"
    assert network.b.session.remote_cname == "a@callcenter"


# --- BYE and bad input ----------------------------------------------------------------------


def test_bye_ends_reports_and_reaches_the_peer() -> None:
    network = pair()
    network.run(3.0)
    a, b = network.a.session, network.b.session
    bye = a.build_bye("call ended")
    packets = parse_compound(bye)
    assert [type(p) for p in packets] == [RtcpReceiverReport, RtcpSourceDescription, RtcpBye]
    assert packets[-1] == RtcpBye((0xA,), "call ended")
    assert a.get_timer() is None
    assert not a.report_due(100.0)
    assert a.handle_timer(100.0) == []
    b.receive_rtcp(bye, network.now)
    assert b.remote_bye
    assert b.remote_bye_reason == "call ended"


def test_bye_with_a_final_report() -> None:
    network = pair()
    network.run(3.0)
    packets = parse_compound(network.a.session.build_bye(now=network.now))
    assert isinstance(packets[0], RtcpSenderReport)
    assert packets[0].reports  # a final report block on b
    assert packets[-1] == RtcpBye((0xA,), None)


def test_malformed_rtcp_is_counted_not_raised() -> None:
    session = RtcpSession(1, RATE, "x")
    assert session.receive_rtcp(b"\x81\xca\x00\x01\x00", 0.0) == []
    assert session.receive_rtcp(bytes(RtcpBye((5,))), 0.0) == []  # not a compound packet
    assert session.rtcp_errors == 2
    assert session.rtcp_received == 0


def test_reduced_size_rtcp_when_negotiated() -> None:
    session = RtcpSession(1, RATE, "x", reduced_size=True)
    session.on_rtp_received(RtpPacket(0, 1, 0, 5), 0.0)
    assert session.receive_rtcp(bytes(RtcpBye((5,), "bye")), 0.0) == [RtcpBye((5,), "bye")]
    assert session.remote_bye


def test_ssrc_change_is_counted_in_the_summary() -> None:
    session = RtcpSession(1, RATE, "x")
    for i in range(5):
        session.on_rtp_received(RtpPacket(0, i, 160 * i, 100), 0.02 * i)
    for i in range(5):
        session.on_rtp_received(RtpPacket(0, 7000 + i, 160 * i, 200), 0.1 + 0.02 * i)
    summary = session.summary()
    assert summary.ssrc_changes == 1
    assert summary.packets_received == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ssrc": 1 << 32},
        {"cname": ""},
        {"cname": "x" * 256},
        {"min_interval": 0.0},
        {"codec": "GSM"},
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"ssrc": 1, "clock_rate": RATE, "cname": "x", **kwargs}
    with pytest.raises(ValueError):
        RtcpSession(**args)  # type: ignore[arg-type]


# --- purity ---------------------------------------------------------------------------------

MODULES = ["rtp.py", "ntp.py", "rtcp.py", "rtp_stats.py", "rtcp_session.py", "quality.py"]
FORBIDDEN = {"asyncio", "socket", "threading", "time", "selectors", "ssl", "subprocess"}


@pytest.mark.parametrize("name", MODULES)
def test_module_is_sans_io(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "media" / name
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
