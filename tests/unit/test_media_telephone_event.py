"""RFC 4733 telephone-events: payload, sender, receiver, and the two across a lossy network."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.rtp import RtpPacket
from media.telephone_event import (
    DTMF_EVENTS,
    MAX_DURATION,
    DtmfDigit,
    DtmfReport,
    TelephoneEvent,
    TelephoneEventError,
    TelephoneEventPayload,
    TelephoneEventReceiver,
    TelephoneEventSender,
    digit_to_event,
    event_to_digit,
)

PT = 101
SSRC = 0x7E1E
TICK = 0.02


# -- payload (§2.3) -----------------------------------------------------------------------------

# Vectors assembled by hand from the §2.3 layout: event | E R volume(6) | duration(16).
GOLDEN = [
    (TelephoneEvent(9, end=False, volume=7, duration=400), "09 07 01 90"),
    (TelephoneEvent(9, end=True, volume=7, duration=1600), "09 87 06 40"),
    (TelephoneEvent(11, end=True, volume=10, duration=800), "0b 8a 03 20"),
    (TelephoneEvent(0, end=False, volume=0, duration=0), "00 00 00 00"),
    (TelephoneEvent(255, end=True, volume=63, duration=MAX_DURATION), "ff bf ff ff"),
]


@pytest.mark.parametrize(("event", "wire"), GOLDEN)
def test_golden_payloads_round_trip(event: TelephoneEvent, wire: str) -> None:
    data = bytes.fromhex(wire)
    assert event.serialize() == bytes(event) == data
    assert TelephoneEvent.parse(data) == event


def test_the_reserved_bit_is_ignored_on_receipt_and_sent_as_zero() -> None:
    event = TelephoneEvent.parse(bytes.fromhex("05 4a 00 a0"))
    assert event == TelephoneEvent(5, end=False, volume=10, duration=160)
    assert event.serialize() == bytes.fromhex("05 0a 00 a0")


def test_only_the_first_event_block_is_read() -> None:
    assert TelephoneEvent.parse(bytes.fromhex("01 0a 00 a0 02 8a 01 40")).event == 1


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x01\x0a\x00"])
def test_short_payloads_are_rejected(data: bytes) -> None:
    with pytest.raises(TelephoneEventError):
        TelephoneEvent.parse(data)


@pytest.mark.parametrize(
    "fields", [(256, False, 0, 0), (-1, False, 0, 0), (1, False, 64, 0), (1, False, 0, 65536)]
)
def test_out_of_range_fields_are_rejected(fields: tuple[int, bool, int, int]) -> None:
    with pytest.raises(TelephoneEventError):
        TelephoneEvent(*fields)


@given(
    event=st.integers(0, 255),
    end=st.booleans(),
    volume=st.integers(0, 63),
    duration=st.integers(0, MAX_DURATION),
)
def test_parse_inverts_serialize(event: int, end: bool, volume: int, duration: int) -> None:
    block = TelephoneEvent(event, end, volume, duration)
    assert TelephoneEvent.parse(block.serialize()) == block


@given(st.binary(min_size=4, max_size=4))
def test_serialize_inverts_parse_but_for_the_reserved_bit(data: bytes) -> None:
    expected = bytes([data[0], data[1] & 0xBF]) + data[2:]
    assert TelephoneEvent.parse(data).serialize() == expected


def test_reprs_keep_key_presses_out_of_logs() -> None:
    block = TelephoneEvent(7, end=True, volume=10, duration=800)
    digit = DtmfDigit("7", 7, timestamp=1234, duration=800, volume=10, ended=True)
    for text in (repr(block), repr(digit), str(digit), f"{[digit]}"):
        assert "7" not in text.replace("1234", "")
    assert "duration=800" in repr(block) and "timestamp=1234" in repr(digit)


def test_digits_map_to_event_codes_both_ways() -> None:
    assert [digit_to_event(d) for d in DTMF_EVENTS] == list(range(16))
    assert [event_to_digit(e) for e in range(16)] == list(DTMF_EVENTS)
    assert digit_to_event("*") == 10 and digit_to_event("#") == 11
    assert digit_to_event("a") == 12 and digit_to_event("D") == 15


@pytest.mark.parametrize("bad", ["", "E", "12", " ", "+"])
def test_unknown_digits_are_rejected(bad: str) -> None:
    with pytest.raises(TelephoneEventError):
        digit_to_event(bad)


@pytest.mark.parametrize("bad", [-1, 16, 255])
def test_unknown_event_codes_have_no_digit(bad: int) -> None:
    with pytest.raises(TelephoneEventError):
        event_to_digit(bad)


# -- sender -------------------------------------------------------------------------------------


def run_sender(sender: TelephoneEventSender, ticks: int) -> list[list[TelephoneEventPayload]]:
    return [sender.next_payloads() for _ in range(ticks)]


def blocks(ticks: list[list[TelephoneEventPayload]]) -> list[list[tuple[bytes, bool, int]]]:
    return [[(p.payload, p.marker, p.timestamp) for p in tick] for tick in ticks]


def test_a_100_ms_digit_is_five_growing_updates_and_three_end_packets() -> None:
    sender = TelephoneEventSender(PT)
    sender.start("9", 100, timestamp=1000, volume=7)
    ticks = run_sender(sender, 9)
    hx = bytes.fromhex
    assert blocks(ticks) == [
        [(hx("09 07 00 a0"), True, 1000)],
        [(hx("09 07 01 40"), False, 1000)],
        [(hx("09 07 01 e0"), False, 1000)],
        [(hx("09 07 02 80"), False, 1000)],
        [(hx("09 87 03 20"), False, 1000)],
        [(hx("09 87 03 20"), False, 1000)],
        [(hx("09 87 03 20"), False, 1000)],
        [],
        [],
    ]
    assert sender.idle


def test_durations_round_up_to_whole_packets() -> None:
    sender = TelephoneEventSender(PT)
    sender.start("1", 30, timestamp=0)
    durations = [TelephoneEvent.parse(p.payload).duration for t in run_sender(sender, 4) for p in t]
    assert durations == [160, 320, 320, 320]
    sender.start("1", 0, timestamp=0)
    ends = [TelephoneEvent.parse(p.payload) for t in run_sender(sender, 3) for p in t]
    assert [(e.duration, e.end) for e in ends] == [(160, True)] * 3


def test_an_open_event_lasts_until_stop() -> None:
    sender = TelephoneEventSender(PT, ptime_ms=30)
    sender.start("#", None, timestamp=77)
    assert sender.busy
    first = run_sender(sender, 10)
    assert all(not TelephoneEvent.parse(t[0].payload).end for t in first)
    sender.stop()
    rest = [TelephoneEvent.parse(p.payload) for t in run_sender(sender, 4) for p in t]
    assert [(e.duration, e.end) for e in rest] == [(11 * 240, True)] * 3
    assert not sender.busy and sender.idle


def test_a_new_event_may_start_while_the_last_end_is_repeated() -> None:
    sender = TelephoneEventSender(PT)
    sender.start("1", 20, timestamp=0)
    with pytest.raises(TelephoneEventError):
        sender.start("2", 20, timestamp=160)
    assert len(sender.next_payloads()) == 1
    assert not sender.busy and not sender.idle
    sender.start("2", 40, timestamp=160)
    tick = sender.next_payloads()
    assert [(TelephoneEvent.parse(p.payload).event, p.marker, p.timestamp) for p in tick] == [
        (1, False, 0),
        (2, True, 160),
    ]


def test_invalid_starts_are_rejected() -> None:
    sender = TelephoneEventSender(PT)
    with pytest.raises(TelephoneEventError):
        sender.start("X", 100, timestamp=0)
    with pytest.raises(TelephoneEventError):
        sender.start("1", 100, timestamp=0, volume=64)
    with pytest.raises(TelephoneEventError):
        TelephoneEventSender(PT, ptime_ms=0)


def test_a_long_event_is_cut_into_segments() -> None:
    """§2.5.1.3: 10 s at 8000 Hz is 80000 units, more than the 16-bit duration holds."""
    start = 0xFFFFFFFF - 1000  # the second segment's timestamp wraps too
    sender = TelephoneEventSender(PT)
    sender.start("5", 10_000, timestamp=start)
    packets = [p for tick in run_sender(sender, 510) for p in tick]
    events = [TelephoneEvent.parse(p.payload) for p in packets]
    segment = (MAX_DURATION // 160) * 160  # 65440: whole packets
    second = (start + segment) & 0xFFFFFFFF
    assert {p.timestamp for p in packets} == {start, second}
    assert [p.marker for p in packets].count(True) == 1 and packets[0].marker
    first_part = [e for p, e in zip(packets, events, strict=True) if p.timestamp == start]
    assert [e.duration for e in first_part[-3:]] == [segment] * 3
    assert not any(e.end for e in first_part)
    last_part = [e for p, e in zip(packets, events, strict=True) if p.timestamp == second]
    assert last_part[0].duration == 160
    assert [(e.duration, e.end) for e in last_part[-3:]] == [(80_000 - segment, True)] * 3
    assert len(packets) == 500 + 2 + 2
    assert all(e.duration <= MAX_DURATION for e in events)


def test_to_packets_numbers_from_the_callers_sequence() -> None:
    sender = TelephoneEventSender(PT)
    sender.start("3", 20, timestamp=480)
    sender.next_payloads()
    repeats = sender.next_payloads() + sender.next_payloads()
    packets = sender.to_packets(repeats, sequence_number=0xFFFF, ssrc=SSRC)
    assert [p.sequence_number for p in packets] == [0xFFFF, 0]
    assert all(p.payload_type == PT and p.ssrc == SSRC and p.timestamp == 480 for p in packets)
    assert RtpPacket.parse(packets[0].serialize()) == packets[0]


# -- receiver -----------------------------------------------------------------------------------


def packet(
    event: int,
    ts: int,
    duration: int,
    *,
    end: bool = False,
    seq: int = 0,
    marker: bool = False,
    ssrc: int = SSRC,
    volume: int = 10,
) -> RtpPacket:
    payload = TelephoneEvent(event, end, volume, duration).serialize()
    return RtpPacket(PT, seq, ts, ssrc, payload, marker=marker)


def key_press(event: int, ts: int, updates: int, *, step: int = 160) -> list[RtpPacket]:
    """The packets of one press: `updates` growing updates then three end packets."""
    out = [packet(event, ts, step * (i + 1), marker=i == 0) for i in range(updates - 1)]
    return out + [packet(event, ts, step * updates, end=True)] * 3


def feed(
    receiver: TelephoneEventReceiver, packets: list[RtpPacket], start: float = 0.0
) -> list[DtmfDigit]:
    out: list[DtmfDigit] = []
    for i, p in enumerate(packets):
        out += receiver.receive(p, start + i * TICK)
    return out


def test_a_key_press_is_reported_once_at_its_first_packet() -> None:
    receiver = TelephoneEventReceiver()
    press = key_press(7, ts=8000, updates=5)
    assert receiver.receive(press[0], 0.0) == [
        DtmfDigit("7", 7, 8000, duration=160, volume=10, ended=False)
    ]
    assert feed(receiver, press[1:], start=0.02) == []
    assert receiver.active is None


def test_end_mode_reports_at_the_end_with_the_final_duration() -> None:
    receiver = TelephoneEventReceiver(DtmfReport.END)
    digits = feed(receiver, key_press(12, ts=100, updates=6))
    assert digits == [DtmfDigit("A", 12, 100, duration=960, volume=10, ended=True)]
    assert digits[0].duration_ms == 120


def test_both_mode_reports_start_and_end() -> None:
    receiver = TelephoneEventReceiver(DtmfReport.BOTH)
    digits = feed(receiver, key_press(1, ts=0, updates=4) + key_press(2, ts=1600, updates=4))
    assert [(d.digit, d.ended, d.duration) for d in digits] == [
        ("1", False, 160),
        ("1", True, 640),
        ("2", False, 160),
        ("2", True, 640),
    ]


def test_the_same_key_pressed_twice_is_two_reports() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, key_press(5, ts=0, updates=5) + key_press(5, ts=1600, updates=5))
    assert [(d.digit, d.timestamp) for d in digits] == [
        (
            "5",
            0,
        ),
        ("5", 1600),
    ]


def test_a_new_event_code_on_the_same_timestamp_is_a_new_press() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, [packet(1, 0, 160), packet(2, 0, 160)])
    assert [d.digit for d in digits] == ["1", "2"]


def test_end_before_start_and_shuffled_updates_report_once() -> None:
    receiver = TelephoneEventReceiver(DtmfReport.BOTH)
    press = key_press(3, ts=500, updates=5)
    shuffled = [press[4], press[2], press[0], press[3], press[5], press[1], press[6]]
    digits = feed(receiver, shuffled)
    assert [(d.digit, d.ended, d.duration) for d in digits] == [("3", False, 800), ("3", True, 800)]


def test_a_lost_start_still_reports_the_digit_once() -> None:
    for mode in DtmfReport:
        receiver = TelephoneEventReceiver(mode)
        digits = feed(receiver, key_press(9, ts=0, updates=5)[2:])
        assert [d.digit for d in digits] == (["9", "9"] if mode is DtmfReport.BOTH else ["9"])


def test_only_end_packets_arriving_still_report_once() -> None:
    receiver = TelephoneEventReceiver()
    digits = feed(receiver, key_press(0, ts=0, updates=5)[-3:])
    assert digits == [DtmfDigit("0", 0, 0, duration=800, volume=10, ended=True)]


def test_stragglers_of_an_earlier_press_are_ignored() -> None:
    receiver = TelephoneEventReceiver()
    first, second = key_press(1, ts=0, updates=5), key_press(2, ts=2000, updates=5)
    digits = feed(receiver, first[:2] + second[:1] + first[2:] + second[1:])
    assert [d.digit for d in digits] == ["1", "2"]
    unseen = key_press(3, ts=1000, updates=3)  # older than the press under way
    assert feed(receiver, unseen) == []
    assert receiver.stale == len(unseen)


def test_a_press_without_an_end_times_out() -> None:
    receiver = TelephoneEventReceiver(DtmfReport.END, ptime_ms=20)
    press = key_press(4, ts=0, updates=5)[:4]  # the end packets are lost
    assert feed(receiver, press) == []
    assert receiver.active == DtmfDigit("4", 4, 0, duration=640, volume=10, ended=False)
    timer = receiver.get_timer()
    assert timer == pytest.approx(0.06 + 0.06)
    assert receiver.poll(timer - 0.001) == []
    assert receiver.poll(timer) == [DtmfDigit("4", 4, 0, 640, 10, ended=True)]
    assert receiver.active is None and receiver.get_timer() is None
    assert receiver.poll(timer + 1) == []


def test_the_timeout_follows_a_slower_senders_update_interval() -> None:
    receiver = TelephoneEventReceiver(DtmfReport.END)
    feed(receiver, key_press(6, ts=0, updates=4, step=400)[:3])  # 50 ms updates
    timer = receiver.get_timer()
    assert timer == pytest.approx(0.04 + 0.15)


def test_lost_updates_do_not_lengthen_the_timeout() -> None:
    receiver = TelephoneEventReceiver(DtmfReport.END)
    press = key_press(6, ts=0, updates=40)
    feed(receiver, press[:3] + press[30:32])  # 27 updates lost: a step of 4480 units
    assert receiver.get_timer() == pytest.approx(0.08 + 0.06)


def test_a_timed_out_press_that_resumes_is_not_reported_again() -> None:
    receiver = TelephoneEventReceiver(DtmfReport.BOTH)
    press = key_press(8, ts=0, updates=10)
    digits = feed(receiver, press[:3])
    digits += receiver.poll(1.0)
    digits += feed(receiver, press[3:], start=1.02)
    assert [(d.digit, d.ended) for d in digits] == [("8", False), ("8", True)]


def test_a_long_press_in_segments_is_reported_once_with_its_whole_duration() -> None:
    sender = TelephoneEventSender(PT)
    sender.start("D", 12_000, timestamp=123)
    packets = [p for _ in range(700) for p in sender.to_packets(sender.next_payloads(), 0, SSRC)]
    receiver = TelephoneEventReceiver(DtmfReport.BOTH)
    digits = feed(receiver, packets)
    assert [(d.digit, d.ended, d.timestamp) for d in digits] == [
        ("D", False, 123),
        ("D", True, 123),
    ]
    assert digits[1].duration == 96_000


def test_a_later_segment_arriving_first_does_not_split_the_press() -> None:
    sender = TelephoneEventSender(PT)
    sender.start("6", 9_000, timestamp=0)
    packets = [p for _ in range(460) for p in sender.to_packets(sender.next_payloads(), 0, SSRC)]
    boundary = next(i for i, p in enumerate(packets) if p.timestamp != 0)
    shuffled = packets[: boundary - 3] + packets[boundary : boundary + 2]
    shuffled += packets[boundary - 3 : boundary] + packets[boundary + 2 :]
    receiver = TelephoneEventReceiver(DtmfReport.BOTH)
    digits = feed(receiver, shuffled)
    assert [(d.digit, d.ended) for d in digits] == [("6", False), ("6", True)]
    assert digits[1].duration == 72_000


def test_other_events_and_malformed_payloads_are_ignored() -> None:
    receiver = TelephoneEventReceiver()
    flash = packet(16, 0, 160)
    garbage = RtpPacket(PT, 1, 0, SSRC, b"\x01\x02")
    assert receiver.receive(flash, 0.0) == [] and receiver.receive(garbage, 0.0) == []
    assert receiver.ignored == 2


def test_a_new_ssrc_starts_afresh() -> None:
    receiver = TelephoneEventReceiver(DtmfReport.BOTH)
    digits = feed(receiver, key_press(1, ts=0, updates=5)[:3])
    digits += feed(receiver, [packet(1, 0, 160, ssrc=0xABC)], start=0.1)
    assert [(d.digit, d.ended) for d in digits] == [("1", False), ("1", True), ("1", False)]


def test_presses_across_the_timestamp_wrap_are_told_apart() -> None:
    receiver = TelephoneEventReceiver()
    first = key_press(1, ts=0xFFFFFF00, updates=3)
    second = key_press(2, ts=0x00000200, updates=3)
    digits = feed(receiver, first + second + first[-1:])
    assert [(d.digit, d.timestamp) for d in digits] == [("1", 0xFFFFFF00), ("2", 0x200)]


# -- sender to receiver across a network --------------------------------------------------------


def send_digits(
    digits: str, *, on_ms: int, off_ms: int, ptime_ms: int = 20
) -> list[tuple[float, RtpPacket]]:
    sender = TelephoneEventSender(PT, ptime_ms=ptime_ms)
    step = 8 * ptime_ms
    out: list[tuple[float, RtpPacket]] = []
    seq, tick, pending = 4000, 0, list(digits)
    gap_ticks = off_ms // ptime_ms
    wait = 0
    while pending or not sender.idle:
        if pending and not sender.busy and wait == 0:
            sender.start(pending.pop(0), on_ms, timestamp=1_000_000 + tick * step)
            wait = on_ms // ptime_ms + gap_ticks
        payloads = sender.next_payloads()
        for p in sender.to_packets(payloads, seq, SSRC):
            out.append((tick * ptime_ms / 1000, p))
        seq += len(payloads)
        tick += 1
        wait = max(0, wait - 1)
    return out


def network(
    sent: list[tuple[float, RtpPacket]], seed: int, *, loss: float, dup: float, jitter_ms: float
) -> list[tuple[float, RtpPacket]]:
    rng = random.Random(seed)
    out = []
    for when, p in sent:
        if rng.random() < loss:
            continue
        copies = 2 if rng.random() < dup else 1
        out += [(when + 0.03 + rng.uniform(0, jitter_ms / 1000), p) for _ in range(copies)]
    out.sort(key=lambda item: item[0])
    return out


SEQUENCE = "0123456789*#ABCD55#"


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("mode", list(DtmfReport))
def test_each_digit_arrives_exactly_once_and_in_order(seed: int, mode: DtmfReport) -> None:
    sent = send_digits(SEQUENCE, on_ms=100, off_ms=100)
    arrivals = network(sent, seed, loss=0.2, dup=0.1, jitter_ms=60)
    receiver = TelephoneEventReceiver(mode)
    digits: list[DtmfDigit] = []
    for when, p in arrivals:
        digits += receiver.receive(p, when)
    digits += receiver.poll(arrivals[-1][0] + 1)
    starts = [d.digit for d in digits if not d.ended or mode is DtmfReport.START]
    ends = [d for d in digits if d.ended]
    if mode is not DtmfReport.END:
        assert "".join(starts) == SEQUENCE
    if mode is not DtmfReport.START:
        assert "".join(d.digit for d in ends) == SEQUENCE
        assert all(d.duration <= 800 for d in ends)


def test_a_clean_network_delivers_exact_durations() -> None:
    sent = send_digits("147*", on_ms=120, off_ms=80, ptime_ms=30)
    receiver = TelephoneEventReceiver(DtmfReport.END, ptime_ms=30)
    digits = [d for when, p in sent for d in receiver.receive(p, when)]
    assert [(d.digit, d.duration) for d in digits] == [(c, 960) for c in "147*"]


@settings(max_examples=50, deadline=None)
@given(
    digit=st.sampled_from(DTMF_EVENTS),
    duration_ms=st.integers(0, 20_000),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ptime_ms=st.sampled_from([10, 20, 30, 60]),
)
def test_any_press_is_sent_and_received_whole(
    digit: str, duration_ms: int, timestamp: int, ptime_ms: int
) -> None:
    sender = TelephoneEventSender(PT, ptime_ms=ptime_ms)
    sender.start(digit, duration_ms, timestamp)
    receiver = TelephoneEventReceiver(DtmfReport.BOTH, ptime_ms=ptime_ms)
    digits: list[DtmfDigit] = []
    tick = 0
    while not sender.idle:
        for p in sender.to_packets(sender.next_payloads(), tick, SSRC):
            digits += receiver.receive(p, tick * ptime_ms / 1000)
        tick += 1
    step = 8 * ptime_ms
    expected = max(1, -(-duration_ms * 8 // step)) * step
    assert [(d.digit, d.ended, d.timestamp) for d in digits] == [
        (digit, False, timestamp),
        (digit, True, timestamp),
    ]
    assert digits[1].duration == expected
