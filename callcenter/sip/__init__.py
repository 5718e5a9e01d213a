"""The SIP stack (RFC 3261 and friends).

Sans-I/O core: :mod:`.message` (requests, responses, typed header access), :mod:`.parser`
(bytes → message with precise errors; stream framing), :mod:`.uri`, :mod:`.headers`,
:mod:`.transaction` (RFC 3261 §17 state machines; timers are deadlines), :mod:`.dialog`,
:mod:`.auth` (digest, MD5 and SHA-256). The asyncio shell is :mod:`.transport`.
"""

from callcenter.sip.dialog import Dialog
from callcenter.sip.errors import SipError, SipParseError, SipSyntaxError, TransactionError
from callcenter.sip.headers import CSeq, Via
from callcenter.sip.message import Headers, Message, Request, Response, make_response
from callcenter.sip.parser import Limits, StreamFramer, parse_message
from callcenter.sip.timers import TimerConfig
from callcenter.sip.transaction import (
    ClientTransaction,
    ServerTransaction,
    TransactionLayer,
    new_branch,
)
from callcenter.sip.transport_common import Endpoint
from callcenter.sip.uri import AbsoluteURI, Address, SipURI, parse_uri

__all__ = [
    "AbsoluteURI",
    "Address",
    "CSeq",
    "ClientTransaction",
    "Dialog",
    "Endpoint",
    "Headers",
    "Limits",
    "Message",
    "Request",
    "Response",
    "ServerTransaction",
    "SipError",
    "SipParseError",
    "SipSyntaxError",
    "SipURI",
    "StreamFramer",
    "TimerConfig",
    "TransactionError",
    "TransactionLayer",
    "Via",
    "make_response",
    "new_branch",
    "parse_message",
    "parse_uri",
]
