"""Media anchoring: every call's RTP flows through the switch's own ports.

`MediaAnchor` is the B2BUA's `SessionDescriptionHandler`. For each call it opens two media
streams, one per leg, and rewrites every SDP body crossing the switch (RFC 3264):

- an offer from one leg becomes a fresh offer to the other leg, with the switch's address and
  that leg's port, listing first the codecs the offerer listed (so the two legs can agree on
  one and packets are relayed as they are), then the other codecs the switch supports (so a
  callee that speaks none of the caller's codecs is still reached, by transcoding); the
  offered direction (hold) passes through;
- the answer from the other leg configures that leg's stream, and the switch answers the
  original offer itself, preferring the codec the other leg chose;
- an offer with nothing the switch can take is refused with 488 (`MediaRejected`).

Streams are bridged once both legs have agreed, and closed when the call ends.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from callcenter.switch.call import Call, Leg, MediaRejected, Side
from media.codecs import Codec
from media.control import MediaControl
from media.offer_answer import (
    Answer,
    LocalCapabilities,
    NegotiatedMedia,
    SrtpPolicy,
    create_answer,
    create_offer,
    process_answer,
)
from media.ports import NoFreePorts
from media.sdp import SdpError, SessionDescription
from media.srtp import CryptoAttribute, CryptoAttributeError, generate_crypto, select_crypto
from media.stream import StreamParams

__all__ = ["MediaAnchor", "MediaPolicy", "stream_params"]

log = logging.getLogger("callcenter.media")

SRTP_SUITE = "AES_CM_128_HMAC_SHA1_80"


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    codecs: tuple[Codec, ...]
    telephone_event: bool = True
    srtp: SrtpPolicy = SrtpPolicy.OPTIONAL
    """For offers we receive: refuse, accept or require SDES-SRTP."""
    srtp_trunks: frozenset[str] = frozenset()
    """Trunks whose calls we offer SRTP to."""


@dataclass(slots=True)
class _Side:
    stream_id: str
    port: int
    session_id: int = field(default_factory=lambda: secrets.randbits(31))
    version: int = 0
    crypto: CryptoAttribute | None = None
    """Our key on this leg, when it uses SRTP."""
    answered: bytes | None = None
    """The last answer we sent on this leg (repeated as it is when nothing changed)."""

    def next_version(self) -> int:
        self.version += 1
        return self.version


@dataclass(slots=True)
class _Pending:
    from_side: Side
    body: bytes
    offer: SessionDescription
    sent: SessionDescription
    sent_body: bytes


@dataclass(slots=True)
class _CallMedia:
    a: _Side
    b: _Side
    pending: _Pending | None = None
    connected: bool = False

    def side(self, side: Side) -> _Side:
        return self.a if side is Side.CALLER else self.b

    def other(self, side: Side) -> _Side:
        return self.b if side is Side.CALLER else self.a


class MediaAnchor:
    """Anchors RTP of every call in the media plane behind ``media``."""

    def __init__(self, media: MediaControl, policy: MediaPolicy):
        self.media = media
        self.policy = policy
        self.calls: dict[str, _CallMedia] = {}
        self.refused = 0

    # -- SessionDescriptionHandler -------------------------------------------------------------

    def offer(self, call: Call, from_leg: Leg, body: bytes) -> bytes:
        cm = self.calls.get(call.id)
        pending = cm.pending if cm is not None else None
        if pending is not None and pending.from_side is from_leg.side and pending.body == body:
            return pending.sent_body  # the same offer again (one per forked branch)
        offer = self._parse(body)
        caps = self._caps_for_answering(offer)
        try:  # can we answer it at all? (the real answer comes with the other leg's answer)
            create_answer(offer, caps, self.media.address, 9, 0, 0, crypto=self._dummy(offer))
        except SdpError as exc:
            self.refused += 1
            raise MediaRejected(exc.status_code, exc.reason) from None
        if cm is None:
            cm = self._open(call)
        to_side = cm.other(from_leg.side)
        to_leg_srtp = self._offer_srtp(call, from_leg.side)
        crypto: list[str] = []
        if to_leg_srtp:
            to_side.crypto = to_side.crypto or generate_crypto(1, SRTP_SUITE)
            crypto = [to_side.crypto.serialize()]
        offered = offer.media_direction(offer.media[_audio_index(offer)])
        sent = create_offer(
            LocalCapabilities(
                codecs=self._offer_order(offer),
                telephone_event=self.policy.telephone_event,
                srtp=SrtpPolicy.MANDATORY if to_leg_srtp else SrtpPolicy.NONE,
                rtcp_mux=False,
            ),
            self.media.address,
            to_side.port,
            to_side.session_id,
            to_side.next_version(),
            offered,
            crypto=crypto,
        )
        sent_body = sent.serialize()
        cm.pending = _Pending(from_leg.side, body, offer, sent, sent_body)
        return sent_body

    def answer(self, call: Call, from_leg: Leg, body: bytes) -> bytes:
        cm = self.calls.get(call.id)
        if cm is None or cm.pending is None or cm.pending.from_side is from_leg.side:
            log.warning("answer without an offer on call %s: not forwarded", call.id)
            return b""
        pending = cm.pending
        answered_side = cm.side(from_leg.side)
        offerer_side = cm.other(from_leg.side)
        try:
            negotiated = process_answer(pending.sent, self._parse(body))
        except (SdpError, MediaRejected) as exc:
            log.warning("unusable SDP answer on call %s: %s", call.id, exc)
            return b""
        self.media.configure(
            answered_side.stream_id, stream_params(negotiated, answered_side.crypto)
        )
        reply = self._answer_offerer(pending.offer, negotiated, offerer_side)
        if reply is None:
            return b""
        self.media.configure(
            offerer_side.stream_id, stream_params(reply.media, offerer_side.crypto)
        )
        if not cm.connected:
            self.media.connect(cm.a.stream_id, cm.b.stream_id)
            cm.connected = True
        if from_leg.side is Side.CALLEE and call.b is not None:
            cm.pending = None  # final: a later early answer from another fork cannot apply
        elif from_leg.side is Side.CALLER:
            cm.pending = None
        return reply.sdp.serialize()

    def release(self, call: Call) -> None:
        cm = self.calls.pop(call.id, None)
        if cm is None:
            return
        for side in (cm.a, cm.b):
            self.media.close_stream(side.stream_id)

    # -- helpers -------------------------------------------------------------------------------

    def _open(self, call: Call) -> _CallMedia:
        a_id, b_id = f"{call.id}-a", f"{call.id}-b"
        try:
            a_port = self.media.open_stream(a_id, call.id)
        except (NoFreePorts, OSError, RuntimeError) as exc:
            raise MediaRejected(503, f"no media resources: {exc}") from None
        try:
            b_port = self.media.open_stream(b_id, call.id)
        except (NoFreePorts, OSError, RuntimeError) as exc:
            self.media.close_stream(a_id)
            raise MediaRejected(503, f"no media resources: {exc}") from None
        cm = _CallMedia(_Side(a_id, a_port), _Side(b_id, b_port))
        self.calls[call.id] = cm
        return cm

    @staticmethod
    def _parse(body: bytes) -> SessionDescription:
        try:
            return SessionDescription.parse(body)
        except SdpError as exc:
            raise MediaRejected(400, f"malformed SDP: {exc.reason}") from None

    def _caps_for_answering(
        self, offer: SessionDescription, first: Codec | None = None
    ) -> LocalCapabilities:
        codecs = list(self.policy.codecs)
        if first is not None and first in codecs:
            codecs.remove(first)
            codecs.insert(0, first)
        return LocalCapabilities(
            codecs=codecs,
            telephone_event=self.policy.telephone_event,
            srtp=self.policy.srtp,
            prefer_local_order=first is not None,
            rtcp_mux=True,
        )

    def _offer_order(self, offer: SessionDescription) -> list[Codec]:
        """The offerer's codecs we support, in its order, then the rest of ours."""
        supported = {c.name.upper(): c for c in self.policy.codecs}
        media = offer.media[_audio_index(offer)]
        first: list[Codec] = []
        for fmt in media.formats:
            rtpmap = media.rtpmap(fmt)
            name = rtpmap.encoding_name.upper() if rtpmap is not None else _static_name(fmt)
            codec = supported.get(name or "")
            if codec is not None and codec not in first:
                first.append(codec)
        return first + [c for c in self.policy.codecs if c not in first]

    def _offer_srtp(self, call: Call, from_side: Side) -> bool:
        if from_side is Side.CALLER:  # offering to the callee
            return call.trunk is not None and call.trunk in self.policy.srtp_trunks
        return self.calls[call.id].a.crypto is not None if call.id in self.calls else False

    def _dummy(self, offer: SessionDescription) -> list[str]:
        """Crypto lines to test whether an SRTP offer is answerable."""
        chosen = self._select_crypto(offer)
        return [chosen.serialize()] if chosen is not None else []

    def _select_crypto(self, offer: SessionDescription) -> CryptoAttribute | None:
        media = offer.media[_audio_index(offer)]
        offered: list[CryptoAttribute] = []
        for value in media.crypto:
            try:
                offered.append(CryptoAttribute.parse(value))
            except CryptoAttributeError:
                continue
        return select_crypto(offered) if offered else None

    def _answer_offerer(
        self, offer: SessionDescription, other: NegotiatedMedia, side: _Side
    ) -> Answer | None:
        """Our answer to the pending offer. Answering the same offer again (an early answer,
        then the final one) keeps our key and, when nothing changed, the very same SDP."""
        side.crypto = self._keep_or_select_crypto(offer, side.crypto)
        crypto = [side.crypto.serialize()] if side.crypto is not None else []
        caps = self._caps_for_answering(offer, first=other.codec)
        direction = other.direction.reversed()
        try:
            answer = create_answer(
                offer, caps, self.media.address, side.port, side.session_id, side.version,
                direction, crypto=crypto,
            )  # fmt: skip
            body = answer.sdp.serialize()
            if side.answered is not None and body == side.answered:
                return answer
            answer = create_answer(
                offer, caps, self.media.address, side.port, side.session_id,
                side.next_version(), direction, crypto=crypto,
            )  # fmt: skip
        except SdpError as exc:
            log.warning("cannot answer the offer any more: %s", exc)
            return None
        side.answered = answer.sdp.serialize()
        return answer

    def _keep_or_select_crypto(
        self, offer: SessionDescription, current: CryptoAttribute | None
    ) -> CryptoAttribute | None:
        if self.policy.srtp is SrtpPolicy.NONE:
            return None
        offered = offer.media[_audio_index(offer)].crypto
        if current is not None:
            for line in offered:
                try:
                    attr = CryptoAttribute.parse(line)
                except CryptoAttributeError:
                    continue
                if (attr.tag, attr.suite) == (current.tag, current.suite):
                    return current
        return self._select_crypto(offer)


def stream_params(neg: NegotiatedMedia, local_crypto: CryptoAttribute | None) -> StreamParams:
    """What the media plane needs to know of one leg's negotiated stream."""
    unspecified = neg.remote_address in ("0.0.0.0", "::") or neg.remote_port == 0
    remote = None if unspecified else (neg.remote_address, neg.remote_port)
    rtcp = None if unspecified else (neg.remote_rtcp_address, neg.remote_rtcp_port)
    remote_crypto = _matching_crypto(neg.crypto, local_crypto)
    return StreamParams(
        codec=neg.codec,
        payload_type=neg.payload_type,
        remote_rtp=remote,
        remote_rtcp=rtcp,
        telephone_event_pt=neg.telephone_event_pt,
        rtcp_mux=neg.rtcp_mux,
        ptime_ms=neg.ptime_ms,
        send=neg.direction.sends and remote is not None,
        receive=neg.direction.receives,
        crypto_local=local_crypto.serialize() if local_crypto and remote_crypto else None,
        crypto_remote=remote_crypto,
    )


def _matching_crypto(lines: tuple[str, ...], local: CryptoAttribute | None) -> str | None:
    if local is None:
        return None
    for line in lines:
        try:
            attr = CryptoAttribute.parse(line)
        except CryptoAttributeError:
            continue
        if attr.tag == local.tag and attr.suite == local.suite:
            return line
    return None


def _audio_index(offer: SessionDescription) -> int:
    for index, media in enumerate(offer.media):
        if media.media == "audio" and media.port != 0:
            return index
    return 0


def _static_name(fmt: str) -> str | None:
    return {"0": "PCMU", "8": "PCMA", "9": "G722"}.get(fmt)
