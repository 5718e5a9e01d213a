"""SRTP (RFC 3711, RFC 7714) keyed by SDP security descriptions (RFC 4568, "SDES").

`CryptoAttribute` is the value of one ``a=crypto:`` line (RFC 4568 §9.1 grammar)::

    1 AES_CM_128_HMAC_SHA1_80 inline:<base64 key||salt>|2^20|1:4 WSH=64

`parse` and `serialize` are symmetric on canonical text (single spaces, lifetime written as
``2^n`` when it is a power of two). The offerer lists attributes in its order of preference;
`select_crypto` answers the first one we can serve with a fresh key of our own under the same tag
(§5.1.2). `SrtpContext` joins our key (outbound) and the remote key (inbound) over libsrtp.

Key material is secret: no `repr`, `str` or exception message of this module contains it. Only
`KeyParam.serialize` / `CryptoAttribute.serialize` write it out, for the SDP body.

Errors: `SrtpError` is the root. `CryptoAttributeError` (also a `ValueError`) is a malformed or
unusable attribute; `SrtpAuthenticationError`, `SrtpReplayError` and `SrtpKeyExpiredError` come
from packet processing; any other libsrtp failure is a plain `SrtpError`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import pylibsrtp

__all__ = [
    "DEFAULT_OFFER_SUITES",
    "SUITES",
    "CryptoAttribute",
    "CryptoAttributeError",
    "KeyParam",
    "SrtpAuthenticationError",
    "SrtpContext",
    "SrtpError",
    "SrtpKeyExpiredError",
    "SrtpReplayError",
    "SrtpSuite",
    "generate_crypto",
    "offer_crypto",
    "select_crypto",
]

MAX_TAG = 999_999_999  # tag = 1*9DIGIT (RFC 4568 §9.1)
MAX_MKI_LENGTH = 128  # mki-length = 1*3DIGIT, at most 128 bytes (RFC 4568 §6.1)
MAX_LIFETIME_EXPONENT = 48  # RFC 3711 §9.2: at most 2^48 SRTP packets per master key
SRTCP_TAG_LENGTH = 10  # AES_CM_128_HMAC_SHA1_32 still uses an 80-bit tag on SRTCP (RFC 4568 §6.2)
MIN_WINDOW_SIZE = 64  # RFC 3711 §3.3.2 replay window minimum (also the WSH minimum, §6.3.7)

_TOKEN = re.compile(r"[A-Za-z0-9_]+")  # crypto-suite and key-method (§9.1)
_WSH = re.compile(r"WSH=(\d{1,9})")  # window size hint (§6.3.7)


class SrtpError(Exception):
    """An SRTP or SDES failure. Messages never carry key material."""


class CryptoAttributeError(SrtpError, ValueError):
    """An ``a=crypto`` value that is malformed, or that we cannot use."""


class SrtpAuthenticationError(SrtpError):
    """A packet failed its authentication tag check (forged, corrupted or wrong key)."""


class SrtpReplayError(SrtpError):
    """A packet index was already received, or is older than the replay window."""


class SrtpKeyExpiredError(SrtpError):
    """Our master key has protected as many packets as its lifetime allows: re-key."""


@dataclass(frozen=True, slots=True)
class SrtpSuite:
    """An SRTP crypto-suite: libsrtp profile and the byte sizes that go with it."""

    name: str
    profile: int
    key_length: int
    salt_length: int
    rtp_tag_length: int
    aead: bool = False  # RFC 7714: the tag is part of the ciphertext and an MKI goes last

    @property
    def key_salt_length(self) -> int:
        return self.key_length + self.salt_length


_P = pylibsrtp.Policy
SUITES: Mapping[str, SrtpSuite] = MappingProxyType(
    {
        s.name: s
        for s in (
            # RFC 4568 §6.2
            SrtpSuite("AES_CM_128_HMAC_SHA1_80", _P.SRTP_PROFILE_AES128_CM_SHA1_80, 16, 14, 10),
            SrtpSuite("AES_CM_128_HMAC_SHA1_32", _P.SRTP_PROFILE_AES128_CM_SHA1_32, 16, 14, 4),
            # RFC 7714 §14.2
            SrtpSuite("AEAD_AES_128_GCM", _P.SRTP_PROFILE_AEAD_AES_128_GCM, 16, 12, 16, aead=True),
            SrtpSuite("AEAD_AES_256_GCM", _P.SRTP_PROFILE_AEAD_AES_256_GCM, 32, 12, 16, aead=True),
        )
    }
)
"""The suites libsrtp serves here, by SDES name."""

DEFAULT_OFFER_SUITES: tuple[str, ...] = (
    "AES_CM_128_HMAC_SHA1_80",  # first: every SDES endpoint speaks it
    "AEAD_AES_256_GCM",
    "AEAD_AES_128_GCM",
    "AES_CM_128_HMAC_SHA1_32",
)


def _b64decode(text: str) -> bytes:
    """Base64 (RFC 4648 §4); some endpoints drop the '=' padding, so it is optional."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoAttributeError("inline key is not valid base64") from None


def _parse_lifetime(text: str) -> int:
    """lifetime = ["2^"] 1*DIGIT (RFC 4568 §9.2)."""
    digits = text[2:] if text.startswith("2^") else text
    if not digits.isdigit() or len(digits) > 20:
        raise CryptoAttributeError("key lifetime is not a number or power of two")
    if text.startswith("2^"):
        exponent = int(digits)
        if exponent > MAX_LIFETIME_EXPONENT:
            raise CryptoAttributeError(f"key lifetime 2^{exponent} exceeds 2^48")
        return 1 << exponent
    return int(digits)


def _format_lifetime(lifetime: int) -> str:
    if lifetime & (lifetime - 1) == 0:
        return f"2^{lifetime.bit_length() - 1}"
    return str(lifetime)


@dataclass(frozen=True, slots=True, repr=False)
class KeyParam:
    """One ``inline:`` key-param: master key || master salt, optional lifetime and MKI.

    ``lifetime`` counts packets. ``mki`` / ``mki_length`` (bytes) go together.
    """

    key_salt: bytes
    lifetime: int | None = None
    mki: int | None = None
    mki_length: int | None = None
    method: str = "inline"

    def __post_init__(self) -> None:
        if self.method != "inline":
            raise CryptoAttributeError(f"key method {self.method!r} is not supported")
        if not self.key_salt:
            raise CryptoAttributeError("inline key is empty")
        if self.lifetime is not None and not 1 <= self.lifetime <= 1 << MAX_LIFETIME_EXPONENT:
            raise CryptoAttributeError("key lifetime must be between 1 and 2^48 packets")
        if (self.mki is None) != (self.mki_length is None):
            raise CryptoAttributeError("an MKI needs both a value and a length")
        if self.mki is not None and self.mki_length is not None:
            if not 1 <= self.mki_length <= MAX_MKI_LENGTH:
                raise CryptoAttributeError(f"MKI length {self.mki_length} is not 1..128 bytes")
            if not 0 <= self.mki < 1 << (8 * self.mki_length):
                raise CryptoAttributeError(f"MKI value does not fit in {self.mki_length} bytes")

    @classmethod
    def parse(cls, text: str) -> KeyParam:
        """Parse ``inline:key-salt[|lifetime][|mki:length]`` (RFC 4568 §9.2)."""
        method, sep, info = text.partition(":")
        if not sep or not _TOKEN.fullmatch(method):
            raise CryptoAttributeError("key-param is not method:info")
        if method != "inline":
            raise CryptoAttributeError(f"key method {method!r} is not supported")
        fields = info.split("|")
        if len(fields) > 3:
            raise CryptoAttributeError("inline key-info has more than three '|' fields")
        key_salt = _b64decode(fields[0])
        lifetime: int | None = None
        mki: int | None = None
        mki_length: int | None = None
        for extra in fields[1:]:
            if ":" in extra:  # mki = mki-value ":" mki-length
                if mki is not None:
                    raise CryptoAttributeError("inline key-info has two MKI fields")
                value, _, length = extra.partition(":")
                if not (value.isdigit() and length.isdigit() and len(length) <= 3):
                    raise CryptoAttributeError("MKI is not value:length")
                mki, mki_length = int(value), int(length)
            elif lifetime is None and mki is None:
                lifetime = _parse_lifetime(extra)
            else:
                raise CryptoAttributeError("inline key-info fields are out of order")
        return cls(key_salt, lifetime, mki, mki_length)

    def serialize(self) -> str:
        """The key-param text, key included: for the SDP body only."""
        text = f"inline:{base64.b64encode(self.key_salt).decode('ascii')}"
        if self.lifetime is not None:
            text += f"|{_format_lifetime(self.lifetime)}"
        if self.mki is not None:
            text += f"|{self.mki}:{self.mki_length}"
        return text

    @property
    def mki_bytes(self) -> bytes:
        """The MKI as it travels in packets (big-endian, ``mki_length`` bytes), or b""."""
        if self.mki is None or self.mki_length is None:
            return b""
        return self.mki.to_bytes(self.mki_length, "big")

    def __repr__(self) -> str:
        return (
            f"KeyParam(method={self.method!r}, key_salt=<{len(self.key_salt)} bytes hidden>, "
            f"lifetime={self.lifetime!r}, mki={self.mki!r}, mki_length={self.mki_length!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class CryptoAttribute:
    """The value of one ``a=crypto:`` attribute (RFC 4568 §9.1)."""

    tag: int
    suite: str
    key_params: Sequence[KeyParam]
    session_params: Sequence[str] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_params", tuple(self.key_params))
        object.__setattr__(self, "session_params", tuple(self.session_params))
        if not 0 <= self.tag <= MAX_TAG:
            raise CryptoAttributeError(f"crypto tag {self.tag} is not 0..999999999")
        if not _TOKEN.fullmatch(self.suite):
            raise CryptoAttributeError("crypto-suite is not a token")
        if not self.key_params:
            raise CryptoAttributeError("crypto attribute has no key-params")
        for param in self.session_params:
            if not param or not param.isprintable() or any(c.isspace() for c in param):
                raise CryptoAttributeError("session parameter is not visible characters")
        spec = SUITES.get(self.suite)
        if spec is not None:
            for key in self.key_params:
                if len(key.key_salt) != spec.key_salt_length:
                    raise CryptoAttributeError(
                        f"{self.suite} needs a {spec.key_salt_length}-byte key and salt, "
                        f"got {len(key.key_salt)} bytes"
                    )

    @classmethod
    def parse(cls, value: str) -> CryptoAttribute:
        """Parse the attribute value; a leading ``a=crypto:`` or ``crypto:`` is accepted."""
        text = value.strip()
        for prefix in ("a=crypto:", "crypto:"):
            if text.startswith(prefix):
                text = text[len(prefix) :]
                break
        parts = text.split()
        if len(parts) < 3:
            raise CryptoAttributeError("crypto attribute needs a tag, a suite and key-params")
        tag, suite, key_params = parts[0], parts[1], parts[2]
        if not tag.isdigit() or len(tag) > 9:
            raise CryptoAttributeError("crypto tag is not 1-9 digits")
        keys = [KeyParam.parse(k) for k in key_params.split(";")]
        return cls(int(tag), suite, keys, parts[3:])

    def serialize(self) -> str:
        """The attribute value (without ``a=crypto:``), key included: for the SDP body only."""
        keys = ";".join(k.serialize() for k in self.key_params)
        return " ".join([str(self.tag), self.suite, keys, *self.session_params])

    @property
    def srtp_suite(self) -> SrtpSuite | None:
        """The suite's sizes and libsrtp profile, or None if we do not support it."""
        return SUITES.get(self.suite)

    @property
    def window_size_hint(self) -> int | None:
        """The ``WSH=`` session parameter (RFC 4568 §6.3.7), if any."""
        for param in self.session_params:
            match = _WSH.fullmatch(param)
            if match:
                return int(match.group(1))
        return None


def generate_crypto(
    tag: int, suite: str = "AES_CM_128_HMAC_SHA1_80", *, lifetime: int | None = None
) -> CryptoAttribute:
    """A fresh random master key and salt (`secrets.token_bytes`) for ``suite``."""
    spec = SUITES.get(suite)
    if spec is None:
        raise CryptoAttributeError(f"crypto-suite {suite!r} is not supported")
    key = KeyParam(secrets.token_bytes(spec.key_salt_length), lifetime=lifetime)
    return CryptoAttribute(tag, suite, [key])


def offer_crypto(suites: Sequence[str] = DEFAULT_OFFER_SUITES) -> list[CryptoAttribute]:
    """Attributes for an SDP offer, tags 1, 2, ... in order of our preference."""
    return [generate_crypto(tag, suite) for tag, suite in enumerate(suites, start=1)]


def _usable(offer: CryptoAttribute, allowed: Collection[str] | None) -> bool:
    """Can an `SrtpContext` serve this attribute as the remote key? (§6.3: params we do not
    understand make the attribute unusable.)"""
    if offer.srtp_suite is None or (allowed is not None and offer.suite not in allowed):
        return False
    if len(offer.key_params) != 1:  # several keys selected by MKI: not supported here
        return False
    return all(_WSH.fullmatch(p) for p in offer.session_params)


def select_crypto(
    offered: Iterable[CryptoAttribute], *, allowed: Collection[str] | None = None
) -> CryptoAttribute | None:
    """Answer the first usable offered attribute with our own fresh key (RFC 4568 §5.1.2).

    The answer has the offer's tag and suite. None means no offered attribute is usable: the
    answerer rejects the media stream. ``allowed`` restricts the suites we accept.
    """
    for offer in offered:
        if _usable(offer, allowed):
            return generate_crypto(offer.tag, offer.suite)
    return None


_AUTH_ERRORS = {"authentication failure"}
_REPLAY_ERRORS = {
    "replay check failed (bad index)",
    "replay check failed (index too old)",
    "packet index is too old to consider",
}


def _translate(error: Exception, action: str) -> SrtpError:
    """Map a libsrtp failure to our hierarchy. libsrtp messages never include key bytes."""
    text = str(error)
    if text in _AUTH_ERRORS:
        return SrtpAuthenticationError(f"{action}: authentication failure")
    if text in _REPLAY_ERRORS:
        return SrtpReplayError(f"{action}: {text}")
    return SrtpError(f"{action}: {text}")


class SrtpContext:
    """SRTP/SRTCP for one media stream: ``local`` key protects, ``remote`` key unprotects.

    Any SSRC is accepted in both directions (libsrtp templates). Both attributes must use the
    same supported suite and carry one key-param each. An MKI in a key-param is written into
    (ours) or checked and removed from (theirs) every packet. Our key's lifetime is enforced:
    once used up, `protect` raises `SrtpKeyExpiredError` until the stream is re-keyed.
    """

    def __init__(
        self,
        local: CryptoAttribute,
        remote: CryptoAttribute,
        *,
        window_size: int | None = None,
    ) -> None:
        if local.suite != remote.suite:
            raise CryptoAttributeError(
                f"local suite {local.suite} differs from remote suite {remote.suite}"
            )
        suite = local.srtp_suite
        if suite is None:
            raise CryptoAttributeError(f"crypto-suite {local.suite!r} is not supported")
        if len(local.key_params) != 1 or len(remote.key_params) != 1:
            raise CryptoAttributeError("SRTP streams here use exactly one key-param per side")
        self.suite = suite
        self._local_key = local.key_params[0]
        self._remote_key = remote.key_params[0]
        self._outbound = self._session(self._local_key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND, None)
        window = window_size if window_size is not None else remote.window_size_hint
        self._inbound = self._session(self._remote_key, pylibsrtp.Policy.SSRC_ANY_INBOUND, window)
        self.packets_protected = 0
        self.packets_unprotected = 0

    def _session(self, key: KeyParam, ssrc_type: int, window: int | None) -> pylibsrtp.Session:
        policy = pylibsrtp.Policy(
            key=key.key_salt, ssrc_type=ssrc_type, srtp_profile=self.suite.profile
        )
        if window is not None:
            policy.window_size = min(max(window, MIN_WINDOW_SIZE), 0x7FFF)
        try:
            return pylibsrtp.Session(policy)
        except pylibsrtp.Error as error:
            raise _translate(error, "SRTP session setup") from None

    def __repr__(self) -> str:
        return (
            f"SrtpContext(suite={self.suite.name!r}, local_mki={self._local_key.mki!r}, "
            f"remote_mki={self._remote_key.mki!r}, protected={self.packets_protected}, "
            f"unprotected={self.packets_unprotected})"
        )

    # -- outbound --------------------------------------------------------------------------

    def protect(self, rtp: bytes | bytearray | memoryview) -> bytes:
        """RTP packet -> SRTP packet."""
        self._count_outbound()
        try:
            packet = self._outbound.protect(bytes(rtp))
        except (pylibsrtp.Error, ValueError, TypeError) as error:
            raise _translate(error, "SRTP protect") from None
        tag = 0 if self.suite.aead else self.suite.rtp_tag_length
        return _insert_mki(packet, self._local_key.mki_bytes, tag)

    def protect_rtcp(self, rtcp: bytes | bytearray | memoryview) -> bytes:
        """RTCP compound packet -> SRTCP packet."""
        self._count_outbound()
        try:
            packet = self._outbound.protect_rtcp(bytes(rtcp))
        except (pylibsrtp.Error, ValueError, TypeError) as error:
            raise _translate(error, "SRTCP protect") from None
        tag = 0 if self.suite.aead else SRTCP_TAG_LENGTH
        return _insert_mki(packet, self._local_key.mki_bytes, tag)

    def _count_outbound(self) -> None:
        lifetime = self._local_key.lifetime
        if lifetime is not None and self.packets_protected >= lifetime:
            raise SrtpKeyExpiredError("SRTP master key lifetime is used up: re-key the stream")
        self.packets_protected += 1

    # -- inbound ---------------------------------------------------------------------------

    def unprotect(self, srtp: bytes | bytearray | memoryview) -> bytes:
        """SRTP packet -> RTP packet; raises on a bad tag, a replay or a foreign MKI."""
        tag = 0 if self.suite.aead else self.suite.rtp_tag_length
        packet = _remove_mki(bytes(srtp), self._remote_key.mki_bytes, tag, "SRTP")
        try:
            plain = self._inbound.unprotect(packet)
        except (pylibsrtp.Error, ValueError, TypeError) as error:
            raise _translate(error, "SRTP unprotect") from None
        self.packets_unprotected += 1
        return plain

    def unprotect_rtcp(self, srtcp: bytes | bytearray | memoryview) -> bytes:
        """SRTCP packet -> RTCP compound packet."""
        tag = 0 if self.suite.aead else SRTCP_TAG_LENGTH
        packet = _remove_mki(bytes(srtcp), self._remote_key.mki_bytes, tag, "SRTCP")
        try:
            plain = self._inbound.unprotect_rtcp(packet)
        except (pylibsrtp.Error, ValueError, TypeError) as error:
            raise _translate(error, "SRTCP unprotect") from None
        self.packets_unprotected += 1
        return plain


def _insert_mki(packet: bytes, mki: bytes, tag_length: int) -> bytes:
    """RFC 3711 §3.1/§3.4: the MKI sits just before the authentication tag (RFC 7714 §8.1,
    §9.1: last, after the AEAD ciphertext and SRTCP index). It is not authenticated."""
    if not mki:
        return packet
    cut = len(packet) - tag_length
    return packet[:cut] + mki + packet[cut:]


def _remove_mki(packet: bytes, mki: bytes, tag_length: int, what: str) -> bytes:
    if not mki:
        return packet
    end = len(packet) - tag_length
    start = end - len(mki)
    if start < 12:
        raise SrtpError(f"{what} packet too short for its MKI")
    if packet[start:end] != mki:
        raise SrtpError(f"{what} packet carries an unknown MKI")
    return packet[:start] + packet[end:]
