"""RFC 3264 offer/answer: the negotiation matrix, answer checks and the dialog session."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.codecs import G722, PCMA, PCMU, TELEPHONE_EVENT, Codec
from media.offer_answer import (
    Answer,
    InvalidAnswer,
    LocalCapabilities,
    NegotiatedMedia,
    NoCommonCodec,
    OfferRejected,
    SrtpPolicy,
    create_answer,
    create_offer,
    process_answer,
)
from media.offer_answer_session import OfferAnswerSession, RequestPending
from media.sdp import Connection, Direction, SdpError, SessionDescription

CAPS = LocalCapabilities()  # PCMU PCMA G722, telephone-event, ptime 20, rtcp-mux
LOCAL = "192.0.2.10"
CRYPTO = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"


def offer_of(media: str, *, session: str = "c=IN IP4 203.0.113.5\n") -> SessionDescription:
    """A remote offer: fixed session head, `media` lines as given."""
    head = "v=0\no=remote 7 7 IN IP4 203.0.113.5\ns=-\n" + session + "t=0 0\n"
    return SessionDescription.parse(head + media)


def answer(
    offer: SessionDescription,
    caps: LocalCapabilities = CAPS,
    direction: str = "sendrecv",
    crypto: Sequence[str] = (),
) -> Answer:
    return create_answer(offer, caps, LOCAL, 20000, 99, 1, direction, crypto=crypto)


def lines(sdp: SessionDescription) -> list[str]:
    return sdp.serialize().decode().split("\r\n")


# --- codec choice --------------------------------------------------------------------------------


def test_pcmu_only_offer_without_telephone_event() -> None:
    result = answer(offer_of("m=audio 6000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"))
    media = result.media
    assert (media.codec, media.payload_type, media.telephone_event_pt) == (PCMU, 0, None)
    assert (media.remote_address, media.remote_port, media.remote_rtcp_port) == (
        "203.0.113.5",
        6000,
        6001,
    )
    assert media.direction is Direction.SENDRECV
    assert not media.rtcp_mux
    assert lines(result.sdp) == [
        "v=0",
        f"o=- 99 1 IN IP4 {LOCAL}",
        "s=-",
        f"c=IN IP4 {LOCAL}",
        "t=0 0",
        "m=audio 20000 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "a=ptime:20",
        "a=sendrecv",
        "",
    ]


def test_pcma_only_offer_without_rtpmap() -> None:
    result = answer(offer_of("m=audio 6000 RTP/AVP 8 101\na=rtpmap:101 telephone-event/8000\n"))
    assert (result.media.codec, result.media.payload_type) == (PCMA, 8)
    assert result.media.telephone_event_pt == 101
    assert result.sdp.media[0].formats == ["8", "101"]
    assert result.sdp.media[0].fmtp(101) == TELEPHONE_EVENT.fmtp


G722_FIRST = (
    "m=audio 10372 RTP/AVP 9 0 8 101\n"
    "a=rtpmap:9 G722/8000\na=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\n"
    "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\n"
)


def test_offerer_order_wins_by_default() -> None:
    media = answer(offer_of(G722_FIRST)).media
    assert media.codec is G722
    assert media.codec.sample_rate == 16000 and media.codec.clock_rate == 8000


def test_local_order_when_configured() -> None:
    caps = LocalCapabilities(codecs=[PCMA, G722, PCMU], prefer_local_order=True)
    assert answer(offer_of(G722_FIRST), caps).media.codec is PCMA


def test_only_codecs_we_support_count() -> None:
    caps = LocalCapabilities(codecs=[PCMU])
    assert answer(offer_of(G722_FIRST), caps).media.codec is PCMU


def test_dynamic_payload_numbers_are_kept() -> None:
    offer = offer_of(
        "m=audio 4000 RTP/AVP 96 97\na=rtpmap:96 PCMU/8000\n"
        "a=rtpmap:97 telephone-event/8000\na=fmtp:97 0-15\n"
    )
    result = answer(offer)
    assert (result.media.codec, result.media.payload_type) == (PCMU, 96)
    assert result.media.telephone_event_pt == 97
    audio = result.sdp.media[0]
    assert audio.formats == ["96", "97"]
    assert audio.attribute_values("rtpmap") == ["96 PCMU/8000", "97 telephone-event/8000"]


def test_rtpmap_overrides_a_static_number() -> None:
    offer = offer_of("m=audio 4000 RTP/AVP 0 8\na=rtpmap:0 G729/8000\n")
    assert answer(offer).media.codec is PCMA


def test_telephone_event_at_the_codec_clock_rate() -> None:
    offer = offer_of(
        "m=audio 7078 RTP/AVP 96 0 101 99 100\na=rtpmap:96 opus/48000/2\n"
        "a=rtpmap:101 telephone-event/48000\na=rtpmap:99 telephone-event/16000\n"
        "a=rtpmap:100 telephone-event/8000\n"
    )
    media = answer(offer).media
    assert (media.codec, media.telephone_event_pt) == (PCMU, 100)


def test_no_telephone_event_when_we_do_not_want_it() -> None:
    caps = LocalCapabilities(telephone_event=False)
    result = answer(offer_of(G722_FIRST), caps)
    assert result.media.telephone_event_pt is None
    assert result.sdp.media[0].formats == ["9"]
    offer = create_offer(caps, LOCAL, 20000, 1, 1)
    assert offer.media[0].formats == ["0", "8", "9"]


# --- directions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "local", "answered", "ours"),
    [
        ("sendrecv", "sendrecv", "sendrecv", "sendrecv"),
        ("sendonly", "sendrecv", "recvonly", "recvonly"),
        ("recvonly", "sendrecv", "sendonly", "sendonly"),
        ("inactive", "sendrecv", "inactive", "inactive"),
        ("sendrecv", "sendonly", "sendonly", "sendonly"),
        ("sendonly", "sendonly", "inactive", "inactive"),
    ],
)
def test_answered_direction(offered: str, local: str, answered: str, ours: str) -> None:
    result = answer(offer_of(f"m=audio 6000 RTP/AVP 0\na={offered}\n"), direction=local)
    assert result.sdp.media[0].direction == answered
    assert result.media.direction == ours


def test_session_level_direction_applies() -> None:
    offer = offer_of("m=audio 6000 RTP/AVP 0\n", session="c=IN IP4 203.0.113.5\na=sendonly\n")
    result = answer(offer)
    assert result.sdp.media[0].direction is Direction.RECVONLY


def test_old_style_hold_stops_our_sending_without_holding_back() -> None:
    offer = offer_of("m=audio 6000 RTP/AVP 0\n", session="c=IN IP4 0.0.0.0\n")
    result = answer(offer)
    assert result.sdp.media[0].direction is Direction.SENDRECV  # RFC 3264 §8.4
    assert result.media.direction is Direction.RECVONLY
    assert result.media.remote_on_hold


# --- streams -------------------------------------------------------------------------------------


def test_video_alongside_audio_is_refused_in_place() -> None:
    offer = offer_of(
        "m=video 5000 RTP/AVP 99 34\na=rtpmap:99 H264/90000\n"
        "m=audio 6000 RTP/AVP 0\n"
        "m=application 7000 UDP/BFCP *\n"
    )
    result = answer(offer)
    video, audio, app = result.sdp.media
    assert (video.media, video.port, video.proto, video.formats) == (
        "video",
        0,
        "RTP/AVP",
        ["99", "34"],
    )
    assert video.attributes == []
    assert (audio.port, audio.formats) == (20000, ["0"])
    assert (app.media, app.port, app.formats) == ("application", 0, ["*"])
    assert result.media.media_index == 1


def test_port_zero_audio_is_skipped_and_refused_again() -> None:
    offer = offer_of("m=audio 0 RTP/AVP 0\nm=audio 6002 RTP/AVP 8\n")
    result = answer(offer)
    assert [m.port for m in result.sdp.media] == [0, 20000]
    assert (result.media.media_index, result.media.codec, result.media.remote_port) == (
        1,
        PCMA,
        6002,
    )


def test_second_audio_stream_used_when_first_has_no_common_codec() -> None:
    offer = offer_of("m=audio 6000 RTP/AVP 18\nm=audio 6002 RTP/AVP 0\n")
    assert answer(offer).media.media_index == 1


def test_media_level_connection_wins_and_ipv6() -> None:
    offer = offer_of("m=audio 6000 RTP/AVP 0\nc=IN IP6 2001:db8::7\n")
    result = create_answer(offer, CAPS, "2001:db8::1", 30000, 5, 5)
    assert result.media.remote_address == "2001:db8::7"
    assert result.sdp.connection == Connection("2001:db8::1", "IP6")
    assert result.sdp.origin.addrtype == "IP6"


def test_rtcp_attribute_and_rtcp_mux() -> None:
    offer = offer_of("m=audio 6000 RTP/AVP 0\na=rtcp:7001 IN IP4 203.0.113.9\n")
    media = answer(offer).media
    assert (media.remote_rtcp_address, media.remote_rtcp_port) == ("203.0.113.9", 7001)
    assert answer(offer_of("m=audio 6000 RTP/AVP 0\na=rtcp:7001\n")).media.remote_rtcp_port == 7001
    muxed = answer(offer_of("m=audio 6000 RTP/AVP 0\na=rtcp-mux\n"))
    assert muxed.media.rtcp_mux and muxed.media.remote_rtcp_port == 6000
    assert muxed.sdp.media[0].rtcp_mux
    no_mux = answer(
        offer_of("m=audio 6000 RTP/AVP 0\na=rtcp-mux\n"), LocalCapabilities(rtcp_mux=False)
    )
    assert not no_mux.media.rtcp_mux and no_mux.media.remote_rtcp_port == 6001
    assert not no_mux.sdp.media[0].rtcp_mux


def test_ptime_carried_and_capped() -> None:
    result = answer(offer_of("m=audio 6000 RTP/AVP 0\na=ptime:30\n"))
    assert result.media.ptime_ms == 30
    assert result.sdp.media[0].ptime == 20  # what we want to receive
    capped = answer(offer_of("m=audio 6000 RTP/AVP 0\na=ptime:30\na=maxptime:10\n"))
    assert capped.media.ptime_ms == 10
    assert answer(offer_of("m=audio 6000 RTP/AVP 0\n")).media.ptime_ms == 20


# --- refusals ------------------------------------------------------------------------------------


def test_no_common_codec_is_488_with_a_readable_reason() -> None:
    offer = offer_of("m=audio 6000 RTP/AVP 8 18 96 101\na=rtpmap:101 telephone-event/8000\n")
    caps = LocalCapabilities(codecs=[PCMU, G722])
    with pytest.raises(NoCommonCodec) as info:
        answer(offer, caps)
    error = info.value
    assert error.status_code == 488
    assert str(error) == (
        "no common codec: offered PCMA/8000 G729/8000 payload-type-96, supported PCMU G722"
    )
    assert error.offered == ("PCMA/8000", "G729/8000", "payload-type-96")
    assert isinstance(error, OfferRejected) and isinstance(error, SdpError)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_only_video_is_rejected() -> None:
    with pytest.raises(OfferRejected, match="no audio stream offered") as info:
        answer(offer_of("m=video 5000 RTP/AVP 99\n"))
    assert info.value.status_code == 488


def test_webrtc_transport_is_rejected_for_now() -> None:
    offer = offer_of("m=audio 9 UDP/TLS/RTP/SAVPF 0\na=rtcp-mux\n")
    with pytest.raises(OfferRejected, match="unsupported audio transport: UDP/TLS/RTP/SAVPF"):
        answer(offer)


def test_usable_audio_without_connection_is_an_sdp_error() -> None:
    with pytest.raises(SdpError, match="no c= line") as info:
        answer(offer_of("m=audio 6000 RTP/AVP 0\n", session=""))
    assert info.value.status_code == 400


def test_malformed_offer_names_the_line() -> None:
    with pytest.raises(SdpError) as info:
        offer_of("m=audio 6000x RTP/AVP 0\n")
    assert info.value.line_number == 6
    assert "m=audio 6000x" in str(info.value)


# --- SRTP policy ---------------------------------------------------------------------------------

SAVP = f"m=audio 6000 RTP/SAVP 0\na=crypto:{CRYPTO}\n"


def test_srtp_refused_without_policy() -> None:
    with pytest.raises(OfferRejected, match="RTP/SAVP"):
        answer(offer_of(SAVP))


def test_srtp_accepted_when_optional() -> None:
    caps = LocalCapabilities(srtp=SrtpPolicy.OPTIONAL)
    result = answer(offer_of(SAVP), caps, crypto=["1 AES_CM_128_HMAC_SHA1_80 inline:ours"])
    assert result.media.crypto == (CRYPTO,)
    assert result.sdp.media[0].proto == "RTP/SAVP"
    assert result.sdp.media[0].crypto == ["1 AES_CM_128_HMAC_SHA1_80 inline:ours"]


def test_srtp_mandatory_refuses_plain_rtp() -> None:
    caps = LocalCapabilities(srtp=SrtpPolicy.MANDATORY)
    with pytest.raises(OfferRejected, match="RTP/AVP"):
        answer(offer_of("m=audio 6000 RTP/AVP 0\n"), caps)
    offer = create_offer(caps, LOCAL, 20000, 1, 1, crypto=[CRYPTO])
    assert offer.media[0].proto == "RTP/SAVP"
    with pytest.raises(ValueError, match="crypto"):
        create_offer(caps, LOCAL, 20000, 1, 1)


def test_capabilities_are_validated() -> None:
    with pytest.raises(ValueError):
        LocalCapabilities(codecs=[])
    with pytest.raises(ValueError):
        LocalCapabilities(codecs=[PCMU, TELEPHONE_EVENT])
    with pytest.raises(ValueError):
        LocalCapabilities(ptime_ms=0)
    assert LocalCapabilities(codecs=[PCMU]).codecs == (PCMU,)


# --- our offer, their answer ---------------------------------------------------------------------


def test_offer_lists_our_codecs() -> None:
    offer = create_offer(CAPS, LOCAL, 20000, 42, 3, username="cc")
    assert lines(offer) == [
        "v=0",
        f"o=cc 42 3 IN IP4 {LOCAL}",
        "s=-",
        f"c=IN IP4 {LOCAL}",
        "t=0 0",
        "m=audio 20000 RTP/AVP 0 8 9 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=rtcp-mux",
        "a=sendrecv",
        "",
    ]
    assert SessionDescription.parse(offer.serialize()) == offer


def remote_answer(media: str) -> SessionDescription:
    return SessionDescription.parse(
        "v=0\no=peer 1 1 IN IP4 198.51.100.4\ns=-\nc=IN IP4 198.51.100.4\nt=0 0\n" + media
    )


OUR_OFFER = create_offer(CAPS, LOCAL, 20000, 42, 3)


def test_process_answer_reads_the_choice() -> None:
    media = process_answer(
        OUR_OFFER,
        remote_answer(
            "m=audio 8000 RTP/AVP 8 101\na=rtpmap:101 telephone-event/8000\na=ptime:30\n"
        ),
    )
    assert (media.codec, media.payload_type, media.telephone_event_pt) == (PCMA, 8, 101)
    assert (media.remote_address, media.remote_port, media.remote_rtcp_port) == (
        "198.51.100.4",
        8000,
        8001,
    )
    assert (media.ptime_ms, media.direction, media.rtcp_mux) == (30, Direction.SENDRECV, False)


def test_process_answer_uses_the_answerer_preference_and_numbers() -> None:
    media = process_answer(
        OUR_OFFER,
        remote_answer(
            "m=audio 8000 RTP/AVP 18 9 0 96\na=rtpmap:96 telephone-event/8000\na=rtcp-mux\n"
        ),
    )
    assert (media.codec, media.telephone_event_pt, media.rtcp_mux) == (G722, 96, True)
    assert media.remote_rtcp_port == 8000


def test_process_answer_directions() -> None:
    media = process_answer(OUR_OFFER, remote_answer("m=audio 8000 RTP/AVP 0\na=recvonly\n"))
    assert media.direction is Direction.SENDONLY
    held = create_offer(CAPS, LOCAL, 20000, 42, 4, Direction.SENDONLY)
    media = process_answer(held, remote_answer("m=audio 8000 RTP/AVP 0\na=recvonly\n"))
    assert media.direction is Direction.SENDONLY
    media = process_answer(held, remote_answer("m=audio 8000 RTP/AVP 0\na=inactive\n"))
    assert media.direction is Direction.INACTIVE


def test_process_answer_without_telephone_event_offered() -> None:
    offer = create_offer(LocalCapabilities(telephone_event=False), LOCAL, 20000, 1, 1)
    answered = remote_answer("m=audio 8000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\n")
    assert process_answer(offer, answered).telephone_event_pt is None


@pytest.mark.parametrize(
    ("media", "reason"),
    [
        ("m=audio 8000 RTP/AVP 18\n", "picked no offered codec: answered G729/8000"),
        ("m=audio 0 RTP/AVP 0\n", "refused the audio stream"),
        ("m=audio 8000 RTP/AVP 0\nm=video 0 RTP/AVP 31\n", "2 m= lines, the offer had 1"),
        ("m=video 8000 RTP/AVP 31\n", "is video, we offered audio"),
        ("m=audio 8000 RTP/AVP 96\na=rtpmap:96 PCMU/16000\n", "picked no offered codec"),
    ],
)
def test_invalid_answers(media: str, reason: str) -> None:
    with pytest.raises(InvalidAnswer, match=reason):
        process_answer(OUR_OFFER, remote_answer(media))


def test_answer_without_connection_is_invalid() -> None:
    answered = SessionDescription.parse(
        "v=0\no=peer 1 1 IN IP4 198.51.100.4\ns=-\nt=0 0\nm=audio 8000 RTP/AVP 0\n"
    )
    with pytest.raises(InvalidAnswer, match="no c= line"):
        process_answer(OUR_OFFER, answered)


_CODEC_LISTS = st.lists(st.sampled_from([PCMU, PCMA, G722]), min_size=1, max_size=3, unique=True)


@given(_CODEC_LISTS, _CODEC_LISTS, st.booleans(), st.booleans(), st.booleans())
def test_both_ends_agree(
    ours: list[Codec], theirs: list[Codec], our_events: bool, their_events: bool, their_order: bool
) -> None:
    offerer = LocalCapabilities(codecs=ours, telephone_event=our_events)
    answerer = LocalCapabilities(
        codecs=theirs, telephone_event=their_events, prefer_local_order=their_order
    )
    offer = create_offer(offerer, "192.0.2.1", 10000, 1, 1)
    common = [c for c in ours if c in theirs]
    if not common:
        with pytest.raises(NoCommonCodec):
            create_answer(offer, answerer, "192.0.2.2", 30000, 2, 2)
        return
    result = create_answer(offer, answerer, "192.0.2.2", 30000, 2, 2)
    expected = next(c for c in theirs if c in ours) if their_order else common[0]
    seen_by_offerer = process_answer(offer, SessionDescription.parse(result.sdp.serialize()))
    for side in (result.media, seen_by_offerer):
        assert side.codec is expected
        assert side.telephone_event_pt == (101 if our_events and their_events else None)
        assert side.rtcp_mux
    assert (seen_by_offerer.remote_address, seen_by_offerer.remote_port) == ("192.0.2.2", 30000)
    assert (result.media.remote_address, result.media.remote_port) == ("192.0.2.1", 10000)


# --- the dialog session --------------------------------------------------------------------------


def session() -> OfferAnswerSession:
    return OfferAnswerSession(CAPS, LOCAL, 20000, session_id=777, initial_version=5)


def peer_answer(offer: SessionDescription, direction: str = "sendrecv") -> SessionDescription:
    return create_answer(offer, CAPS, "198.51.100.4", 8000, 1, 1, direction).sdp


def test_session_offer_answer_and_unchanged_reoffer() -> None:
    s = session()
    first = s.create_offer()
    assert first.origin.session_version == 5 and s.offer_pending
    negotiated = s.receive_answer(peer_answer(first))
    assert s.negotiated == negotiated and not s.offer_pending
    again = s.create_offer()  # session refresh: nothing changed
    assert again == first
    s.receive_answer(peer_answer(again))


def test_session_hold_and_resume_bump_the_version() -> None:
    s = session()
    s.receive_answer(peer_answer(s.create_offer()))
    s.hold()
    held = s.create_offer()
    assert held.media[0].direction is Direction.SENDONLY
    assert held.origin.session_version == 6
    media = s.receive_answer(peer_answer(held))
    assert media.direction is Direction.SENDONLY and s.on_hold
    s.resume()
    resumed = s.create_offer()
    assert resumed.media[0].direction is Direction.SENDRECV
    assert resumed.origin.session_version == 7
    assert s.receive_answer(peer_answer(resumed)).direction is Direction.SENDRECV


def test_session_hold_while_held_by_the_remote_is_inactive() -> None:
    s = session()
    s.receive_answer(peer_answer(s.create_offer(), "sendonly"))
    assert s.negotiated is not None and s.negotiated.direction is Direction.RECVONLY
    s.hold()
    assert s.create_offer().media[0].direction is Direction.INACTIVE


def test_session_answers_remote_reoffer_with_new_address() -> None:
    s = session()
    offer = offer_of("m=audio 6000 RTP/AVP 0 8\n")
    first = s.receive_offer(offer)
    assert first.sdp.origin.session_version == 5
    moved = offer_of("m=audio 6100 RTP/AVP 0 8\nc=IN IP4 203.0.113.77\n")
    second = s.receive_offer(moved)
    assert (second.media.remote_address, second.media.remote_port) == ("203.0.113.77", 6100)
    assert second.sdp == first.sdp  # our side did not change: same version, same SDP
    assert s.negotiated == second.media


def test_session_answers_remote_hold_and_local_hold() -> None:
    s = session()
    s.receive_offer(offer_of("m=audio 6000 RTP/AVP 0\n"))
    held = s.receive_offer(offer_of("m=audio 6000 RTP/AVP 0\na=sendonly\n"))
    assert held.sdp.media[0].direction is Direction.RECVONLY
    assert held.sdp.origin.session_version == 6
    s.hold()
    answered = s.receive_offer(offer_of("m=audio 6000 RTP/AVP 0\n"))
    assert answered.sdp.media[0].direction is Direction.SENDONLY


def test_session_keeps_origin_and_event_number_in_reoffers() -> None:
    s = session()
    s.receive_offer(offer_of("m=audio 6000 RTP/AVP 8 0 96\na=rtpmap:96 telephone-event/8000\n"))
    s.set_local_address("192.0.2.99", 22000)
    offer = s.create_offer()
    assert offer.origin.address == LOCAL
    assert offer.connection == Connection("192.0.2.99")
    assert offer.media[0].port == 22000
    assert offer.media[0].formats == ["8", "0", "9", "96"]  # codec in use first


def test_session_glare_and_stray_answer() -> None:
    s = session()
    s.create_offer()
    with pytest.raises(RequestPending) as info:
        s.receive_offer(offer_of("m=audio 6000 RTP/AVP 0\n"))
    assert info.value.status_code == 491
    with pytest.raises(RequestPending):
        s.create_offer()
    fresh = session()
    with pytest.raises(InvalidAnswer, match="no offer outstanding"):
        fresh.receive_answer(remote_answer("m=audio 8000 RTP/AVP 0\n"))


def test_session_refused_reoffer_keeps_the_session() -> None:
    s = session()
    s.receive_answer(peer_answer(s.create_offer()))
    before = s.negotiated
    s.hold()
    s.create_offer()  # version 6, refused
    s.cancel_offer()
    assert s.negotiated == before
    s.resume()
    assert s.create_offer().origin.session_version == 5  # same as the SDP in force
    s.cancel_offer()
    s.hold()
    assert s.create_offer().origin.session_version == 7  # never reuse a number


def test_session_rejected_reoffer_from_remote_leaves_state() -> None:
    s = session()
    s.receive_offer(offer_of("m=audio 6000 RTP/AVP 0\n"))
    before = s.negotiated
    with pytest.raises(NoCommonCodec):
        s.receive_offer(offer_of("m=audio 6000 RTP/AVP 18\n"))
    assert s.negotiated == before


def test_negotiated_media_defaults_rtcp_address() -> None:
    media = NegotiatedMedia(
        PCMU, 0, None, "198.51.100.4", 8000, 8001, False, 20, Direction.SENDRECV
    )
    assert media.remote_rtcp_address == "198.51.100.4"
    assert not media.remote_on_hold
