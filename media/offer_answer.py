"""The SDP offer/answer model (RFC 3264) for one audio stream per call leg.

`create_offer` writes our offer; `create_answer` answers a remote offer, taking the first usable
audio stream and refusing every other stream with port 0 in the same position (§6);
`process_answer` checks the remote answer against the offer we sent. Both sides end in a
`NegotiatedMedia`: the codec and payload types, the remote RTP/RTCP addresses, packetization and
the direction from our point of view. `OfferAnswerSession` (in `media.offer_answer_session`)
carries the exchanges of a dialog: re-offers, hold and resume, the o= version rules of §8.

Codec choice follows the offerer's order among the codecs we support (or ours, with
`LocalCapabilities.prefer_local_order`); the offerer's payload type numbers are kept in the answer
(§6.1). An offer with no usable audio raises `OfferRejected` (SIP 488), `NoCommonCodec` when codecs
are the reason, with a reason naming what was offered and what we support.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from media.codecs import (
    G722,
    PCMA,
    PCMU,
    STATIC_PAYLOAD_TYPES,
    TELEPHONE_EVENT,
    Codec,
    codec_for_rtpmap,
)
from media.sdp import (
    Connection,
    Direction,
    MediaDescription,
    Origin,
    SdpError,
    SessionDescription,
    Timing,
    address_type,
)
from media.sdp_fields import is_decimal

__all__ = [
    "Answer",
    "InvalidAnswer",
    "LocalCapabilities",
    "NegotiatedMedia",
    "NoCommonCodec",
    "OfferRejected",
    "SrtpPolicy",
    "create_answer",
    "create_offer",
    "process_answer",
]

AUDIO = "audio"
DEFAULT_PTIME_MS = 20
RTP_AVP = "RTP/AVP"
RTP_SAVP = "RTP/SAVP"
_PLAIN_PROTOS = frozenset({"RTP/AVP", "RTP/AVPF"})
_SECURE_PROTOS = frozenset({"RTP/SAVP", "RTP/SAVPF"})
# Formats that ride along with a voice codec rather than being one (RFC 4733, RFC 3389).
_AUXILIARY = frozenset({"telephone-event", "cn"})


class SrtpPolicy(StrEnum):
    """Whether SDES-SRTP (RFC 4568) is refused, accepted or required on this leg."""

    NONE = "none"
    OPTIONAL = "optional"
    MANDATORY = "mandatory"


class OfferRejected(SdpError):
    """A well-formed offer with no audio stream we can take: answer 488 Not Acceptable Here."""

    status_code = 488


class NoCommonCodec(OfferRejected):
    """The offered audio formats and ours do not meet."""

    def __init__(self, offered: Sequence[str], supported: Sequence[str]):
        self.offered = tuple(offered)
        self.supported = tuple(supported)
        listed = " ".join(self.offered) or "nothing"
        super().__init__(f"no common codec: offered {listed}, supported {' '.join(supported)}")

    def __reduce__(self) -> tuple[type[NoCommonCodec], tuple[tuple[str, ...], tuple[str, ...]]]:
        return (type(self), (self.offered, self.supported))


class InvalidAnswer(SdpError):
    """An answer that does not answer our offer (RFC 3264 §6): the call cannot have audio."""


@dataclass(frozen=True)
class LocalCapabilities:
    """What this side can do, `codecs` in order of preference (voice codecs only)."""

    codecs: Sequence[Codec] = (PCMU, PCMA, G722)
    telephone_event: bool = True
    ptime_ms: int = DEFAULT_PTIME_MS
    srtp: SrtpPolicy = SrtpPolicy.NONE
    prefer_local_order: bool = False
    """Pick by our order instead of the offerer's among the codecs both support."""
    rtcp_mux: bool = True
    """Offer, and accept, RTP and RTCP on one port (RFC 5761)."""

    def __post_init__(self) -> None:
        codecs = tuple(self.codecs)
        if not codecs:
            raise ValueError("at least one codec is needed")
        if any(c.name.lower() in _AUXILIARY for c in codecs):
            raise ValueError("telephone-event is enabled by `telephone_event`, not as a codec")
        if self.ptime_ms <= 0:
            raise ValueError(f"ptime must be positive, got {self.ptime_ms}")
        object.__setattr__(self, "codecs", codecs)


@dataclass(frozen=True, slots=True)
class NegotiatedMedia:
    """The outcome of one offer/answer exchange for the audio stream.

    `payload_type` numbers the codec in both directions; `direction` is from our point of view
    (`sends`: we may transmit; it is never sending when the remote address is 0.0.0.0, RFC 3264
    §8.4). `crypto` holds the remote party's raw `a=crypto` values. `media_index` is the position
    of the audio m= line.
    """

    codec: Codec
    payload_type: int
    telephone_event_pt: int | None
    remote_address: str
    remote_port: int
    remote_rtcp_port: int
    rtcp_mux: bool
    ptime_ms: int
    direction: Direction
    crypto: tuple[str, ...] = ()
    remote_rtcp_address: str = ""
    media_index: int = 0

    def __post_init__(self) -> None:
        if not self.remote_rtcp_address:
            object.__setattr__(self, "remote_rtcp_address", self.remote_address)

    @property
    def remote_on_hold(self) -> bool:
        """The remote party asked for no media (recvonly/inactive towards us, or 0.0.0.0)."""
        return not self.direction.sends


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to send and what it agreed."""

    sdp: SessionDescription
    media: NegotiatedMedia


# --- offers ------------------------------------------------------------------------------------


def create_offer(
    caps: LocalCapabilities,
    address: str,
    port: int,
    session_id: int,
    version: int,
    direction: Direction | str = Direction.SENDRECV,
    *,
    username: str = "-",
    origin_address: str | None = None,
    telephone_event_pt: int = TELEPHONE_EVENT.payload_type,
    crypto: Sequence[str] = (),
) -> SessionDescription:
    """An offer with one audio stream listing `caps.codecs` in order (RFC 3264 §5).

    `crypto` lines (RFC 4568) make the stream RTP/SAVP when the SRTP policy is mandatory; with
    an optional policy they ride on RTP/AVP. `origin_address` defaults to `address`.
    """
    formats = [(c.payload_type, c) for c in caps.codecs]
    if caps.telephone_event:
        formats.append((telephone_event_pt, TELEPHONE_EVENT))
    media = MediaDescription(
        AUDIO, port, _offer_proto(caps, crypto), [str(pt) for pt, _ in formats]
    )
    for pt, codec in formats:
        _add_format(media, pt, codec)
    _add_stream_attributes(media, caps.ptime_ms, caps.rtcp_mux, crypto, Direction(direction))
    return _session(address, session_id, version, username, origin_address, [media])


def _offer_proto(caps: LocalCapabilities, crypto: Sequence[str]) -> str:
    if caps.srtp is SrtpPolicy.MANDATORY:
        if not crypto:
            raise ValueError("a mandatory SRTP policy needs crypto lines to offer")
        return RTP_SAVP
    return RTP_AVP


def _add_format(media: MediaDescription, payload_type: int, codec: Codec) -> None:
    media.add_attribute("rtpmap", f"{payload_type} {codec.rtpmap}")
    if codec.fmtp is not None:
        media.add_attribute("fmtp", f"{payload_type} {codec.fmtp}")


def _add_stream_attributes(
    media: MediaDescription,
    ptime_ms: int,
    rtcp_mux: bool,
    crypto: Sequence[str],
    direction: Direction,
) -> None:
    media.add_attribute("ptime", str(ptime_ms))
    if rtcp_mux:
        media.add_attribute("rtcp-mux")
    for line in crypto:
        media.add_attribute("crypto", line)
    media.set_direction(direction)


def _session(
    address: str,
    session_id: int,
    version: int,
    username: str,
    origin_address: str | None,
    media: list[MediaDescription],
) -> SessionDescription:
    origin_at = origin_address or address
    origin = Origin(username, session_id, version, "IN", address_type(origin_at), origin_at)
    return SessionDescription(
        origin=origin,
        session_name="-",
        connection=Connection.for_address(address),
        timings=[Timing(0, 0)],
        media=media,
    )


# --- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Choice:
    """The audio stream picked out of an offer (or answer) and the formats agreed in it."""

    index: int
    codec: Codec
    payload_type: int
    telephone_event_pt: int | None


@dataclass
class _Refusals:
    """Why each audio stream of an offer was unusable; codecs are reported before transports."""

    codecs: list[NoCommonCodec] = field(default_factory=list)
    transports: list[str] = field(default_factory=list)

    def error(self) -> OfferRejected:
        if self.codecs:
            return self.codecs[0]
        if self.transports:
            return OfferRejected(f"unsupported audio transport: {', '.join(self.transports)}")
        return OfferRejected("no audio stream offered")


def create_answer(
    offer: SessionDescription,
    caps: LocalCapabilities,
    address: str,
    port: int,
    session_id: int,
    version: int,
    direction: Direction | str = Direction.SENDRECV,
    *,
    username: str = "-",
    origin_address: str | None = None,
    crypto: Sequence[str] = (),
) -> Answer:
    """Answer `offer` (RFC 3264 §6): one audio stream taken, the others refused with port 0.

    `direction` is what we are willing to do; the answered direction is that intersected with
    the reverse of the offered one (§6.1). `crypto` holds our `a=crypto` lines for an SRTP
    stream. Raises `OfferRejected` / `NoCommonCodec` (488) or `SdpError` (a usable stream with no
    connection address).
    """
    choice = _choose_stream(offer, caps)
    offered = offer.media[choice.index]
    answered = Direction(direction).intersect(offer.media_direction(offered).reversed())
    rtcp_mux = caps.rtcp_mux and offered.rtcp_mux
    media = [
        _answer_stream(choice, offered, caps, port, rtcp_mux, crypto, answered)
        if index == choice.index
        else _refused_stream(m)
        for index, m in enumerate(offer.media)
    ]
    sdp = _session(address, session_id, version, username, origin_address, media)
    remote_crypto = offered.crypto if caps.srtp is not SrtpPolicy.NONE else []
    negotiated = _negotiated(offer, choice, answered, rtcp_mux, caps.ptime_ms, remote_crypto)
    return Answer(sdp, negotiated)


def _answer_stream(
    choice: _Choice,
    offered: MediaDescription,
    caps: LocalCapabilities,
    port: int,
    rtcp_mux: bool,
    crypto: Sequence[str],
    direction: Direction,
) -> MediaDescription:
    formats = [(choice.payload_type, choice.codec)]
    if choice.telephone_event_pt is not None:
        formats.append((choice.telephone_event_pt, TELEPHONE_EVENT))
    media = MediaDescription(AUDIO, port, offered.proto, [str(pt) for pt, _ in formats])
    for pt, codec in formats:
        _add_format(media, pt, codec)
    _add_stream_attributes(media, caps.ptime_ms, rtcp_mux, crypto, direction)
    return media


def _refused_stream(offered: MediaDescription) -> MediaDescription:
    """Port 0, same media and transport, the offered formats (§6: at least one is required)."""
    return MediaDescription(offered.media, 0, offered.proto, list(offered.formats))


def _choose_stream(offer: SessionDescription, caps: LocalCapabilities) -> _Choice:
    refusals = _Refusals()
    for index, media in enumerate(offer.media):
        if media.media != AUDIO or media.is_rejected:
            continue
        if not _transport_usable(media, caps.srtp):
            refusals.transports.append(media.proto)
            continue
        choice = _choose_formats(index, media, caps)
        if choice is None:
            refusals.codecs.append(NoCommonCodec(_offered_labels(media), _names(caps.codecs)))
            continue
        if offer.media_connection(media) is None:
            raise SdpError(f"audio stream {index + 1} has no c= line")
        return choice
    raise refusals.error()


def _transport_usable(media: MediaDescription, policy: SrtpPolicy) -> bool:
    if media.proto in _PLAIN_PROTOS:
        return policy is not SrtpPolicy.MANDATORY or bool(media.crypto)
    if media.proto in _SECURE_PROTOS:
        return policy is not SrtpPolicy.NONE and bool(media.crypto)
    return False


def _resolve(media: MediaDescription, fmt: str) -> tuple[str, int, int] | None:
    """(encoding name, clock rate, channels) of a format, from its rtpmap or RFC 3551 §6."""
    if not is_decimal(fmt):
        return None
    rtpmap = media.rtpmap(fmt)
    if rtpmap is not None:
        return rtpmap.encoding_name, rtpmap.clock_rate, rtpmap.channels
    static = STATIC_PAYLOAD_TYPES.get(int(fmt))
    if static is None:
        return None
    name, rate, *channels = static.split("/")
    return name, int(rate), int(channels[0]) if channels else 1


def _voice_codec(media: MediaDescription, fmt: str) -> Codec | None:
    """Our codec for a format, by rtpmap, or by static payload type when there is none."""
    resolved = _resolve(media, fmt)
    if resolved is None or resolved[0].lower() in _AUXILIARY:
        return None
    return codec_for_rtpmap(*resolved)


def _telephone_event_pt(media: MediaDescription, clock_rate: int) -> int | None:
    """The telephone-event format at the codec's clock rate (RFC 4733 §7.1.1)."""
    for pt in media.payload_types:
        rtpmap = media.rtpmap(pt)
        if rtpmap is None or rtpmap.clock_rate != clock_rate:
            continue
        if rtpmap.encoding_name.lower() == TELEPHONE_EVENT.name:
            return pt
    return None


def _choose_formats(index: int, media: MediaDescription, caps: LocalCapabilities) -> _Choice | None:
    supported = [
        (pt, codec)
        for pt in media.payload_types
        if (codec := _voice_codec(media, str(pt))) is not None and codec in caps.codecs
    ]
    if not supported:
        return None
    if caps.prefer_local_order:
        supported.sort(key=lambda item: list(caps.codecs).index(item[1]))
    pt, codec = supported[0]
    events = _telephone_event_pt(media, codec.clock_rate) if caps.telephone_event else None
    return _Choice(index, codec, pt, events)


def _offered_labels(media: MediaDescription) -> list[str]:
    labels = []
    for fmt in media.formats:
        resolved = _resolve(media, fmt)
        if resolved is None:
            labels.append(f"payload-type-{fmt}")
        elif resolved[0].lower() not in _AUXILIARY:
            name, rate, channels = resolved
            labels.append(f"{name}/{rate}" if channels == 1 else f"{name}/{rate}/{channels}")
    return labels


def _names(codecs: Sequence[Codec]) -> list[str]:
    return [c.name for c in codecs]


def _negotiated(
    remote: SessionDescription,
    choice: _Choice,
    direction: Direction,
    rtcp_mux: bool,
    default_ptime: int,
    crypto: Sequence[str],
) -> NegotiatedMedia:
    """Agreed media, the remote addresses read from `remote` (offer or answer)."""
    media = remote.media[choice.index]
    connection = remote.media_connection(media)
    if connection is None:
        raise SdpError(f"audio stream {choice.index + 1} has no c= line")
    if connection.is_unspecified:
        direction = direction.intersect(Direction.RECVONLY)
    rtcp_address, rtcp_port = _remote_rtcp(media, connection, rtcp_mux)
    return NegotiatedMedia(
        codec=choice.codec,
        payload_type=choice.payload_type,
        telephone_event_pt=choice.telephone_event_pt,
        remote_address=connection.address,
        remote_port=media.port,
        remote_rtcp_port=rtcp_port,
        rtcp_mux=rtcp_mux,
        ptime_ms=_ptime(media, default_ptime),
        direction=direction,
        crypto=tuple(crypto),
        remote_rtcp_address=rtcp_address,
        media_index=choice.index,
    )


def _remote_rtcp(media: MediaDescription, rtp: Connection, rtcp_mux: bool) -> tuple[str, int]:
    """Where RTCP goes: the RTP port under rtcp-mux, `a=rtcp` (RFC 3605), else RTP port + 1."""
    if rtcp_mux:
        return rtp.address, media.port
    rtcp = media.rtcp
    if rtcp is None:
        return rtp.address, media.port + 1
    return (rtcp.connection or rtp).address, rtcp.port


def _ptime(media: MediaDescription, default: int) -> int:
    """The packetization the remote asked for (its `a=ptime`), capped by its `a=maxptime`."""
    ptime = media.ptime or default
    maxptime = media.maxptime
    return min(ptime, maxptime) if maxptime is not None else ptime


# --- processing an answer ----------------------------------------------------------------------


def process_answer(offer_sent: SessionDescription, answer: SessionDescription) -> NegotiatedMedia:
    """Check `answer` against the offer we sent (RFC 3264 §6, §7) and read what it agreed.

    The codec is the first format of the answer that we offered (the answerer's preference);
    formats we did not offer are ignored. Raises `InvalidAnswer` when the m= lines do not match
    the offer, the audio stream is refused, or none of its codecs was offered.
    """
    if len(answer.media) != len(offer_sent.media):
        raise InvalidAnswer(
            f"answer has {len(answer.media)} m= lines, the offer had {len(offer_sent.media)}"
        )
    for index, (ours, theirs) in enumerate(zip(offer_sent.media, answer.media, strict=True)):
        if ours.media != theirs.media:
            raise InvalidAnswer(f"m= line {index + 1} is {theirs.media}, we offered {ours.media}")
    index = _offered_audio_index(offer_sent)
    ours, theirs = offer_sent.media[index], answer.media[index]
    if theirs.is_rejected:
        raise InvalidAnswer("the answer refused the audio stream")
    choice = _answered_formats(index, ours, theirs)
    direction = offer_sent.media_direction(ours).intersect(
        answer.media_direction(theirs).reversed()
    )
    rtcp_mux = ours.rtcp_mux and theirs.rtcp_mux
    crypto = theirs.crypto if ours.crypto else []
    default_ptime = ours.ptime or DEFAULT_PTIME_MS
    try:
        return _negotiated(answer, choice, direction, rtcp_mux, default_ptime, crypto)
    except SdpError as exc:
        raise InvalidAnswer(exc.reason) from None


def _offered_audio_index(offer: SessionDescription) -> int:
    for index, media in enumerate(offer.media):
        if media.media == AUDIO and not media.is_rejected:
            return index
    raise InvalidAnswer("the offer has no audio stream")


def _answered_formats(index: int, ours: MediaDescription, theirs: MediaDescription) -> _Choice:
    offered = {
        codec for pt in ours.payload_types if (codec := _voice_codec(ours, str(pt))) is not None
    }
    for pt in theirs.payload_types:
        codec = _voice_codec(theirs, str(pt))
        if codec is not None and codec in offered:
            offered_events = _telephone_event_pt(ours, codec.clock_rate)
            events = _telephone_event_pt(theirs, codec.clock_rate) if offered_events else None
            return _Choice(index, codec, pt, events)
    answered = " ".join(_offered_labels(theirs)) or "nothing"
    raise InvalidAnswer(f"the answer picked no offered codec: answered {answered}")
