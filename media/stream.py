"""One leg's RTP endpoint at the switch: latching, relay, and the decode/encode pipeline.

A `MediaStream` owns one local port pair and talks to one remote party. It works in one of two
modes, chosen by the engine:

- **relay**: packets from the remote party go to the peer stream's remote party as they are
  (payload type renumbered when the two legs disagree, SRTP re-keyed). Telephone-events are
  peeked at on the way through. No decoding: this is the cheap path.
- **process**: packets go through a jitter buffer and a decoder once per 20 ms tick; what the
  remote party hears is encoded by the switch (its own SSRC, sequence and timestamps) from the
  peer's audio, a prompt, or generated tones. Needed for transcoding, taps (recording), prompts
  and in-band/RFC 4733 DTMF conversion.

Symmetric RTP (RFC 4961): the switch sends to the address packets come from ("latching"), so a
phone behind NAT is reached without help. A new source is accepted only after the latched one
has been silent for `RELATCH_AFTER` seconds, so stray or injected packets cannot hijack a call.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from media.codecs import Codec
from media.events import DtmfReceived, MediaEvent
from media.rtcp_relay import LegQuality, RelayedRtcpFigures
from media.rtcp_session import RtcpSession
from media.rtp import RtpError, RtpPacket, is_rtcp
from media.srtp import SrtpContext, SrtpError

if TYPE_CHECKING:
    from media.codecs import Decoder, Encoder
    from media.jitter import JitterBuffer
    from media.player import PlaybackQueue
    from media.telephone_event import TelephoneEventReceiver, TelephoneEventSender

__all__ = [
    "RELATCH_AFTER",
    "Address",
    "MediaStream",
    "StreamMode",
    "StreamParams",
    "StreamStats",
]

Address = tuple[str, int]
RELATCH_AFTER = 0.5
"""Seconds the latched source must be silent before another source is accepted."""
DTMF_TONE_MS = 100
"""Length of an in-band tone generated for a digit received as an RFC 4733 event."""


class StreamMode(enum.Enum):
    IDLE = "idle"  # no peer and nothing to play: received media is counted and dropped
    RELAY = "relay"
    PROCESS = "process"


@dataclass(frozen=True, slots=True)
class StreamParams:
    """What offer/answer agreed for this leg (RFC 3264)."""

    codec: Codec
    payload_type: int
    remote_rtp: Address | None
    remote_rtcp: Address | None = None
    telephone_event_pt: int | None = None
    rtcp_mux: bool = False
    ptime_ms: int = 20
    send: bool = True
    """The remote party wants our media (its direction is sendrecv or recvonly)."""
    receive: bool = True
    crypto_local: str | None = field(default=None, repr=False)
    """Our SDES key (RFC 4568 ``a=crypto`` value) when the leg uses SRTP."""
    crypto_remote: str | None = field(default=None, repr=False)
    """The remote party's SDES key."""


@dataclass(slots=True)
class StreamStats:
    packets_received: int = 0
    bytes_received: int = 0
    packets_sent: int = 0
    bytes_sent: int = 0
    dropped_foreign: int = 0
    """Packets from a source other than the latched one."""
    dropped_invalid: int = 0
    """Not RTP, or SRTP that failed authentication."""
    rtcp_received: int = 0
    digits: int = 0
    remote_report: RelayedRtcpFigures | None = None


@dataclass(eq=False, repr=False)
class MediaStream:
    """One leg's RTP endpoint. Its repr names it only: audio and digits stay out of logs."""

    stream_id: str
    local_port: int
    local_address: str
    params: StreamParams | None = None
    mode: StreamMode = StreamMode.IDLE
    peer: MediaStream | None = None
    latched: Address | None = None
    last_received: float | None = None
    created_at: float = 0.0
    configured_at: float = 0.0
    """When offer/answer last agreed this leg's media (RTP timeouts count from here)."""
    stats: StreamStats = field(default_factory=StreamStats)
    srtp: SrtpContext | None = None
    tapped: bool = False
    detect_inband: bool = False
    """Look for in-band DTMF in received audio (when the leg has no telephone-event)."""
    # relay state
    relay_pt_map: dict[int, int] = field(default_factory=dict)
    # process state
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    sequence_number: int = field(default_factory=lambda: secrets.randbits(16))
    timestamp: int = field(default_factory=lambda: secrets.randbits(32))
    jitter: JitterBuffer | None = None
    decoder: Decoder | None = None
    encoder: Encoder | None = None
    events_in: TelephoneEventReceiver | None = None
    events_out: TelephoneEventSender | None = None
    input_pcm: NDArray[np.int16] | None = None
    """Audio decoded from the remote party during the current tick (at the codec's rate)."""
    lost_in_row: int = 0
    pending_tones: list[NDArray[np.int16]] = field(default_factory=list)
    pending_digits: list[str] = field(default_factory=list)
    playback: PlaybackQueue | None = None
    rtcp: RtcpSession | None = None
    """Our RTCP for this leg, while the switch terminates its media (process mode)."""
    epoch: int = 0
    """Bumped whenever anything `plain_relay` depends on changes (the shell caches on it)."""
    marker_next: bool = True

    def __repr__(self) -> str:
        return (
            f"MediaStream({self.stream_id!r}, port={self.local_port}, mode={self.mode.value}, "
            f"destination={self.destination})"
        )

    # -- addresses -----------------------------------------------------------------------------

    @property
    def destination(self) -> Address | None:
        """Where RTP for the remote party goes: the latched source, else what SDP said."""
        if self.latched is not None:
            return self.latched
        return self.params.remote_rtp if self.params is not None else None

    @property
    def rtcp_destination(self) -> Address | None:
        params = self.params
        if params is None:
            return None
        if params.rtcp_mux:
            return self.destination
        if self.latched is not None and params.remote_rtcp is None:
            return (self.latched[0], self.latched[1] + 1)
        if params.remote_rtcp is not None:
            return params.remote_rtcp
        rtp = params.remote_rtp
        return (rtp[0], rtp[1] + 1) if rtp is not None else None

    @property
    def sample_rate(self) -> int:
        return self.params.codec.sample_rate if self.params is not None else 8000

    @property
    def can_send(self) -> bool:
        params = self.params
        return params is not None and params.send and self.destination is not None

    @property
    def is_playing(self) -> bool:
        return self.playback is not None and not self.playback.done

    @property
    def converts_to_events(self) -> bool:
        """In-band key presses from this leg must become RFC 4733 events for the peer."""
        peer = self.peer
        params = self.params
        return (
            params is not None
            and params.telephone_event_pt is None
            and peer is not None
            and peer.params is not None
            and peer.params.telephone_event_pt is not None
        )

    def accept_source(self, addr: Address, now: float) -> bool:
        """Symmetric RTP latching; False means drop the packet."""
        latched = self.latched
        if addr == latched:
            return True
        last = self.last_received
        if latched is None or last is None or now - last >= RELATCH_AFTER:
            self.latched = addr
            self.touch()
            return True
        self.stats.dropped_foreign += 1
        return False

    def remote_changed(self) -> None:
        """New SDP from the remote party (re-INVITE): let the next packet latch again."""
        self.latched = None
        self.touch()

    def touch(self) -> None:
        """Something the relay decision depends on changed, here or at the peer."""
        self.epoch += 1
        if self.peer is not None:
            self.peer.epoch += 1

    # -- receive -------------------------------------------------------------------------------

    def receive_rtp(
        self, data: bytes, addr: Address, now: float, events: list[MediaEvent]
    ) -> bytes | None:
        """One datagram from the remote party; returns bytes to relay to the peer, if any."""
        if not self.accept_source(addr, now):
            return None
        if self.srtp is not None:
            try:
                data = self.srtp.unprotect(data)
            except SrtpError:
                self.stats.dropped_invalid += 1
                return None
        if len(data) < 12 or data[0] >> 6 != 2:
            self.stats.dropped_invalid += 1
            return None
        stats = self.stats
        stats.packets_received += 1
        stats.bytes_received += len(data)
        self.last_received = now
        params = self.params
        if params is None or not params.receive:
            return None
        if self.mode is StreamMode.RELAY:
            return self._relay(data, now, events)
        if self.mode is StreamMode.PROCESS:
            self._accept_for_processing(data, now, events)
        return None

    def plain_relay(self) -> tuple[Address, int] | None:
        """(destination, telephone-event payload type or -1) when packets from the latched
        source may go to the peer untouched: relay mode, no SRTP, no renumbering. The shell
        uses it for its fast path; everything else takes `receive_rtp`."""
        peer = self.peer
        params = self.params
        if (
            self.mode is not StreamMode.RELAY
            or peer is None
            or params is None
            or not params.receive
            or self.latched is None
            or self.srtp is not None
            or peer.srtp is not None
            or self.relay_pt_map
            or not peer.can_send
        ):
            return None
        dest = peer.destination
        if dest is None:
            return None
        te = params.telephone_event_pt
        return dest, (-1 if te is None else te)

    def count_relayed(self, packets: int, octets: int, now: float) -> None:
        """Account for packets the shell's fast path relayed to the peer."""
        stats = self.stats
        stats.packets_received += packets
        stats.bytes_received += octets
        self.last_received = now
        peer = self.peer
        if peer is not None:
            peer.stats.packets_sent += packets
            peer.stats.bytes_sent += octets

    def _relay(self, data: bytes, now: float, events: list[MediaEvent]) -> bytes | None:
        peer = self.peer
        if peer is None or not peer.can_send:
            return None
        pt = data[1] & 0x7F
        params = self.params
        if params is not None and pt == params.telephone_event_pt and self.events_in is not None:
            self._telephone_event(data, now, events)
        new_pt = self.relay_pt_map.get(pt)
        if new_pt is not None:
            data = data[:1] + bytes([(data[1] & 0x80) | new_pt]) + data[2:]
        return peer.protect(data)

    def _accept_for_processing(self, data: bytes, now: float, events: list[MediaEvent]) -> None:
        params = self.params
        assert params is not None
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self.stats.dropped_invalid += 1
            return
        if packet.payload_type == params.telephone_event_pt:
            self._telephone_event(packet, now, events)
        elif packet.payload_type == params.payload_type and self.jitter is not None:
            self.jitter.push(packet, now)
            if self.rtcp is not None:
                self.rtcp.on_rtp_received(packet, now)

    def _telephone_event(
        self, data: bytes | RtpPacket, now: float, events: list[MediaEvent]
    ) -> None:
        receiver = self.events_in
        if receiver is None:
            return
        try:
            packet = data if isinstance(data, RtpPacket) else RtpPacket.parse(data)
            digits = receiver.receive(packet, now)
        except (RtpError, ValueError):
            self.stats.dropped_invalid += 1
            return
        for found in digits:
            self.stats.digits += 1
            events.append(DtmfReceived(self.stream_id, found.digit, "rfc4733", now))
            peer = self.peer
            if self.mode is StreamMode.PROCESS and peer is not None:
                peer.send_digit(found.digit)

    def receive_rtcp(self, data: bytes, addr: Address, now: float) -> bytes | None:
        """An RTCP datagram from the remote party; in relay mode it goes on to the peer."""
        self.stats.rtcp_received += 1
        if self.srtp is not None:
            try:
                data = self.srtp.unprotect_rtcp(data)
            except SrtpError:
                self.stats.dropped_invalid += 1
                return None
        figures = RelayedRtcpFigures.from_compound(data)
        if figures is not None:
            self.stats.remote_report = figures
        if self.mode is StreamMode.PROCESS and self.rtcp is not None:
            self.rtcp.receive_rtcp(data, now)  # their reports about us; round-trip time
            return None
        peer = self.peer
        if self.mode is StreamMode.RELAY and peer is not None and peer.can_send:
            return peer.protect_rtcp(data)
        return None

    # -- send ----------------------------------------------------------------------------------

    def protect(self, data: bytes) -> bytes:
        self.stats.packets_sent += 1
        self.stats.bytes_sent += len(data)
        return self.srtp.protect(data) if self.srtp is not None else data

    def protect_rtcp(self, data: bytes) -> bytes:
        return self.srtp.protect_rtcp(data) if self.srtp is not None else data

    def send_digit(self, digit: str) -> None:
        """Convey a key press to the remote party: RFC 4733 if negotiated, else an in-band tone."""
        params = self.params
        if params is None:
            return
        if params.telephone_event_pt is not None and self.events_out is not None:
            self.pending_digits.append(digit)
            return
        from dsp.dtmf import generate

        tone = generate(digit, rate=self.sample_rate, on_ms=DTMF_TONE_MS, off_ms=0)
        self.pending_tones.append(tone)

    def packetize(self, pcm: NDArray[np.int16], now: float = 0.0) -> list[bytes]:
        """Encode one tick of audio for the remote party, with any telephone-events due."""
        params = self.params
        encoder = self.encoder
        if params is None or encoder is None or not self.can_send:
            return []
        out = self.event_packets()
        payload = encoder.encode(pcm)
        if self.rtcp is not None:
            self.rtcp.note_sent(self.timestamp, len(payload), now)
        out.append(self._packet(params.payload_type, payload, self.marker_next, None))
        self.marker_next = False
        step = params.codec.clock_rate * params.ptime_ms // 1000
        self.timestamp = (self.timestamp + step) & 0xFFFFFFFF
        return out

    def event_packets(self) -> list[bytes]:
        """RFC 4733 packets due this tick (they share the audio's sequence space)."""
        sender = self.events_out
        params = self.params
        if sender is None or params is None or (sender.idle and not self.pending_digits):
            return []
        if self.pending_digits and not sender.busy:
            sender.start(self.pending_digits.pop(0), DTMF_TONE_MS, self.timestamp, 10)
        pt = params.telephone_event_pt or 101
        return [
            self._packet(pt, payload, marker, timestamp)
            for payload, marker, timestamp in sender.next_payloads()
        ]

    def quality(self) -> LegQuality | None:
        """How this leg sounds: our own measurements while the switch terminates its media,
        else what the remote party's relayed RTCP says."""
        if self.rtcp is not None and self.rtcp.remote.received:
            delay = self.jitter.current_delay_ms if self.jitter is not None else None
            q = self.rtcp.summary(jitter_buffer_ms=delay)
            return LegQuality(q.loss_fraction, q.jitter_ms, q.mos, "switch")
        report = self.stats.remote_report
        return report.leg_quality() if report is not None else None

    def _packet(self, pt: int, payload: bytes, marker: bool, timestamp: int | None) -> bytes:
        packet = RtpPacket(
            payload_type=pt,
            sequence_number=self.sequence_number,
            timestamp=self.timestamp if timestamp is None else timestamp,
            ssrc=self.ssrc,
            payload=payload,
            marker=marker,
        )
        self.sequence_number = (self.sequence_number + 1) & 0xFFFF
        return self.protect(packet.serialize())

    def overlay_tones(self, pcm: NDArray[np.int16]) -> NDArray[np.int16]:
        """Replace audio with pending in-band DTMF tones, one frame at a time."""
        if not self.pending_tones:
            return pcm
        tone = self.pending_tones[0]
        n = len(pcm)
        frame = np.zeros(n, dtype=np.int16)
        take = min(n, len(tone))
        frame[:take] = tone[:take]
        if len(tone) > n:
            self.pending_tones[0] = tone[n:]
        else:
            self.pending_tones.pop(0)
        return frame


def looks_like_rtcp(data: bytes) -> bool:
    """For rtcp-mux ports (RFC 5761)."""
    return is_rtcp(data)
