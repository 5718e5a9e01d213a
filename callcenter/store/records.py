"""Rows the store keeps, as frozen dataclasses, and the enums their columns use.

Times are Unix timestamps in seconds (float). ``CdrRecord.id`` is assigned by the
database: leave it ``None`` when writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["CallDirection", "CdrRecord", "Disposition", "HangupBy", "RegistrationRow"]


class CallDirection(StrEnum):
    """Where a call came from and went to."""

    INTERNAL = "internal"
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Disposition(StrEnum):
    """How a call ended."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class HangupBy(StrEnum):
    """Which side ended the call."""

    CALLER = "caller"
    CALLEE = "callee"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class CdrRecord:
    """A call detail record, written once when a call ends."""

    call_id: str
    caller: str
    callee: str
    direction: CallDirection
    start_time: float
    end_time: float
    duration_s: float
    """``end_time - start_time``."""
    billsec_s: float
    """Seconds from answer to end; 0 when not answered."""
    disposition: Disposition
    sip_code: int | None = None
    """Final SIP status of the call (200 when answered), if any."""
    sip_reason: str | None = None
    caller_display: str | None = None
    answer_time: float | None = None
    hangup_by: HangupBy | None = None
    trunk: str | None = None
    id: int | None = None

    def to_row(self) -> dict[str, Any]:
        """Column values (without ``id``)."""
        return {
            "call_id": self.call_id,
            "caller": self.caller,
            "callee": self.callee,
            "caller_display": self.caller_display,
            "direction": self.direction.value,
            "start_time": self.start_time,
            "answer_time": self.answer_time,
            "end_time": self.end_time,
            "duration_s": self.duration_s,
            "billsec_s": self.billsec_s,
            "disposition": self.disposition.value,
            "sip_code": self.sip_code,
            "sip_reason": self.sip_reason,
            "hangup_by": None if self.hangup_by is None else self.hangup_by.value,
            "trunk": self.trunk,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CdrRecord:
        """Build from a ``cdr`` table row."""
        hangup_by = row["hangup_by"]
        return cls(
            id=row["id"],
            call_id=row["call_id"],
            caller=row["caller"],
            callee=row["callee"],
            caller_display=row["caller_display"],
            direction=CallDirection(row["direction"]),
            start_time=row["start_time"],
            answer_time=row["answer_time"],
            end_time=row["end_time"],
            duration_s=row["duration_s"],
            billsec_s=row["billsec_s"],
            disposition=Disposition(row["disposition"]),
            sip_code=row["sip_code"],
            sip_reason=row["sip_reason"],
            hangup_by=None if hangup_by is None else HangupBy(hangup_by),
            trunk=row["trunk"],
        )


@dataclass(frozen=True, slots=True)
class RegistrationRow:
    """One binding of the location service: an address of record and a contact."""

    aor: str
    """Address of record, as in ``sip:1001@example.com``."""
    contact: str
    """Contact URI the binding points at."""
    expires_at: float
    """Unix time the binding expires."""
    call_id: str
    cseq: int
    source: str
    """Transport and address the REGISTER came from, as in ``udp:127.0.0.1:5062``."""
    user_agent: str | None = None
    instance: str | None = None
    """``+sip.instance`` of the contact (RFC 5626), if given."""
    q: float = 1.0
    """Contact preference, 0..1 (RFC 3261 section 20.10)."""

    def to_row(self) -> dict[str, Any]:
        """Column values."""
        return {
            "aor": self.aor,
            "contact": self.contact,
            "expires_at": self.expires_at,
            "call_id": self.call_id,
            "cseq": self.cseq,
            "source": self.source,
            "user_agent": self.user_agent,
            "instance": self.instance,
            "q": self.q,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RegistrationRow:
        """Build from a ``registrations`` table row."""
        return cls(**{key: row[key] for key in cls.__dataclass_fields__})
