"""G.711 µ-law and A-law companding (ITU-T G.711), as numba table-lookup kernels.

Encoding and decoding are bit-exact with the segment algorithm of ITU-T G.711 as found in the
classic Sun reference code (the one CPython's ``audioop`` uses): µ-law works on the
top 14 bits of a 16-bit sample (``pcm >> 2``, bias 33, clip at 8159), A-law on the top 13 bits
(``pcm >> 3``); both invert bits as the Recommendation says (µ-law all bits, A-law the even
bits, ``0x55``). The decoders return the 16-bit value at the centre of each quantisation
interval. (ITU-T's software tool library, G.191, takes the magnitude of negative µ-law inputs
by one's complement rather than negation: 508 of the 65 536 inputs, four at each
negative decision value, then get the neighbouring code. Its A-law agrees with this one
everywhere.)

The kernels look codes up in tables built once at import from the ``*_reference`` twins
(plain numpy implementations of the segment algorithm): 65 536 entries for encoding, indexed
by ``pcm + 32768``, and 256 for decoding. Every public function accepts a 1-D frame or a 2-D
batch ``(n_legs, samples)`` and returns the same shape; the ``*_into(src, dst)`` variants
write into a preallocated C-contiguous array of the same shape, so a media tick can encode
all legs without allocating.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ALAW_DECODE_TABLE",
    "ALAW_ENCODE_TABLE",
    "ULAW_DECODE_TABLE",
    "ULAW_ENCODE_TABLE",
    "alaw_decode",
    "alaw_decode_into",
    "alaw_decode_reference",
    "alaw_encode",
    "alaw_encode_into",
    "alaw_encode_reference",
    "ulaw_decode",
    "ulaw_decode_into",
    "ulaw_decode_reference",
    "ulaw_encode",
    "ulaw_encode_into",
    "ulaw_encode_reference",
    "warm_up",
]

ULAW_BIAS = 0x84  # 132 on the 16-bit scale, 33 on the 14-bit scale
ULAW_CLIP = 8159  # largest 14-bit magnitude µ-law represents
_ULAW_SEGMENT_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEGMENT_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_PCM_OFFSET = 32768  # encode tables are indexed by pcm + 32768


# --- reference twins: the segment algorithm in plain numpy ------------------------------


def ulaw_encode_reference(pcm: NDArray[np.int16]) -> NDArray[np.uint8]:
    """µ-law encode with the G.711 segment algorithm (vectorised numpy, no tables)."""
    x = np.asarray(pcm, dtype=np.int16).astype(np.int32) >> 2
    mask = np.where(x < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(x), ULAW_CLIP) + (ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_END, magnitude, side="left")
    code = np.where(
        segment >= 8,
        0x7F,
        (segment << 4) | ((magnitude >> np.minimum(segment + 1, 15)) & 0xF),
    )
    return (code ^ mask).astype(np.uint8)


def ulaw_decode_reference(codes: NDArray[np.uint8]) -> NDArray[np.int16]:
    """µ-law decode with the G.711 expansion formula (vectorised numpy, no tables)."""
    u = ~np.asarray(codes, dtype=np.uint8).astype(np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, ULAW_BIAS - t, t - ULAW_BIAS).astype(np.int16)


def alaw_encode_reference(pcm: NDArray[np.int16]) -> NDArray[np.uint8]:
    """A-law encode with the G.711 segment algorithm (vectorised numpy, no tables)."""
    x = np.asarray(pcm, dtype=np.int16).astype(np.int32) >> 3
    negative = x < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -x - 1, x)
    segment = np.searchsorted(_ALAW_SEGMENT_END, magnitude, side="left")
    shift = np.where(segment < 2, 1, np.minimum(segment, 15))
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((magnitude >> shift) & 0xF))
    return (code ^ mask).astype(np.uint8)


def alaw_decode_reference(codes: NDArray[np.uint8]) -> NDArray[np.int16]:
    """A-law decode with the G.711 expansion formula (vectorised numpy, no tables)."""
    a = np.asarray(codes, dtype=np.uint8).astype(np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    segment = (a & 0x70) >> 4
    t = np.where(segment == 0, t + 8, t + 0x108)
    t = np.where(segment > 1, t << np.maximum(segment - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ALL_PCM = np.arange(-_PCM_OFFSET, _PCM_OFFSET, dtype=np.int32).astype(np.int16)
_ALL_CODES = np.arange(256, dtype=np.int32).astype(np.uint8)

ULAW_ENCODE_TABLE: NDArray[np.uint8] = ulaw_encode_reference(_ALL_PCM)
"""µ-law code of every 16-bit sample, indexed by ``pcm + 32768``."""
ALAW_ENCODE_TABLE: NDArray[np.uint8] = alaw_encode_reference(_ALL_PCM)
"""A-law code of every 16-bit sample, indexed by ``pcm + 32768``."""
ULAW_DECODE_TABLE: NDArray[np.int16] = ulaw_decode_reference(_ALL_CODES)
"""16-bit sample of every µ-law code."""
ALAW_DECODE_TABLE: NDArray[np.int16] = alaw_decode_reference(_ALL_CODES)
"""16-bit sample of every A-law code."""
for _table in (ULAW_ENCODE_TABLE, ALAW_ENCODE_TABLE, ULAW_DECODE_TABLE, ALAW_DECODE_TABLE):
    _table.flags.writeable = False


# --- kernels -----------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _encode_kernel(
    src: NDArray[np.int16], table: NDArray[np.uint8], dst: NDArray[np.uint8]
) -> None:
    for i in range(src.shape[0]):
        dst[i] = table[np.int32(src[i]) + 32768]


@numba.njit(cache=True, nogil=True)
def _decode_kernel(
    src: NDArray[np.uint8], table: NDArray[np.int16], dst: NDArray[np.int16]
) -> None:
    for i in range(src.shape[0]):
        dst[i] = table[src[i]]


_INT16 = np.dtype(np.int16)
_UINT8 = np.dtype(np.uint8)


def _is_plain_frame(array: NDArray[Any], dtype: np.dtype[Any]) -> bool:
    """A 1-D C-contiguous ndarray of ``dtype``: the shape the kernels take as they are."""
    return bool(
        array.__class__ is np.ndarray
        and array.dtype is dtype
        and array.ndim == 1
        and array.flags.c_contiguous
    )


def _is_output_for(dst: NDArray[Any], dtype: np.dtype[Any], size: int) -> bool:
    return bool(_is_plain_frame(dst, dtype) and dst.shape[0] == size and dst.flags.writeable)


def _flat_source(src: NDArray[Any], dtype: np.dtype[Any]) -> NDArray[Any]:
    array = np.asarray(src)
    if array.dtype != dtype:
        raise TypeError(f"expected {dtype.name} samples, got {array.dtype}")
    if array.ndim not in (1, 2):
        raise ValueError(f"expected a 1-D frame or a 2-D batch of frames, got {array.ndim}-D")
    return np.ascontiguousarray(array, dtype=dtype).reshape(-1)


def _flat_destination(
    dst: NDArray[Any], shape: tuple[int, ...], dtype: np.dtype[Any]
) -> NDArray[Any]:
    if dst.dtype != dtype or dst.shape != shape:
        raise ValueError(
            f"destination must be {dtype.name} of shape {shape},"
            f" got {dst.dtype} of shape {dst.shape}"
        )
    if not dst.flags.c_contiguous or not dst.flags.writeable:
        raise ValueError("destination must be a writeable C-contiguous array")
    return dst.reshape(-1)


def _encode_into(
    pcm: NDArray[np.int16], dst: NDArray[np.uint8], table: NDArray[np.uint8]
) -> NDArray[np.uint8]:
    if _is_plain_frame(pcm, _INT16) and _is_output_for(dst, _UINT8, pcm.shape[0]):
        _encode_kernel(pcm, table, dst)  # the per-frame fast path: no copies, no reshapes
        return dst
    src = _flat_source(pcm, _INT16)
    _encode_kernel(src, table, _flat_destination(dst, np.shape(pcm), _UINT8))
    return dst


def _decode_into(
    codes: NDArray[np.uint8], dst: NDArray[np.int16], table: NDArray[np.int16]
) -> NDArray[np.int16]:
    if _is_plain_frame(codes, _UINT8) and _is_output_for(dst, _INT16, codes.shape[0]):
        _decode_kernel(codes, table, dst)
        return dst
    src = _flat_source(codes, _UINT8)
    _decode_kernel(src, table, _flat_destination(dst, np.shape(codes), _INT16))
    return dst


def ulaw_encode_into(pcm: NDArray[np.int16], dst: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Encode int16 samples (1-D or 2-D) to µ-law codes in ``dst`` (same shape); returns dst."""
    return _encode_into(pcm, dst, ULAW_ENCODE_TABLE)


def alaw_encode_into(pcm: NDArray[np.int16], dst: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Encode int16 samples (1-D or 2-D) to A-law codes in ``dst`` (same shape); returns dst."""
    return _encode_into(pcm, dst, ALAW_ENCODE_TABLE)


def ulaw_decode_into(codes: NDArray[np.uint8], dst: NDArray[np.int16]) -> NDArray[np.int16]:
    """Decode µ-law codes (1-D or 2-D) to int16 samples in ``dst`` (same shape); returns dst."""
    return _decode_into(codes, dst, ULAW_DECODE_TABLE)


def alaw_decode_into(codes: NDArray[np.uint8], dst: NDArray[np.int16]) -> NDArray[np.int16]:
    """Decode A-law codes (1-D or 2-D) to int16 samples in ``dst`` (same shape); returns dst."""
    return _decode_into(codes, dst, ALAW_DECODE_TABLE)


def ulaw_encode(pcm: NDArray[np.int16]) -> NDArray[np.uint8]:
    """µ-law codes of int16 samples: a frame ``(n,)`` or a batch ``(legs, n)``."""
    return _encode_into(pcm, np.empty(np.shape(pcm), dtype=_UINT8), ULAW_ENCODE_TABLE)


def alaw_encode(pcm: NDArray[np.int16]) -> NDArray[np.uint8]:
    """A-law codes of int16 samples: a frame ``(n,)`` or a batch ``(legs, n)``."""
    return _encode_into(pcm, np.empty(np.shape(pcm), dtype=_UINT8), ALAW_ENCODE_TABLE)


def ulaw_decode(codes: NDArray[np.uint8]) -> NDArray[np.int16]:
    """int16 samples of µ-law codes: a frame ``(n,)`` or a batch ``(legs, n)``."""
    return _decode_into(codes, np.empty(np.shape(codes), dtype=_INT16), ULAW_DECODE_TABLE)


def alaw_decode(codes: NDArray[np.uint8]) -> NDArray[np.int16]:
    """int16 samples of A-law codes: a frame ``(n,)`` or a batch ``(legs, n)``."""
    return _decode_into(codes, np.empty(np.shape(codes), dtype=_INT16), ALAW_DECODE_TABLE)


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel of this module.

    Read-only input (``np.frombuffer`` over an RTP payload) is a distinct numba type, so both
    flavours are compiled here rather than on the first call in a media tick.
    """
    for writeable in (True, False):
        pcm = np.zeros(8, dtype=np.int16)
        codes = np.full(8, 0xFF, dtype=np.uint8)
        pcm.flags.writeable = codes.flags.writeable = writeable
        ulaw_encode(pcm)
        alaw_encode(pcm)
        ulaw_decode(codes)
        alaw_decode(codes)
