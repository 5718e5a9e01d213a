"""The media engine without sockets: relay, latching, transcoding, taps, telephone-events, SRTP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dsp.g711 import alaw_decode, ulaw_encode
from dsp.level import snr_db
from dsp.tones import tone
from media.codecs import G722, PCMA, PCMU
from media.engine import EngineSettings, MediaEngine, UnknownStream
from media.events import DtmfReceived, PlaybackFinished
from media.ports import PortAllocator
from media.rtp import RtpPacket
from media.srtp import SrtpContext, generate_crypto
from media.stream import RELATCH_AFTER, StreamMode, StreamParams
from media.tap import QueueSubscriber
from media.telephone_event import TelephoneEvent

CALLER = ("192.0.2.10", 4000)
CALLEE = ("192.0.2.20", 5000)
TICK = 0.020


def engine_with_pair(
    a: StreamParams | None = None, b: StreamParams | None = None
) -> tuple[MediaEngine, str, str]:
    engine = MediaEngine(PortAllocator(20000, 20099), EngineSettings(jitter_min_ms=20))
    engine.create_stream("a", 0.0)
    engine.create_stream("b", 0.0)
    engine.configure("a", a or StreamParams(PCMU, 0, CALLER, telephone_event_pt=101))
    engine.configure("b", b or StreamParams(PCMU, 0, CALLEE, telephone_event_pt=101))
    engine.connect("a", "b")
    return engine, "a", "b"


def rtp(seq: int, payload: bytes, pt: int = 0, marker: bool = False, ssrc: int = 7) -> bytes:
    return RtpPacket(pt, seq, seq * 160, ssrc, payload, marker=marker).serialize()


def tone_packets(seconds: float, hz: float = 1000.0) -> tuple[np.ndarray, list[bytes]]:
    pcm = tone([hz], seconds, rate=8000, level_dbov=-10.0)
    frames = [pcm[i : i + 160] for i in range(0, len(pcm) - 159, 160)]
    return pcm, [rtp(i, bytes(ulaw_encode(f))) for i, f in enumerate(frames)]


def test_same_codec_is_relayed_unchanged() -> None:
    engine, a, b = engine_with_pair()
    assert engine.get(a).mode is StreamMode.RELAY
    data = rtp(1, b"\xff" * 160)
    out = engine.receive_rtp(engine.get(a), data, CALLER, 0.0)
    assert out is not None
    stream, sent, dest = out
    assert stream is engine.get(b) and sent == data and dest == CALLEE


def test_relay_renumbers_payload_types_that_differ() -> None:
    engine, a, _b = engine_with_pair(
        StreamParams(PCMU, 0, CALLER, telephone_event_pt=101),
        StreamParams(PCMU, 0, CALLEE, telephone_event_pt=96),
    )
    event = TelephoneEvent(5, False, 10, 160).serialize()
    out = engine.receive_rtp(engine.get(a), rtp(1, event, pt=101, marker=True), CALLER, 0.0)
    assert out is not None
    relayed = RtpPacket.parse(out[1])
    assert relayed.payload_type == 96 and relayed.marker and relayed.payload == event


def test_relayed_telephone_event_is_reported_once() -> None:
    engine, a, _ = engine_with_pair()
    stream = engine.get(a)
    for i, (end, duration) in enumerate([(False, 160), (False, 320), (True, 480), (True, 480)]):
        payload = TelephoneEvent(1, end, 10, duration).serialize()
        packet = RtpPacket(101, 10 + i, 8000, 7, payload, marker=i == 0).serialize()
        engine.receive_rtp(stream, packet, CALLER, i * TICK)
    digits = [e for e in engine.drain_events() if isinstance(e, DtmfReceived)]
    assert [(d.digit, d.source, d.stream_id) for d in digits] == [("1", "rfc4733", a)]
    assert "'1'" not in repr(digits[0])  # digits stay out of logs


def test_latching_follows_the_first_source_and_refuses_strangers() -> None:
    engine, a, _b = engine_with_pair()
    stream = engine.get(a)
    natted = ("198.51.100.7", 33000)
    assert engine.receive_rtp(stream, rtp(1, b"\xff" * 160), natted, 0.0) is not None
    assert stream.destination == natted
    assert engine.receive_rtp(stream, rtp(2, b"\xff" * 160), ("203.0.113.9", 1), 0.01) is None
    assert stream.stats.dropped_foreign == 1
    later = 0.01 + RELATCH_AFTER
    assert engine.receive_rtp(stream, rtp(3, b"\xff" * 160), ("203.0.113.9", 1), later)
    assert stream.destination == ("203.0.113.9", 1)


def test_garbage_is_counted_not_relayed() -> None:
    engine, a, _ = engine_with_pair()
    stream = engine.get(a)
    assert engine.receive_rtp(stream, b"\x00\x01", CALLER, 0.0) is None
    assert engine.receive_rtp(stream, b"\x40" + bytes(20), CALLER, 0.0) is None
    assert stream.stats.dropped_invalid == 2


def _run(engine: MediaEngine, a: str, packets: list[bytes], extra_ticks: int = 10) -> list:
    out = []
    now = 0.0
    for packet in packets:
        engine.receive_rtp(engine.get(a), packet, CALLER, now)
        out += engine.tick(now)
        now += TICK
    for _ in range(extra_ticks):
        out += engine.tick(now)
        now += TICK
    return out


def test_different_codecs_are_transcoded_with_little_loss_of_quality() -> None:
    engine, a, _b = engine_with_pair(StreamParams(PCMU, 0, CALLER), StreamParams(PCMA, 8, CALLEE))
    assert engine.get(a).mode is StreamMode.PROCESS
    pcm, packets = tone_packets(1.0)
    out = _run(engine, a, packets)
    to_callee = [RtpPacket.parse(data) for s, data, dest in out if dest == CALLEE]
    assert to_callee and all(p.payload_type == 8 for p in to_callee)
    assert [p.sequence_number for p in to_callee] == [
        (to_callee[0].sequence_number + i) & 0xFFFF for i in range(len(to_callee))
    ]
    received = np.concatenate([alaw_decode(np.frombuffer(p.payload, np.uint8)) for p in to_callee])
    assert snr_db(pcm[1600:6400], received[1600:8000]) > 30


def test_narrowband_to_wideband_is_resampled() -> None:
    engine, a, _b = engine_with_pair(StreamParams(PCMU, 0, CALLER), StreamParams(G722, 9, CALLEE))
    _, packets = tone_packets(0.6)
    out = _run(engine, a, packets)
    to_callee = [RtpPacket.parse(data) for s, data, dest in out if dest == CALLEE]
    assert to_callee and all(len(p.payload) == 160 and p.payload_type == 9 for p in to_callee)
    steps = {(q.timestamp - p.timestamp) & 0xFFFFFFFF for p, q in itertools.pairwise(to_callee)}
    assert steps == {160}  # G.722's RTP clock is 8000 Hz (RFC 3551 §4.5.2)


def test_tap_sees_both_directions_and_forces_processing() -> None:
    engine, a, b = engine_with_pair()
    frames = QueueSubscriber(maxlen=1000)
    engine.taps.subscribe(None, frames)
    engine.set_tapped(a, True)
    assert engine.get(a).mode is StreamMode.PROCESS and engine.get(b).mode is StreamMode.PROCESS
    engine.set_tapped(b, True)
    pcm, packets = tone_packets(0.5)
    _run(engine, a, packets)
    got = frames.drain()
    heard = np.concatenate([f.samples for f in got if f.stream_id == a and f.direction == "in"])
    sent = np.concatenate([f.samples for f in got if f.stream_id == b and f.direction == "out"])
    assert snr_db(pcm[800:3200], heard[800:4000]) > 30
    assert snr_db(pcm[800:3200], sent[800:4000]) > 30
    assert {f.rate for f in got} == {8000}
    engine.set_tapped(a, False)
    assert engine.get(a).mode is StreamMode.PROCESS  # b is still tapped
    engine.set_tapped(b, False)
    assert engine.get(a).mode is StreamMode.RELAY


def test_event_to_a_leg_without_telephone_event_becomes_a_tone() -> None:
    engine, a, _b = engine_with_pair(
        StreamParams(PCMU, 0, CALLER, telephone_event_pt=101), StreamParams(PCMU, 0, CALLEE)
    )
    assert engine.get(a).mode is StreamMode.PROCESS
    event = TelephoneEvent(7, False, 10, 160).serialize()
    engine.receive_rtp(engine.get(a), rtp(1, event, pt=101, marker=True), CALLER, 0.0)
    out = [engine.tick(i * TICK) for i in range(10)]
    from dsp.dtmf import detect
    from dsp.g711 import ulaw_decode

    audio = [RtpPacket.parse(d) for batch in out for s, d, dest in batch if dest == CALLEE]
    pcm = np.concatenate([ulaw_decode(np.frombuffer(p.payload, np.uint8)) for p in audio])
    assert detect(pcm) == "7"


def test_srtp_leg_is_decrypted_for_a_plain_leg() -> None:
    ours, theirs = generate_crypto(1), generate_crypto(1)
    engine, a, _b = engine_with_pair(
        StreamParams(
            PCMU, 0, CALLER, crypto_local=ours.serialize(), crypto_remote=theirs.serialize()
        ),
        StreamParams(PCMU, 0, CALLEE),
    )
    caller = SrtpContext(theirs, ours)
    plain = rtp(1, b"\x55" * 160)
    out = engine.receive_rtp(engine.get(a), caller.protect(plain), CALLER, 0.0)
    assert out is not None and out[1] == plain
    assert engine.receive_rtp(engine.get(a), plain, CALLER, 0.01) is None  # not authenticated
    assert "inline" not in repr(engine.get(a).params)


def test_close_releases_ports_and_unbridges() -> None:
    engine, a, b = engine_with_pair()
    in_use = engine.ports.in_use
    engine.close(a)
    assert engine.ports.in_use == in_use - 1
    assert engine.get(b).peer is None and engine.get(b).mode is StreamMode.IDLE
    with pytest.raises(UnknownStream):
        engine.get(a)


def test_a_prompt_replaces_the_peer_and_reports_its_end() -> None:
    engine, a, b = engine_with_pair()
    prompt = tone([440.0], 0.2, rate=8000, level_dbov=-12.0)
    engine.play(b, prompt, "greeting")
    assert engine.get(b).mode is StreamMode.PROCESS
    _, packets = tone_packets(0.5, hz=1000.0)  # the caller talks meanwhile
    out = _run(engine, a, packets[:5], extra_ticks=15)
    from dsp.g711 import ulaw_decode

    heard = [RtpPacket.parse(d) for s, d, dest in out if dest == CALLEE]
    pcm = np.concatenate([ulaw_decode(np.frombuffer(p.payload, np.uint8)) for p in heard[:10]])
    assert snr_db(prompt[:1600], pcm[:1600]) > 30  # the prompt, not the caller's 1 kHz
    finished = [e for e in engine.drain_events() if isinstance(e, PlaybackFinished)]
    assert finished == [PlaybackFinished(b, "greeting", True)]
    assert engine.get(b).mode is StreamMode.RELAY  # back to relaying once it ended


def test_stopped_prompt_reports_not_completed() -> None:
    engine, _a, b = engine_with_pair()
    engine.play(b, tone([440.0], 2.0), "long")
    engine.tick(0.0)
    engine.stop_playback(b)
    assert [e for e in engine.drain_events() if isinstance(e, PlaybackFinished)] == [
        PlaybackFinished(b, "long", False)
    ]


def test_inband_digits_become_events_for_a_leg_that_has_them() -> None:
    engine, a, _b = engine_with_pair(
        StreamParams(PCMU, 0, CALLER), StreamParams(PCMU, 0, CALLEE, telephone_event_pt=101)
    )
    from dsp.dtmf import generate

    pcm = generate("5", on_ms=120, off_ms=200)
    frames = [pcm[i : i + 160] for i in range(0, len(pcm) - 159, 160)]
    packets = [rtp(i, bytes(ulaw_encode(f))) for i, f in enumerate(frames)]
    out = _run(engine, a, packets, extra_ticks=10)
    digits = [e for e in engine.drain_events() if isinstance(e, DtmfReceived)]
    assert [(d.digit, d.source) for d in digits] == [("5", "inband")]
    events = [RtpPacket.parse(d) for s, d, dest in out if dest == CALLEE]
    events = [p for p in events if p.payload_type == 101]
    assert events and events[0].marker
    assert {TelephoneEvent.parse(p.payload).event for p in events} == {5}
    assert sum(TelephoneEvent.parse(p.payload).end for p in events) == 3  # end sent three times


def test_processed_legs_send_rtcp_reports_and_rate_their_quality() -> None:
    from media.rtcp import RtcpSenderReport, parse_compound

    engine, a, b = engine_with_pair(StreamParams(PCMU, 0, CALLER), StreamParams(PCMA, 8, CALLEE))
    _, packets = tone_packets(9.0)
    lossy = [p for i, p in enumerate(packets) if i % 20 != 7]  # 5 % loss from the caller
    reports = []
    now = 0.0
    for i in range(len(packets)):
        if i < len(lossy):
            engine.receive_rtp(engine.get(a), lossy[i], CALLER, now)
        engine.tick(now)
        reports += engine.drain_rtcp()
        now += TICK
    to_callee = [parse_compound(data) for s, data, dest in reports if dest == (CALLEE[0], 5001)]
    assert to_callee, "no RTCP towards the callee within 9 s"
    assert isinstance(to_callee[0][0], RtcpSenderReport)
    assert to_callee[0][0].ssrc == engine.get(b).ssrc
    quality = engine.get(a).quality()
    assert quality is not None and quality.measured_by == "switch"
    assert 0.03 < quality.loss_fraction < 0.08
    assert 1.0 < quality.mos < 4.4


def test_inband_detection_keeps_each_streams_digits_apart() -> None:
    from dsp.dtmf import generate

    engine = MediaEngine(PortAllocator(20000, 20099), EngineSettings())
    callers = {}
    for i, digits in enumerate(["12", "9", "#0*"]):
        a, b = f"c{i}-a", f"c{i}-b"
        engine.create_stream(a, 0.0)
        engine.create_stream(b, 0.0)
        engine.configure(a, StreamParams(PCMU, 0, ("192.0.2.1", 4000 + 2 * i)))
        engine.configure(b, StreamParams(PCMU, 0, ("192.0.2.2", 4000 + 2 * i)))
        engine.connect(a, b)
        engine.set_detect_inband(a, True)
        callers[a] = generate(digits, on_ms=80, off_ms=80)
    half_press = callers["c1-a"][:480]  # 60 ms of a key: the detector is mid-decision
    for tick in range(3):
        packet = rtp(tick, bytes(ulaw_encode(half_press[tick * 160 : (tick + 1) * 160])))
        engine.receive_rtp(engine.get("c1-a"), packet, ("192.0.2.1", 4002), tick * TICK)
        engine.tick(tick * TICK)
    engine.close("c1-a")  # its detector slot is freed and handed to the next stream
    engine.create_stream("c3-a", 0.0)
    engine.configure("c3-a", StreamParams(PCMU, 0, ("192.0.2.1", 4100)))
    engine.connect("c3-a", "c1-b")
    engine.set_detect_inband("c3-a", True)
    callers["c3-a"] = generate("7", on_ms=80, off_ms=80)
    del callers["c1-a"]
    longest = max(len(pcm) for pcm in callers.values()) // 160 + 10
    now = 3 * TICK
    for tick in range(longest):
        for stream_id, pcm in callers.items():
            frame = pcm[tick * 160 : (tick + 1) * 160]
            if len(frame) == 160:
                packet = rtp(tick, bytes(ulaw_encode(frame)))
                source = engine.get(stream_id).params.remote_rtp  # type: ignore[union-attr]
                engine.receive_rtp(engine.get(stream_id), packet, source, now)
        engine.tick(now)
        now += TICK
    got: dict[str, str] = {}
    for e in engine.drain_events():
        if isinstance(e, DtmfReceived):
            got[e.stream_id] = got.get(e.stream_id, "") + e.digit
    assert got == {"c0-a": "12", "c2-a": "#0*", "c3-a": "7"}


def test_silent_leg_times_out_once_but_held_legs_do_not() -> None:
    from media.events import MediaTimeout

    engine = MediaEngine(PortAllocator(20000, 20099), EngineSettings(media_timeout=5.0))
    engine.create_stream("talks", 0.0)
    engine.create_stream("dead", 0.0)
    engine.create_stream("held", 0.0)
    engine.tick(1.0)
    engine.configure("talks", StreamParams(PCMU, 0, CALLER))
    engine.configure("dead", StreamParams(PCMU, 0, CALLEE))
    engine.configure("held", StreamParams(PCMU, 0, CALLEE, receive=False))  # told not to send
    now = 1.0
    while now < 12.0:
        engine.receive_rtp(engine.get("talks"), rtp(int(now * 50), b"\xff" * 160), CALLER, now)
        engine.tick(now)
        now += TICK
    timeouts = [e for e in engine.drain_events() if isinstance(e, MediaTimeout)]
    assert [e.stream_id for e in timeouts] == ["dead"]
    assert 5.0 <= timeouts[0].silent_for < 6.5
    engine.configure("dead", StreamParams(PCMU, 0, CALLEE))  # a re-INVITE starts it again
    engine.tick(now + 1)
    assert engine.drain_events() == []
