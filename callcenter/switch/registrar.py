"""Registrar and location service (RFC 3261 §10.3), sans-I/O.

:class:`LocationService` holds the bindings of each address-of-record. :meth:`register`
applies one authenticated REGISTER and returns the response status, the headers to send and
the binding changes to persist. Time is an argument; expiry is computed, never slept on.

Each binding also remembers the *flow* the REGISTER arrived on (transport, source address and
port): requests to that contact are sent there, which is what makes phones behind NAT and
phones on TCP/TLS connections reachable (the approach of RFC 5626 without its extensions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.message import Request
from callcenter.sip.uri import Address, SipURI

__all__ = ["Binding", "LocationService", "RegisterOutcome", "RegistrarPolicy", "contact_key"]


@dataclass(frozen=True, slots=True)
class RegistrarPolicy:
    """Expiry bounds, seconds (RFC 3261 §10.3 step 7, §20.23)."""

    min_expires: int = 60
    max_expires: int = 7200
    default_expires: int = 3600
    max_contacts: int = 10
    """Bindings allowed per address-of-record; more are refused with 403."""


@dataclass(frozen=True, slots=True)
class Binding:
    """One contact registered for an address-of-record."""

    aor: str
    contact: str
    expires_at: float
    call_id: str
    cseq: int
    source: str
    """The flow: ``transport:host:port`` the REGISTER came from."""
    user_agent: str = ""
    q: float = 1.0

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires_at - now + 0.5))


@dataclass(slots=True)
class RegisterOutcome:
    """What a REGISTER produced: a status, headers for the response and persistence work."""

    status: int
    reason: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    saved: list[Binding] = field(default_factory=list)
    removed: list[Binding] = field(default_factory=list)


def contact_key(uri: SipURI) -> str:
    """A comparison key for contact URIs (RFC 3261 §19.1.4, the parts that matter here)."""
    port = uri.port if uri.port is not None else (5061 if uri.scheme == "sips" else 5060)
    return f"{uri.scheme}:{uri.user or ''}@{uri.host.lower()}:{port};{uri.transport}"


class LocationService:
    """Bindings per address-of-record, with RFC 3261 §10.3 update rules."""

    def __init__(self, policy: RegistrarPolicy | None = None) -> None:
        self.policy = policy or RegistrarPolicy()
        self._bindings: dict[str, dict[str, Binding]] = {}

    def load(self, bindings: list[Binding], now: float) -> None:
        """Restore persisted bindings (expired ones are skipped)."""
        for b in bindings:
            if b.expires_at > now:
                self._bindings.setdefault(b.aor, {})[_key_of(b.contact)] = b

    def lookup(self, aor: str, now: float) -> list[Binding]:
        """Unexpired bindings of *aor*, highest q first, most recent first among equals."""
        found = [b for b in self._bindings.get(aor, {}).values() if b.expires_at > now]
        found.sort(key=lambda b: (-b.q, -b.expires_at))
        return found

    def all_bindings(self, now: float) -> list[Binding]:
        return [b for m in self._bindings.values() for b in m.values() if b.expires_at > now]

    def expire(self, now: float) -> list[Binding]:
        """Drop expired bindings and return them (for the store)."""
        removed: list[Binding] = []
        for aor in list(self._bindings):
            entries = self._bindings[aor]
            for key in [k for k, b in entries.items() if b.expires_at <= now]:
                removed.append(entries.pop(key))
            if not entries:
                del self._bindings[aor]
        return removed

    def register(self, request: Request, aor: str, source: str, now: float) -> RegisterOutcome:
        """Apply a REGISTER whose sender is already authorised for *aor* (§10.3 steps 6-8)."""
        try:
            contacts = request.contacts
            header_expires = request.header_int("Expires")
            call_id = request.call_id
            cseq = request.cseq.seq
        except SipSyntaxError:
            return RegisterOutcome(400, "Bad Contact or Expires")
        current = self._bindings.get(aor, {})
        if not contacts:
            return self._ok(aor, now)
        if any(c.wildcard for c in contacts):
            if len(contacts) != 1 or header_expires != 0:
                return RegisterOutcome(400, "Invalid wildcard Contact")
            return self._remove_all(aor, call_id, cseq, now)
        updates: list[tuple[str, SipURI, int, float]] = []
        for contact in contacts:
            if not isinstance(contact.uri, SipURI):
                return RegisterOutcome(400, "Contact must be a SIP URI")
            expires = self._expires_of(contact, header_expires)
            if expires is None:
                return RegisterOutcome(400, "Bad expires parameter")
            if 0 < expires < self.policy.min_expires:
                return RegisterOutcome(423, headers=[("Min-Expires", str(self.policy.min_expires))])
            expires = min(expires, self.policy.max_expires)
            q = _q_of(contact)
            if q is None:
                return RegisterOutcome(400, "Bad q parameter")
            key = contact_key(contact.uri)
            existing = current.get(key)
            if existing is not None and existing.call_id == call_id and existing.cseq >= cseq:
                return RegisterOutcome(500, "Out of order REGISTER")
            updates.append((key, contact.uri, expires, q))
        adding = {k for k, _, e, _ in updates if e > 0 and k not in current}
        remaining = {k for k in current if not any(k == u[0] and u[2] == 0 for u in updates)}
        if len(remaining | adding) > self.policy.max_contacts:
            return RegisterOutcome(403, "Too many contacts")
        ua = request.headers.get("User-Agent") or ""
        outcome = RegisterOutcome(200)
        entries = self._bindings.setdefault(aor, {})
        for key, uri, expires, q in updates:
            if expires == 0:
                old = entries.pop(key, None)
                if old is not None:
                    outcome.removed.append(old)
                continue
            binding = Binding(aor, str(uri), now + expires, call_id, cseq, source, ua, q)
            entries[key] = binding
            outcome.saved.append(binding)
        if not entries:
            del self._bindings[aor]
        outcome.headers = self._contact_headers(aor, now)
        return outcome

    def _expires_of(self, contact: Address, header_expires: int | None) -> int | None:
        raw = contact.params.get("expires")
        if raw is not None:
            return int(raw) if raw.isdigit() and len(raw) <= 10 else None
        if header_expires is not None:
            return header_expires
        return self.policy.default_expires

    def _remove_all(self, aor: str, call_id: str, cseq: int, now: float) -> RegisterOutcome:
        entries = self._bindings.get(aor, {})
        for b in entries.values():
            if b.call_id == call_id and b.cseq >= cseq:
                return RegisterOutcome(500, "Out of order REGISTER")
        outcome = RegisterOutcome(200, removed=list(entries.values()))
        self._bindings.pop(aor, None)
        return outcome

    def _ok(self, aor: str, now: float) -> RegisterOutcome:
        return RegisterOutcome(200, headers=self._contact_headers(aor, now))

    def _contact_headers(self, aor: str, now: float) -> list[tuple[str, str]]:
        return [
            ("Contact", f"<{b.contact}>;expires={b.remaining(now)}") for b in self.lookup(aor, now)
        ]


def _key_of(contact: str) -> str:
    return contact_key(SipURI.parse(contact))


def _q_of(contact: Address) -> float | None:
    raw = contact.params.get("q")
    if raw is None:
        return 1.0
    try:
        q = float(raw)
    except ValueError:
        return None
    return q if 0.0 <= q <= 1.0 else None
