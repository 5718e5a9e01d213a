"""Events the transaction layer (and the reliability helpers) report to the transaction user.

Small frozen values; dispatch on them with ``match``/``isinstance``. What each one asks of
the TU:

- :class:`RequestReceived` — a new request (not ACK, not CANCEL): answer it with
  ``layer.send_response(event.transaction, ...)``; every request must get a final response.
- :class:`AckReceived` — an ACK that belongs to no INVITE server transaction (the ACK for a
  2xx, RFC 3261 §13.3.1.4 / §17.2.3) or that arrived while the INVITE transaction was in the
  RFC 6026 "Accepted" state: stop retransmitting the 2xx.
- :class:`CancelReceived` — a new CANCEL (§9.2). ``invite_transaction`` is the INVITE it
  cancels, or ``None`` when none matches. The TU answers the CANCEL itself: 481 when
  ``invite_transaction`` is None, else 200; and, if the INVITE transaction is still
  ``PROCEEDING``, a 487 to the INVITE.
- :class:`ResponseReceived` — a response for a client transaction: every provisional, the
  first final response, and for INVITE every further 2xx (retransmissions and other forks,
  RFC 6026 §7.2). The ACK for a 2xx is the TU's job (``send_stateless``).
- :class:`StrayResponse` — a 2xx to an INVITE that matched no client transaction (its
  transaction already ended): re-send the ACK for it. Other stray responses are dropped.
- :class:`TransactionTimeout` — timer B or F (client: act as if a 408 arrived, §8.1.3.1) or
  timer H (server: no ACK for a non-2xx final). The transaction is terminated.
- :class:`TransportFailed` — the transport could not deliver for this transaction
  (§17.1.1.2, §17.2.4): a client TU acts as if a 503 arrived (§8.1.3.1).
- :class:`TransactionTerminated` — optional clean-up hook (``report_terminated=True``).
- :class:`PrackTimeout`, :class:`AckTimeout` — from :mod:`callcenter.sip.reliable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callcenter.sip.message import Request, Response
    from callcenter.sip.transaction_base import Endpoint
    from callcenter.sip.transaction_client import ClientTransaction
    from callcenter.sip.transaction_server import ServerInviteTransaction, ServerTransaction

__all__ = [
    "AckReceived",
    "AckTimeout",
    "CancelReceived",
    "PrackTimeout",
    "ReliableEvent",
    "RequestReceived",
    "ResponseReceived",
    "StrayResponse",
    "TransactionEvent",
    "TransactionTerminated",
    "TransactionTimeout",
    "TransportFailed",
]


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request created a server transaction; the TU must answer it."""

    transaction: ServerTransaction


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK for a 2xx (outside any INVITE transaction's own processing)."""

    request: Request
    source: Endpoint


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """A new CANCEL; the TU answers ``cancel_transaction`` (200, or 481 without a match)."""

    cancel_transaction: ServerTransaction
    invite_transaction: ServerInviteTransaction | None


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response passed up by a client transaction."""

    transaction: ClientTransaction
    response: Response


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A 2xx to an INVITE after its client transaction ended (the TU re-sends the ACK)."""

    response: Response
    source: Endpoint


@dataclass(frozen=True, slots=True)
class TransactionTimeout:
    """Timer B, F (client) or H (server) fired; the transaction is terminated."""

    transaction: ClientTransaction | ServerTransaction


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """The transport reported it could not send this transaction's messages."""

    transaction: ClientTransaction | ServerTransaction


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """The transaction reached Terminated and left the table (only when asked for)."""

    transaction: ClientTransaction | ServerTransaction


TransactionEvent = (
    RequestReceived
    | AckReceived
    | CancelReceived
    | ResponseReceived
    | StrayResponse
    | TransactionTimeout
    | TransportFailed
    | TransactionTerminated
)


@dataclass(frozen=True, slots=True)
class PrackTimeout:
    """A reliable provisional got no PRACK within 64*T1 (RFC 3262 §3): reject the INVITE
    with a 5xx."""

    response: Response


@dataclass(frozen=True, slots=True)
class AckTimeout:
    """A 2xx to an INVITE got no ACK within 64*T1 (RFC 3261 §13.3.1.4): confirm the dialog,
    then end the session with BYE."""

    response: Response


ReliableEvent = PrackTimeout | AckTimeout
