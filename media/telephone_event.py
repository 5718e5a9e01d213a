"""DTMF over RTP: the telephone-event payload of RFC 4733, its sender and its receiver.

Payload (§2.3), one event per packet (multiple events per packet, §2.5.1.5, are not sent; a
receiver reads the first block)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    |     event     |E|R| volume    |          duration             |

`TelephoneEventSender` produces, once per packet interval, the payloads of a digit: the RTP
timestamp of every packet is the start of the event, the first carries the marker bit, the
duration grows by one interval per packet (§2.5.1.2), the final packet has E set and is sent three
times (§2.5.1.4), and an event longer than the 16-bit duration is cut into segments (§2.5.1.3):
each segment holds whole packet intervals, starts where the last ended, has its own final packet
sent three times (without E, but for the last), and no marker bit (it continues the key press).
It returns ``(payload, marker, timestamp)``; the caller numbers the packets in its own stream.

`TelephoneEventReceiver` turns received packets into `DtmfDigit` reports (§2.5.2): a new event is
a new RTP timestamp (or a new event code); each is reported once however many of its packets
arrive, in whatever order, and whichever of them are lost; a segment of a long event continues it;
an event that never sends its end is ended by a timeout on `now`.
"""

from __future__ import annotations

import math
import struct
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from media.rtp import RtpPacket, ts_add, ts_diff

__all__ = [
    "DTMF_EVENTS",
    "MAX_DURATION",
    "DtmfDigit",
    "DtmfReport",
    "TelephoneEvent",
    "TelephoneEventError",
    "TelephoneEventPayload",
    "TelephoneEventReceiver",
    "TelephoneEventSender",
    "digit_to_event",
    "event_to_digit",
]

DTMF_EVENTS = "0123456789*#ABCD"  # event codes 0-15 (§3.2)
MAX_DURATION = 0xFFFF  # §2.3.5: 16-bit duration in timestamp units
MAX_VOLUME = 63  # §2.3.4: 0 to -63 dBm0
END_RETRANSMISSIONS = 3  # §2.5.1.4: the final packet is sent a total of three times
_PAYLOAD = struct.Struct("!BBH")
_SEGMENT_SLACK = 0x1000  # a continuation segment starts within this of 0xFFFF (§2.5.1.3)
_REMEMBERED = 32  # recent event timestamps kept to recognise stragglers


class TelephoneEventError(ValueError):
    """A malformed telephone-event payload, an unknown digit, or a sender misuse."""


def digit_to_event(digit: str) -> int:
    """'0'-'9', '*', '#', 'A'-'D' (any case) -> event code 0-15 (§3.2)."""
    index = DTMF_EVENTS.find(digit.upper()) if len(digit) == 1 else -1
    if index < 0:
        raise TelephoneEventError(f"{digit!r} is not a DTMF digit")
    return index


def event_to_digit(event: int) -> str:
    """Event code 0-15 -> '0'-'9', '*', '#', 'A'-'D' (§3.2)."""
    if not 0 <= event < len(DTMF_EVENTS):
        raise TelephoneEventError(f"event code {event} is not a DTMF digit")
    return DTMF_EVENTS[event]


@dataclass(frozen=True, slots=True, repr=False)
class TelephoneEvent:
    """One event block of the payload (§2.3). The R bit is sent as zero and ignored.

    The repr leaves the event code out: a DTMF digit may belong to a card number or a PIN."""

    event: int
    end: bool
    volume: int
    duration: int

    def __post_init__(self) -> None:
        if not 0 <= self.event <= 255:
            raise TelephoneEventError(f"event code {self.event} out of range 0-255")
        if not 0 <= self.volume <= MAX_VOLUME:
            raise TelephoneEventError(f"volume {self.volume} out of range 0-63")
        if not 0 <= self.duration <= MAX_DURATION:
            raise TelephoneEventError(f"duration {self.duration} out of range 0-65535")

    @classmethod
    def parse(cls, payload: bytes | bytearray | memoryview) -> TelephoneEvent:
        """The first event block; raise `TelephoneEventError` when under 4 bytes."""
        if len(payload) < _PAYLOAD.size:
            raise TelephoneEventError(f"telephone-event payload of {len(payload)} bytes")
        event, flags, duration = _PAYLOAD.unpack_from(payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def serialize(self) -> bytes:
        return _PAYLOAD.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)

    def __bytes__(self) -> bytes:
        return self.serialize()

    def __repr__(self) -> str:  # the event code is a key press: keep it out of logs
        return f"TelephoneEvent(end={self.end}, volume={self.volume}, duration={self.duration})"


class TelephoneEventPayload(NamedTuple):
    """One packet to send: the caller adds sequence number, SSRC and payload type."""

    payload: bytes
    marker: bool
    timestamp: int


@dataclass(slots=True)
class _Sending:
    event: int
    volume: int
    start: int  # RTP timestamp of the event
    segment: int  # RTP timestamp of the current segment
    elapsed: int = 0  # timestamp units sent so far, all segments
    total: int | None = None  # units to send; None until stop()
    first: bool = True


class TelephoneEventSender:
    """Telephone-event packets for one RTP stream, one `next_payloads()` call per interval.

    ``start(digit, duration_ms, timestamp)`` begins an event at the audio stream's current RTP
    `timestamp`; ``duration_ms=None`` leaves it open until ``stop()``. Durations are whole packet
    intervals. A new event may start while the previous one's end is being repeated.
    """

    def __init__(self, payload_type: int, clock_rate: int = 8000, ptime_ms: int = 20) -> None:
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.ptime_ms = ptime_ms
        self._step = clock_rate * ptime_ms // 1000
        if self._step <= 0 or self._step > MAX_DURATION:
            raise TelephoneEventError(f"packet interval of {ptime_ms} ms is out of range")
        self._segment_max = (MAX_DURATION // self._step) * self._step
        self._current: _Sending | None = None
        self._repeats: list[tuple[TelephoneEventPayload, int]] = []

    @property
    def busy(self) -> bool:
        """An event is being sent (its end repetitions aside)."""
        return self._current is not None

    @property
    def idle(self) -> bool:
        """Nothing left to send, end repetitions included."""
        return self._current is None and not self._repeats

    def start(
        self, digit: str | int, duration_ms: int | None, timestamp: int, volume: int = 10
    ) -> None:
        if self._current is not None:
            raise TelephoneEventError("an event is already being sent")
        event = digit if isinstance(digit, int) else digit_to_event(digit)
        TelephoneEvent(event, False, volume, 0)  # validates event code and volume
        total = None
        if duration_ms is not None:
            units = duration_ms * self.clock_rate / 1000
            total = max(1, math.ceil(units / self._step)) * self._step
        ts = timestamp & 0xFFFFFFFF
        self._current = _Sending(event, volume, ts, ts, total=total)

    def stop(self) -> None:
        """End the current event with the next packet."""
        current = self._current
        if current is not None:
            current.total = current.elapsed + self._step

    def next_payloads(self) -> list[TelephoneEventPayload]:
        """The packets of this interval, in the order to send them."""
        out = self._due_repeats()
        current = self._current
        if current is None:
            return out
        current.elapsed += self._step
        duration = ts_diff(current.start, current.segment) + current.elapsed
        if duration > self._segment_max:  # §2.5.1.3: the next segment starts where this ended
            current.segment = ts_add(current.segment, self._segment_max)
            duration -= self._segment_max
        end = current.total is not None and current.elapsed >= current.total
        block = TelephoneEvent(current.event, end, current.volume, duration)
        packet = TelephoneEventPayload(block.serialize(), current.first, current.segment)
        current.first = False
        out.append(packet)
        if end or duration == self._segment_max:
            repeat = packet._replace(marker=False)
            self._repeats.append((repeat, END_RETRANSMISSIONS - 1))
        if end:
            self._current = None
        return out

    def to_packets(
        self, payloads: list[TelephoneEventPayload], sequence_number: int, ssrc: int
    ) -> list[RtpPacket]:
        """RTP packets for `payloads`, numbered from `sequence_number`."""
        return [
            RtpPacket(
                payload_type=self.payload_type,
                sequence_number=(sequence_number + i) & 0xFFFF,
                timestamp=item.timestamp,
                ssrc=ssrc,
                payload=item.payload,
                marker=item.marker,
            )
            for i, item in enumerate(payloads)
        ]

    def _due_repeats(self) -> list[TelephoneEventPayload]:
        out = [packet for packet, _ in self._repeats]
        self._repeats = [(packet, left - 1) for packet, left in self._repeats if left > 1]
        return out


class DtmfReport(Enum):
    """When a receiver reports a digit."""

    START = "start"  # at the first packet seen: the digit is known at once
    END = "end"  # once the end is known (E bit, a following event, or the timeout)
    BOTH = "both"  # a start report and an end report (``ended=True``)


@dataclass(frozen=True, slots=True, repr=False)
class DtmfDigit:
    """A received DTMF key press. `duration` is in timestamp units, final when `ended`.

    The digit may belong to a card number or a PIN: its repr leaves it (and `event`) out.
    """

    digit: str
    event: int
    timestamp: int
    duration: int
    volume: int
    ended: bool
    clock_rate: int = 8000

    @property
    def duration_ms(self) -> float:
        return self.duration * 1000 / self.clock_rate

    def __repr__(self) -> str:
        return (
            f"DtmfDigit(timestamp={self.timestamp}, duration={self.duration}, "
            f"volume={self.volume}, ended={self.ended})"
        )


@dataclass(slots=True)
class _Event:
    event: int
    start: int  # extended RTP timestamp of the first segment
    segment: int  # extended RTP timestamp of the latest segment
    duration: int  # units, all segments
    volume: int
    last_seen: float
    ended: bool = False  # E bit seen, or superseded by a later event
    silent: bool = False  # nothing heard for the timeout; revived by a later update
    end_reported: bool = False


class TelephoneEventReceiver:
    """RFC 4733 §2.5.2 for one RTP stream: `receive` packets, get each key press once.

    `report` chooses when a digit is reported (`DtmfReport`). An event with no end is ended
    `timeout_ms` (default three packet intervals) after its last packet, or three of the sender's
    update intervals (the smallest duration step seen) if those are longer;
    `poll(now)` (also run by `receive`) applies it and `get_timer()` gives the deadline.
    Event codes above 15 are ignored and counted in `ignored`, as are malformed payloads.
    """

    def __init__(
        self,
        report: DtmfReport = DtmfReport.START,
        clock_rate: int = 8000,
        ptime_ms: int = 20,
        timeout_ms: float | None = None,
    ) -> None:
        self.report = report
        self.clock_rate = clock_rate
        self._timeout = (timeout_ms if timeout_ms is not None else 3 * ptime_ms) / 1000
        self._update_units = 0  # the sender's update interval: the smallest step seen
        self._ssrc: int | None = None
        self._ref_ts = 0  # extended timestamp the next ones are extended around
        self._events: OrderedDict[tuple[int, int], _Event] = OrderedDict()
        self._current: _Event | None = None
        self.ignored = 0
        self.stale = 0

    @property
    def active(self) -> DtmfDigit | None:
        """The key currently held down, if any."""
        current = self._current
        if current is None or current.ended or current.silent:
            return None
        return self._digit(current, ended=False)

    def get_timer(self) -> float | None:
        current = self._current
        if current is None or current.ended or current.silent:
            return None
        return current.last_seen + self._timeout_seconds()

    def poll(self, now: float) -> list[DtmfDigit]:
        """End a key press whose end never arrived."""
        deadline = self.get_timer()
        if self._current is None or deadline is None or now < deadline:
            return []
        self._current.silent = True
        return self._report_end(self._current)

    def receive(self, packet: RtpPacket, now: float) -> list[DtmfDigit]:
        out = self.poll(now)
        try:
            block = TelephoneEvent.parse(packet.payload)
        except TelephoneEventError:
            self.ignored += 1
            return out
        if block.event >= len(DTMF_EVENTS):
            self.ignored += 1
            return out
        if packet.ssrc != self._ssrc:
            out += self._restart(packet)
        ts = self._extend(packet.timestamp)
        known = self._events.get((ts, block.event))
        if known is not None:
            return out + self._update(known, ts, block, now)
        current = self._current
        if current is not None and ts < current.segment:
            self.stale += 1  # a straggler of an event already superseded
            return out
        if current is not None and self._continues(current, ts, block):
            self._remember(ts, block.event, current)
            current.segment = ts
            return out + self._update(current, ts, block, now)
        if current is not None:
            out += self._finish(current)
        return out + self._begin(ts, block, now)

    def _begin(self, ts: int, block: TelephoneEvent, now: float) -> list[DtmfDigit]:
        event = _Event(block.event, ts, ts, block.duration, block.volume, now, ended=block.end)
        self._current = event
        self._remember(ts, block.event, event)
        out = []
        if self.report is DtmfReport.START:
            out.append(self._digit(event, ended=event.ended))
            event.end_reported = event.ended
        elif self.report is DtmfReport.BOTH:
            out.append(self._digit(event, ended=False))
        if event.ended:
            out += self._report_end(event)
        return out

    def _update(self, event: _Event, ts: int, block: TelephoneEvent, now: float) -> list[DtmfDigit]:
        duration = ts - event.start + block.duration
        if duration > event.duration:
            step = duration - event.duration
            if self._update_units == 0 or step < self._update_units:  # losses only lengthen
                self._update_units = step
            event.duration = duration
        event.last_seen = max(event.last_seen, now)
        if event is not self._current:
            return []
        if block.end and ts == event.segment:
            return self._finish(event)
        if not block.end:
            event.silent = False
        return []

    def _finish(self, event: _Event) -> list[DtmfDigit]:
        event.ended = True
        return self._report_end(event)

    def _report_end(self, event: _Event) -> list[DtmfDigit]:
        if event.end_reported:
            return []
        event.end_reported = True
        if self.report is DtmfReport.START:
            return []
        return [self._digit(event, ended=True)]

    def _continues(self, current: _Event, ts: int, block: TelephoneEvent) -> bool:
        """A later segment of a long event (§2.5.1.3): same code, starting where the last ended."""
        gap = ts - current.segment
        return (
            not current.ended
            and block.event == current.event
            and MAX_DURATION - _SEGMENT_SLACK <= gap <= MAX_DURATION
        )

    def _restart(self, packet: RtpPacket) -> list[DtmfDigit]:
        out = self._finish(self._current) if self._current is not None else []
        self._ssrc = packet.ssrc
        self._ref_ts = packet.timestamp
        self._events.clear()
        self._current = None
        return out

    def _extend(self, timestamp: int) -> int:
        ts = self._ref_ts + ts_diff(timestamp, self._ref_ts & 0xFFFFFFFF)
        self._ref_ts = max(self._ref_ts, ts)
        return ts

    def _remember(self, ts: int, code: int, event: _Event) -> None:
        self._events[(ts, code)] = event
        while len(self._events) > _REMEMBERED:
            self._events.popitem(last=False)

    def _timeout_seconds(self) -> float:
        return max(self._timeout, 3 * self._update_units / self.clock_rate)

    def _digit(self, event: _Event, *, ended: bool) -> DtmfDigit:
        return DtmfDigit(
            digit=DTMF_EVENTS[event.event],
            event=event.event,
            timestamp=event.start & 0xFFFFFFFF,
            duration=event.duration,
            volume=event.volume,
            ended=ended,
            clock_rate=self.clock_rate,
        )
