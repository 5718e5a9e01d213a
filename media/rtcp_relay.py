"""What relayed RTCP says about a leg: loss and jitter as the remote party reports them.

In relay mode the switch does not terminate RTCP, it forwards it; but the report blocks passing
through tell how the far end hears the call. `RelayedRtcpFigures.from_compound` reads them
(RFC 3550 §6.4) and turns them into loss, jitter and an E-model MOS estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from media.quality import mos_from_r, r_factor
from media.rtcp import RtcpError, RtcpReceiverReport, RtcpSenderReport, parse_compound

__all__ = ["LegQuality", "RelayedRtcpFigures"]

DEFAULT_CLOCK_RATE = 8000


@dataclass(frozen=True, slots=True)
class LegQuality:
    """How one leg sounds, whichever way it was measured."""

    loss_fraction: float
    jitter_ms: float
    mos: float
    measured_by: str
    """"switch" (the switch terminated the media) or "remote report" (relayed RTCP)."""


@dataclass(frozen=True, slots=True)
class RelayedRtcpFigures:
    """The first report block of a sender or receiver report."""

    fraction_lost: float
    """Fraction of packets lost since the previous report (0..1)."""
    cumulative_lost: int
    jitter_ms: float

    @classmethod
    def from_compound(
        cls, data: bytes, clock_rate: int = DEFAULT_CLOCK_RATE
    ) -> RelayedRtcpFigures | None:
        try:
            packets = parse_compound(data)
        except RtcpError:
            return None
        for packet in packets:
            if isinstance(packet, RtcpSenderReport | RtcpReceiverReport) and packet.reports:
                block = packet.reports[0]
                return cls(
                    fraction_lost=block.fraction_lost / 256.0,
                    cumulative_lost=block.cumulative_lost,
                    jitter_ms=1000.0 * block.jitter / clock_rate,
                )
        return None

    def mos(self, one_way_delay_ms: float = 40.0, codec: str = "PCMU") -> float:
        """E-model listening-quality estimate for this loss (ITU-T G.107)."""
        delay = one_way_delay_ms + 2 * self.jitter_ms
        return mos_from_r(r_factor(delay, 100.0 * self.fraction_lost, codec))

    def leg_quality(self) -> LegQuality:
        return LegQuality(self.fraction_lost, self.jitter_ms, self.mos(), "remote report")
