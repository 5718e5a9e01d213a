"""SDES attributes (RFC 4568) and SRTP contexts (RFC 3711 / RFC 7714) over libsrtp."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import traceback

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from media.rtp import RtpPacket
from media.srtp import (
    SUITES,
    CryptoAttribute,
    CryptoAttributeError,
    KeyParam,
    SrtpAuthenticationError,
    SrtpContext,
    SrtpError,
    SrtpKeyExpiredError,
    SrtpReplayError,
    generate_crypto,
    offer_crypto,
    select_crypto,
)

# RFC 4568 §4 / §8.1 example attribute.
RFC4568_EXAMPLE = (
    "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"
)
RFC4568_KEY_B64 = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

# RFC 3711 Appendix B.3 master key/salt; libSRTP srtp_validate() reference packets.
MASTER_KEY = bytes.fromhex("e1f97a0d3e018be0d64fa32c06de4139")
MASTER_SALT = bytes.fromhex("0ec675ad498afeebb6960b3aabe6")
RTP_PLAIN = bytes.fromhex("800f1234decafbadcafebabe" + "ab" * 16)
SRTP_CM80 = bytes.fromhex(
    "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb"
)
SRTP_CM32 = SRTP_CM80[:-6]  # same ciphertext, tag truncated to 32 bits
RTCP_PLAIN = bytes.fromhex("81c8000bcafebabe" + "ab" * 16)
SRTCP_CM = bytes.fromhex(
    "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798"
)
# libSRTP srtp_validate_gcm() (AEAD_AES_128_GCM).
GCM_KEY_SALT = bytes(range(16)) + bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaab")
SRTP_GCM = bytes.fromhex(
    "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392"
)
SRTCP_GCM = bytes.fromhex(
    "81c8000bcafebabec98b8b5df0392a55852b6c21ac8e7025c52c6fbea2b3b446ea31123ba88ce61e80000001"
)


def attribute(
    suite: str, key_salt: bytes, *, mki: int | None = None, mki_length: int | None = None
) -> CryptoAttribute:
    return CryptoAttribute(1, suite, [KeyParam(key_salt, mki=mki, mki_length=mki_length)])


def rtp(seq: int, payload: bytes = b"\x55" * 160, ssrc: int = 0x1234ABCD) -> bytes:
    return RtpPacket(0, seq, seq * 160, ssrc, payload).serialize()


def rtcp_sr(ssrc: int = 0x1234ABCD) -> bytes:
    return struct.pack("!BBHI", 0x80, 200, 6, ssrc) + bytes(20)


def pair(suite: str) -> tuple[SrtpContext, SrtpContext]:
    """An offerer and an answerer that negotiated ``suite`` through SDES."""
    offer = generate_crypto(7, suite)
    answer = select_crypto([offer])
    assert answer is not None
    return SrtpContext(offer, answer), SrtpContext(answer, offer)


# -- an independent SRTP (AES-CM + HMAC-SHA1) written from RFC 3711, to cross-check libsrtp -----


def aes_ctr(key: bytes, iv: int, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv.to_bytes(16, "big"))).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def kdf(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 §4.3.1 with key_derivation_rate 0: x = salt XOR (label || 0^48), IV = x * 2^16."""
    x = int.from_bytes(master_salt, "big") ^ (label << 48)
    return aes_ctr(master_key, x << 16, bytes(length))


class ReferenceSrtp:
    def __init__(self, master_key: bytes, master_salt: bytes, tag_length: int = 10) -> None:
        self.keys = [kdf(master_key, master_salt, label, n) for label, n in ((0, 16), (1, 20))]
        self.salt = int.from_bytes(kdf(master_key, master_salt, 2, 14), "big")
        self.rtcp_keys = [kdf(master_key, master_salt, label, n) for label, n in ((3, 16), (4, 20))]
        self.rtcp_salt = int.from_bytes(kdf(master_key, master_salt, 5, 14), "big")
        self.tag_length = tag_length

    def protect(self, packet: bytes, roc: int = 0) -> bytes:
        """RFC 3711 §3.1, §4.1.1, §4.2 for a packet with a plain 12-byte header."""
        seq, ssrc = struct.unpack_from("!H", packet, 2)[0], struct.unpack_from("!I", packet, 8)[0]
        index = (roc << 16) | seq
        iv = (self.salt << 16) ^ (ssrc << 64) ^ (index << 16)
        body = packet[:12] + aes_ctr(self.keys[0], iv, packet[12:])
        tag = hmac.new(self.keys[1], body + roc.to_bytes(4, "big"), hashlib.sha1).digest()
        return body + tag[: self.tag_length]

    def protect_rtcp(self, packet: bytes, index: int) -> bytes:
        """RFC 3711 §3.4: encrypt after the first 8 bytes, then E|index and an 80-bit tag."""
        ssrc = struct.unpack_from("!I", packet, 4)[0]
        iv = (self.rtcp_salt << 16) ^ (ssrc << 64) ^ (index << 16)
        body = packet[:8] + aes_ctr(self.rtcp_keys[0], iv, packet[8:])
        body += (0x80000000 | index).to_bytes(4, "big")
        return body + hmac.new(self.rtcp_keys[1], body, hashlib.sha1).digest()[:10]


def test_reference_matches_rfc3711_appendix_b_vectors() -> None:
    # B.2: AES-CM keystream for session key/salt and index 0
    keystream = aes_ctr(
        bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"),
        int.from_bytes(bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfd"), "big") << 16,
        bytes(32),
    )
    assert keystream.hex() == "e03ead0935c95e80e166b16dd92b4eb4d23513162b02d0f72a43a2fe4a5f97ab"
    # B.3: key derivation
    assert kdf(MASTER_KEY, MASTER_SALT, 0, 16).hex() == "c61e7a93744f39ee10734afe3ff7a087"
    assert kdf(MASTER_KEY, MASTER_SALT, 2, 14).hex() == "30cbbc08863d8c85d49db34a9ae1"
    assert kdf(MASTER_KEY, MASTER_SALT, 1, 20).hex() == "cebe321f6ff7716b6fd4ab49af256a156d38baa4"
    reference = ReferenceSrtp(MASTER_KEY, MASTER_SALT)
    assert reference.protect(RTP_PLAIN) == SRTP_CM80
    assert reference.protect_rtcp(RTCP_PLAIN, 1) == SRTCP_CM


# -- known answers through SrtpContext ---------------------------------------------------------


@pytest.mark.parametrize(
    ("suite", "key_salt", "plain", "protected"),
    [
        ("AES_CM_128_HMAC_SHA1_80", MASTER_KEY + MASTER_SALT, RTP_PLAIN, SRTP_CM80),
        ("AES_CM_128_HMAC_SHA1_32", MASTER_KEY + MASTER_SALT, RTP_PLAIN, SRTP_CM32),
        ("AEAD_AES_128_GCM", GCM_KEY_SALT, RTP_PLAIN, SRTP_GCM),
    ],
)
def test_known_answer_rtp(suite: str, key_salt: bytes, plain: bytes, protected: bytes) -> None:
    attr = attribute(suite, key_salt)
    assert SrtpContext(attr, attr).protect(plain) == protected
    assert SrtpContext(attr, attr).unprotect(protected) == plain


@pytest.mark.parametrize(
    ("suite", "key_salt", "protected"),
    [
        ("AES_CM_128_HMAC_SHA1_80", MASTER_KEY + MASTER_SALT, SRTCP_CM),
        ("AES_CM_128_HMAC_SHA1_32", MASTER_KEY + MASTER_SALT, SRTCP_CM),  # 80-bit SRTCP tag
        ("AEAD_AES_128_GCM", GCM_KEY_SALT, SRTCP_GCM),
    ],
)
def test_known_answer_rtcp(suite: str, key_salt: bytes, protected: bytes) -> None:
    attr = attribute(suite, key_salt)
    assert SrtpContext(attr, attr).protect_rtcp(RTCP_PLAIN) == protected
    assert SrtpContext(attr, attr).unprotect_rtcp(protected) == RTCP_PLAIN


def test_rollover_counter_follows_rfc3711_index() -> None:
    key_salt = bytes(range(30))
    attr = attribute("AES_CM_128_HMAC_SHA1_80", key_salt)
    ctx = SrtpContext(attr, attr)
    reference = ReferenceSrtp(key_salt[:16], key_salt[16:])
    for seq, roc in [(65534, 0), (65535, 0), (0, 1), (1, 1)]:
        packet = rtp(seq)
        assert ctx.protect(packet) == reference.protect(packet, roc)


# -- offer/answer pairs -----------------------------------------------------------------------


@pytest.mark.parametrize("suite", list(SUITES))
def test_offerer_and_answerer_talk_both_ways(suite: str) -> None:
    alice, bob = pair(suite)
    for seq in range(5):
        packet = rtp(seq, payload=bytes([seq]) * 160)
        protected = alice.protect(packet)
        assert packet[12:] not in protected
        assert bob.unprotect(protected) == packet
        assert alice.unprotect(bob.protect(packet)) == packet
    report = rtcp_sr()
    assert bob.unprotect_rtcp(alice.protect_rtcp(report)) == report
    assert alice.unprotect_rtcp(bob.protect_rtcp(report)) == report
    assert (alice.packets_protected, bob.packets_unprotected) == (6, 6)


@pytest.mark.parametrize("suite", list(SUITES))
@pytest.mark.parametrize("position", [1, 5, 12, 40, -1])
def test_tampered_byte_fails_authentication(suite: str, position: int) -> None:
    alice, bob = pair(suite)
    protected = bytearray(alice.protect(rtp(1)))
    protected[position] ^= 0x01
    with pytest.raises(SrtpAuthenticationError):
        bob.unprotect(bytes(protected))


def test_tampered_rtcp_fails_authentication() -> None:
    alice, bob = pair("AES_CM_128_HMAC_SHA1_80")
    protected = bytearray(alice.protect_rtcp(rtcp_sr()))
    protected[10] ^= 0x80
    with pytest.raises(SrtpAuthenticationError):
        bob.unprotect_rtcp(bytes(protected))


@pytest.mark.parametrize("suite", list(SUITES))
def test_replayed_packet_is_rejected(suite: str) -> None:
    alice, bob = pair(suite)
    first = alice.protect(rtp(100))
    bob.unprotect(first)
    bob.unprotect(alice.protect(rtp(101)))
    with pytest.raises(SrtpReplayError):
        bob.unprotect(first)


def test_packet_older_than_the_replay_window_is_rejected() -> None:
    alice, bob = pair("AES_CM_128_HMAC_SHA1_80")
    old = alice.protect(rtp(1))
    for seq in range(2, 300):
        alice.protect(rtp(seq))
    bob.unprotect(alice.protect(rtp(300)))
    with pytest.raises(SrtpReplayError):
        bob.unprotect(old)


def test_reordered_packets_within_the_window_are_accepted() -> None:
    alice, bob = pair("AES_CM_128_HMAC_SHA1_80")
    packets = [alice.protect(rtp(seq)) for seq in range(10)]
    for index in [0, 3, 1, 2, 9, 4, 8, 5, 7, 6]:
        assert RtpPacket.parse(bob.unprotect(packets[index])).sequence_number == index


def test_wrong_key_fails_authentication() -> None:
    alice, _ = pair("AES_CM_128_HMAC_SHA1_80")
    stranger = generate_crypto(1)
    eve = SrtpContext(stranger, generate_crypto(1))
    with pytest.raises(SrtpAuthenticationError):
        eve.unprotect(alice.protect(rtp(1)))


def test_garbage_is_an_srtp_error() -> None:
    _, bob = pair("AES_CM_128_HMAC_SHA1_80")
    with pytest.raises(SrtpError):
        bob.unprotect(b"\x80\x00")
    with pytest.raises(SrtpError):
        bob.protect(rtp(1, payload=bytes(1600)))


# -- MKI and lifetime -------------------------------------------------------------------------


def test_mki_is_written_before_the_tag_and_checked_on_receipt() -> None:
    key_salt = bytes(range(100, 130))
    ours = attribute("AES_CM_128_HMAC_SHA1_80", key_salt, mki=1, mki_length=4)
    plain_ctx = SrtpContext(attribute("AES_CM_128_HMAC_SHA1_80", key_salt), ours)
    reference = ReferenceSrtp(key_salt[:16], key_salt[16:])
    packet = rtp(9)
    with_mki = SrtpContext(ours, ours).protect(packet)
    expected = reference.protect(packet)
    assert with_mki == expected[:-10] + b"\x00\x00\x00\x01" + expected[-10:]
    assert plain_ctx.unprotect(with_mki) == packet
    wrong = with_mki[:-11] + b"\x02" + with_mki[-10:]
    with pytest.raises(SrtpError, match="MKI"):
        plain_ctx.unprotect(wrong)


def test_srtcp_mki_sits_between_index_and_tag() -> None:
    key_salt = bytes(range(100, 130))
    ours = attribute("AES_CM_128_HMAC_SHA1_80", key_salt, mki=258, mki_length=2)
    protected = SrtpContext(ours, ours).protect_rtcp(RTCP_PLAIN)
    expected = ReferenceSrtp(key_salt[:16], key_salt[16:]).protect_rtcp(RTCP_PLAIN, 1)
    assert protected == expected[:-10] + b"\x01\x02" + expected[-10:]
    assert SrtpContext(ours, ours).unprotect_rtcp(protected) == RTCP_PLAIN


@pytest.mark.parametrize("suite", ["AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_32"])
def test_mki_round_trip_between_two_contexts(suite: str) -> None:
    spec = SUITES[suite]
    a = attribute(suite, bytes(spec.key_salt_length), mki=5, mki_length=1)
    b = attribute(suite, bytes(range(spec.key_salt_length)), mki=6, mki_length=3)
    alice, bob = SrtpContext(a, b), SrtpContext(b, a)
    packet = rtp(3)
    protected = alice.protect(packet)
    if spec.aead:
        assert protected.endswith(b"\x05")
    assert bob.unprotect(protected) == packet
    assert alice.unprotect(bob.protect(packet)) == packet
    assert alice.unprotect_rtcp(bob.protect_rtcp(rtcp_sr())) == rtcp_sr()


def test_key_lifetime_is_enforced_on_protect() -> None:
    local = CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", [KeyParam(bytes(30), lifetime=2)])
    ctx = SrtpContext(local, generate_crypto(1))
    ctx.protect(rtp(1))
    ctx.protect_rtcp(rtcp_sr())
    with pytest.raises(SrtpKeyExpiredError):
        ctx.protect(rtp(2))


def test_context_needs_matching_suites_and_single_keys() -> None:
    with pytest.raises(CryptoAttributeError, match="differs"):
        SrtpContext(generate_crypto(1), generate_crypto(1, "AEAD_AES_128_GCM"))
    two = CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", [KeyParam(bytes(30))] * 2)
    with pytest.raises(CryptoAttributeError):
        SrtpContext(two, generate_crypto(1))
    unknown = CryptoAttribute(1, "F8_128_HMAC_SHA1_80", [KeyParam(bytes(30))])
    with pytest.raises(CryptoAttributeError):
        SrtpContext(unknown, unknown)


# -- attribute parsing ------------------------------------------------------------------------


def test_rfc4568_example_parses_and_serializes_back() -> None:
    attr = CryptoAttribute.parse(RFC4568_EXAMPLE)
    assert (attr.tag, attr.suite, attr.session_params) == (1, "AES_CM_128_HMAC_SHA1_80", ())
    (key,) = attr.key_params
    assert key.key_salt == base64.b64decode(RFC4568_KEY_B64)
    assert (key.lifetime, key.mki, key.mki_length) == (1 << 20, 1, 4)
    assert key.mki_bytes == b"\x00\x00\x00\x01"
    assert attr.serialize() == RFC4568_EXAMPLE
    assert CryptoAttribute.parse("a=crypto:" + RFC4568_EXAMPLE) == attr


def test_several_keys_and_session_params() -> None:
    text = (
        "1 AES_CM_128_HMAC_SHA1_32 "
        "inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32;"
        "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:32 FEC_ORDER=FEC_SRTP WSH=128"
    )
    attr = CryptoAttribute.parse(text)
    assert [k.mki for k in attr.key_params] == [1, 2]
    assert attr.session_params == ("FEC_ORDER=FEC_SRTP", "WSH=128")
    assert attr.window_size_hint == 128
    assert attr.serialize() == text


def test_lifetime_forms() -> None:
    key = b"A" * 30
    encoded = base64.b64encode(key).decode()
    decimal = CryptoAttribute.parse(f"2 AES_CM_128_HMAC_SHA1_80 inline:{encoded}|1000")
    assert decimal.key_params[0].lifetime == 1000
    assert decimal.serialize().endswith("|1000")
    power = CryptoAttribute.parse(f"2 AES_CM_128_HMAC_SHA1_80 inline:{encoded}|1048576")
    assert power.serialize().endswith("|2^20")  # canonical form
    mki_only = CryptoAttribute.parse(f"2 AES_CM_128_HMAC_SHA1_80 inline:{encoded}|7:1")
    assert (mki_only.key_params[0].lifetime, mki_only.key_params[0].mki) == (None, 7)


def test_unpadded_base64_is_accepted() -> None:
    key_salt = bytes(range(28))  # 28 bytes: base64 needs one '='
    padded = base64.b64encode(key_salt).decode()
    attr = CryptoAttribute.parse(f"1 AEAD_AES_128_GCM inline:{padded.rstrip('=')}")
    assert attr.key_params[0].key_salt == key_salt
    assert attr.serialize().endswith(padded)


@pytest.mark.parametrize(
    "text",
    [
        "1 AES_CM_128_HMAC_SHA1_80",
        "x AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64,
        "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64,
        "1 AES-CM inline:" + RFC4568_KEY_B64,
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64[:-4],  # 27 bytes, wants 30
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64[:-1] + "*",
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64 + "|2^49",
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64 + "|2^x",
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64 + "|1:129",
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64 + "|256:1",
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64 + "|1:4|2^20",
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64 + "|1:4|2:4",
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64 + "|2^20|1:4|x",
        "1 AES_CM_128_HMAC_SHA1_80 uri:https://keys.example/k",
        "1 AES_CM_128_HMAC_SHA1_80 " + RFC4568_KEY_B64,
        "1 AES_CM_128_HMAC_SHA1_80 inline:",
    ],
)
def test_malformed_attributes_are_rejected_without_echoing_the_key(text: str) -> None:
    with pytest.raises(CryptoAttributeError) as info:
        CryptoAttribute.parse(text)
    assert isinstance(info.value, ValueError)
    assert RFC4568_KEY_B64[:16] not in str(info.value)


@st.composite
def crypto_attributes(draw: st.DrawFn) -> CryptoAttribute:
    suite = draw(st.sampled_from(sorted(SUITES)))
    size = SUITES[suite].key_salt_length
    keys = []
    for _ in range(draw(st.integers(1, 3))):
        mki_length = draw(st.none() | st.integers(1, 4))
        mki = None if mki_length is None else draw(st.integers(0, (1 << (8 * mki_length)) - 1))
        keys.append(
            KeyParam(
                draw(st.binary(min_size=size, max_size=size)),
                lifetime=draw(st.none() | st.integers(0, 48).map(lambda n: 1 << n)),
                mki=mki,
                mki_length=mki_length,
            )
        )
    params = draw(st.lists(st.sampled_from(["WSH=64", "UNENCRYPTED_SRTCP", "KDR=0"]), max_size=2))
    return CryptoAttribute(draw(st.integers(0, 999_999_999)), suite, keys, params)


@given(crypto_attributes())
def test_parse_serialize_round_trip(attr: CryptoAttribute) -> None:
    assert CryptoAttribute.parse(attr.serialize()) == attr


# -- negotiation ------------------------------------------------------------------------------


def test_select_answers_first_usable_offer_with_its_tag_and_a_fresh_key() -> None:
    offers = [
        CryptoAttribute.parse("1 F8_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64),
        CryptoAttribute.parse("2 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64 + " KDR=1"),
        CryptoAttribute.parse("3 AES_CM_128_HMAC_SHA1_32 inline:" + RFC4568_KEY_B64 + " WSH=64"),
        CryptoAttribute.parse("4 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY_B64),
    ]
    answer = select_crypto(offers)
    assert answer is not None
    assert (answer.tag, answer.suite) == (3, "AES_CM_128_HMAC_SHA1_32")
    assert answer.key_params[0].key_salt != offers[2].key_params[0].key_salt
    assert len(answer.key_params[0].key_salt) == 30
    assert answer.session_params == ()


def test_select_skips_multi_key_offers_and_honours_allowed() -> None:
    multi = CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", [KeyParam(bytes(30))] * 2)
    gcm = generate_crypto(2, "AEAD_AES_256_GCM")
    cm = generate_crypto(3)
    assert select_crypto([multi]) is None
    chosen = select_crypto([multi, gcm, cm], allowed={"AES_CM_128_HMAC_SHA1_80"})
    assert chosen is not None and chosen.tag == 3
    assert select_crypto([]) is None


def test_generated_keys_are_fresh_and_sized_per_suite() -> None:
    for name, spec in SUITES.items():
        first, second = generate_crypto(1, name), generate_crypto(1, name)
        assert len(first.key_params[0].key_salt) == spec.key_salt_length
        assert first.key_params[0].key_salt != second.key_params[0].key_salt
    with pytest.raises(CryptoAttributeError):
        generate_crypto(1, "NULL_HMAC_SHA1_80")
    offers = offer_crypto()
    assert [o.tag for o in offers] == [1, 2, 3, 4]
    assert offers[0].suite == "AES_CM_128_HMAC_SHA1_80"


# -- no key material in text ------------------------------------------------------------------


def secret_forms(key_salt: bytes) -> list[str]:
    encoded = base64.b64encode(key_salt).decode()
    return [encoded, encoded[:12], key_salt.hex(), repr(key_salt)[2:20]]


def test_repr_str_and_errors_never_show_the_key() -> None:
    attr = CryptoAttribute.parse("a=crypto:" + RFC4568_EXAMPLE)
    key_salt = attr.key_params[0].key_salt
    other = generate_crypto(1)
    ctx = SrtpContext(attr, other)
    texts = [repr(attr), str(attr), repr(attr.key_params[0]), str(attr.key_params[0])]
    texts += [repr(ctx), str(ctx), repr([attr]), f"{attr}", f"{attr!r}"]
    for call in (
        lambda: ctx.unprotect(rtp(1)),  # not protected: fails authentication
        lambda: CryptoAttribute(1, "AEAD_AES_128_GCM", attr.key_params),  # wrong key size
        lambda: SrtpContext(attr, generate_crypto(1, "AEAD_AES_128_GCM")),
    ):
        with pytest.raises(SrtpError) as info:
            call()
        texts += [str(info.value), repr(info.value)]
        texts.append("".join(traceback.format_exception(info.value)))
    assert "hidden" in texts[0]
    for text in texts:
        for secret in secret_forms(key_salt) + secret_forms(other.key_params[0].key_salt):
            assert secret not in text, text
    assert RFC4568_KEY_B64 in attr.serialize()  # the SDP body is where the key belongs
