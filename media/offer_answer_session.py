"""The offer/answer exchanges of one dialog's audio stream (RFC 3264 §8).

`OfferAnswerSession` remembers what we last sent and what was agreed, so that:
- every SDP we send keeps the same o= line and its version grows by one exactly when the content
  changes (§8: an unchanged version promises an identical description);
- hold and resume are re-offers with a new direction (§8.4: sendonly when we were sending,
  inactive when we were only receiving), and a remote hold is answered without holding back;
- a re-offer that moves the remote address or port, or changes codec, yields a new
  `NegotiatedMedia` for the media plane;
- a second offer while one is outstanding raises `RequestPending` (SIP 491, RFC 3261 §14.1).

The object is pure: it is fed SDP values and returns SDP values; SIP transport is elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from media.codecs import TELEPHONE_EVENT, Codec
from media.offer_answer import (
    Answer,
    InvalidAnswer,
    LocalCapabilities,
    NegotiatedMedia,
    create_answer,
    create_offer,
    process_answer,
)
from media.sdp import Direction, SdpError, SessionDescription

__all__ = ["OfferAnswerSession", "RequestPending"]


class RequestPending(SdpError):
    """An offer crossed ours (glare) or a new offer was asked for while one is outstanding."""

    status_code = 491


class OfferAnswerSession:
    """Our side of the SDP exchanges of one call leg.

    `address`/`port` are where we receive RTP; `session_id` goes into every o= line, whose version
    starts at `initial_version`. `crypto` holds our `a=crypto` lines for SRTP legs.
    """

    def __init__(
        self,
        caps: LocalCapabilities,
        address: str,
        port: int,
        *,
        session_id: int,
        initial_version: int = 0,
        username: str = "-",
        crypto: Sequence[str] = (),
    ):
        self.caps = caps
        self.local_address = address
        self.local_port = port
        self.session_id = session_id
        self.username = username
        self.crypto = tuple(crypto)
        self._origin_address = address
        self._next_version = initial_version
        self._held = False
        self.local_sdp: SessionDescription | None = None
        """The last description we sent that is in force (offer answered, or our answer)."""
        self.remote_sdp: SessionDescription | None = None
        self.negotiated: NegotiatedMedia | None = None
        self._pending_offer: SessionDescription | None = None

    # --- local changes --------------------------------------------------------------------------

    @property
    def on_hold(self) -> bool:
        """We asked the remote party to stop sending to us (local hold)."""
        return self._held

    @property
    def offer_pending(self) -> bool:
        return self._pending_offer is not None

    def hold(self) -> None:
        """Hold the call locally; the next `create_offer` says so (RFC 3264 §8.4)."""
        self._held = True

    def resume(self) -> None:
        """Take the call off local hold; the next `create_offer` asks for sendrecv again."""
        self._held = False

    def set_local_address(self, address: str, port: int) -> None:
        """Receive RTP somewhere else from the next description on (o= keeps its address)."""
        self.local_address = address
        self.local_port = port

    # --- we offer -------------------------------------------------------------------------------

    def create_offer(self) -> SessionDescription:
        """An offer (initial or re-offer) for the current local state; remember it as pending."""
        if self._pending_offer is not None:
            raise RequestPending("an offer is already outstanding")
        offer = self._stamp(
            create_offer(
                self._offer_caps(),
                self.local_address,
                self.local_port,
                self.session_id,
                0,
                self._offer_direction(),
                username=self.username,
                origin_address=self._origin_address,
                telephone_event_pt=self._telephone_event_pt(),
                crypto=self.crypto,
            )
        )
        self._pending_offer = offer
        return offer

    def receive_answer(self, answer: SessionDescription) -> NegotiatedMedia:
        """The answer to our pending offer; raises `InvalidAnswer` (the previous media stay)."""
        offer = self._pending_offer
        if offer is None:
            raise InvalidAnswer("an answer arrived with no offer outstanding")
        self._pending_offer = None
        negotiated = process_answer(offer, answer)
        self.local_sdp, self.remote_sdp, self.negotiated = offer, answer, negotiated
        return negotiated

    def cancel_offer(self) -> None:
        """Our offer was refused (a non-2xx to the re-INVITE): the previous session stays."""
        self._pending_offer = None

    # --- the remote party offers ----------------------------------------------------------------

    def receive_offer(self, offer: SessionDescription) -> Answer:
        """Answer a remote offer (initial or re-offer).

        Raises `RequestPending` while our own offer is outstanding, and `OfferRejected` /
        `NoCommonCodec` (488) or `SdpError` when the offer cannot be taken; the session in force
        is then unchanged.
        """
        if self._pending_offer is not None:
            raise RequestPending("an offer crossed ours")
        answer = create_answer(
            offer,
            self._offer_caps(),
            self.local_address,
            self.local_port,
            self.session_id,
            0,
            Direction.SENDONLY if self._held else Direction.SENDRECV,
            username=self.username,
            origin_address=self._origin_address,
            crypto=self.crypto,
        )
        sdp = self._stamp(answer.sdp)
        self.local_sdp, self.remote_sdp, self.negotiated = sdp, offer, answer.media
        return Answer(sdp, answer.media)

    # --- helpers --------------------------------------------------------------------------------

    def _offer_direction(self) -> Direction:
        if not self._held:
            return Direction.SENDRECV
        # §8.4: a sendrecv stream is held with sendonly, a recvonly one with inactive.
        previous = self.negotiated
        if previous is not None and not previous.direction.sends:
            return Direction.INACTIVE
        return Direction.SENDONLY

    def _offer_caps(self) -> LocalCapabilities:
        """Our capabilities with the codec in use first, so a re-offer keeps it."""
        current = self.negotiated
        if current is None or current.codec not in self.caps.codecs:
            return self.caps
        codecs: list[Codec] = [current.codec]
        codecs += [c for c in self.caps.codecs if c != current.codec]
        return replace(self.caps, codecs=tuple(codecs))

    def _telephone_event_pt(self) -> int:
        """Keep the telephone-event number agreed before (RFC 3264 §8.3.2), else the default."""
        current = self.negotiated
        if current is not None and current.telephone_event_pt is not None:
            return current.telephone_event_pt
        return TELEPHONE_EVENT.payload_type

    def _stamp(self, sdp: SessionDescription) -> SessionDescription:
        """Set the o= version: the previous one if nothing changed, else the next (§8)."""
        previous = self.local_sdp
        if previous is not None:
            same = replace(sdp.origin, session_version=previous.origin.session_version)
            candidate = sdp.copy()
            candidate.origin = same
            if candidate == previous:
                return candidate
        sdp.origin = replace(sdp.origin, session_version=self._next_version)
        self._next_version += 1
        return sdp
