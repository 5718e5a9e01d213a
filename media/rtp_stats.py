"""Receiver statistics of an RTP source (RFC 3550 Appendix A.1, A.3, A.8).

`RtpSourceStats` follows the one remote source a stream receives from. Fed each packet with its
arrival time, it

- validates the source (A.1): a new SSRC is on probation until `MIN_SEQUENTIAL` packets arrive in
  sequence; after that a sequence number is accepted if at most `MAX_DROPOUT` ahead of the
  highest seen or `MAX_MISORDER` behind it; a larger jump is refused once, and accepted as a
  restart of the sequence (statistics reset) if the very next packet follows it;
- extends the 16-bit sequence number with a count of cycles;
- counts packets and octets received, and from them expected and lost packets, cumulatively and
  per report interval (A.3);
- estimates the interarrival jitter in RTP timestamp units (A.8, §6.4.1).

A packet from another SSRC starts a candidate source; once the candidate passes probation it
replaces the current one (statistics restart) and `ssrc_changes` counts the switch. Stray packets
of a different SSRC therefore never disturb the statistics of the stream being received.

The module is pure: arrival times are plain floats (seconds) passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from media.ntp import ntp_middle_32
from media.rtcp import CUMULATIVE_LOST_MAX, CUMULATIVE_LOST_MIN, ReportBlock
from media.rtp import RtpPacket, ts_diff

__all__ = [
    "MAX_DROPOUT",
    "MAX_MISORDER",
    "MIN_SEQUENTIAL",
    "IntervalStats",
    "RtpSourceStats",
]

# RFC 3550 Appendix A.1.
MIN_SEQUENTIAL = 2
MAX_DROPOUT = 3000
MAX_MISORDER = 100
RTP_SEQ_MOD = 1 << 16
_DLSR_UNIT = 1 << 16  # DLSR counts 1/65536 s (§6.4.1)


@dataclass(frozen=True, slots=True)
class IntervalStats:
    """Packets expected, received and lost since the previous report (A.3).

    `fraction_lost` is the 8-bit fixed point value a report block carries (lost/expected * 256),
    0 when nothing was lost or duplicates outnumber losses.
    """

    expected: int
    received: int
    lost: int
    fraction_lost: int

    @property
    def loss_fraction(self) -> float:
        return self.fraction_lost / 256


class _SourceState:
    """The per-source record of Appendix A.1 (`source` there), plus jitter (A.8)."""

    def __init__(self, ssrc: int, seq: int) -> None:
        self.ssrc = ssrc
        self.probation = MIN_SEQUENTIAL
        self.resyncs = 0
        self.jitter = 0.0
        self.octets = 0
        self._init_seq(seq)
        self.max_seq = (seq - 1) & 0xFFFF
        self._last: tuple[float, int] | None = None  # arrival (s) and RTP timestamp

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1  # so seq == bad_seq is false
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self.octets = 0

    @property
    def valid(self) -> bool:
        return self.probation == 0

    def update_seq(self, seq: int) -> bool:
        """A.1 `update_seq`: True when the packet counts as received."""
        udelta = (seq - self.max_seq) & 0xFFFF
        if self.probation:
            if seq == (self.max_seq + 1) & 0xFFFF:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    return True
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += RTP_SEQ_MOD  # in order, with permissible gap, wrapped
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            # A very large jump: accept it only if the next packet follows it.
            if seq != self.bad_seq:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
            self._init_seq(seq)
            self.resyncs += 1
            self._last = None
        # else: duplicate or reordered packet, counted as received.
        self.received += 1
        return True

    def update_jitter(self, arrival: float, timestamp: int, clock_rate: int) -> None:
        """A.8: J += (|D| - J) / 16, D the difference of relative transit times."""
        if self._last is not None:
            last_arrival, last_timestamp = self._last
            d = (arrival - last_arrival) * clock_rate - ts_diff(timestamp, last_timestamp)
            self.jitter += (abs(d) - self.jitter) / 16
        self._last = (arrival, timestamp)

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1

    def take_interval(self) -> IntervalStats:
        """A.3: the counts since the previous call, which becomes the new reference."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = min((lost_interval << 8) // expected_interval, 0xFF)
        return IntervalStats(expected_interval, received_interval, lost_interval, fraction)


class RtpSourceStats:
    """Reception statistics of the remote source of one stream (RFC 3550 A.1, A.3, A.8)."""

    def __init__(self, clock_rate: int) -> None:
        if clock_rate <= 0:
            raise ValueError(f"clock rate must be positive, not {clock_rate}")
        self.clock_rate = clock_rate
        self.ssrc_changes = 0
        self.packets_refused = 0
        self._current: _SourceState | None = None
        self._candidate: _SourceState | None = None
        self._last_sr: tuple[int, int, float] | None = None  # ssrc, LSR, arrival
        self._received_since_report = False

    # --- input --------------------------------------------------------------------------------

    def receive(self, packet: RtpPacket, arrival: float) -> bool:
        """Account one packet arriving at `arrival` (seconds); True if it counted as received."""
        state = self._state_for(packet)
        accepted = state.update_seq(packet.sequence_number)
        if not accepted:
            if state.valid and state is self._current:
                self.packets_refused += 1  # a large jump held back (A.1 bad_seq)
            return False
        state.octets += len(packet.payload)
        state.update_jitter(arrival, packet.timestamp, self.clock_rate)
        if state is self._candidate:
            self._current, self._candidate = state, None
            self.ssrc_changes += 1
        self._received_since_report = True
        return True

    def _state_for(self, packet: RtpPacket) -> _SourceState:
        ssrc, seq = packet.ssrc, packet.sequence_number
        current = self._current
        if current is not None and current.ssrc == ssrc:
            return current
        if self._candidate is not None and self._candidate.ssrc == ssrc:
            return self._candidate
        state = _SourceState(ssrc, seq)
        if current is None or not current.valid:
            # Nothing validated yet to protect: follow the newcomer at once.
            if current is not None:
                self.ssrc_changes += 1
            self._current, self._candidate = state, None
        else:
            self._candidate = state
        return state

    def note_sender_report(self, ssrc: int, ntp_timestamp: int, arrival: float) -> None:
        """Remember an SR from `ssrc` for the LSR/DLSR of our next report block (§6.4.1)."""
        self._last_sr = (ssrc, ntp_middle_32(ntp_timestamp), arrival)

    # --- figures ------------------------------------------------------------------------------

    @property
    def ssrc(self) -> int | None:
        return None if self._current is None else self._current.ssrc

    @property
    def valid(self) -> bool:
        """True once the current source has passed probation."""
        return self._current is not None and self._current.valid

    @property
    def received(self) -> int:
        return self._current.received if self.valid and self._current else 0

    @property
    def octets(self) -> int:
        return self._current.octets if self.valid and self._current else 0

    @property
    def extended_max_seq(self) -> int:
        """Extended highest sequence number received: cycles * 65536 + highest."""
        return self._current.extended_max if self.valid and self._current else 0

    @property
    def expected(self) -> int:
        return self._current.expected if self.valid and self._current else 0

    @property
    def lost(self) -> int:
        """Cumulative packets lost (A.3), negative when duplicates outnumber losses."""
        return self.expected - self.received

    @property
    def loss_fraction(self) -> float:
        """Cumulative lost / expected, in [0, 1]."""
        expected = self.expected
        return max(0, self.lost) / expected if expected > 0 else 0.0

    @property
    def resyncs(self) -> int:
        """Times the sequence restarted after a large jump (A.1 `bad_seq`)."""
        return self._current.resyncs if self._current else 0

    @property
    def jitter(self) -> float:
        """Interarrival jitter estimate, RTP timestamp units."""
        return self._current.jitter if self._current else 0.0

    @property
    def jitter_seconds(self) -> float:
        return self.jitter / self.clock_rate

    def take_interval(self) -> IntervalStats:
        """Counts since the previous report; resets the interval (A.3)."""
        self._received_since_report = False
        if not self.valid or self._current is None:
            return IntervalStats(0, 0, 0, 0)
        return self._current.take_interval()

    def report_block(self, now: float) -> ReportBlock | None:
        """The reception report block for the current source, closing the interval.

        None when no valid source has sent since the previous report (§6.4: report on sources
        heard since the last report).
        """
        if not self.valid or self._current is None or not self._received_since_report:
            return None
        state = self._current
        interval = self.take_interval()
        lsr = dlsr = 0
        if self._last_sr is not None and self._last_sr[0] == state.ssrc:
            _, lsr, arrival = self._last_sr
            dlsr = min(max(0, int((now - arrival) * _DLSR_UNIT)), 0xFFFF_FFFF)
        lost = min(max(self.lost, CUMULATIVE_LOST_MIN), CUMULATIVE_LOST_MAX)
        return ReportBlock(
            ssrc=state.ssrc,
            fraction_lost=interval.fraction_lost,
            cumulative_lost=lost,
            highest_sequence=state.extended_max & 0xFFFF_FFFF,
            jitter=min(int(state.jitter), 0xFFFF_FFFF),
            lsr=lsr,
            dlsr=dlsr,
        )
