"""One 20 ms tick over every processed stream, batched so Python is paid per tick, not per sample.

Stages, each one kernel call per codec group where it matters:

1. **pull**: each stream's jitter buffer gives this tick's payload (or a gap);
2. **decode**: all G.711 payloads of the tick are joined into one ``(n, 160)`` matrix and
   decoded by one kernel call per law; gaps are concealed (G.711 Appendix I style), other
   codecs (G.722) decode per stream;
3. **listen**: in-band DTMF detection and taps (the recorder) see each stream's input;
4. **mix down**: each stream's output is its peer's input (resampled when rates differ), with
   generated tones laid over it;
5. **encode and packetize**: one encode per law over the stacked outputs, RTP headers for all
   of them built as one numpy matrix.

Frames handed to taps are rows of read-only matrices that nothing writes again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from media.events import DtmfReceived, MediaEvent
from media.plc import conceal, history_length, recover
from media.stream import MediaStream
from media.tap import TapFrame, TapHub

if TYPE_CHECKING:
    from dsp.dtmf import DtmfBatchDetector

__all__ = ["TickProcessor"]

G711_FRAME = 160
_LAWS = ("PCMU", "PCMA")
Pcm = NDArray[np.int16]
Resample = Callable[[MediaStream, MediaStream, Pcm], Pcm]


@dataclass(slots=True)
class _History:
    """The last good frames of a stream, joined only when a gap must be concealed."""

    frames: list[Pcm] = field(default_factory=list)
    samples: int = 0

    def add(self, pcm: Pcm, keep: int) -> None:
        self.frames.append(pcm)
        self.samples += len(pcm)
        while self.frames and self.samples - len(self.frames[0]) >= keep:
            self.samples -= len(self.frames.pop(0))

    def joined(self) -> Pcm | None:
        if not self.frames:
            return None
        return self.frames[0] if len(self.frames) == 1 else np.concatenate(self.frames)


class TickProcessor:
    def __init__(self, taps: TapHub, resample: Resample):
        self.taps = taps
        self.resample = resample
        self._history: dict[str, _History] = {}
        self._detectors: dict[int, DtmfBatchDetector] = {}
        """One batched in-band DTMF detector per sample rate; a slot per listening stream."""
        self._slots: dict[str, tuple[int, int]] = {}
        self._free_slots: dict[int, list[int]] = {}
        self._next_slot: dict[int, int] = {}

    def forget(self, stream_id: str) -> None:
        self._history.pop(stream_id, None)
        slot = self._slots.pop(stream_id, None)
        if slot is not None:
            rate, index = slot
            self._free_slots.setdefault(rate, []).append(index)

    def run(
        self, streams: list[MediaStream], now: float, events: list[MediaEvent]
    ) -> list[tuple[MediaStream, bytes]]:
        self._decode(streams, now)
        listening: dict[int, tuple[list[MediaStream], list[Pcm], list[int]]] = {}
        for s in streams:
            pcm = s.input_pcm
            if pcm is None:
                continue
            if s.detect_inband or s.converts_to_events:
                rate, slot = self._slot(s)
                group = listening.get(rate)
                if group is None:
                    group = listening[rate] = ([], [], [])
                group[0].append(s)
                group[1].append(pcm)
                group[2].append(slot)
            if s.tapped:
                self._publish(s, "in", pcm, now)
        for rate, (members, frames, slots) in listening.items():
            self._detect(rate, members, frames, slots, now, events)
        return self._encode([s for s in streams if s.can_send], now)

    # -- decode --------------------------------------------------------------------------------

    def _decode(self, streams: list[MediaStream], now: float) -> None:
        batches: dict[str, tuple[list[MediaStream], list[bytes]]] = {}
        for s in streams:
            s.input_pcm = None
            jitter, params = s.jitter, s.params
            if jitter is None or params is None:
                continue
            frame = jitter.pop(now)
            if frame is None:
                continue
            payload = frame.payload
            if payload is None:
                s.input_pcm = self._conceal(s)
                continue
            name = params.codec.name
            if name in _LAWS and len(payload) == G711_FRAME:
                group = batches.get(name)
                if group is None:
                    group = batches[name] = ([], [])
                group[0].append(s)
                group[1].append(payload)
            elif s.decoder is not None:
                self._good(s, s.decoder.decode(payload))
        for name, (members, payloads) in batches.items():
            from dsp.g711 import alaw_decode, ulaw_decode

            codes = np.frombuffer(b"".join(payloads), dtype=np.uint8)
            decode = ulaw_decode if name == "PCMU" else alaw_decode
            matrix = decode(codes.reshape(len(members), G711_FRAME))
            matrix.flags.writeable = False
            for s, row in zip(members, matrix, strict=True):
                self._good(s, row)

    def _good(self, s: MediaStream, pcm: Pcm) -> None:
        history = self._history.get(s.stream_id)
        if history is None:
            history = self._history[s.stream_id] = _History()
        rate = s.sample_rate
        if s.lost_in_row:
            joined = history.joined()
            if joined is not None and len(pcm) == rate // 50:
                pcm = recover(joined, s.lost_in_row, pcm, frame_size=len(pcm), rate=rate)
                pcm.flags.writeable = False
            s.lost_in_row = 0
        history.add(pcm, history_length(rate))
        s.input_pcm = pcm

    def _conceal(self, s: MediaStream) -> Pcm:
        size = s.sample_rate // 50
        s.lost_in_row += 1
        history = self._history.get(s.stream_id)
        joined = history.joined() if history is not None else None
        if joined is None:
            pcm = np.zeros(size, dtype=np.int16)
        else:
            pcm = conceal(joined, s.lost_in_row, frame_size=size, rate=s.sample_rate)[-size:]
        pcm.flags.writeable = False
        return pcm

    # -- listen --------------------------------------------------------------------------------

    def _slot(self, s: MediaStream) -> tuple[int, int]:
        """This stream's row in the detector for its rate (a fresh one on first use)."""
        rate = s.sample_rate
        known = self._slots.get(s.stream_id)
        if known is not None and known[0] == rate:
            return known
        if known is not None:
            self.forget(s.stream_id)
            self._history[s.stream_id] = _History()
        detector = self._detectors.get(rate)
        if detector is None:
            from dsp.dtmf import DtmfBatchDetector

            detector = self._detectors[rate] = DtmfBatchDetector(64, rate)
        free = self._free_slots.get(rate)
        if free:
            index = free.pop()
        else:
            index = self._next_slot.get(rate, 0)
            self._next_slot[rate] = index + 1
        detector.reset(index)
        self._slots[s.stream_id] = (rate, index)
        return rate, index

    def _detect(
        self,
        rate: int,
        members: list[MediaStream],
        frames: list[Pcm],
        slots: list[int],
        now: float,
        events: list[MediaEvent],
    ) -> None:
        detector = self._detectors[rate]
        found = detector.process(np.stack(frames), np.asarray(slots, dtype=np.intp))
        if not found:
            return
        by_slot = dict(zip(slots, members, strict=True))
        for slot, digit in found:
            s = by_slot[slot]
            s.stats.digits += 1
            events.append(DtmfReceived(s.stream_id, digit, "inband", now))
            peer = s.peer
            if peer is not None and peer.params is not None and peer.params.telephone_event_pt:
                peer.send_digit(digit)

    def _publish(self, s: MediaStream, direction: str, pcm: Pcm, now: float) -> None:
        if self.taps.wants(s.stream_id):
            self.taps.publish(
                TapFrame(s.stream_id, "in" if direction == "in" else "out", s.sample_rate, now, pcm)
            )

    # -- mix down, encode, packetize -----------------------------------------------------------

    def _source(self, s: MediaStream) -> Pcm:
        playback = s.playback
        if playback is not None and not playback.done:
            frame = playback.next_frame()
            if frame is not None:
                return frame
        peer = s.peer
        pcm = peer.input_pcm if peer is not None else None
        if pcm is None:
            return _silence(s.sample_rate // 50)
        if peer is not None and peer.sample_rate != s.sample_rate:
            pcm = self.resample(peer, s, pcm)
        return pcm

    def _encode(self, streams: list[MediaStream], now: float) -> list[tuple[MediaStream, bytes]]:
        out: list[tuple[MediaStream, bytes]] = []
        batches: dict[str, tuple[list[MediaStream], list[Pcm]]] = {}
        for s in streams:
            pcm = s.overlay_tones(self._source(s))
            if s.tapped:
                self._publish(s, "out", pcm, now)
            params = s.params
            assert params is not None
            name = params.codec.name
            if name in _LAWS and len(pcm) == G711_FRAME and params.ptime_ms == 20:
                group = batches.get(name)
                if group is None:
                    group = batches[name] = ([], [])
                group[0].append(s)
                group[1].append(pcm)
            else:
                out.extend((s, data) for data in s.packetize(pcm, now))
        for name, (members, frames) in batches.items():
            from dsp.g711 import alaw_encode, ulaw_encode

            encode = ulaw_encode if name == "PCMU" else alaw_encode
            codes = encode(np.stack(frames))
            out.extend(_packetize_batch(members, codes, now))
        return out


def _packetize_batch(
    members: list[MediaStream], codes: NDArray[np.uint8], now: float
) -> list[tuple[MediaStream, bytes]]:
    """RTP packets for a batch of G.711 streams: headers built as one matrix."""
    n = len(members)
    packets = np.empty((n, 12 + G711_FRAME), dtype=np.uint8)
    packets[:, 12:] = codes
    seq = np.empty(n, dtype=">u2")
    ts = np.empty(n, dtype=">u4")
    ssrc = np.empty(n, dtype=">u4")
    second = np.empty(n, dtype=np.uint8)
    out: list[tuple[MediaStream, bytes]] = []
    events: list[tuple[int, list[bytes]]] = []
    for i, s in enumerate(members):
        params = s.params
        assert params is not None
        extra = s.event_packets()
        if extra:
            events.append((i, extra))
        seq[i] = s.sequence_number
        ts[i] = s.timestamp
        if s.rtcp is not None:
            s.rtcp.note_sent(s.timestamp, G711_FRAME, now)
        ssrc[i] = s.ssrc
        second[i] = params.payload_type | (0x80 if s.marker_next else 0)
        s.marker_next = False
        s.sequence_number = (s.sequence_number + 1) & 0xFFFF
        s.timestamp = (s.timestamp + G711_FRAME) & 0xFFFFFFFF
    packets[:, 0] = 0x80
    packets[:, 1] = second
    packets[:, 2:4] = seq.view(np.uint8).reshape(n, 2)
    packets[:, 4:8] = ts.view(np.uint8).reshape(n, 4)
    packets[:, 8:12] = ssrc.view(np.uint8).reshape(n, 4)
    extra_for = dict(events)
    for i, s in enumerate(members):
        for data in extra_for.get(i, ()):
            out.append((s, data))
        out.append((s, s.protect(packets[i].tobytes())))
    return out


_SILENCE: dict[int, Pcm] = {}


def _silence(samples: int) -> Pcm:
    pcm = _SILENCE.get(samples)
    if pcm is None:
        pcm = _SILENCE[samples] = np.zeros(samples, dtype=np.int16)
        pcm.flags.writeable = False
    return pcm
