"""Media anchoring in call flows: the B2BUA on a virtual network with the real media engine."""

from __future__ import annotations

from switch_harness import (
    CARRIER,
    PSTN,
    SWITCH_HOST,
    Behaviour,
    Step,
    World,
    answers,
    direction_of,
)

from callcenter.switch.anchor import MediaAnchor, MediaPolicy
from media.codecs import G722, PCMA, PCMU
from media.control import EngineControl
from media.engine import EngineSettings, MediaEngine
from media.ports import PortAllocator
from media.sdp import SessionDescription
from media.stream import StreamMode


def anchored_world(codecs: tuple = (PCMU, PCMA, G722)) -> tuple[World, EngineControl]:
    control = EngineControl(MediaEngine(PortAllocator(30000, 30099), EngineSettings(SWITCH_HOST)))
    anchor = MediaAnchor(control, MediaPolicy(codecs=codecs))
    return World(sdp=anchor), control


def audio(body: bytes) -> tuple[str, int, list[str]]:
    sdp = SessionDescription.parse(body)
    m = sdp.media[0]
    conn = sdp.media_connection(m)
    assert conn is not None
    names = [rtpmap.encoding_name for pt in m.formats if (rtpmap := m.rtpmap(pt))]
    return conn.address, m.port, names


def test_both_legs_see_the_switch_and_media_is_relayed() -> None:
    w, control = anchored_world()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    offer_to_callee = carrier.incoming[0].invite.body
    host, b_port, names = audio(offer_to_callee)
    assert host == SWITCH_HOST and b_port % 2 == 0
    assert names[:2] == ["PCMU", "telephone-event"] or names[0] == "PCMU"
    host, a_port, names = audio(call.responses[-1].body)
    assert host == SWITCH_HOST and a_port != b_port
    assert names == ["PCMU", "telephone-event"]  # the answer names one codec (and events)
    engine = control.engine
    a, b = (s for s in engine.streams.values())
    assert {a.local_port, b.local_port} == {a_port, b_port}
    assert a.mode is StreamMode.RELAY and a.peer is b
    assert a.params is not None and a.params.remote_rtp == (PSTN.host, 40000)
    assert b.params is not None and b.params.remote_rtp == (CARRIER.host, 40000)

    bye = call.bye()
    assert w.net.run_until(lambda: bye.status is not None, 2)
    assert engine.streams == {} and engine.ports.in_use == 0


def test_offer_without_a_usable_codec_is_refused_with_488() -> None:
    w, control = anchored_world()
    pstn = w.trunk("pstn", PSTN)
    w.trunk("carrier", CARRIER, answers())
    body = (
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
    )
    call = pstn.call("95551234", body=body)
    assert w.net.run_until(lambda: call.status is not None and call.status >= 400, 5)
    assert call.status == 488
    warning = call.responses[-1].headers.get("Warning") or ""
    assert "no common codec" in warning and "G729/8000" in warning
    assert control.engine.streams == {} and control.engine.ports.in_use == 0


def test_malformed_sdp_is_refused_with_400() -> None:
    w, control = anchored_world()
    pstn = w.trunk("pstn", PSTN)
    w.trunk("carrier", CARRIER, answers())
    call = pstn.call("95551234", body=b"v=0\r\nm=audio nonsense\r\n")
    assert w.net.run_until(lambda: call.status is not None and call.status >= 400, 5)
    assert call.status == 400
    assert control.engine.streams == {}


def test_callee_choosing_another_codec_is_transcoded() -> None:
    w, control = anchored_world()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    carrier_sdp = (
        b"v=0\r\no=carrier 1 1 IN IP4 10.0.0.3\r\ns=-\r\nc=IN IP4 10.0.0.3\r\nt=0 0\r\n"
        b"m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
    )
    carrier.sdp = lambda direction="sendrecv": carrier_sdp  # type: ignore[method-assign]
    offer = (
        b"v=0\r\no=pstn 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
        b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    call = pstn.call("95551234", body=offer)
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    _, _, offered = audio(carrier.incoming[0].invite.body)
    assert offered[0] == "PCMU" and "PCMA" in offered  # the caller's codec first, then ours
    assert audio(call.responses[-1].body)[2] == ["PCMU"]
    a = control.engine.get(f"{w.cdrs[0].id if w.cdrs else next(iter(w.b2bua.calls))}-a")
    assert a.params is not None and a.params.codec == PCMU
    assert a.peer is not None and a.peer.params is not None and a.peer.params.codec == PCMA
    assert a.mode is StreamMode.PROCESS


def test_hold_passes_through_and_stops_sending() -> None:
    w, control = anchored_world()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    hold = call.reinvite(pstn.sdp("sendonly"))
    assert w.net.run_until(lambda: hold.status is not None, 5)
    assert hold.status == 200
    callee = carrier.incoming[0]
    reinvite = [r for r in callee.requests if r.method == "INVITE"][-1]
    assert direction_of(reinvite.body) == "sendonly"
    assert direction_of(hold.final.body if hold.final else b"") == "recvonly"
    call_id = next(iter(w.b2bua.calls))
    a = control.engine.get(f"{call_id}-a")
    assert a.params is not None and not a.params.send  # the caller holds: we stop sending
    assert a.params.receive


def test_forks_share_one_offer_and_the_loser_frees_nothing_twice() -> None:
    w, control = anchored_world()
    pstn = w.trunk("pstn", PSTN)
    phones = [w.phone(f"desk{i}", f"10.0.1.{i}", 5060, user="1001") for i in (1, 2)]
    for phone in phones:
        w.register(phone)
    phones[0].behaviour = answers(after=2.0)
    phones[1].behaviour = answers(after=1.0)
    call = pstn.call("1001")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    offers = [p.incoming[0].invite.body for p in phones]
    assert offers[0] == offers[1]
    assert len(control.engine.streams) == 2
    bye = call.bye()
    assert w.net.run_until(lambda: bye.status is not None, 5)
    w.net.run_for(40)
    assert control.engine.ports.in_use == 0


def test_late_offer_is_anchored_too() -> None:
    w, control = anchored_world()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    call = pstn.call("95551234", offer=False)
    call.ack_body = pstn.sdp()
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    host, _, _ = audio(call.responses[-1].body)  # the switch's offer, in the 200
    assert host == SWITCH_HOST
    callee = carrier.incoming[0]
    assert w.net.run_until(lambda: bool(callee.acks), 2)
    assert audio(callee.acks[0].body)[0] == SWITCH_HOST  # the switch's answer, in the ACK
    streams = list(control.engine.streams.values())
    assert [s.mode for s in streams] == [StreamMode.RELAY, StreamMode.RELAY]


def test_late_offer_without_a_usable_codec_ends_both_legs() -> None:
    w, control = anchored_world()
    pstn = w.trunk("pstn", PSTN)
    carrier = w.trunk("carrier", CARRIER, answers(after=1.0))
    carrier.sdp = lambda direction="sendrecv": (  # type: ignore[method-assign]
        b"v=0\r\no=c 1 1 IN IP4 10.0.0.3\r\ns=-\r\nc=IN IP4 10.0.0.3\r\nt=0 0\r\n"
        b"m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
    )
    call = pstn.call("95551234", offer=False)
    assert w.net.run_until(lambda: call.status is not None and call.status >= 400, 5)
    assert call.status == 488
    callee = carrier.incoming[0]
    assert w.net.run_until(lambda: callee.state == "ended", 5)
    assert control.engine.streams == {}


def test_exhausted_port_range_answers_503() -> None:
    w, control = anchored_world()
    control.engine.ports = PortAllocator(30000, 30001)  # one port pair: room for one leg
    pstn = w.trunk("pstn", PSTN)
    w.trunk("carrier", CARRIER, answers())
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.status is not None and call.status >= 400, 5)
    assert call.status == 503
    assert control.engine.streams == {} and control.engine.ports.in_use == 0


def test_early_media_answer_is_repeated_unchanged_in_the_200() -> None:
    w, _control = anchored_world()
    pstn = w.trunk("pstn", PSTN)
    w.trunk("carrier", CARRIER, Behaviour((Step(0.0, 183, sdp=True), Step(1.0, 200, sdp=True))))
    call = pstn.call("95551234")
    assert w.net.run_until(lambda: call.state == "confirmed", 5)
    early = [r for r in call.responses if r.status_code == 183]
    final = [r for r in call.responses if r.status_code == 200]
    assert early and final and early[0].body
    assert final[0].body == early[0].body  # same session version: nothing changed
