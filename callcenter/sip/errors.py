"""The SIP stack's exceptions.

::

    SipError
    ├── SipSyntaxError          a header value or URI does not follow the grammar
    ├── SipParseError           a whole message is unacceptable; carries the status to answer with
    └── TransactionError        a transaction was used in a way its state machine forbids

Errors raised by the parser carry ``status_code`` (400, 501, 505, 513, ...) so the transport can
answer a request without knowing why it failed; ``partial`` holds the part of a request that could
be read, enough to build that response with ``make_response`` (its top Via always parses; From,
To, Call-ID and CSeq are copied as they came, when present), or ``None`` when nothing may be
answered: a response, an ACK, or a request whose top Via (where the answer goes) is unreadable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callcenter.sip.message import Request

__all__ = ["SipError", "SipParseError", "SipSyntaxError", "TransactionError"]


class SipError(Exception):
    """Base class for every error of the SIP stack."""


class SipSyntaxError(SipError, ValueError):
    """A header value, URI or parameter list violates the RFC 3261 grammar."""


class SipParseError(SipError):
    """A message cannot be accepted.

    ``status_code``/``reason`` are the response to send when the message was a request and
    enough of it (``partial``) was readable to answer; otherwise the message is dropped.
    """

    def __init__(self, reason: str, status_code: int = 400, partial: Request | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.partial = partial


class TransactionError(SipError):
    """A transaction was asked to do something its current state does not allow."""
