"""Receiver statistics (RFC 3550 A.1 validation, A.3 loss, A.8 jitter) on virtual time."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtcp import ntp_from_unix, ntp_middle_32
from media.rtp import RtpPacket, seq_add, ts_add
from media.rtp_stats import MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL, RtpSourceStats

SSRC = 0x1234_5678
RATE = 8000
STEP = 160  # 20 ms at 8 kHz


def packet(seq: int, ts: int | None = None, ssrc: int = SSRC, size: int = 160) -> RtpPacket:
    seq &= 0xFFFF
    return RtpPacket(0, seq, (seq * STEP if ts is None else ts) & 0xFFFF_FFFF, ssrc, bytes(size))


def feed(stats: RtpSourceStats, seqs: Iterable[int], start: float = 0.0) -> list[bool]:
    """Packets with the given sequence numbers, each arriving on its 20 ms slot."""
    return [stats.receive(packet(s), start + (s & 0xFFFF) * 0.02) for s in seqs]


# --- A.1 source validation ------------------------------------------------------------------


def test_source_is_valid_after_min_sequential_packets() -> None:
    stats = RtpSourceStats(RATE)
    assert MIN_SEQUENTIAL == 2
    assert feed(stats, [100]) == [False]
    assert not stats.valid
    assert stats.received == 0
    assert feed(stats, [101]) == [True]
    assert stats.valid
    assert (stats.received, stats.expected, stats.lost) == (1, 1, 0)
    assert stats.ssrc == SSRC


def test_probation_restarts_on_a_gap() -> None:
    stats = RtpSourceStats(RATE)
    assert feed(stats, [10, 12, 20, 21, 22]) == [False, False, False, True, True]
    assert (stats.received, stats.expected) == (2, 2)


def test_probation_accepts_the_wrap_from_65535_to_0() -> None:
    stats = RtpSourceStats(RATE)
    assert feed(stats, [65535, 65536]) == [False, True]
    assert stats.extended_max_seq == 0


def test_in_order_stream_counts_octets_and_no_loss() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, range(1000, 1100))
    assert stats.received == 99
    assert stats.octets == 99 * 160
    assert stats.lost == 0
    assert stats.extended_max_seq == 1099


def test_losses_are_counted() -> None:
    stats = RtpSourceStats(RATE)
    seqs = [s for s in range(0, 100) if s % 10 != 5]  # every tenth packet lost
    feed(stats, seqs)
    assert stats.expected == 99
    assert stats.lost == 10
    assert stats.loss_fraction == pytest.approx(10 / 99)


def test_sequence_wrap_adds_a_cycle() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, range(65500, 65600))
    assert stats.extended_max_seq == 65599  # one cycle (65536) + 63
    assert stats.expected == 99
    assert stats.lost == 0


def test_reordered_and_duplicate_packets_count_as_received() -> None:
    stats = RtpSourceStats(RATE)
    assert all(feed(stats, [1, 2, 3, 5, 4, 6, 6])[1:])  # 1 is the probation packet
    assert stats.extended_max_seq == 6
    assert stats.received == 6  # 2, 3, 5, 4, 6, 6
    assert stats.expected == 5
    assert stats.lost == -1  # the duplicate outweighs nothing lost
    assert stats.loss_fraction == 0.0


def test_late_packet_beyond_misorder_is_a_jump_not_a_cycle() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, range(0, 300))
    late = 299 - MAX_MISORDER - 1
    assert not stats.receive(packet(late), 10.0)
    assert stats.extended_max_seq == 299
    assert stats.packets_refused == 1


def test_small_gap_within_dropout_is_loss() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, [0, 1, 2])
    assert stats.receive(packet(2 + MAX_DROPOUT - 1), 1.0)
    assert stats.lost == MAX_DROPOUT - 2


def test_large_jump_is_refused_once_then_resyncs() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, range(0, 50))
    jump = 50 + MAX_DROPOUT + 10
    assert not stats.receive(packet(jump), 2.0)
    assert stats.received == 49
    assert stats.receive(packet(jump + 1), 2.02)  # the next one confirms the new sequence
    assert stats.resyncs == 1
    assert (stats.received, stats.expected, stats.lost) == (1, 1, 0)
    assert stats.receive(packet(jump + 2), 2.04)
    assert stats.extended_max_seq == jump + 2


def test_a_stray_jump_does_not_resync() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, range(0, 50))
    assert not stats.receive(packet(40000), 2.0)
    assert stats.receive(packet(50), 2.0)
    assert stats.resyncs == 0
    assert stats.extended_max_seq == 50


# --- SSRC changes ---------------------------------------------------------------------------


def test_new_ssrc_replaces_the_source_once_it_is_valid() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, range(0, 20))
    other = 0xCAFE
    assert not stats.receive(packet(9000, ssrc=other), 1.0)
    assert stats.ssrc == SSRC  # one stray packet does not take over
    assert stats.receive(packet(20), 1.0)
    assert stats.receive(packet(9001, ssrc=other), 1.02)
    assert stats.ssrc == other
    assert stats.ssrc_changes == 1
    assert (stats.received, stats.expected) == (1, 1)
    assert not stats.receive(packet(21), 1.04)  # the old source is now the stray one
    assert stats.ssrc == other


def test_ssrc_change_before_validation_follows_the_newcomer() -> None:
    stats = RtpSourceStats(RATE)
    stats.receive(packet(5), 0.0)
    stats.receive(packet(500, ssrc=7), 0.02)
    assert stats.ssrc == 7
    assert stats.ssrc_changes == 1
    assert stats.receive(packet(501, ssrc=7), 0.04)


# --- A.3 interval statistics and report blocks ----------------------------------------------


def test_interval_fraction_lost() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, range(0, 101))  # 100 counted, none lost
    first = stats.take_interval()
    assert (first.expected, first.received, first.lost, first.fraction_lost) == (100, 100, 0, 0)
    feed(stats, [s for s in range(101, 201) if s % 4 != 1])  # a quarter lost
    second = stats.take_interval()
    assert (second.expected, second.lost) == (100, 25)
    assert second.fraction_lost == 64  # 25/100 * 256
    assert second.loss_fraction == 0.25
    empty = stats.take_interval()
    assert (empty.expected, empty.fraction_lost) == (0, 0)


def test_interval_with_duplicates_reports_zero_fraction() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, [0, 1, 2, 3])
    stats.take_interval()
    feed(stats, [4, 4, 5])
    interval = stats.take_interval()
    assert interval.lost == -1
    assert interval.fraction_lost == 0


def test_report_block_fields() -> None:
    stats = RtpSourceStats(RATE)
    assert stats.report_block(0.0) is None
    ntp = ntp_from_unix(1_700_000_000.5)
    stats.note_sender_report(SSRC, ntp, arrival=1.0)
    feed(stats, [s for s in range(0, 51) if s != 30])
    block = stats.report_block(now=1.25)
    assert block is not None
    assert block.ssrc == SSRC
    assert block.highest_sequence == 50
    assert block.cumulative_lost == 1
    assert block.fraction_lost == 1 * 256 // 50
    assert block.lsr == ntp_middle_32(ntp)
    assert block.dlsr == int(0.25 * 65536)
    assert block.jitter == 0  # packets arrived exactly on their slots
    assert stats.report_block(1.3) is None  # nothing heard since


def test_report_block_ignores_sender_reports_of_other_sources() -> None:
    stats = RtpSourceStats(RATE)
    stats.note_sender_report(0xBEEF, ntp_from_unix(5.0), 0.0)
    feed(stats, range(0, 5))
    block = stats.report_block(1.0)
    assert block is not None
    assert (block.lsr, block.dlsr) == (0, 0)


def test_cumulative_lost_is_clamped_to_24_bits() -> None:
    stats = RtpSourceStats(RATE)
    feed(stats, [0, 1])
    seq, now = 1, 0.0
    for _ in range(3000):  # ~8.4 million lost in steps just under MAX_DROPOUT
        seq += MAX_DROPOUT - 1
        now += 0.02
        stats.receive(packet(seq), now)
    assert stats.lost > 0x7FFFFF
    block = stats.report_block(now)
    assert block is not None
    assert block.cumulative_lost == 0x7FFFFF


# --- A.8 jitter -----------------------------------------------------------------------------


def test_constant_delay_gives_no_jitter() -> None:
    stats = RtpSourceStats(RATE)
    for i in range(200):
        stats.receive(packet(i), 0.5 + 0.02 * i)  # 500 ms late, but always by the same amount
    assert stats.jitter == pytest.approx(0.0, abs=1e-6)


def test_alternating_delay_converges_to_the_difference() -> None:
    stats = RtpSourceStats(RATE)
    for i in range(100):
        stats.receive(packet(i), 0.02 * i + (0.010 if i % 2 else 0.0))
    # 99 packets counted, 98 differences of |D| = 10 ms = 80 units: J = 80 (1 - (15/16)^98)
    assert stats.jitter == pytest.approx(80 * (1 - (15 / 16) ** 98))
    assert stats.jitter_seconds == pytest.approx(0.010, rel=0.01)


def test_jitter_across_the_timestamp_wrap() -> None:
    stats = RtpSourceStats(RATE)
    base = 0xFFFF_FFFF - 5 * STEP
    for i in range(20):
        stats.receive(packet(i, ts=ts_add(base, i * STEP)), 0.02 * i)
    assert stats.jitter == pytest.approx(0.0, abs=1e-6)


@given(
    st.integers(0, 0xFFFF),
    st.lists(st.integers(0, 4), min_size=3, max_size=80),
)
def test_expected_minus_received_matches_the_gaps(start: int, gaps: list[int]) -> None:
    stats = RtpSourceStats(RATE)
    seq = start
    stats.receive(packet(seq), 0.0)
    seq = seq_add(seq, 1)
    stats.receive(packet(seq), 0.02)
    for gap in gaps:
        seq = seq_add(seq, gap + 1)
        assert stats.receive(packet(seq), 1.0)
    assert stats.lost == sum(gaps)
    assert stats.received == len(gaps) + 1
    # Cycles count from the packet that validated the source.
    assert stats.extended_max_seq == seq_add(start, 1) + sum(gaps) + len(gaps)


def test_clock_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RtpSourceStats(0)
