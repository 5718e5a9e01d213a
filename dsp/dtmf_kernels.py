"""The numba kernels behind :mod:`dsp.dtmf`: Goertzel filter bank, analysis windows, decisions.

Per 5 ms sub-block, :func:`analyse_block` runs 48 Goertzel recurrences side by side (each of
the 16 analysed bins at ``f``, ``f - 50 Hz`` and ``f + 50 Hz``), keeps the last four
sub-blocks' terms in a ring, and combines them into the 20 ms Hann-windowed spectrum ending
there. :func:`classify` decides whether that window holds a key; :func:`step` runs the
key-press state machine over the windows' verdicts. :func:`detect_kernel` runs one stream;
:func:`detect_batch_kernel` runs one frame of each of many streams in one call.

State lives in arrays the caller owns (see :class:`dsp.dtmf.DtmfDetector`): the parameter
vector is indexed by the ``P_*`` constants, the machine's integers by ``I_*`` and its complex
values (the phase turns of the hit windows) by ``C_*``.
"""

from __future__ import annotations

import math
from typing import Final

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "C_COUNT",
    "HITS_TO_DETECT",
    "I_COUNT",
    "I_CUR",
    "I_PEND",
    "MISSES_TO_DROP",
    "MISSES_TO_END",
    "P_BLOCK",
    "P_COUNT",
    "P_DRIFT",
    "P_FRACTION",
    "P_HARMONIC",
    "P_LEAST_GAIN",
    "P_MIN_POWER",
    "P_NORM",
    "P_RATE",
    "P_TOL",
    "P_TWIST_HI",
    "P_TWIST_LO",
    "analyse_block",
    "classify",
    "detect_batch_kernel",
    "detect_kernel",
    "goertzel_blocks",
    "hann_gain",
    "spectra_kernel",
    "step",
]

HITS_TO_DETECT: Final = 5
"""Hit windows (5 ms apart) before a key is reported."""
MISSES_TO_END: Final = 7
"""Windows without the key that end a reported key press."""
MISSES_TO_DROP: Final = 2
"""Windows without a not-yet-reported candidate that drop it."""

# The float64 parameter vector.
P_RATE, P_BLOCK, P_TOL, P_TWIST_LO, P_TWIST_HI, P_MIN_POWER = 0, 1, 2, 3, 4, 5
P_FRACTION, P_HARMONIC, P_DRIFT, P_NORM = 6, 7, 8, 9
P_LEAST_GAIN: Final = 10
"""Eight entries from here: the least :func:`hann_gain` within tolerance, per fundamental."""
P_COUNT: Final = P_LEAST_GAIN + 8
# The int64 state: sub-blocks seen, held key, its hits, misses since, reported?, challenger.
I_BLOCKS, I_CUR, I_HITS, I_MISSES, I_REPORTED, I_PEND, I_PEND_HITS = 0, 1, 2, 3, 4, 5, 6
I_COUNT: Final = 7
# The complex128 state: turn sums, the last HITS_TO_DETECT turns, the challenger's two turns.
C_ACC_R, C_ACC_C, C_RING = 0, 1, 2
C_PEND: Final = C_RING + 2 * HITS_TO_DETECT
C_COUNT: Final = C_PEND + 4

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]


# --- Goertzel kernels ---------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _goertzel_block(
    x: NDArray[np.int16],
    base: int,
    block: int,
    filters: FloatArray,
    rotors: ComplexArray,
    scratch: FloatArray,
    out: ComplexArray,
) -> None:
    """DFT terms of ``x[base:base+block]`` at each filter's frequency, phase origin sample 0.

    All filters run side by side over the block, two samples a step (independent recurrences
    vectorise). ``rotors[k]`` must be ``exp(-j w_k (base + block - 1))``.
    """
    count = filters.shape[1]
    coefficients = filters[0]
    s1 = scratch[0]
    s2 = scratch[1]
    s1[:] = 0.0
    s2[:] = 0.0
    for n in range(base, base + block - 1, 2):
        v0 = float(x[n])
        v1 = float(x[n + 1])
        for k in range(count):
            first = v0 + coefficients[k] * s1[k] - s2[k]
            second = v1 + coefficients[k] * first - s1[k]
            s2[k] = first
            s1[k] = second
    if block % 2:
        v = float(x[base + block - 1])
        for k in range(count):
            s0 = v + coefficients[k] * s1[k] - s2[k]
            s2[k] = s1[k]
            s1[k] = s0
    for k in range(count):
        # s1 - e^{-jw} s2 is the filter output, e^{jw(block-1)} times the block's DFT term.
        y = complex(s1[k] - 0.5 * coefficients[k] * s2[k], filters[1, k] * s2[k])
        out[k] = y * rotors[k]


@numba.njit(cache=True, nogil=True)
def goertzel_blocks(
    x: NDArray[np.int16],
    block: int,
    filters: FloatArray,
    steps: ComplexArray,
    rotors: ComplexArray,
    out: ComplexArray,
) -> None:
    """Goertzel terms of consecutive blocks of ``x`` into the rows of ``out``.

    ``rotors`` starts as ``exp(-j w_k (block - 1))`` and is turned by ``steps`` each block.
    """
    scratch = np.zeros((2, filters.shape[1]))
    for b in range(out.shape[0]):
        _goertzel_block(x, b * block, block, filters, rotors, scratch, out[b])
        for k in range(rotors.shape[0]):
            turned = rotors[k] * steps[k]
            rotors[k] = turned / abs(turned)


@numba.njit(cache=True, nogil=True)
def _quarter_energies(
    x: NDArray[np.int16], base: int, hann: FloatArray, energy: FloatArray
) -> None:
    """Squared samples of one sub-block weighted by each quarter of the window, into
    ``energy[0:4]`` (the four sums run side by side)."""
    block = hann.shape[0] // 4
    e0 = 0.0
    e1 = 0.0
    e2 = 0.0
    e3 = 0.0
    for n in range(block):
        v = float(x[base + n])
        e0 += hann[n] * v * v
        e1 += hann[block + n] * v * v
        e2 += hann[2 * block + n] * v * v
        e3 += hann[3 * block + n] * v * v
    energy[0] = e0
    energy[1] = e1
    energy[2] = e2
    energy[3] = e3


@numba.njit(cache=True, nogil=True)
def analyse_block(
    x: NDArray[np.int16],
    base: int,
    filters: FloatArray,
    hann: FloatArray,
    rotor_table: ComplexArray,
    scratch: FloatArray,
    ring: ComplexArray,
    energy: FloatArray,
    ints: NDArray[np.int64],
    spectrum: ComplexArray,
) -> float:
    """Take the sub-block at ``x[base:]``; when it completes a window, fill ``spectrum`` (the
    window's Hann-weighted DFT terms, phase origin sample 0) and return its mean power.

    ``ring`` holds the last four sub-blocks' terms (three per bin: ``f``, ``f - Omega``,
    ``f + Omega``, Omega being the window's own frequency), ``energy`` their squared samples
    weighted by each quarter of the window, ``ints[I_BLOCKS]`` the sub-blocks seen so far.
    Row ``b % len(rotor_table)`` of ``rotor_table`` refers sub-block ``b`` to sample 0 (every
    analysed frequency repeats its phase after that many sub-blocks). Returns -1.0 while
    fewer than four sub-blocks have been seen.
    """
    block = hann.shape[0] // 4
    count = ints[I_BLOCKS]
    slot = count % 4
    rotors = rotor_table[count % rotor_table.shape[0]]
    _goertzel_block(x, base, block, filters, rotors, scratch, ring[slot])
    _quarter_energies(x, base, hann, energy[slot])
    count += 1
    ints[I_BLOCKS] = count
    if count < 4:
        return -1.0
    first = count - 4
    # Hann = 1/2 - e^{j Omega n}/4 - e^{-j Omega n}/4 with n from the window start s, so the
    # spectrum is R(w)/2 - e^{-j Omega s} R(w - Omega)/4 - e^{j Omega s} R(w + Omega)/4, and
    # Omega s = pi * first / 2.
    quarter = first % 4
    rot = complex(1.0, 0.0)
    if quarter == 1:
        rot = complex(0.0, -1.0)
    elif quarter == 2:
        rot = complex(-1.0, 0.0)
    elif quarter == 3:
        rot = complex(0.0, 1.0)
    a, b, c, d = first % 4, (first + 1) % 4, (first + 2) % 4, (first + 3) % 4
    for t in range(0, 3 * spectrum.shape[0], 3):
        r0 = ring[a, t] + ring[b, t] + ring[c, t] + ring[d, t]
        r1 = ring[a, t + 1] + ring[b, t + 1] + ring[c, t + 1] + ring[d, t + 1]
        r2 = ring[a, t + 2] + ring[b, t + 2] + ring[c, t + 2] + ring[d, t + 2]
        spectrum[t // 3] = 0.5 * r0 - 0.25 * (rot * r1 + rot.conjugate() * r2)
    power = 0.0
    for i in range(4):
        power += energy[(first + i) % 4, i]
    return float(power / (hann.shape[0] / 2.0))


@numba.njit(cache=True, nogil=True)
def spectra_kernel(
    x: NDArray[np.int16],
    filters: FloatArray,
    hann: FloatArray,
    rotor_table: ComplexArray,
    out: ComplexArray,
    powers: FloatArray,
) -> None:
    """Every complete window of ``x``: spectra into the rows of ``out``, powers into ``powers``."""
    block = hann.shape[0] // 4
    bins = filters.shape[1]
    scratch = np.zeros((2, bins))
    ring = np.zeros((4, bins), dtype=np.complex128)
    energy = np.zeros((4, 4))
    ints = np.zeros(1, dtype=np.int64)
    spectrum = np.zeros(out.shape[1], dtype=np.complex128)
    for b in range(x.shape[0] // block):
        power = analyse_block(
            x, b * block, filters, hann, rotor_table, scratch, ring, energy, ints, spectrum
        )
        if power >= 0.0:
            out[b - 3, :] = spectrum
            powers[b - 3] = power


# --- decisions: is this window a key, is this run of windows a key press? ------------------


@numba.njit(cache=True, nogil=True)
def _abs2(z: complex) -> float:
    return z.real * z.real + z.imag * z.imag


@numba.njit(cache=True, nogil=True)
def _offset_hz(turn: complex, params: FloatArray) -> float:
    """Frequency offset of a bin whose term turned by ``angle(turn)`` in one block."""
    angle = math.atan2(turn.imag, turn.real)
    return float(angle * params[P_RATE] / (2.0 * math.pi * params[P_BLOCK]))


@numba.njit(cache=True, nogil=True)
def _dirichlet(phi: float, width: int) -> float:
    half = math.sin(phi / 2.0)
    if abs(half) < 1e-12:
        return float(width)
    return math.sin(width * phi / 2.0) / half


@numba.njit(cache=True, nogil=True)
def hann_gain(offset_hz: float, rate: float, width: int) -> float:
    """Power response of the Hann window to a tone ``offset_hz`` off the bin (1.0 on it)."""
    theta = 2.0 * math.pi * offset_hz / rate
    omega = 2.0 * math.pi / width
    edge = complex(math.cos(math.pi / width), -math.sin(math.pi / width))
    total = (
        0.5 * _dirichlet(theta, width)
        + 0.25 * edge * _dirichlet(theta + omega, width)
        + 0.25 * edge.conjugate() * _dirichlet(theta - omega, width)
    )
    return _abs2(total) / (width / 2.0) ** 2


@numba.njit(cache=True, nogil=True)
def _tone_power(energy: float, turn: complex, nominal: float, params: FloatArray) -> float:
    """Mean square of a tone from its bin energy, corrected for its (clamped) offset."""
    limit = params[P_TOL] * nominal
    offset = min(max(_offset_hz(turn, params), -limit), limit)
    width = int(4 * params[P_BLOCK])
    return float(params[P_NORM] * energy / hann_gain(offset, params[P_RATE], width))


@numba.njit(cache=True, nogil=True)
def classify(
    spectrum: ComplexArray,
    previous: ComplexArray,
    power: float,
    params: FloatArray,
    row_harmonic_ok: NDArray[np.bool_],
    freqs: FloatArray,
) -> tuple[int, complex, complex]:
    """The key this window holds (-1 for none), and the turns of its two bins."""
    r = 0
    c = 4
    for k in range(1, 4):
        if _abs2(spectrum[k]) > _abs2(spectrum[r]):
            r = k
        if _abs2(spectrum[4 + k]) > _abs2(spectrum[c]):
            c = 4 + k
    turn_r = spectrum[r] * previous[r].conjugate()
    turn_c = spectrum[c] * previous[c].conjugate()
    energy_r = _abs2(spectrum[r])
    energy_c = _abs2(spectrum[c])
    if power <= 0.0 or energy_r <= 0.0 or energy_c <= 0.0:
        return -1, turn_r, turn_c
    # Any failed test rejects the window, so the cheap ones go first: the harmonics, then the
    # tone powers' upper bounds (least Hann gain), before the trigonometry of the exact ones.
    if _abs2(spectrum[8 + c]) > params[P_HARMONIC] * energy_c:
        return -1, turn_r, turn_c
    if row_harmonic_ok[r, c - 4] and _abs2(spectrum[8 + r]) > params[P_HARMONIC] * energy_r:
        return -1, turn_r, turn_c
    most_r = params[P_NORM] * energy_r / params[P_LEAST_GAIN + r]
    most_c = params[P_NORM] * energy_c / params[P_LEAST_GAIN + c]
    if min(most_r, most_c) < params[P_MIN_POWER] or most_r + most_c < params[P_FRACTION] * power:
        return -1, turn_r, turn_c
    tone_r = _tone_power(energy_r, turn_r, freqs[r], params)
    tone_c = _tone_power(energy_c, turn_c, freqs[c], params)
    if min(tone_r, tone_c) < params[P_MIN_POWER]:
        return -1, turn_r, turn_c
    if tone_c < params[P_TWIST_LO] * tone_r or tone_c > params[P_TWIST_HI] * tone_r:
        return -1, turn_r, turn_c
    if tone_r + tone_c < params[P_FRACTION] * power:
        return -1, turn_r, turn_c
    return 4 * r + c - 4, turn_r, turn_c


@numba.njit(cache=True, nogil=True)
def _start_run(key: int, ints: NDArray[np.int64], cplx: ComplexArray) -> None:
    ints[I_CUR] = key
    ints[I_HITS] = 0
    ints[I_MISSES] = 0
    ints[I_REPORTED] = 0
    ints[I_PEND] = -1
    ints[I_PEND_HITS] = 0
    cplx[C_ACC_R] = 0j
    cplx[C_ACC_C] = 0j


@numba.njit(cache=True, nogil=True)
def _add_hit(turn_r: complex, turn_c: complex, ints: NDArray[np.int64], cplx: ComplexArray) -> None:
    slot = ints[I_HITS] % HITS_TO_DETECT
    cplx[C_RING + slot] = turn_r
    cplx[C_RING + HITS_TO_DETECT + slot] = turn_c
    cplx[C_ACC_R] += turn_r
    cplx[C_ACC_C] += turn_c
    ints[I_HITS] += 1
    ints[I_MISSES] = 0


@numba.njit(cache=True, nogil=True)
def _challenge(
    key: int, turn_r: complex, turn_c: complex, ints: NDArray[np.int64], cplx: ComplexArray
) -> None:
    """Another key hits while a reported one is held: two such windows in a row end it."""
    base = C_PEND
    if ints[I_PEND] != key:
        ints[I_PEND] = key
        ints[I_PEND_HITS] = 0
    n = ints[I_PEND_HITS]
    cplx[base + n] = turn_r
    cplx[base + 2 + n] = turn_c
    ints[I_PEND_HITS] = n + 1
    if n + 1 >= 2:
        r0, r1, c0, c1 = cplx[base], cplx[base + 1], cplx[base + 2], cplx[base + 3]
        _start_run(key, ints, cplx)
        _add_hit(r0, c0, ints, cplx)
        _add_hit(r1, c1, ints, cplx)


@numba.njit(cache=True, nogil=True)
def _accept(
    params: FloatArray, freqs: FloatArray, ints: NDArray[np.int64], cplx: ComplexArray
) -> bool:
    """Run-level checks: mean frequency offsets within tolerance, no common drift."""
    key = ints[I_CUR]
    r = key // 4
    c = 4 + key % 4
    tol = params[P_TOL]
    if abs(_offset_hz(cplx[C_ACC_R], params)) > tol * freqs[r]:
        return False
    if abs(_offset_hz(cplx[C_ACC_C], params)) > tol * freqs[c]:
        return False
    k = HITS_TO_DETECT
    h = ints[I_HITS]
    early = ((h - k + 1) % k, (h - k + 2) % k)
    late = ((h - 2) % k, (h - 1) % k)
    drift = np.zeros(2)
    for g in range(2):
        ring = C_RING + g * k
        before = cplx[ring + early[0]] + cplx[ring + early[1]]
        after = cplx[ring + late[0]] + cplx[ring + late[1]]
        nominal = freqs[r] if g == 0 else freqs[c]
        drift[g] = (_offset_hz(after, params) - _offset_hz(before, params)) / nominal
    common = min(abs(drift[0]), abs(drift[1]))
    return not (drift[0] * drift[1] > 0.0 and common >= params[P_DRIFT])


@numba.njit(cache=True, nogil=True)
def step(
    key: int,
    turn_r: complex,
    turn_c: complex,
    params: FloatArray,
    freqs: FloatArray,
    ints: NDArray[np.int64],
    cplx: ComplexArray,
) -> int:
    """Feed one window's verdict to the key-press state machine; returns a new key or -1."""
    current = ints[I_CUR]
    if key >= 0 and key == current:
        _add_hit(turn_r, turn_c, ints, cplx)
        ints[I_PEND] = -1
        ints[I_PEND_HITS] = 0
    elif key >= 0 and (current < 0 or ints[I_REPORTED] == 0):
        _start_run(key, ints, cplx)
        _add_hit(turn_r, turn_c, ints, cplx)
    else:
        if key >= 0:
            _challenge(key, turn_r, turn_c, ints, cplx)
        else:
            ints[I_PEND] = -1
            ints[I_PEND_HITS] = 0
        if current >= 0 and ints[I_CUR] == current:
            ints[I_MISSES] += 1
            limit = MISSES_TO_END if ints[I_REPORTED] else MISSES_TO_DROP
            if ints[I_MISSES] >= limit:
                ints[I_CUR] = -1
    held = int(ints[I_CUR])
    ready = held >= 0 and ints[I_REPORTED] == 0 and ints[I_HITS] >= HITS_TO_DETECT
    if ready and _accept(params, freqs, ints, cplx):
        ints[I_REPORTED] = 1
        return held
    return -1


@numba.njit(cache=True, nogil=True)
def detect_kernel(
    x: NDArray[np.int16],
    filters: FloatArray,
    hann: FloatArray,
    rotor_table: ComplexArray,
    freqs: FloatArray,
    params: FloatArray,
    row_harmonic_ok: NDArray[np.bool_],
    scratch: FloatArray,
    ring: ComplexArray,
    energy: FloatArray,
    spectrum: ComplexArray,
    previous: ComplexArray,
    ints: NDArray[np.int64],
    cplx: ComplexArray,
    keys: NDArray[np.int64],
) -> int:
    """Run the detector over the whole sub-blocks of ``x``; the keys pressed go to ``keys``.

    Returns how many were written. Every other array is constant or the caller's state.
    """
    block = hann.shape[0] // 4
    found = 0
    for b in range(x.shape[0] // block):
        power = analyse_block(
            x, b * block, filters, hann, rotor_table, scratch, ring, energy, ints, spectrum
        )
        if power < 0.0:
            continue
        if ints[I_BLOCKS] > 4:
            key, turn_r, turn_c = classify(
                spectrum, previous, power, params, row_harmonic_ok, freqs
            )
            pressed = step(key, turn_r, turn_c, params, freqs, ints, cplx)
            if pressed >= 0:
                keys[found] = pressed
                found += 1
        previous[:] = spectrum
    return found


@numba.njit(cache=True, nogil=True)
def detect_batch_kernel(
    frames: NDArray[np.int16],
    rows: NDArray[np.intp],
    filters: FloatArray,
    hann: FloatArray,
    rotor_table: ComplexArray,
    freqs: FloatArray,
    params: FloatArray,
    row_harmonic_ok: NDArray[np.bool_],
    ring: ComplexArray,
    energy: FloatArray,
    previous: ComplexArray,
    ints: NDArray[np.int64],
    cplx: ComplexArray,
    pending: NDArray[np.int16],
    pending_len: NDArray[np.int64],
    out_rows: NDArray[np.int64],
    out_keys: NDArray[np.int64],
) -> int:
    """:func:`detect_kernel` over frame ``i`` for the stream in state slot ``rows[i]``, in order.

    The state arrays have one row per slot (``ring[s]``, ``energy[s]``... are exactly a single
    stream's state); ``pending[s, :pending_len[s]]`` holds the slot's samples short of a whole
    sub-block. Each key found goes to ``out_rows``/``out_keys`` as (slot, key); returns how many
    (both need room for ``len(rows) * (frames.shape[1] // block + 1)``), or -1, having changed
    nothing, when a row is not a slot of the arrays.
    """
    for i in range(rows.shape[0]):
        if rows[i] < 0 or rows[i] >= ints.shape[0]:
            return -1
    block = hann.shape[0] // 4
    length = frames.shape[1]
    scratch = np.zeros((2, filters.shape[1]))
    spectrum = np.zeros(freqs.shape[0], dtype=np.complex128)
    joined = np.empty(length + block, dtype=np.int16)
    keys = np.empty(length // block + 1, dtype=np.int64)
    found = 0
    for i in range(rows.shape[0]):
        s = rows[i]
        held = pending_len[s]
        total = held + length
        x = frames[i]
        if held > 0:
            joined[:held] = pending[s, :held]
            joined[held:total] = frames[i]
            x = joined[:total]
        count = detect_kernel(
            x, filters, hann, rotor_table, freqs, params, row_harmonic_ok, scratch, ring[s],
            energy[s], spectrum, previous[s], ints[s], cplx[s], keys,
        )  # fmt: skip
        rest = total % block
        pending[s, :rest] = x[total - rest : total]
        pending_len[s] = rest
        for j in range(count):
            out_rows[found] = s
            out_keys[found] = keys[j]
            found += 1
    return found
