"""NTP timestamps as RTCP uses them (RFC 3550 §4, §6.4.1).

An NTP timestamp is 64-bit fixed point: seconds since 1900-01-01 in the high 32 bits, the
fraction in the low 32. Reports carry its middle 32 bits (16.16 fixed point) as LSR, and the delay
since the last SR as DLSR in the same 1/65536 s unit, so that the sender of the SR can compute the
round trip: A - LSR - DLSR, A being the middle 32 bits of the time the report arrived.
"""

from __future__ import annotations

__all__ = [
    "NTP_UNIX_OFFSET",
    "ntp_from_unix",
    "ntp_middle_32",
    "round_trip_time",
    "unix_from_ntp",
]

# NTP counts seconds from 1900-01-01, Unix from 1970-01-01.
NTP_UNIX_OFFSET = 2_208_988_800
_NTP_FRACTION = 1 << 32
_MIDDLE_UNIT = 1 << 16  # LSR and DLSR count 1/65536 s
# A round trip computed slightly below zero is rounding on a very short path (each of A, LSR and
# DLSR is truncated to 1/65536 s); beyond this it is a broken report and none is given.
_RTT_NEGATIVE_TOLERANCE = _MIDDLE_UNIT // 1000  # about 1 ms


def ntp_from_unix(t: float) -> int:
    """The 64-bit NTP timestamp of Unix time `t` (seconds); wraps in 2036 like NTP era 0."""
    return round((t + NTP_UNIX_OFFSET) * _NTP_FRACTION) & 0xFFFF_FFFF_FFFF_FFFF


def unix_from_ntp(ntp: int) -> float:
    """Unix time of a 64-bit NTP timestamp (era 0)."""
    return ntp / _NTP_FRACTION - NTP_UNIX_OFFSET


def ntp_middle_32(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp, what LSR carries (§6.4.1)."""
    return (ntp >> 16) & 0xFFFF_FFFF


def round_trip_time(arrival_ntp_middle: int, lsr: int, dlsr: int) -> float | None:
    """Round-trip time in seconds from a report block (§6.4.1): A - LSR - DLSR.

    `arrival_ntp_middle` is the middle 32 bits of the NTP time the report arrived, on the clock
    that stamped our SR. None when the block carries no LSR (no SR received yet) or the result is
    clearly negative; up to about 1 ms below zero (rounding) reads as 0.0.
    """
    if lsr == 0:
        return None
    units = (arrival_ntp_middle - lsr - dlsr) & 0xFFFF_FFFF
    if units & 0x8000_0000:
        units -= 1 << 32
        if units < -_RTT_NEGATIVE_TOLERANCE:
            return None
        return 0.0
    return units / _MIDDLE_UNIT
