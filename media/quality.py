"""Call-quality estimate: the ITU-T G.107 E-model, simplified for VoIP.

The transmission rating R = Ro - Is - Id - Ie,eff + A. With the G.107 default values for every
parameter that a packet network does not change (§7.7: no echo, standard loudness and noise,
A = 0), Ro - Is = 93.2, leaving the two impairments a media engine can measure:

- **Id**, the delay impairment, from the one-way mouth-to-ear delay d (ms). We use the
  piecewise-linear fit of the G.107 curve for the no-echo case (Cole and Rosenbluth, "Voice over
  IP performance monitoring", 2001): Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3), H the step
  function. Delay costs little up to 177.3 ms and much beyond.
- **Ie,eff**, the effective equipment impairment (G.107 §7.5, eq. 7-29), from the codec's
  equipment impairment Ie, its packet-loss robustness Bpl, the loss percentage Ppl and the burst
  ratio BurstR (1 for random loss, above 1 for bursty loss):
  Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl).

Ie and Bpl per codec come from ITU-T G.113 Appendix I: G.711 has Ie = 0, and Bpl = 4.3 without
packet-loss concealment or 25.1 with it (random loss).

G.722 is wideband; the wideband E-model (G.107.1) rates on a 0-129 scale that does not map onto
the narrowband MOS. We rate G.722 on the narrowband scale with the G.711 values (Ie = 0, same
Bpl), i.e. as a transparent codec: its wideband advantage is not credited, only network
impairments count. That keeps the figures of all calls on one comparable scale.

`mos_from_r` is the conversion of G.107 Annex B.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CODEC_IMPAIRMENTS",
    "DELAY_KNEE_MS",
    "R_DEFAULT",
    "CodecImpairment",
    "codec_impairment",
    "delay_impairment",
    "effective_equipment_impairment",
    "mos_from_r",
    "mouth_to_ear_delay_ms",
    "quality_from_network",
    "r_factor",
]

# G.107 §7.7: Ro - Is with every parameter at its default value.
R_DEFAULT = 93.2
# Cole-Rosenbluth: above this one-way delay the impairment grows 0.11 per ms faster.
DELAY_KNEE_MS = 177.3
_DELAY_SLOPE = 0.024
_DELAY_SLOPE_EXTRA = 0.11
# G.107 eq. 7-29.
_IE_CEILING = 95.0


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """E-model figures for one codec (G.113 Appendix I).

    `bpl` applies without packet-loss concealment, `bpl_plc` with it. `algorithmic_delay_ms` is
    the look-ahead the codec adds on top of one packet of audio.
    """

    name: str
    ie: float
    bpl: float
    bpl_plc: float
    algorithmic_delay_ms: float = 0.0

    def robustness(self, plc: bool) -> float:
        return self.bpl_plc if plc else self.bpl


# G.113 Appendix I, G.711 (random loss): Ie 0, Bpl 4.3 without PLC, 25.1 with PLC.
_G711_IE = 0.0
_G711_BPL = 4.3
_G711_BPL_PLC = 25.1
CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    "PCMU": CodecImpairment("PCMU", _G711_IE, _G711_BPL, _G711_BPL_PLC),
    "PCMA": CodecImpairment("PCMA", _G711_IE, _G711_BPL, _G711_BPL_PLC),
    # Narrowband approximation, see the module docstring; its few ms of QMF filter delay are
    # neglected.
    "G722": CodecImpairment("G722", _G711_IE, _G711_BPL, _G711_BPL_PLC),
}


def codec_impairment(codec: str) -> CodecImpairment:
    """Figures for `codec` by RTP encoding name (case-insensitive, `G.722` accepted)."""
    key = codec.upper().replace(".", "")
    try:
        return CODEC_IMPAIRMENTS[key]
    except KeyError:
        known = ", ".join(sorted(CODEC_IMPAIRMENTS))
        raise ValueError(f"no E-model figures for codec {codec!r} (known: {known})") from None


def delay_impairment(one_way_delay_ms: float) -> float:
    """Id for a one-way mouth-to-ear delay in ms (Cole-Rosenbluth fit of G.107, no echo)."""
    d = max(0.0, one_way_delay_ms)
    impairment = _DELAY_SLOPE * d
    if d > DELAY_KNEE_MS:
        impairment += _DELAY_SLOPE_EXTRA * (d - DELAY_KNEE_MS)
    return impairment


def effective_equipment_impairment(
    loss_percent: float, codec: str = "PCMU", burst_ratio: float = 1.0, *, plc: bool = True
) -> float:
    """Ie,eff (G.107 eq. 7-29) for a packet-loss percentage in [0, 100]."""
    if not 0.0 <= loss_percent <= 100.0:
        raise ValueError(f"loss percentage {loss_percent} is outside [0, 100]")
    if burst_ratio <= 0:
        raise ValueError(f"burst ratio must be positive, not {burst_ratio}")
    figures = codec_impairment(codec)
    ppl = loss_percent
    bpl = figures.robustness(plc)
    return figures.ie + (_IE_CEILING - figures.ie) * ppl / (ppl / burst_ratio + bpl)


def r_factor(
    one_way_delay_ms: float,
    loss_percent: float,
    codec: str = "PCMU",
    burst_ratio: float = 1.0,
    *,
    plc: bool = True,
) -> float:
    """Transmission rating R in [0, 100]: 93.2 - Id - Ie,eff."""
    r = (
        R_DEFAULT
        - delay_impairment(one_way_delay_ms)
        - effective_equipment_impairment(loss_percent, codec, burst_ratio, plc=plc)
    )
    return min(100.0, max(0.0, r))


def mos_from_r(r: float) -> float:
    """Estimated MOS (conversational quality) from R, G.107 Annex B.

    The cubic dips just below 1 for R under about 6.5; the result is held at 1 there so that
    MOS never falls as R grows.
    """
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return max(1.0, 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6)


def mouth_to_ear_delay_ms(
    network_delay_ms: float, jitter_buffer_ms: float, codec: str = "PCMU", ptime_ms: float = 20.0
) -> float:
    """One-way delay for Id: network + jitter buffer + one packet of audio + codec look-ahead."""
    return (
        network_delay_ms
        + jitter_buffer_ms
        + ptime_ms
        + codec_impairment(codec).algorithmic_delay_ms
    )


def quality_from_network(
    rtt_ms: float | None,
    jitter_ms: float,
    loss_fraction: float,
    codec: str = "PCMU",
    *,
    jitter_buffer_ms: float | None = None,
    ptime_ms: float = 20.0,
    burst_ratio: float = 1.0,
    plc: bool = True,
) -> tuple[float, float, float]:
    """(one-way delay ms, R, MOS) from what RTCP measures.

    The network delay is half the round trip (0 when unknown); the jitter buffer, when not given,
    is estimated as twice the interarrival jitter.
    """
    network = (rtt_ms or 0.0) / 2
    buffer = 2 * jitter_ms if jitter_buffer_ms is None else jitter_buffer_ms
    delay = mouth_to_ear_delay_ms(network, buffer, codec, ptime_ms)
    loss_percent = min(100.0, max(0.0, loss_fraction * 100))
    r = r_factor(delay, loss_percent, codec, burst_ratio, plc=plc)
    return delay, r, mos_from_r(r)
