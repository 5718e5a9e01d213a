"""Pure-Python reference of ITU-T G.722 at 64 kbit/s: the Recommendation's sub-blocks, one by one.

This is the slow twin of the numba kernels in ``dsp.g722``. It follows the structure of the
Recommendation (and of its reference C code) literally, one function per sub-block, in plain
Python integers with the 16-bit saturating arithmetic the Recommendation prescribes:

- clause 3.1 / 5.2: transmit QMF, splitting two 16 kHz samples into a lower and a higher
  sub-band sample at 8 kHz; clause 4.4 / 5.2: receive QMF, the inverse;
- clause 6, lower sub-band: Block 1L (SUBTRA, QUANTL: 60-level adaptive quantizer, 6-bit
  code), Block 2L (INVQAL: 4-bit inverse quantizer feeding the predictor), Block 3L (LOGSCL,
  SCALEL: scale factor adaptation), Block 4L (RECONS, PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA,
  FILTEP, FILTEZ, PREDIC: the pole-zero adaptive predictor), decoder Block 5L (INVQBL,
  RECONS) and Block 6L (LIMIT);
- clause 6, higher sub-band: Blocks 1H-5H, the same with a 4-level quantizer (2-bit code).

Blocks 4L and 4H are the same computation, so ``block4`` serves both bands.

Both functions take the codec state as the ``int32`` array of ``dsp.g722_tables`` (layout
documented there) and update it in place, exactly like the kernels, so tests can compare the
two implementations state for state. Sample values are 16-bit PCM (the Recommendation's
14-bit input with clause 5.2's scaling for 16-bit samples, as in the ITU-T G.191 tools).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dsp.g722_tables import (
    BAND_A1,
    BAND_A2,
    BAND_B,
    BAND_D,
    BAND_DET,
    BAND_NB,
    BAND_P1,
    BAND_P2,
    BAND_R1,
    BAND_R2,
    BAND_S,
    BAND_SZ,
    HIGHER_BAND,
    ILB,
    LOWER_BAND,
    NBH_MAX,
    NBL_MAX,
    Q2,
    Q6,
    Q6_IL_NEGATIVE,
    Q6_IL_POSITIVE,
    QM2,
    QM4,
    QM6,
    QMF_COEFFICIENTS,
    QMF_DELAY,
    QMF_TAPS,
    RH2,
    RL42,
    WH,
    WL,
)

__all__ = ["g722_decode_reference", "g722_encode_reference"]


# --- 16-bit arithmetic of the Recommendation ----------------------------------------------


def _sat(x: int) -> int:
    """Saturate to the 16-bit two's complement range (every add/subtract of clause 6)."""
    return -32768 if x < -32768 else 32767 if x > 32767 else x


def _mult(a: int, b: int) -> int:
    """Fractional multiply: (a * b) >> 15, saturated."""
    return _sat((a * b) >> 15)


def _limit(x: int) -> int:
    """LIMIT: saturate to the 15-bit sub-band signal range."""
    return -16384 if x < -16384 else 16383 if x > 16383 else x


def _magnitude(e: int) -> int:
    """The quantizers' magnitude: e when e >= 0, otherwise 32767 - (e & 32767) = -e - 1."""
    return e if e >= 0 else 32767 - (e & 32767)


class _Band:
    """The ADPCM variables of one sub-band (clause 6 names, without the L/H suffix)."""

    __slots__ = ("a1", "a2", "b", "d", "det", "nb", "p1", "p2", "r1", "r2", "s", "sz")

    def __init__(self, state: list[int], offset: int) -> None:
        self.s = state[offset + BAND_S]
        self.sz = state[offset + BAND_SZ]
        self.nb = state[offset + BAND_NB]
        self.det = state[offset + BAND_DET]
        self.a1 = state[offset + BAND_A1]
        self.a2 = state[offset + BAND_A2]
        self.b = state[offset + BAND_B : offset + BAND_B + 6]  # B1..B6
        self.d = state[offset + BAND_D : offset + BAND_D + 6]  # D1..D6
        self.p1 = state[offset + BAND_P1]
        self.p2 = state[offset + BAND_P2]
        self.r1 = state[offset + BAND_R1]
        self.r2 = state[offset + BAND_R2]

    def store(self, state: NDArray[np.int32], offset: int) -> None:
        state[offset + BAND_S] = self.s
        state[offset + BAND_SZ] = self.sz
        state[offset + BAND_NB] = self.nb
        state[offset + BAND_DET] = self.det
        state[offset + BAND_A1] = self.a1
        state[offset + BAND_A2] = self.a2
        state[offset + BAND_B : offset + BAND_B + 6] = self.b
        state[offset + BAND_D : offset + BAND_D + 6] = self.d
        state[offset + BAND_P1] = self.p1
        state[offset + BAND_P2] = self.p2
        state[offset + BAND_R1] = self.r1
        state[offset + BAND_R2] = self.r2


# --- clause 5: QMF ------------------------------------------------------------------------


def _qmf_sums(delay: list[int]) -> tuple[int, int]:
    """The two polyphase sums over the delay line (time order, newest last).

    With x(j) the newest value: xA = sum h(2i) x(j - 2i), xB = sum h(2i+1) x(j - 2i - 1).
    """
    newest = QMF_TAPS - 1
    xa = sum(QMF_COEFFICIENTS[2 * i] * delay[newest - 2 * i] for i in range(12))
    xb = sum(QMF_COEFFICIENTS[2 * i + 1] * delay[newest - 2 * i - 1] for i in range(12))
    return xa, xb


def qmf_transmit(delay: list[int], first: int, second: int) -> tuple[int, int]:
    """Transmit QMF (clause 3.1): two input samples in, (xL, xH) out, both LIMITed."""
    delay.append(first)
    delay.append(second)
    del delay[:2]
    xa, xb = _qmf_sums(delay)
    return _limit((xa + xb) >> 14), _limit((xa - xb) >> 14)


def qmf_receive(delay: list[int], rl: int, rh: int) -> tuple[int, int]:
    """Receive QMF (clause 4.4): (rL, rH) in, two output samples out, in time order."""
    delay.append(_sat(rl + rh))
    delay.append(_sat(rl - rh))
    del delay[:2]
    xa, xb = _qmf_sums(delay)
    return _sat(xa >> 11), _sat(xb >> 11)


# --- clause 6: sub-blocks -----------------------------------------------------------------


def quantl(el: int, detl: int) -> int:
    """Block 1L QUANTL: 6-bit code of the lower sub-band difference signal."""
    wd = _magnitude(el)
    mil = 1
    while mil < 30 and _mult(Q6[mil] << 3, detl) <= wd:
        mil += 1
    return Q6_IL_NEGATIVE[mil] if el < 0 else Q6_IL_POSITIVE[mil]


def quanth(eh: int, deth: int) -> int:
    """Block 1H QUANTH: 2-bit code of the higher sub-band difference signal."""
    mih = 2 if _magnitude(eh) >= _mult(Q2 << 3, deth) else 1
    if eh < 0:
        return 0 if mih == 2 else 1
    return 2 if mih == 2 else 3


def invqal(il: int, detl: int) -> int:
    """Block 2L INVQAL: quantized difference DLT from the 4-bit truncated code."""
    return _mult(detl, QM4[il >> 2])


def invqbl(il: int, detl: int) -> int:
    """Block 5L INVQBL (64 kbit/s mode): quantized difference DL from the full 6-bit code."""
    return _mult(detl, QM6[il])


def invqah(ih: int, deth: int) -> int:
    """Block 2H INVQAH: quantized difference DH."""
    return _mult(deth, QM2[ih])


def _scale(nb: int, shift: int) -> int:
    """SCALEL (shift 8) / SCALEH (shift 10): log-to-linear scale factor conversion."""
    wd1 = (nb >> 6) & 31
    wd2 = nb >> 11
    wd3 = ILB[wd1] >> (shift - wd2) if shift >= wd2 else ILB[wd1] << (wd2 - shift)
    return wd3 << 2


def block3l(band: _Band, il: int) -> None:
    """Block 3L: LOGSCL, SCALEL and DELAYA of the scale factor."""
    nbpl = _sat(_mult(band.nb, 32512) + WL[RL42[il >> 2]])
    band.nb = min(max(nbpl, 0), NBL_MAX)
    band.det = _scale(band.nb, 8)


def block3h(band: _Band, ih: int) -> None:
    """Block 3H: LOGSCH, SCALEH and DELAYA of the scale factor."""
    nbph = _sat(_mult(band.nb, 32512) + WH[RH2[ih]])
    band.nb = min(max(nbph, 0), NBH_MAX)
    band.det = _scale(band.nb, 10)


def block4(band: _Band, dlt: int) -> None:
    """Blocks 4L / 4H: the adaptive predictor, updated with the quantized difference."""
    r0 = _sat(band.s + dlt)  # RECONS
    p0 = _sat(dlt + band.sz)  # PARREC
    sg0, sg1, sg2 = p0 < 0, band.p1 < 0, band.p2 < 0

    # UPPOL2: second pole coefficient
    wd1 = _sat(band.a1 * 4)
    wd2 = _sat(-wd1) if sg0 == sg1 else wd1
    wd4 = (wd2 >> 7) + (128 if sg0 == sg2 else -128)
    ap2 = min(max(wd4 + _mult(band.a2, 32512), -12288), 12288)

    # UPPOL1: first pole coefficient, kept inside the stability triangle
    ap1 = _sat((192 if sg0 == sg1 else -192) + _mult(band.a1, 32640))
    wd3 = 15360 - ap2
    ap1 = min(max(ap1, -wd3), wd3)

    # UPZERO: the six zero coefficients
    step = 0 if dlt == 0 else 128
    bp = [
        _sat((step if (d < 0) == (dlt < 0) else -step) + _mult(b, 32640))
        for b, d in zip(band.b, band.d, strict=True)
    ]

    # DELAYA: shift the delay lines
    band.d = [dlt, *band.d[:5]]
    band.b = bp
    band.r2, band.r1 = band.r1, r0
    band.p2, band.p1 = band.p1, p0
    band.a1, band.a2 = ap1, ap2

    # FILTEP: pole section output
    spl = _sat(_mult(band.a1, _sat(band.r1 * 2)) + _mult(band.a2, _sat(band.r2 * 2)))

    # FILTEZ: zero section output, accumulated from D6/B6 down to D1/B1
    szl = 0
    for i in range(5, -1, -1):
        szl = _sat(szl + _mult(_sat(band.d[i] * 2), band.b[i]))
    band.sz = szl

    band.s = _sat(spl + szl)  # PREDIC


# --- encoder and decoder ------------------------------------------------------------------


def _encode_lower(band: _Band, xl: int) -> int:
    il = quantl(_sat(xl - band.s), band.det)  # Block 1L
    dlt = invqal(il, band.det)  # Block 2L
    block3l(band, il)
    block4(band, dlt)
    return il


def _encode_higher(band: _Band, xh: int) -> int:
    ih = quanth(_sat(xh - band.s), band.det)  # Block 1H
    dh = invqah(ih, band.det)  # Block 2H
    block3h(band, ih)
    block4(band, dh)
    return ih


def _decode_lower(band: _Band, il: int) -> int:
    rl = _limit(_sat(band.s + invqbl(il, band.det)))  # Blocks 5L and 6L
    dlt = invqal(il, band.det)
    block3l(band, il)
    block4(band, dlt)
    return rl


def _decode_higher(band: _Band, ih: int) -> int:
    dh = invqah(ih, band.det)
    rh = _limit(_sat(band.s + dh))  # Block 5H
    block3h(band, ih)
    block4(band, dh)
    return rh


def _load(state: NDArray[np.int32]) -> tuple[list[int], _Band, _Band]:
    values = [int(v) for v in state]
    return (
        values[QMF_DELAY : QMF_DELAY + QMF_TAPS],
        _Band(values, LOWER_BAND),
        _Band(values, HIGHER_BAND),
    )


def _store(state: NDArray[np.int32], delay: list[int], lower: _Band, higher: _Band) -> None:
    state[QMF_DELAY : QMF_DELAY + QMF_TAPS] = delay
    lower.store(state, LOWER_BAND)
    higher.store(state, HIGHER_BAND)


def g722_encode_reference(pcm: NDArray[np.int16], state: NDArray[np.int32]) -> NDArray[np.uint8]:
    """Encode an even number of 16 kHz samples to G.722 octets, updating ``state``."""
    samples = [int(v) for v in pcm]
    if len(samples) % 2:
        raise ValueError("G.722 encodes pairs of samples: the sample count must be even")
    delay, lower, higher = _load(state)
    codes = []
    for k in range(0, len(samples), 2):
        xl, xh = qmf_transmit(delay, samples[k], samples[k + 1])
        il = _encode_lower(lower, xl)
        ih = _encode_higher(higher, xh)
        codes.append(ih << 6 | il)  # multiplexer: IH in bits 7-6, IL in bits 5-0
    _store(state, delay, lower, higher)
    return np.array(codes, dtype=np.uint8)


def g722_decode_reference(codes: NDArray[np.uint8], state: NDArray[np.int32]) -> NDArray[np.int16]:
    """Decode G.722 octets (64 kbit/s mode) to 16 kHz samples, two per octet."""
    delay, lower, higher = _load(state)
    pcm: list[int] = []
    for code in (int(c) for c in codes):
        rl = _decode_lower(lower, code & 0x3F)
        rh = _decode_higher(higher, code >> 6)
        pcm.extend(qmf_receive(delay, rl, rh))
    _store(state, delay, lower, higher)
    return np.array(pcm, dtype=np.int16)
