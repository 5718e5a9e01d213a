"""G.711: bit-exact with CPython's ``audioop`` over every input, kernels equal their twins."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dsp import g711

ALL_PCM = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
ALL_CODES = np.arange(256, dtype=np.int32).astype(np.uint8)

Encoder = Callable[[NDArray[np.int16]], NDArray[np.uint8]]
Decoder = Callable[[NDArray[np.uint8]], NDArray[np.int16]]


def _audioop() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

    return audioop


audioop = _audioop()

LAWS = {
    "ulaw": (
        g711.ulaw_encode,
        g711.ulaw_decode,
        g711.ulaw_encode_reference,
        g711.ulaw_decode_reference,
        audioop.lin2ulaw,
        audioop.ulaw2lin,
    ),
    "alaw": (
        g711.alaw_encode,
        g711.alaw_decode,
        g711.alaw_encode_reference,
        g711.alaw_decode_reference,
        audioop.lin2alaw,
        audioop.alaw2lin,
    ),
}


@pytest.mark.parametrize("law", sorted(LAWS))
def test_encode_matches_audioop_for_every_16_bit_sample(law: str) -> None:
    encode, _, reference, _, truth, _ = LAWS[law]
    expected = np.frombuffer(truth(ALL_PCM.tobytes(), 2), dtype=np.uint8)
    assert np.array_equal(encode(ALL_PCM), expected)
    assert np.array_equal(reference(ALL_PCM), expected)


@pytest.mark.parametrize("law", sorted(LAWS))
def test_decode_matches_audioop_for_every_code(law: str) -> None:
    _, decode, _, reference, _, truth = LAWS[law]
    expected = np.frombuffer(truth(ALL_CODES.tobytes(), 2), dtype=np.int16)
    assert np.array_equal(decode(ALL_CODES), expected)
    assert np.array_equal(reference(ALL_CODES), expected)


@pytest.mark.parametrize("law", sorted(LAWS))
def test_decode_then_encode_gives_the_code_back(law: str) -> None:
    encode, decode, *_ = LAWS[law]
    codes = encode(decode(ALL_CODES))
    # µ-law has two zeros (0x7F "-0" and 0xFF "+0"); both decode to 0, which encodes as 0xFF.
    expected = np.where(ALL_CODES == 0x7F, 0xFF, ALL_CODES) if law == "ulaw" else ALL_CODES
    assert np.array_equal(codes, expected)


def test_known_codes() -> None:
    # Silence is 0xFF in µ-law and 0xD5 in A-law; the extremes saturate to the end codes.
    pcm = np.array([0, 32767, -32768], dtype=np.int16)
    assert g711.ulaw_encode(pcm).tolist() == [0xFF, 0x80, 0x00]
    assert g711.alaw_encode(pcm).tolist() == [0xD5, 0xAA, 0x2A]
    assert g711.ulaw_decode(np.array([0x80, 0x00], dtype=np.uint8)).tolist() == [32124, -32124]
    assert g711.alaw_decode(np.array([0xAA, 0x2A], dtype=np.uint8)).tolist() == [32256, -32256]


@pytest.mark.parametrize("law", sorted(LAWS))
def test_batches_of_legs_encode_row_by_row(law: str) -> None:
    encode, decode, *_ = LAWS[law]
    rng = np.random.default_rng(7)
    batch = rng.integers(-32768, 32768, size=(50, 160)).astype(np.int16)
    codes = encode(batch)
    assert codes.shape == (50, 160) and codes.dtype == np.uint8
    assert all(np.array_equal(codes[i], encode(batch[i])) for i in range(50))
    pcm = decode(codes)
    assert pcm.shape == (50, 160) and pcm.dtype == np.int16
    assert np.array_equal(pcm[3], decode(codes[3]))


def test_non_contiguous_input_is_accepted() -> None:
    batch = np.arange(-800, 800, dtype=np.int16).reshape(10, 160)
    column_slice = batch[:, ::2]
    assert np.array_equal(
        g711.ulaw_encode(column_slice), g711.ulaw_encode(np.ascontiguousarray(column_slice))
    )


def test_into_variants_write_the_given_array() -> None:
    pcm = np.linspace(-30000, 30000, 320).astype(np.int16).reshape(2, 160)
    codes = np.zeros((2, 160), dtype=np.uint8)
    assert g711.alaw_encode_into(pcm, codes) is codes
    assert np.array_equal(codes, g711.alaw_encode_reference(pcm))
    back = np.zeros((2, 160), dtype=np.int16)
    assert g711.alaw_decode_into(codes, back) is back
    assert np.array_equal(back, g711.alaw_decode_reference(codes))
    ucodes = np.zeros(160, dtype=np.uint8)
    g711.ulaw_encode_into(pcm[1], ucodes)
    assert np.array_equal(ucodes, g711.ulaw_encode_reference(pcm[1]))
    uback = np.zeros(160, dtype=np.int16)
    g711.ulaw_decode_into(ucodes, uback)
    assert np.array_equal(uback, g711.ulaw_decode_reference(ucodes))


def test_into_rejects_a_wrong_destination() -> None:
    pcm = np.zeros((2, 160), dtype=np.int16)
    with pytest.raises(ValueError, match="shape"):
        g711.ulaw_encode_into(pcm, np.zeros(320, dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        g711.ulaw_encode_into(pcm, np.zeros((2, 160), dtype=np.int16))
    with pytest.raises(ValueError, match="contiguous"):
        g711.ulaw_encode_into(pcm, np.zeros((160, 2), dtype=np.uint8).T)


def test_wrong_dtype_and_rank_are_rejected() -> None:
    with pytest.raises(TypeError, match="int16"):
        g711.ulaw_encode(np.zeros(160, dtype=np.int32))
    with pytest.raises(TypeError, match="uint8"):
        g711.alaw_decode(np.zeros(160, dtype=np.int8))
    with pytest.raises(ValueError, match="3-D"):
        g711.alaw_encode(np.zeros((2, 2, 2), dtype=np.int16))


def test_tables_are_read_only() -> None:
    with pytest.raises(ValueError):
        g711.ULAW_ENCODE_TABLE[0] = 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-32768, 32767), max_size=400))
def test_round_trip_error_is_within_half_a_step(values: list[int]) -> None:
    pcm = np.array(values, dtype=np.int16)
    for encode, decode in (
        (g711.ulaw_encode, g711.ulaw_decode),
        (g711.alaw_encode, g711.alaw_decode),
    ):
        back = decode(encode(pcm)).astype(np.int32)
        error = np.abs(back - pcm)
        # The step grows with the magnitude (it is at most 1/16 of it past the first
        # segments); µ-law's bias of 132 adds a few units near segment edges (-441 comes back
        # as -460 here and in audioop). Exactness itself is the exhaustive audioop test above.
        assert np.all(error <= np.abs(pcm.astype(np.int32)) / 16 + 20)


def test_warm_up_compiles_what_the_media_path_calls() -> None:
    g711.warm_up()
    kernels = (g711._encode_kernel, g711._decode_kernel)
    compiled = [len(k.signatures) for k in kernels]
    payload = np.frombuffer(bytes(range(160)), dtype=np.uint8)  # read-only, as from RTP
    pcm = np.frombuffer(bytes(320), dtype=np.int16)
    g711.alaw_decode(payload)
    g711.ulaw_encode(pcm)
    g711.ulaw_encode(np.zeros((3, 160), dtype=np.int16))
    assert [len(k.signatures) for k in kernels] == compiled
