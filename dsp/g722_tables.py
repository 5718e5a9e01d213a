"""Constants of ITU-T G.722 (SB-ADPCM, 64 kbit/s mode) and the codec state layout.

The tables are the values printed in the Recommendation for the sub-blocks named after each
constant (clause 5 for the QMF, clause 6 for the lower and higher sub-band ADPCM). Both the
numba kernels (``dsp.g722``) and the pure-Python reference (``dsp.g722_reference``) read
them from here and share the state layout below, so a test can compare their states after
every call.

State layout (one ``int32`` array per stream direction, ``STATE_SIZE`` entries):

- ``QMF_DELAY`` .. +24: the QMF delay line in time order, oldest first. For the encoder
  these are the last 24 input samples (clause 3.1); for the decoder the last 24 values of
  the interleaved sequence ``rL + rH, rL - rH`` (clause 4.4).
- ``LOWER_BAND`` .. +``BAND_SIZE``: the lower sub-band ADPCM variables, then
  ``HIGHER_BAND`` .. +``BAND_SIZE``: the higher sub-band ones, each with the ``BAND_*``
  offsets below (names of clause 6: S, SZ, NB, DET, A1, A2, B1-B6, D1-D6, P1, P2, R1, R2,
  with L or H appended in the Recommendation).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BAND_A1",
    "BAND_A2",
    "BAND_B",
    "BAND_D",
    "BAND_DET",
    "BAND_NB",
    "BAND_P1",
    "BAND_P2",
    "BAND_R1",
    "BAND_R2",
    "BAND_S",
    "BAND_SIZE",
    "BAND_SZ",
    "DETH_RESET",
    "DETL_RESET",
    "HIGHER_BAND",
    "ILB",
    "LOWER_BAND",
    "NBH_MAX",
    "NBL_MAX",
    "Q2",
    "Q6",
    "Q6_IL_NEGATIVE",
    "Q6_IL_POSITIVE",
    "QM2",
    "QM4",
    "QM6",
    "QMF_COEFFICIENTS",
    "QMF_DELAY",
    "QMF_TAPS",
    "RH2",
    "RL42",
    "STATE_SIZE",
    "WH",
    "WL",
    "new_state",
]

# --- clause 5: QMF ------------------------------------------------------------------------

QMF_TAPS = 24
QMF_COEFFICIENTS: tuple[int, ...] = (
    3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
    3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3,
)  # fmt: skip
"""h0..h23 of the 24-tap transmit and receive QMF (symmetric, sum 8192 = 2**13)."""

# --- clause 6, lower sub-band -------------------------------------------------------------

Q6: tuple[int, ...] = (
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650,
    714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
)  # fmt: skip
"""QUANTL decision levels: quantizer interval MIL = 1..30 spans [Q6(MIL - 1), Q6(MIL)) times the
scale factor; the 30th interval has no upper bound."""

Q6_IL_POSITIVE: tuple[int, ...] = (0, *range(61, 31, -1))
"""QUANTL output code IL for interval MIL = 1..30 when EL >= 0 (61 .. 32)."""
Q6_IL_NEGATIVE: tuple[int, ...] = (0, 63, 62, *range(31, 3, -1))
"""QUANTL output code IL for interval MIL = 1..30 when EL < 0 (63, 62, 31 .. 4)."""

QM4: tuple[int, ...] = (
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
    20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
)  # fmt: skip
"""INVQAL: 4-bit inverse quantizer output, indexed by IL >> 2 (scaled by 8)."""

QM6: tuple[int, ...] = (
    -136, -136, -136, -136, -24808, -21904, -19008, -16704,
    -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
    -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
    -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
    24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
    10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
    4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
    1688, 1360, 1040, 728, 432, 136, -432, -136,
)  # fmt: skip
"""INVQBL, 64 kbit/s mode: 6-bit inverse quantizer output, indexed by IL (scaled by 8)."""

WL: tuple[int, ...] = (-60, -30, 58, 172, 334, 538, 1198, 3042)
"""LOGSCL: log scale factor multipliers, indexed by RL42(IL >> 2)."""
RL42: tuple[int, ...] = (0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0)
"""LOGSCL: magnitude class of the 4-bit code IL >> 2."""
NBL_MAX = 18432
"""LOGSCL: upper limit of the lower sub-band log scale factor NBL."""
DETL_RESET = 32
"""Lower sub-band quantizer scale factor DETL after reset."""

ILB: tuple[int, ...] = (
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714,
    2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676,
    3756, 3838, 3922, 4008,
)  # fmt: skip
"""SCALEL/SCALEH: 2**(i/32) mantissas of the log-to-linear conversion, scaled by 2048."""

# --- clause 6, higher sub-band ------------------------------------------------------------

Q2 = 564
"""QUANTH decision level (scaled like Q6)."""
QM2: tuple[int, ...] = (-7408, -1616, 7408, 1616)
"""INVQAH: 2-bit inverse quantizer output, indexed by IH (scaled by 8)."""
WH: tuple[int, ...] = (0, -214, 798)
"""LOGSCH: log scale factor multipliers, indexed by RH2(IH)."""
RH2: tuple[int, ...] = (2, 1, 2, 1)
"""LOGSCH: magnitude class of IH."""
NBH_MAX = 22528
"""LOGSCH: upper limit of the higher sub-band log scale factor NBH."""
DETH_RESET = 8
"""Higher sub-band quantizer scale factor DETH after reset."""

# --- state layout -------------------------------------------------------------------------

BAND_S = 0  # S: predictor output (signal estimate)
BAND_SZ = 1  # SZ: zero-section output
BAND_NB = 2  # NB: log quantizer scale factor
BAND_DET = 3  # DET: quantizer scale factor
BAND_A1 = 4  # A1: first pole coefficient
BAND_A2 = 5  # A2: second pole coefficient
BAND_B = 6  # B1..B6: zero coefficients
BAND_D = 12  # D1..D6: delayed quantized difference signals
BAND_P1 = 18  # P1, P2: delayed partially reconstructed signals
BAND_P2 = 19
BAND_R1 = 20  # R1, R2: delayed reconstructed signals
BAND_R2 = 21
BAND_SIZE = 22

QMF_DELAY = 0
LOWER_BAND = QMF_TAPS
HIGHER_BAND = LOWER_BAND + BAND_SIZE
STATE_SIZE = HIGHER_BAND + BAND_SIZE


def new_state() -> NDArray[np.int32]:
    """A codec state after reset (clause 6: all variables zero but DETL = 32, DETH = 8)."""
    state = np.zeros(STATE_SIZE, dtype=np.int32)
    state[LOWER_BAND + BAND_DET] = DETL_RESET
    state[HIGHER_BAND + BAND_DET] = DETH_RESET
    return state
