"""Adaptive jitter buffer for one received RTP audio stream (sans-I/O).

`push(packet, now)` as packets arrive; `pop(now)` once per engine tick (`ptime_ms`, 20 ms). A
frame is one tick of media in RTP timestamp units, cut from packets of any duration (10, 20,
30 ms...): the payload is sliced at `octets_per_unit` bytes per timestamp unit, which is 1 for
G.711 and for G.722 (RTP clock 8000). `pop` returns:

- a `JitterFrame` with the payload, in timestamp order;
- a `JitterFrame` with ``payload=None, concealed=True`` for media that is missing (lost, late,
  or a frame inserted to grow the delay): the caller runs packet-loss concealment (`conceal`);
- ``None`` when there is nothing to play: before the stream starts, in a silence (DTX) gap, and
  while a talkspurt waits for its playout time.

Playout delay (`media.playout_delay`). Each packet's transit (arrival minus RTP timestamp) feeds
the RFC 3550 §A.8 interarrival jitter J and a window of recent transits. The target delay is
``clamp(max(jitter_factor * J', p - base), min_delay_ms, max_delay_ms)``, where `base` is the
smallest transit in the window, `p` its `percentile`, and J' is J computed with each transit
difference clipped at the target plus one tick (a lone spike barely moves it; lasting jitter
does). A frame with timestamp T is due at ``T + base + target``.

A talkspurt (the first packet, a marker bit, or a silence gap: more timestamp than its missing
sequence numbers explain) starts when due, so the delay moves freely there. Inside a talkspurt
the delay follows the target slowly: a concealed frame is inserted when the frame would play
more than half a tick early (at most every `insert_interval_ms`), and a frame is dropped when
it would play more than 1.25 ticks late (at most every `drop_interval_ms`; with an
`is_silence` test only silent frames are dropped, as often as needed). Neither happens within
those intervals of a talkspurt's start. An empty buffer is concealed for `max_conceal_ms` (it
may be loss or the start of a silence), then the stream waits for its next talkspurt.

Accounting, in packets: ``received`` (unique) = played + late + overflow + discarded + buffered.
``lost`` counts sequence numbers passed over and never received; one that arrives later moves
from lost to late. Duplicates are dropped and counted. A new SSRC, a sequence jump beyond RFC 3550
§A.1's MAX_DROPOUT/MAX_MISORDER, or a timestamp jump (the transit moves by more than `resync_ms`:
a silence gap moves timestamps and arrival alike and is no jump), confirmed by the next packet,
resynchronises: the buffer is flushed (counted as discarded) and the stream restarts.
Sequence numbers and timestamps are extended past their wrap-around.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from media.playout_delay import PlayoutDelay
from media.plc import conceal
from media.rtp import RtpPacket, seq_diff, ts_diff

__all__ = ["MAX_DROPOUT", "MAX_MISORDER", "JitterBuffer", "JitterFrame", "JitterStats", "conceal"]

MAX_DROPOUT = 3000  # RFC 3550 §A.1
MAX_MISORDER = 100  # RFC 3550 §A.1
_FATE_MEMORY = 1024  # sequence numbers whose fate is remembered, for late and duplicate packets
_PROBATION_SEQ = 16  # a packet confirms a resync candidate within this many sequence numbers


@dataclass(frozen=True, slots=True)
class JitterFrame:
    """One tick of media. `payload` None: missing, the caller conceals (`concealed` is True).
    `inserted` marks a concealed frame added to grow the delay; it repeats `timestamp`."""

    payload: bytes | None
    timestamp: int
    concealed: bool
    packet: RtpPacket | None
    inserted: bool = False


@dataclass(frozen=True, slots=True)
class JitterStats:
    """Counters in packets (``*_frames`` in ticks); delays in milliseconds."""

    received: int
    played: int
    lost: int
    late: int
    duplicate: int
    overflow: int
    discarded: int
    inserted_frames: int
    dropped_frames: int
    resyncs: int
    buffered: int
    current_delay_ms: float
    target_delay_ms: float
    jitter_ms: float


class _Fate(Enum):
    """What became of a sequence number; the values name the counters."""

    PLAYED = "played"
    LOST = "lost"
    LATE = "late"
    OVERFLOW = "overflow"
    DISCARDED = "discarded"


@dataclass(slots=True)
class _Entry:
    packet: RtpPacket
    seq: int  # extended
    ts: int  # extended
    end: int  # ts + duration
    used: bool = False


class JitterBuffer:
    """Reorders, times and repairs one RTP audio stream; see the module docstring."""

    def __init__(
        self,
        clock_rate: int = 8000,
        ptime_ms: int = 20,
        min_delay_ms: float = 20,
        max_delay_ms: float = 200,
        *,
        max_packets: int | None = None,
        octets_per_unit: int = 1,
        jitter_factor: float = 3.0,
        percentile: float = 0.95,
        window: int = 250,
        max_conceal_ms: float = 100,
        resync_ms: float = 3000,
        insert_interval_ms: float = 60,
        drop_interval_ms: float = 500,
        is_silence: Callable[[bytes], bool] | None = None,
    ) -> None:
        if min_delay_ms > max_delay_ms:
            raise ValueError("min_delay_ms is above max_delay_ms")
        self.clock_rate = clock_rate
        self.ptime_ms = ptime_ms
        self._per_ms = clock_rate / 1000
        self._frame = clock_rate * ptime_ms // 1000
        if self._frame <= 0:
            raise ValueError("a tick must hold at least one timestamp unit")
        self._min = min_delay_ms * self._per_ms
        self._max = max_delay_ms * self._per_ms
        self._capacity = max_packets or int(3 * max_delay_ms / 10) + 8
        self._opu = octets_per_unit
        self._max_conceal = max(1, round(max_conceal_ms / ptime_ms))
        self._resync_units = resync_ms * self._per_ms
        self._insert_interval = insert_interval_ms / 1000
        self._drop_interval = drop_interval_ms / 1000
        self._is_silence = is_silence
        self._estimate = PlayoutDelay(window, percentile, jitter_factor)
        self._counts = dict.fromkeys(
            ("received", "played", "lost", "late", "duplicate", "overflow", "discarded"), 0
        )
        self._inserted = self._dropped = self._resyncs = 0
        self._current_delay = 0.0
        self._reset_stream()

    # -- public surface -------------------------------------------------------------------

    @property
    def target_delay_ms(self) -> float:
        return self._target() / self._per_ms

    @property
    def current_delay_ms(self) -> float:
        return self._current_delay / self._per_ms

    @property
    def stats(self) -> JitterStats:
        return JitterStats(
            **self._counts,
            inserted_frames=self._inserted,
            dropped_frames=self._dropped,
            resyncs=self._resyncs,
            buffered=len(self._entries),
            current_delay_ms=self.current_delay_ms,
            target_delay_ms=self.target_delay_ms,
            jitter_ms=self._estimate.jitter / self._per_ms,
        )

    def push(self, packet: RtpPacket, now: float) -> None:
        """A packet of the stream arrived at `now` (seconds)."""
        if self._ssrc is None:
            self._begin_stream(packet)
        elif self._suspicious(packet, now):
            self._probation(packet, now)
            return
        elif self._candidate is not None:
            self._drop_candidate()
        self._accept(packet, now)

    def pop(self, now: float) -> JitterFrame | None:
        """The frame to play at this tick, or None for silence."""
        if self._ssrc is None:
            return None
        now_units = now * self.clock_rate
        if not self._playing and not self._start_talkspurt(now_units):
            return None
        return self._next_frame(now, now_units, adapt=True)

    def reset(self) -> None:
        """Forget the stream (buffered packets count as discarded); statistics stay."""
        self._counts["discarded"] += len(self._entries)
        self._reset_stream()
        self._estimate.rebase()

    # -- arrival --------------------------------------------------------------------------

    def _reset_stream(self) -> None:
        self._ssrc: int | None = None
        self._max_seq = 0
        self._ref_ts = 0
        self._entries: dict[int, _Entry] = {}
        self._order: list[tuple[int, int]] = []  # (ts, seq), ascending
        self._fates: dict[int, _Fate] = {}
        self._base_seq: int | None = None  # lowest sequence number received
        self._last_seq: int | None = None  # highest sequence number consumed
        self._last_end: int | None = None  # end timestamp of the last packet consumed
        self._last_duration = self._frame
        self._play_ts: int | None = None  # next frame's extended timestamp
        self._playing = False
        self._empty_ticks = 0
        self._candidate: tuple[RtpPacket, float] | None = None
        self._next_insert = -math.inf
        self._next_drop = -math.inf
        self._last_silent = False

    def _begin_stream(self, packet: RtpPacket) -> None:
        self._ssrc = packet.ssrc
        self._max_seq = packet.sequence_number
        self._ref_ts = packet.timestamp

    def _suspicious(self, packet: RtpPacket, now: float) -> bool:
        """Another SSRC, a sequence jump, or a timestamp jump: the transit moved by seconds."""
        if packet.ssrc != self._ssrc:
            return True
        step = seq_diff(packet.sequence_number, self._max_seq & 0xFFFF)
        if step > MAX_DROPOUT or step < -MAX_MISORDER:
            return True
        return self._jumped(packet, now)

    def _jumped(self, packet: RtpPacket, now: float) -> bool:
        """The packet's transit is seconds away from the stream's: its timestamps jumped."""
        ts = self._ref_ts + ts_diff(packet.timestamp, self._ref_ts & 0xFFFFFFFF)
        base = self._estimate.base
        return base != math.inf and abs(now * self.clock_rate - ts - base) > self._resync_units

    def _probation(self, packet: RtpPacket, now: float) -> None:
        candidate = self._candidate
        if candidate is None or not self._confirms(candidate[0], packet):
            if candidate is not None:
                self._drop_candidate()
            self._candidate = (packet, now)
            return
        self._counts["discarded"] += len(self._entries)
        self._resyncs += 1
        self._reset_stream()
        self._estimate.rebase()
        self._begin_stream(candidate[0])
        self._accept(candidate[0], candidate[1])
        self._accept(packet, now)

    def _confirms(self, first: RtpPacket, second: RtpPacket) -> bool:
        step = abs(seq_diff(second.sequence_number, first.sequence_number))
        jump = abs(ts_diff(second.timestamp, first.timestamp))
        same = second.ssrc == first.ssrc
        return same and 0 < step <= _PROBATION_SEQ and jump <= self._resync_units

    def _drop_candidate(self) -> None:
        """Nothing confirmed the candidate: a straggler of this stream is merely very late."""
        assert self._candidate is not None
        packet, when = self._candidate
        self._candidate = None
        behind = seq_diff(packet.sequence_number, self._max_seq & 0xFFFF) < 0
        if packet.ssrc == self._ssrc and behind and not self._jumped(packet, when):
            self._accept(packet, when)
            return
        self._counts["received"] += 1
        self._counts["discarded"] += 1

    def _accept(self, packet: RtpPacket, now: float) -> None:
        seq = self._max_seq + seq_diff(packet.sequence_number, self._max_seq & 0xFFFF)
        ts = self._ref_ts + ts_diff(packet.timestamp, self._ref_ts & 0xFFFFFFFF)
        fate = self._fates.get(seq)
        if seq in self._entries or (fate is not None and fate is not _Fate.LOST):
            self._counts["duplicate"] += 1
            return
        self._counts["received"] += 1
        self._lower_base(seq)
        self._estimate.observe(now * self.clock_rate - ts, self._target() + self._frame)
        if seq > self._max_seq:
            self._max_seq, self._ref_ts = seq, ts
        end = ts + len(packet.payload) // self._opu
        if fate is _Fate.LOST:
            self._counts["lost"] -= 1
            self._settle(seq, _Fate.LATE)
        elif self._too_late(seq, end):
            self._pass_over(seq, ts, end)  # what it skips over is lost as if it had been played
            self._settle(seq, _Fate.LATE)
        elif end <= ts:
            self._settle(seq, _Fate.DISCARDED)
        else:
            self._entries[seq] = _Entry(packet, seq, ts, end)
            bisect.insort(self._order, (ts, seq))
            while len(self._entries) > self._capacity:
                self._remove(self._order[0][1], overflow=True)

    def _too_late(self, seq: int, end: int) -> bool:
        if self._last_seq is not None and seq <= self._last_seq:
            return True
        return self._play_ts is not None and end <= self._play_ts

    # -- playout --------------------------------------------------------------------------

    def _target(self) -> float:
        return min(max(self._estimate.wanted(), self._min), self._max)

    def _slack(self, entry: _Entry) -> int:
        """How long before its own timestamp a packet is needed: frames not aligned to it."""
        return self._frame - math.gcd(self._frame, entry.end - entry.ts)

    def _lag(self, now_units: float, ts: int, entry: _Entry) -> float:
        """The playout delay `ts` gets if played at `now_units`, to compare with the target."""
        return now_units - ts - self._estimate.base - self._slack(entry)

    def _head(self) -> _Entry | None:
        return self._entries[self._order[0][1]] if self._order else None

    def _start_talkspurt(self, now_units: float) -> bool:
        head = self._head()
        if head is None or self._lag(now_units, head.ts, head) < self._target():
            return False
        self._play_ts = head.ts if self._play_ts is None else max(self._play_ts, head.ts)
        self._playing = True
        self._empty_ticks = 0
        now = now_units / self.clock_rate  # starting was the adaptation: no other for a while
        self._next_insert = now + self._insert_interval
        self._next_drop = now + self._drop_interval
        return True

    def _starts_talkspurt(self, entry: _Entry) -> bool:
        if entry.packet.marker or self._last_seq is None or self._last_end is None:
            return True
        missing = max(0, entry.seq - self._last_seq - 1)
        return entry.ts - self._last_end > missing * self._last_duration

    def _next_frame(self, now: float, now_units: float, *, adapt: bool) -> JitterFrame | None:
        play_ts = self._play_ts
        assert play_ts is not None
        head = self._head()
        if head is None:
            self._empty_ticks += 1
            if self._empty_ticks > self._max_conceal:
                self._playing = False
                return None
            return self._advance(self._concealed(play_ts))
        self._empty_ticks = 0
        if head.ts > play_ts:
            if self._starts_talkspurt(head):
                self._playing = False
                if not self._start_talkspurt(now_units):
                    return None
                return self._next_frame(now, now_units, adapt=False)
            return self._advance(self._concealed(play_ts))
        lag = self._lag(now_units, play_ts, head)
        target = self._target()
        if head.ts == play_ts and head.packet.marker and not head.used and lag < target:
            return None  # a talkspurt waits for its playout time
        if adapt and lag < target - self._frame / 2 and now >= self._next_insert:
            self._next_insert = now + self._insert_interval
            self._inserted += 1
            if self._last_silent:
                return None
            return JitterFrame(None, play_ts & 0xFFFFFFFF, True, None, inserted=True)
        if adapt and lag >= target + 1.25 * self._frame and self._may_drop(now, play_ts):
            self._dropped += 1
            self._play_ts = play_ts + self._frame
            self._consume()
            return self._next_frame(now, now_units, adapt=False)
        self._current_delay = lag
        return self._advance(self._frame_at(play_ts))

    def _may_drop(self, now: float, play_ts: int) -> bool:
        if now < self._next_drop:
            return False
        if self._is_silence is None:
            self._next_drop = now + self._drop_interval
            return True
        payload, _ = self._assemble(play_ts, mark=False)
        return payload is not None and self._is_silence(payload)

    def _frame_at(self, play_ts: int) -> JitterFrame:
        payload, first = self._assemble(play_ts, mark=True)
        if payload is None or first is None:
            return self._concealed(play_ts)
        self._last_silent = self._is_silence is not None and self._is_silence(payload)
        return JitterFrame(payload, play_ts & 0xFFFFFFFF, False, first.packet)

    def _concealed(self, play_ts: int) -> JitterFrame:
        self._last_silent = False
        return JitterFrame(None, play_ts & 0xFFFFFFFF, True, None)

    def _assemble(self, start: int, *, mark: bool) -> tuple[bytes | None, _Entry | None]:
        """The payload bytes covering one frame from `start`, None if any of it is missing."""
        stop = start + self._frame
        position = start
        parts: list[bytes] = []
        first: _Entry | None = None
        for ts, seq in self._order:
            entry = self._entries[seq]
            if entry.end <= position:
                continue
            if ts > position:
                break
            upto = min(entry.end, stop)
            opu = self._opu
            parts.append(entry.packet.payload[(position - ts) * opu : (upto - ts) * opu])
            if mark:
                entry.used = True
            first = first or entry
            position = upto
            if position >= stop:
                break
        return (b"".join(parts) if position >= stop else None), first

    def _advance(self, frame: JitterFrame) -> JitterFrame:
        assert self._play_ts is not None
        self._play_ts += self._frame
        self._consume()
        return frame

    def _consume(self) -> None:
        """Retire the packets the playout point has passed."""
        play_ts = self._play_ts
        assert play_ts is not None
        while self._order and self._entries[self._order[0][1]].end <= play_ts:
            self._remove(self._order[0][1], overflow=False)

    def _remove(self, seq: int, *, overflow: bool) -> None:
        entry = self._entries.pop(seq)
        self._order.remove((entry.ts, seq))
        if overflow and not entry.used:
            self._settle(seq, _Fate.OVERFLOW)  # its turn has not come: not passed over yet
            return
        self._pass_over(seq, entry.ts, entry.end)
        self._settle(seq, _Fate.PLAYED if entry.used else _Fate.DISCARDED)

    def _pass_over(self, seq: int, ts: int, end: int) -> None:
        """The playout went past packet `seq`; those skipped on the way that never came are lost."""
        last = self._last_seq
        if last is None:
            last = (seq if self._base_seq is None else self._base_seq) - 1
        if seq > last:
            self._mark_lost(last + 1, seq)
            self._last_seq, self._last_end, self._last_duration = seq, end, end - ts

    def _lower_base(self, seq: int) -> None:
        """RFC 3550 §A.1 counts from the lowest sequence number received: a straggler older
        than every packet so far moves that start back."""
        base = self._base_seq
        if base is not None and seq >= base:
            return
        if base is not None and self._last_seq is not None:
            self._mark_lost(seq + 1, base)  # already passed over
        self._base_seq = seq

    def _mark_lost(self, first: int, stop: int) -> None:
        remembered = max(first, stop - _FATE_MEMORY)
        known = 0
        for x in range(remembered, stop):
            if x in self._fates or x in self._entries:
                known += 1
            else:
                self._fates[x] = _Fate.LOST
        self._counts["lost"] += stop - first - known

    def _settle(self, seq: int, fate: _Fate) -> None:
        """Record what became of a packet that arrived (its counter is the fate's value)."""
        self._fates[seq] = fate
        self._counts[fate.value] += 1
        if len(self._fates) > 2 * _FATE_MEMORY:
            floor = max(self._fates) - _FATE_MEMORY
            self._fates = {k: v for k, v in self._fates.items() if k >= floor}
