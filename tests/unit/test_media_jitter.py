"""Jitter buffer under a simulated network: seeded loss, bursts, reordering, duplication and
jitter (uniform, Pareto spikes), in virtual time. Every payload byte encodes its own RTP timestamp,
so a played frame can be checked against the timestamp it claims."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.jitter import JitterBuffer, JitterFrame
from media.rtp import RtpPacket, ts_diff

TICK = 0.02
SSRC = 0x5EED
Jitter = Callable[[random.Random, float], float]  # (rng, send time) -> extra delay, seconds
Sent = list[tuple[float, RtpPacket]]


_PATTERN = bytes(range(256)) * 3


def payload_for(timestamp: int, units: int) -> bytes:
    """Byte i of the media at `timestamp` is (timestamp + i) mod 256."""
    start = timestamp & 0xFF
    return _PATTERN[start : start + units]


def no_jitter(rng: random.Random, sent: float) -> float:
    return 0.0


def uniform(max_ms: float) -> Jitter:
    return lambda rng, sent: rng.uniform(0, max_ms / 1000)


def pareto_spikes(base_ms: float, probability: float, scale_ms: float) -> Jitter:
    """Uniform jitter plus rare heavy-tailed spikes (Pareto, shape 1.5, capped at 1 s)."""

    def draw(rng: random.Random, sent: float) -> float:
        extra = rng.uniform(0, base_ms / 1000)
        if rng.random() < probability:
            extra += min(scale_ms / 1000 * rng.paretovariate(1.5), 1.0)
        return extra

    return draw


def phases(*spans: tuple[float, Jitter]) -> Jitter:
    """Jitter that changes with the send time: (until_seconds, jitter) spans."""

    def draw(rng: random.Random, sent: float) -> float:
        for until, jitter in spans:
            if sent < until:
                return jitter(rng, sent)
        return spans[-1][1](rng, sent)

    return draw


@dataclass(frozen=True)
class Network:
    delay: float = 0.030
    jitter: Jitter = no_jitter
    loss: float = 0.0  # independent loss probability
    burst_enter: float = 0.0  # Gilbert-Elliott: good -> bad; every packet is lost while bad
    burst_exit: float = 0.3  # bad -> good
    reorder: float = 0.0  # probability of an extra delay of one to three packet intervals
    duplicate: float = 0.0


@dataclass
class Delivery:
    arrivals: Sent
    dropped: int


def talkspurt(
    count: int,
    *,
    ptime_ms: int = 20,
    seq: int = 1000,
    ts: int = 5000,
    start: float = 0.0,
    ssrc: int = SSRC,
    marker: bool = True,
) -> Sent:
    units = 8 * ptime_ms
    out = []
    for i in range(count):
        timestamp = (ts + i * units) & 0xFFFFFFFF
        packet = RtpPacket(
            payload_type=0,
            sequence_number=(seq + i) & 0xFFFF,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=payload_for(timestamp, units),
            marker=marker and i == 0,
        )
        out.append((start + i * ptime_ms / 1000, packet))
    return out


def dtx_stream(
    spurts: int, *, talk: int, silence: int, start_seq: int = 1, start: float = 0.0
) -> Sent:
    """Talkspurts of `talk` packets separated by `silence` packet intervals with no packets."""
    out: Sent = []
    for k in range(spurts):
        index = k * (talk + silence)
        out += talkspurt(
            talk,
            seq=start_seq + k * talk,
            ts=5000 + index * 160,
            start=start + index * TICK,
        )
    return out


def transmit(sent: Sent, net: Network, seed: int) -> Delivery:
    """Deliver `sent` through `net`; the first and last packets always arrive (every loss in
    between then shows as a gap in the sequence numbers)."""
    rng = random.Random(seed)
    arrivals: Sent = []
    dropped = 0
    bad = False
    interval = sent[1][0] - sent[0][0] if len(sent) > 1 else TICK
    for index, (when, packet) in enumerate(sent):
        bad = rng.random() >= net.burst_exit if bad else rng.random() < net.burst_enter
        edge = index in (0, len(sent) - 1)
        if not edge and (bad or rng.random() < net.loss):
            dropped += 1
            continue
        delay = net.delay + net.jitter(rng, when)
        if rng.random() < net.reorder:
            delay += interval * rng.randint(1, 3)
        arrivals.append((when + delay, packet))
        if rng.random() < net.duplicate:
            arrivals.append((when + delay + rng.uniform(0, 0.05), packet))
    arrivals.sort(key=lambda item: item[0])
    return Delivery(arrivals, dropped)


@dataclass
class Playout:
    frames: list[tuple[float, JitterFrame | None]]
    targets: list[tuple[float, float]]
    delays: list[tuple[float, float]]

    def media(self) -> list[JitterFrame]:
        return [f for _, f in self.frames if f is not None and f.payload is not None]

    def concealed(self) -> list[JitterFrame]:
        """Concealed frames before the last media frame (the end of a stream is concealed too)."""
        last = max(i for i, (_, f) in enumerate(self.frames) if f is not None and f.payload)
        return [f for _, f in self.frames[:last] if f is not None and f.concealed]

    def target_at(self, when: float) -> float:
        return next(target for t, target in self.targets if t >= when)

    def delay_at(self, when: float) -> float:
        return next(delay for t, delay in self.delays if t >= when)


def play(jb: JitterBuffer, arrivals: Sent, until: float, start: float = 0.0) -> Playout:
    out = Playout([], [], [])
    pending = iter(arrivals)
    upcoming = next(pending, None)
    ticks = round((until - start) / TICK)
    for n in range(ticks):
        now = start + n * TICK
        while upcoming is not None and upcoming[0] <= now:
            jb.push(upcoming[1], upcoming[0])
            upcoming = next(pending, None)
        out.frames.append((now, jb.pop(now)))
        out.targets.append((now, jb.target_delay_ms))
        out.delays.append((now, jb.current_delay_ms))
    return out


def assert_in_order_and_intact(playout: Playout, units: int = 160) -> None:
    previous: int | None = None
    for frame in playout.media():
        assert frame.payload == payload_for(frame.timestamp, units)
        if previous is not None:
            assert ts_diff(frame.timestamp, previous) > 0, "frames out of timestamp order"
        previous = frame.timestamp


def assert_accounting(jb: JitterBuffer, sent: int, dropped: int) -> None:
    s = jb.stats
    assert s.lost == dropped
    assert s.lost == sent - s.played - s.late - s.discarded - s.overflow - s.buffered
    assert s.received == s.played + s.late + s.overflow + s.discarded + s.buffered


# -- a clean network ----------------------------------------------------------------------------


def test_clean_network_plays_every_packet_in_order_at_the_minimum_delay() -> None:
    sent = talkspurt(250)
    jb = JitterBuffer()
    playout = play(jb, transmit(sent, Network(), seed=1).arrivals, until=5.5)
    assert_in_order_and_intact(playout)
    s = jb.stats
    assert (s.played, s.lost, s.late, s.duplicate, s.buffered) == (250, 0, 0, 0, 0)
    assert len(playout.media()) == 250
    assert playout.concealed() == []
    assert s.target_delay_ms == 20
    assert 20 <= playout.delay_at(2.0) < 40


def test_nothing_to_play_before_the_first_packet() -> None:
    jb = JitterBuffer()
    assert jb.pop(0.0) is None
    assert jb.stats.received == 0


# -- loss ---------------------------------------------------------------------------------------

LOSSY = [
    Network(loss=0.05),
    Network(loss=0.02, burst_enter=0.02, burst_exit=0.25),
    Network(loss=0.1, jitter=uniform(30)),
    Network(burst_enter=0.05, burst_exit=0.2, jitter=uniform(10), reorder=0.05),
]


@pytest.mark.parametrize("net", LOSSY)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_loss_accounting_matches_what_the_network_dropped(net: Network, seed: int) -> None:
    sent = talkspurt(500)
    delivery = transmit(sent, net, seed)
    jb = JitterBuffer()
    playout = play(jb, delivery.arrivals, until=11.0)
    assert_in_order_and_intact(playout)
    assert delivery.dropped > 0
    assert_accounting(jb, len(sent), delivery.dropped)


def test_a_lost_packet_leaves_a_concealed_frame_in_its_place() -> None:
    sent = talkspurt(20)
    del sent[7]
    jb = JitterBuffer()
    playout = play(jb, transmit(sent, Network(), 1).arrivals, until=1.0)
    frames = [f for _, f in playout.frames if f is not None][:20]
    timestamps = [f.timestamp for f in frames]
    assert timestamps == [5000 + 160 * i for i in range(20)]
    assert [f.concealed for f in frames] == [i == 7 for i in range(20)]
    assert frames[7].payload is None and frames[7].packet is None
    assert [f.timestamp for f in playout.concealed()] == [5000 + 160 * 7]
    assert jb.stats.lost == 1


def test_a_burst_longer_than_the_concealment_limit_goes_quiet_then_resumes() -> None:
    sent = talkspurt(100)
    del sent[30:60]  # 600 ms outage
    jb = JitterBuffer(max_conceal_ms=100)
    playout = play(jb, transmit(sent, Network(), 1).arrivals, until=2.5)
    assert len(playout.concealed()) == 5
    assert_in_order_and_intact(playout)
    assert len(playout.media()) == 70
    assert_accounting(jb, 100, 30)


def test_a_stream_that_stops_is_concealed_briefly_then_silent() -> None:
    jb = JitterBuffer(max_conceal_ms=60)
    playout = play(jb, transmit(talkspurt(10), Network(), 1).arrivals, until=1.0)
    tail = [f for _, f in playout.frames][-20:]
    assert all(f is None for f in tail)
    assert sum(1 for _, f in playout.frames if f is not None and f.concealed) == 3


# -- late, reordered and duplicated packets -----------------------------------------------------


def test_a_packet_later_than_its_playout_is_dropped_and_counted_late_not_lost() -> None:
    sent = talkspurt(50)
    arrivals = transmit(sent, Network(), 1).arrivals
    when, packet = next(item for item in arrivals if item[1].sequence_number == 1020)
    arrivals.remove((when, packet))
    arrivals.append((when + 0.5, packet))
    arrivals.sort(key=lambda item: item[0])
    jb = JitterBuffer()
    playout = play(jb, arrivals, until=1.5)
    s = jb.stats
    assert (s.late, s.lost, s.played) == (1, 0, 49)
    assert [f.timestamp for f in playout.concealed()] == [5000 + 20 * 160]
    assert_in_order_and_intact(playout)


def test_reordering_within_the_delay_is_repaired() -> None:
    sent = talkspurt(400)
    delivery = transmit(sent, Network(reorder=0.15), seed=7)
    assert [p.sequence_number for _, p in delivery.arrivals] != sorted(
        p.sequence_number for _, p in delivery.arrivals
    )
    jb = JitterBuffer(min_delay_ms=80)
    playout = play(jb, delivery.arrivals, until=9.0)
    assert_in_order_and_intact(playout)
    s = jb.stats
    assert (s.played, s.late, s.lost) == (400, 0, 0)


def test_duplicates_are_dropped_and_counted() -> None:
    sent = talkspurt(300)
    delivery = transmit(sent, Network(duplicate=0.2, jitter=uniform(20)), seed=3)
    duplicates = len(delivery.arrivals) - len(sent)
    assert duplicates > 30
    jb = JitterBuffer()
    playout = play(jb, delivery.arrivals, until=7.0)
    assert_in_order_and_intact(playout)
    assert jb.stats.duplicate == duplicates
    assert jb.stats.received == len(sent)
    timestamps = [f.timestamp for f in playout.media()]
    assert len(timestamps) == len(set(timestamps))


# -- adaptive delay -----------------------------------------------------------------------------


def test_delay_adapts_up_under_jitter_and_back_down_after_calm() -> None:
    calm = uniform(3)
    rough = pareto_spikes(80, probability=0.02, scale_ms=60)
    net = Network(jitter=phases((10.0, calm), (20.0, rough), (60.0, calm)), loss=0.01)
    sent = talkspurt(1750)  # 35 s
    delivery = transmit(sent, net, seed=11)
    jb = JitterBuffer(max_delay_ms=300)
    playout = play(jb, delivery.arrivals, until=36.0)
    assert_in_order_and_intact(playout)
    assert playout.target_at(9.5) == 20
    assert playout.delay_at(9.5) < 40
    assert playout.target_at(16.0) > 70
    assert playout.delay_at(16.0) > 70
    assert playout.target_at(32.0) < 30
    assert playout.delay_at(34.0) < 45
    s = jb.stats
    assert s.inserted_frames > 0 and s.dropped_frames > 0
    assert s.late < 0.05 * len(sent)
    assert_accounting(jb, len(sent), delivery.dropped)


@pytest.mark.parametrize("seed", [1, 2])
def test_pareto_spikes_never_grow_the_delay_or_the_buffer_past_their_bounds(seed: int) -> None:
    net = Network(jitter=pareto_spikes(40, probability=0.05, scale_ms=150), loss=0.02)
    sent = talkspurt(1500)
    delivery = transmit(sent, net, seed)
    jb = JitterBuffer(max_delay_ms=200)
    peak = 0
    pending = iter(delivery.arrivals)
    upcoming = next(pending, None)
    for n in range(1600):
        now = n * TICK
        while upcoming is not None and upcoming[0] <= now:
            jb.push(upcoming[1], upcoming[0])
            upcoming = next(pending, None)
        jb.pop(now)
        peak = max(peak, jb.stats.buffered)
        assert jb.target_delay_ms <= 200
        assert jb.current_delay_ms <= 200 + 2 * 20 + 1
    assert peak <= 68
    assert_accounting(jb, len(sent), delivery.dropped)


def test_lasting_jitter_raises_the_target_in_half_a_second_but_a_lone_spike_not() -> None:
    rough = uniform(80)
    spike: Jitter = lambda rng, sent: 0.4 if 3.0 <= sent < 3.02 else 0.0  # noqa: E731
    net = Network(jitter=phases((5.0, spike), (60.0, rough)))
    sent = talkspurt(300)
    jb = JitterBuffer()
    playout = play(jb, transmit(sent, net, seed=2).arrivals, until=6.5)
    assert max(target for t, target in playout.targets if t < 5.0) < 30
    assert playout.target_at(5.55) > 50


def test_a_marker_moves_the_delay_even_inside_continuous_audio() -> None:
    """Talkspurts back to back (no silence between): only their marker bits let the delay
    grow when inserting is disabled."""
    sent: Sent = []
    for k in range(6):
        sent += talkspurt(50, seq=1000 + 50 * k, ts=5000 + 8000 * k, start=float(k))
    net = Network(jitter=phases((2.0, uniform(2)), (60.0, uniform(90))))
    delivery = transmit(sent, net, seed=4)
    jb = JitterBuffer(insert_interval_ms=1e9, drop_interval_ms=1e9, max_conceal_ms=1e9)
    playout = play(jb, delivery.arrivals, until=6.5)
    assert_in_order_and_intact(playout)
    assert playout.delay_at(1.9) < 40
    assert playout.delay_at(5.9) > 70
    assert jb.stats.inserted_frames == 0
    assert_accounting(jb, len(sent), delivery.dropped)


def test_silence_gaps_are_not_loss_and_talkspurts_start_at_the_target_delay() -> None:
    sent = dtx_stream(10, talk=25, silence=25)
    jb = JitterBuffer(min_delay_ms=60, max_conceal_ms=60)
    playout = play(jb, transmit(sent, Network(), 1).arrivals, until=11.0)
    assert_in_order_and_intact(playout)
    s = jb.stats
    assert (s.played, s.lost, s.late, s.inserted_frames, s.dropped_frames) == (250, 0, 0, 0, 0)
    # An empty buffer may be loss or silence: the end of each talkspurt is concealed briefly.
    ends = {5000 + (k * 50 + 25 + i) * 160 for k in range(9) for i in range(3)}
    assert {f.timestamp for f in playout.concealed()} == ends
    silent_ticks = sum(1 for _, f in playout.frames if f is None)
    assert silent_ticks >= 9 * 22
    assert 60 <= playout.delay_at(5.0) < 80


def test_a_long_silence_is_no_timestamp_jump() -> None:
    first = talkspurt(50)
    second = talkspurt(50, seq=1050, ts=5000 + 160 * 50 + 8000 * 20, start=1.0 + 20.0)
    jb = JitterBuffer()
    playout = play(jb, transmit(first + second, Network(jitter=uniform(10)), 1).arrivals, 22.5)
    assert_in_order_and_intact(playout)
    s = jb.stats
    assert (s.resyncs, s.lost, s.late, s.played) == (0, 0, 0, 100)


def test_a_talkspurt_start_moves_the_delay_without_inserting_or_dropping() -> None:
    calm, rough = uniform(2), uniform(90)
    net = Network(jitter=phases((6.0, calm), (14.0, rough), (60.0, calm)))
    sent = dtx_stream(36, talk=30, silence=20)  # 36 s
    delivery = transmit(sent, net, seed=5)
    jb = JitterBuffer(insert_interval_ms=1e9, drop_interval_ms=1e9)  # only talkspurts adapt
    playout = play(jb, delivery.arrivals, until=37.0)
    assert_in_order_and_intact(playout)
    assert playout.delay_at(5.5) < 40
    assert playout.delay_at(13.5) > 70
    assert playout.delay_at(35.5) < 40
    assert jb.stats.inserted_frames == 0 and jb.stats.dropped_frames == 0
    assert_accounting(jb, len(sent), delivery.dropped)


def test_a_silence_test_restricts_drops_to_silent_frames() -> None:
    # The route gets 120 ms shorter after one second: the delay must come down by dropping.
    sent = talkspurt(300)
    arrivals = [(when + (0.15 if when < 1.0 else 0.03), p) for when, p in sent]
    arrivals.sort(key=lambda item: item[0])

    def silent(payload: bytes) -> bool:
        return payload[0] < 64  # about one frame in four

    jb = JitterBuffer(is_silence=silent)
    playout = play(jb, arrivals, until=8.0)
    s = jb.stats
    assert s.dropped_frames >= 4 and s.late == 0
    assert playout.delay_at(3.0) > 120  # the window still holds the long route's transits
    assert playout.delay_at(7.5) < 40
    kept = {f.timestamp for f in playout.media()}
    skipped = [p for _, p in sent if p.timestamp not in kept]
    assert len(skipped) == s.dropped_frames == s.discarded
    assert all(silent(p.payload) for p in skipped)


# -- mixed packet durations ---------------------------------------------------------------------


@pytest.mark.parametrize("ptime_ms", [10, 30, 40])
def test_packets_of_other_durations_are_cut_into_20_ms_frames(ptime_ms: int) -> None:
    count = 3000 // ptime_ms  # 3 s
    sent = talkspurt(count, ptime_ms=ptime_ms)
    jb = JitterBuffer()
    playout = play(jb, transmit(sent, Network(jitter=uniform(15)), 2).arrivals, until=4.0)
    assert_in_order_and_intact(playout)
    frames = playout.media()
    assert {len(f.payload or b"") for f in frames} == {160}
    assert len(frames) + jb.stats.dropped_frames == 150
    assert jb.stats.played == count and jb.stats.late == 0


def test_a_lost_10_ms_packet_conceals_its_whole_frame_and_is_counted_once() -> None:
    sent = talkspurt(100, ptime_ms=10)
    del sent[41]
    jb = JitterBuffer()
    playout = play(jb, transmit(sent, Network(), 1).arrivals, until=1.5)
    assert_in_order_and_intact(playout)
    assert [f.timestamp for f in playout.concealed()] == [5000 + 20 * 160]
    assert jb.stats.lost == 1


# -- wrap-around and resynchronisation ----------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sequence_and_timestamp_wrap_in_the_middle_of_a_stream(seed: int) -> None:
    sent = talkspurt(400, seq=65500, ts=(1 << 32) - 160 * 150)
    net = Network(loss=0.05, jitter=uniform(40), reorder=0.05, duplicate=0.02)
    delivery = transmit(sent, net, seed)
    jb = JitterBuffer()
    playout = play(jb, delivery.arrivals, until=9.0)
    assert_in_order_and_intact(playout)
    timestamps = [f.timestamp for f in playout.media()]
    assert min(timestamps) < 10_000 < (1 << 32) - 10_000 < max(timestamps)
    assert jb.stats.resyncs == 0
    assert_accounting(jb, len(sent), delivery.dropped)


def test_a_new_ssrc_flushes_and_restarts() -> None:
    first = talkspurt(100)
    second = talkspurt(100, seq=40000, ts=900_000, ssrc=0xBEEF, start=2.0)
    jb = JitterBuffer()
    arrivals = transmit(first + second, Network(jitter=uniform(5)), 1).arrivals
    playout = play(jb, arrivals, until=4.5)
    s = jb.stats
    assert s.resyncs == 1
    played_second = [f for f in playout.media() if f.packet and f.packet.ssrc == 0xBEEF]
    assert len(played_second) == 100
    assert_in_order_and_intact(
        replace(playout, frames=[(t, f) for t, f in playout.frames if t > 2])
    )
    assert s.lost == 0
    assert s.received == s.played + s.late + s.overflow + s.discarded + s.buffered


def test_stray_packets_do_not_resync() -> None:
    sent = talkspurt(100)
    arrivals = transmit(sent, Network(), 1).arrivals
    arrivals.append((1.0001, RtpPacket(0, 7, 123456, 0xBAD, payload_for(0, 160))))
    arrivals.append((1.0002, RtpPacket(0, 8, 123616, 0xF00, payload_for(0, 160))))
    arrivals.sort(key=lambda item: item[0])
    jb = JitterBuffer()
    playout = play(jb, arrivals, until=2.5)
    assert jb.stats.resyncs == 0
    assert jb.stats.played == 100 and jb.stats.discarded == 2
    assert_in_order_and_intact(playout)


def test_a_new_ssrc_resyncs_even_when_the_numbering_runs_on() -> None:
    first = talkspurt(50)
    second = talkspurt(50, seq=1050, ts=5000 + 50 * 160, start=1.0, ssrc=0xC0FFEE, marker=False)
    jb = JitterBuffer()
    playout = play(jb, transmit(first + second, Network(jitter=uniform(5)), 1).arrivals, 2.5)
    s = jb.stats
    assert s.resyncs == 1 and s.lost == 0
    assert s.played + s.discarded == 100 and s.discarded <= 2
    assert_in_order_and_intact(playout)


def test_the_lowest_sequence_number_received_starts_the_count() -> None:
    sent = talkspurt(50)
    arrivals = transmit(sent, Network(), 1).arrivals
    arrivals = [(when + (0.3 if p.sequence_number == 1000 else 0.0), p) for when, p in arrivals]
    arrivals = [item for item in arrivals if item[1].sequence_number != 1001]
    arrivals.sort(key=lambda item: item[0])
    jb = JitterBuffer()
    play(jb, arrivals, until=1.5)
    s = jb.stats
    assert (s.played, s.late, s.lost) == (48, 1, 1)


def test_timestamps_going_back_seconds_resync() -> None:
    first = talkspurt(100, ts=10_000_000)
    second = talkspurt(100, seq=1100, ts=160_000, start=2.0, marker=False)
    jb = JitterBuffer()
    playout = play(jb, transmit(first + second, Network(), 1).arrivals, until=4.5)
    s = jb.stats
    assert s.resyncs == 1 and s.lost == 0
    assert s.played + s.discarded == 200 and s.discarded <= 2
    assert sum(1 for f in playout.media() if f.timestamp < 1_000_000) == 100


def test_timestamps_jumping_forward_seconds_resync() -> None:
    first = talkspurt(100)
    second = talkspurt(100, seq=1100, ts=5000 + 160 * 100 + 8000 * 30, start=2.0, marker=False)
    jb = JitterBuffer()
    playout = play(jb, transmit(first + second, Network(jitter=uniform(10)), 1).arrivals, 4.5)
    s = jb.stats
    assert s.resyncs == 1 and s.lost == 0
    assert s.played + s.discarded == 200 and s.discarded <= 2
    assert sum(1 for f in playout.media() if f.timestamp > 200_000) == 100
    assert playout.delay_at(4.0) < 60


# -- bounds -------------------------------------------------------------------------------------


def test_a_flood_overflows_by_dropping_the_oldest_and_stays_bounded() -> None:
    sent = [(when / 5, packet) for when, packet in talkspurt(500)]  # 10 s of audio in 2 s
    jb = JitterBuffer(max_packets=20)
    peak = 0
    pending = iter(transmit(sent, Network(), 1).arrivals)
    upcoming = next(pending, None)
    frames: list[JitterFrame] = []
    for n in range(700):
        now = n * TICK
        while upcoming is not None and upcoming[0] <= now:
            jb.push(upcoming[1], upcoming[0])
            peak = max(peak, jb.stats.buffered)
            upcoming = next(pending, None)
        frame = jb.pop(now)
        if frame is not None and frame.payload is not None:
            frames.append(frame)
    s = jb.stats
    assert peak <= 20
    assert s.overflow > 300
    assert s.lost == 0
    assert s.received == s.played + s.late + s.overflow + s.discarded + s.buffered
    assert all(f.payload == payload_for(f.timestamp, 160) for f in frames)


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    loss=st.floats(0, 0.3),
    burst=st.floats(0, 0.1),
    reorder=st.floats(0, 0.3),
    duplicate=st.floats(0, 0.2),
    jitter_ms=st.floats(0, 150),
    spikes=st.floats(0, 0.05),
    seq=st.integers(0, 0xFFFF),
    ts=st.integers(0, 0xFFFFFFFF),
    ptime_ms=st.sampled_from([10, 20, 30]),
)
def test_any_network_plays_in_order_intact_and_accounts_for_every_packet(
    seed: int,
    loss: float,
    burst: float,
    reorder: float,
    duplicate: float,
    jitter_ms: float,
    spikes: float,
    seq: int,
    ts: int,
    ptime_ms: int,
) -> None:
    net = Network(
        loss=loss,
        burst_enter=burst,
        reorder=reorder,
        duplicate=duplicate,
        jitter=pareto_spikes(jitter_ms, spikes, 100),
    )
    sent = talkspurt(3000 // ptime_ms, ptime_ms=ptime_ms, seq=seq, ts=ts)
    delivery = transmit(sent, net, seed)
    jb = JitterBuffer()
    playout = play(jb, delivery.arrivals, until=5.0)
    assert_in_order_and_intact(playout)
    s = jb.stats
    assert s.resyncs == 0
    assert (
        s.received
        == s.played + s.late + s.overflow + s.discarded + s.buffered
        == len(sent) - (delivery.dropped)
    )
    assert s.lost == delivery.dropped
    assert 20 <= s.target_delay_ms <= 200
