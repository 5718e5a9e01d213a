"""The RTCP side of one RTP stream, sans-I/O (RFC 3550 §6).

`RtcpSession` is told about every RTP packet sent and received and every RTCP datagram that
arrives, with the current time; it says when the next report is due and builds it:

    session = RtcpSession(ssrc, clock_rate=8000, cname="callcenter@host")
    session.on_rtp_sent(packet, now)          # counts for our SR
    session.on_rtp_received(packet, now)      # reception statistics (RtpSourceStats)
    session.receive_rtcp(datagram, now)       # remote SR (for LSR), remote reports, SDES, BYE
    for datagram in session.handle_timer(now):
        send(datagram)                        # SR or RR, plus SDES CNAME
    deadline = session.get_timer()            # arm one timer at this time

Reports go out at a randomised interval (§6.3, simplified): the 5 s minimum of §6.2 times a
uniform factor in [0.5, 1.5], the first one after half of that. At telephone bit rates the
bandwidth-derived interval (5 % of the session bandwidth shared by two members) is far below the
minimum, so the minimum always wins; timer reconsideration (§6.3.6) only matters for large groups
and is not done. The random source is injectable for tests.

A report is an SR when we sent RTP since the previous report, else an RR; it carries a report
block on the remote source when that source sent since the previous report, and always an SDES
CNAME (§6.1). The round-trip time comes from the far end's report blocks on our SSRC (§6.4.1).

NTP timestamps are `now + wallclock_offset`: the I/O shell passes `wallclock_offset` as Unix
time minus its clock so that SRs carry wallclock time; round-trip times only need one clock.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass

from media.ntp import ntp_from_unix, ntp_middle_32, round_trip_time
from media.quality import codec_impairment, quality_from_network
from media.rtcp import (
    ReportBlock,
    RtcpBye,
    RtcpError,
    RtcpPacket,
    RtcpReceiverReport,
    RtcpSenderReport,
    RtcpSourceDescription,
    SenderInfo,
    parse_compound,
    parse_packets,
    serialize_compound,
)
from media.rtp import RtpPacket
from media.rtp_stats import RtpSourceStats

__all__ = [
    "RTCP_MIN_INTERVAL",
    "RemoteReport",
    "RtcpSession",
    "StreamQuality",
]

# §6.2: recommended minimum report interval, seconds; the first report may go after half.
RTCP_MIN_INTERVAL = 5.0
# §6.3.1: the interval is multiplied by a random factor in [0.5, 1.5].
_RANDOM_LOW = 0.5
_MAX_CNAME = 255
_U32 = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class RemoteReport:
    """What the far end last reported about the stream we send (a report block on our SSRC)."""

    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int  # RTP timestamp units
    received_at: float

    @property
    def loss_fraction(self) -> float:
        return self.fraction_lost / 256


@dataclass(frozen=True, slots=True)
class StreamQuality:
    """A snapshot of one stream: what we sent, what we received, and the quality estimate.

    Loss and jitter without a prefix are measured here on the stream we receive; `remote_*` are
    what the far end reported on the stream we send (None until a report arrives). `r_factor`
    and `mos` rate the stream we receive (`media.quality`), with `one_way_delay_ms` the
    mouth-to-ear delay assumed: half the round trip (0 while unknown), the jitter buffer and one
    packet of audio.
    """

    packets_sent: int
    octets_sent: int
    packets_received: int
    octets_received: int
    packets_lost: int
    loss_fraction: float
    jitter_ms: float
    rtt_ms: float | None
    remote_packets_lost: int | None
    remote_loss_fraction: float | None
    remote_jitter_ms: float | None
    ssrc_changes: int
    one_way_delay_ms: float
    r_factor: float
    mos: float


class RtcpSession:
    """RTCP for one stream: our SSRC sending, one remote source received."""

    def __init__(
        self,
        ssrc: int,
        clock_rate: int,
        cname: str,
        *,
        codec: str = "PCMU",
        ptime_ms: float = 20.0,
        plc: bool = True,
        min_interval: float = RTCP_MIN_INTERVAL,
        wallclock_offset: float = 0.0,
        reduced_size: bool = False,
        random: Callable[[], float] | None = None,
    ) -> None:
        if not 0 <= ssrc <= _U32:
            raise ValueError(f"SSRC {ssrc} does not fit 32 bits")
        if not 0 < len(cname.encode()) <= _MAX_CNAME:
            raise ValueError("a CNAME is 1 to 255 bytes of UTF-8")
        if min_interval <= 0:
            raise ValueError(f"report interval must be positive, not {min_interval}")
        codec_impairment(codec)  # unknown codecs fail here, not at the first summary
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.cname = cname
        self.codec = codec
        self.ptime_ms = ptime_ms
        self.plc = plc
        self.min_interval = min_interval
        self.wallclock_offset = wallclock_offset
        self.reduced_size = reduced_size
        self._random = random if random is not None else _random.Random().random
        self.remote = RtpSourceStats(clock_rate)
        self.packets_sent = 0
        self.octets_sent = 0
        self.reports_sent = 0
        self.rtcp_received = 0
        self.rtcp_errors = 0
        self.rtt: float | None = None  # seconds, latest measurement
        self.remote_report: RemoteReport | None = None
        self.remote_cname: str | None = None
        self.remote_bye = False
        self.remote_bye_reason: str | None = None
        self._last_sent: tuple[float, int] | None = None  # time and RTP timestamp
        self._sent_since_report = False
        self._deadline: float | None = None
        self._closed = False

    # --- time -----------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Arm the first report (also done by the first event that carries `now`)."""
        if self._deadline is None and not self._closed:
            self._deadline = now + self._interval(initial=True)

    def _interval(self, *, initial: bool = False) -> float:
        base = self.min_interval / 2 if initial else self.min_interval
        return base * (_RANDOM_LOW + self._random())

    def _ntp(self, now: float) -> int:
        return ntp_from_unix(now + self.wallclock_offset)

    def get_timer(self) -> float | None:
        """When the next report is due; None before `start` and after `build_bye`."""
        return None if self._closed else self._deadline

    def report_due(self, now: float) -> bool:
        """True when a report should go out now (arms the first one if not yet armed)."""
        self.start(now)
        return self._deadline is not None and not self._closed and now >= self._deadline

    def handle_timer(self, now: float) -> list[bytes]:
        """The report to send if one is due (and the next one scheduled), else nothing."""
        return [self.build_report(now)] if self.report_due(now) else []

    # --- RTP ------------------------------------------------------------------------------

    def on_rtp_sent(self, packet: RtpPacket, now: float) -> None:
        self.note_sent(packet.timestamp, len(packet.payload), now)

    def note_sent(self, rtp_timestamp: int, payload_octets: int, now: float) -> None:
        """`on_rtp_sent` for a sender that builds packets as bytes, not `RtpPacket`s."""
        self.start(now)
        self.packets_sent += 1
        self.octets_sent += payload_octets
        self._last_sent = (now, rtp_timestamp)
        self._sent_since_report = True

    def on_rtp_received(self, packet: RtpPacket, now: float) -> bool:
        """Account a received packet; True if it counted (see `RtpSourceStats.receive`)."""
        self.start(now)
        return self.remote.receive(packet, now)

    # --- RTCP in --------------------------------------------------------------------------

    def receive_rtcp(self, data: bytes, now: float) -> list[RtcpPacket]:
        """Take in one RTCP datagram; the packets it held, or [] if it was malformed."""
        self.start(now)
        try:
            packets = parse_packets(data) if self.reduced_size else parse_compound(data)
        except RtcpError:
            self.rtcp_errors += 1
            return []
        self.rtcp_received += 1
        for packet in packets:
            self._take(packet, now)
        return packets

    def _take(self, packet: RtcpPacket, now: float) -> None:
        if isinstance(packet, RtcpSenderReport):
            if packet.ssrc != self.ssrc:
                self.remote.note_sender_report(packet.ssrc, packet.sender_info.ntp_timestamp, now)
            self._take_blocks(packet.reports, now)
        elif isinstance(packet, RtcpReceiverReport):
            self._take_blocks(packet.reports, now)
        elif isinstance(packet, RtcpSourceDescription):
            for chunk in packet.chunks:
                if chunk.ssrc != self.ssrc and chunk.cname is not None:
                    self.remote_cname = chunk.cname
        elif isinstance(packet, RtcpBye) and self.remote.ssrc in packet.sources:
            self.remote_bye = True
            self.remote_bye_reason = packet.reason

    def _take_blocks(self, blocks: tuple[ReportBlock, ...], now: float) -> None:
        for block in blocks:
            if block.ssrc != self.ssrc:
                continue
            self.remote_report = RemoteReport(
                block.fraction_lost,
                block.cumulative_lost,
                block.highest_sequence,
                block.jitter,
                now,
            )
            arrival = ntp_middle_32(self._ntp(now))
            rtt = round_trip_time(arrival, block.lsr, block.dlsr)
            if rtt is not None:
                self.rtt = rtt

    # --- RTCP out -------------------------------------------------------------------------

    def _head(self, now: float) -> RtcpSenderReport | RtcpReceiverReport:
        block = self.remote.report_block(now)
        blocks = (block,) if block is not None else ()
        if not self._sent_since_report or self._last_sent is None:
            return RtcpReceiverReport(self.ssrc, blocks)
        sent_at, timestamp = self._last_sent
        rtp_now = (timestamp + round((now - sent_at) * self.clock_rate)) & _U32
        info = SenderInfo(
            self._ntp(now), rtp_now, self.packets_sent & _U32, self.octets_sent & _U32
        )
        return RtcpSenderReport(self.ssrc, info, blocks)

    def build_report(self, now: float) -> bytes:
        """A compound report (SR or RR, then SDES CNAME); schedules the next one."""
        head = self._head(now)
        self._sent_since_report = False
        self.reports_sent += 1
        if not self._closed:
            self._deadline = now + self._interval()
        return serialize_compound([head, RtcpSourceDescription.with_cname(self.ssrc, self.cname)])

    def build_bye(self, reason: str | None = None, now: float | None = None) -> bytes:
        """A compound BYE (§6.6) ending the session's reports.

        With `now` it opens with a full final report, else with an empty RR (§6.1: a compound
        packet starts with a report even when nothing is reported).
        """
        head = self._head(now) if now is not None else RtcpReceiverReport(self.ssrc)
        self._closed = True
        self._deadline = None
        sdes = RtcpSourceDescription.with_cname(self.ssrc, self.cname)
        return serialize_compound([head, sdes, RtcpBye((self.ssrc,), reason)])

    # --- summary --------------------------------------------------------------------------

    def summary(self, *, jitter_buffer_ms: float | None = None) -> StreamQuality:
        """Counts, loss, jitter, RTT and the E-model estimate of the stream received.

        `jitter_buffer_ms` is the playout delay of the jitter buffer when the caller knows it;
        otherwise twice the measured jitter is assumed.
        """
        remote = self.remote
        jitter_ms = remote.jitter_seconds * 1000
        rtt_ms = None if self.rtt is None else self.rtt * 1000
        delay, r, mos = quality_from_network(
            rtt_ms,
            jitter_ms,
            remote.loss_fraction,
            self.codec,
            jitter_buffer_ms=jitter_buffer_ms,
            ptime_ms=self.ptime_ms,
            plc=self.plc,
        )
        report = self.remote_report
        return StreamQuality(
            packets_sent=self.packets_sent,
            octets_sent=self.octets_sent,
            packets_received=remote.received,
            octets_received=remote.octets,
            packets_lost=remote.lost,
            loss_fraction=remote.loss_fraction,
            jitter_ms=jitter_ms,
            rtt_ms=rtt_ms,
            remote_packets_lost=None if report is None else report.cumulative_lost,
            remote_loss_fraction=None if report is None else report.loss_fraction,
            remote_jitter_ms=None if report is None else report.jitter / self.clock_rate * 1000,
            ssrc_changes=remote.ssrc_changes,
            one_way_delay_ms=delay,
            r_factor=r,
            mos=mos,
        )
