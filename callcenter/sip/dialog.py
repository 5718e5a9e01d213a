"""Dialogs (RFC 3261 §12): the state two user agents share between INVITE and BYE.

A :class:`Dialog` is created by the UAC from the request it sent and a 1xx/2xx carrying a To
tag (:meth:`Dialog.from_uac`), or by the UAS from the request and the 1xx/2xx it sends
(:meth:`Dialog.from_uas`). It builds in-dialog requests (§12.2.1.1) with the right
Request-URI, Route set (loose routing, and strict routing when the first route lacks
``lr``), From/To with tags, Call-ID and CSeq, and checks requests it receives (§12.2.2).

Via: :meth:`Dialog.create_request` takes the Via value from the caller (``via=``) or from
``dialog.local_via``, because the sent-by depends on the local transport the request will
leave on. A value without ``branch`` gets a fresh one (:func:`new_branch`), so the usual
argument is ``"SIP/2.0/UDP 192.0.2.1:5060;rport"``.

Values are shared, not copied: the Request-URI object of a created request is the dialog's
remote target; treat both as read-only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from enum import Enum

from callcenter.sip.errors import SipError, SipSyntaxError
from callcenter.sip.ids import random_hex
from callcenter.sip.message import Headers, Request, Response
from callcenter.sip.transaction_base import new_branch
from callcenter.sip.uri import URI, Address, SipURI

__all__ = [
    "TARGET_REFRESH_METHODS",
    "Dialog",
    "DialogError",
    "DialogState",
    "new_tag",
    "record_route_headers",
]

TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY"})
"""Requests whose Contact replaces the remote target (RFC 3261 §12.2, RFC 3311, RFC 6665)."""

_MAX_INITIAL_CSEQ = 2**20
"""Initial local CSeq for a UAS-created dialog: random, far below the 2**31 limit (§8.1.1.5)."""


class DialogError(SipError):
    """A dialog was used in a way its state does not allow (e.g. a request after BYE)."""


class DialogState(Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def new_tag() -> str:
    """A From/To tag: 64 random bits (RFC 3261 §19.3 asks for at least 32)."""
    return random_hex(8)


def record_route_headers(request: Request) -> list[tuple[str, str]]:
    """The Record-Route lines a UAS copies into every dialog-creating response (§12.1.1),
    ready for ``make_response(..., extra=...)``."""
    return [("Record-Route", value) for value in request.headers.get_all("Record-Route")]


class Dialog:
    """The dialog state of §12: id, CSeqs, local/remote URI, remote target, route set, secure.

    ``local_from``/``remote_to`` are the From and To header values this side writes in its
    requests (tags included). ``invite_cseq`` is the CSeq number of the last INVITE sent by
    this side, used for the ACK of its 2xx.
    """

    __slots__ = (
        "_route_values",
        "call_id",
        "invite_cseq",
        "is_uac",
        "local_contact",
        "local_cseq",
        "local_from",
        "local_tag",
        "local_via",
        "remote_cseq",
        "remote_tag",
        "remote_target",
        "remote_to",
        "route_set",
        "secure",
        "state",
    )

    def __init__(
        self,
        *,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        local_from: str,
        remote_to: str,
        remote_target: URI,
        route_set: list[Address],
        local_cseq: int | None,
        remote_cseq: int | None,
        secure: bool,
        state: DialogState,
        is_uac: bool,
        local_contact: str | None = None,
        local_via: str | None = None,
    ) -> None:
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_from = local_from
        self.remote_to = remote_to
        self.remote_target = remote_target
        self.route_set = route_set
        self._route_values = [str(route) for route in route_set]
        self.local_cseq = local_cseq
        self.remote_cseq = remote_cseq
        self.invite_cseq: int | None = None
        self.secure = secure
        self.state = state
        self.is_uac = is_uac
        self.local_contact = local_contact
        self.local_via = local_via

    # ------------------------------------------------------------- creation
    @classmethod
    def from_uac(
        cls, request: Request, response: Response, *, local_via: str | None = None
    ) -> Dialog:
        """The UAC's dialog from the request it sent and a 101-299 response with a To tag
        (§12.1.2): route set = Record-Route reversed, remote target = the response's Contact.

        Raises :class:`SipSyntaxError` when the response cannot create a dialog.
        """
        code = response.status_code
        if not 100 < code < 300:
            raise SipSyntaxError(f"a {code} response does not create a dialog")
        remote_tag = response.to.tag
        local_tag = request.from_.tag
        if not remote_tag or not local_tag:
            raise SipSyntaxError("no dialog without both From and To tags")
        contacts = response.contacts
        dialog = cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_from=request.headers.get("From") or "",
            remote_to=response.headers.get("To") or "",
            remote_target=contacts[0].uri if contacts else request.uri,
            route_set=response.record_routes[::-1],
            local_cseq=request.cseq.seq,
            remote_cseq=None,
            secure=request.uri.scheme == "sips",
            state=DialogState.CONFIRMED if code >= 200 else DialogState.EARLY,
            is_uac=True,
            local_contact=_first_value(request, "Contact"),
            local_via=local_via,
        )
        if request.method == "INVITE":
            dialog.invite_cseq = request.cseq.seq
        return dialog

    @classmethod
    def from_uas(
        cls,
        request: Request,
        response: Response,
        local_contact: str | Address | None = None,
        *,
        local_via: str | None = None,
        secure: bool | None = None,
    ) -> Dialog:
        """The UAS's dialog from the request and the 101-299 response it sends (§12.1.1):
        route set = the request's Record-Route in order, remote target = its Contact.

        *local_contact* defaults to the response's Contact. *secure* defaults to "the
        Request-URI is a SIPS URI" (the RFC also asks for TLS; pass it when known).
        """
        code = response.status_code
        if not 100 < code < 300:
            raise SipSyntaxError(f"a {code} response does not create a dialog")
        local_tag = response.to.tag
        remote_tag = request.from_.tag
        if not local_tag or not remote_tag:
            raise SipSyntaxError("no dialog without both From and To tags")
        contacts = request.contacts
        if not contacts:
            raise SipSyntaxError("a dialog-creating request needs a Contact")
        if local_contact is None:
            local_contact = _first_value(response, "Contact")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_from=response.headers.get("To") or "",
            remote_to=request.headers.get("From") or "",
            remote_target=contacts[0].uri,
            route_set=request.record_routes,
            local_cseq=None,
            remote_cseq=request.cseq.seq,
            secure=(request.uri.scheme == "sips") if secure is None else secure,
            state=DialogState.CONFIRMED if code >= 200 else DialogState.EARLY,
            is_uac=False,
            local_contact=None if local_contact is None else str(local_contact),
            local_via=local_via,
        )

    @property
    def id(self) -> tuple[str, str, str]:
        """The dialog ID (§12): (Call-ID, local tag, remote tag)."""
        return (self.call_id, self.local_tag, self.remote_tag)

    def set_route_set(self, route_set: list[Address]) -> None:
        self.route_set = route_set
        self._route_values = [str(route) for route in route_set]

    # ------------------------------------------------------ outgoing requests
    def next_destination(self) -> URI:
        """Where the next request goes (§12.2.1.1, §8.1.2): the first route, else the remote
        target. The caller resolves it (RFC 3263) into an endpoint."""
        return self.route_set[0].uri if self.route_set else self.remote_target

    def create_request(
        self,
        method: str,
        *,
        via: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        cseq: int | None = None,
    ) -> Request:
        """A request within the dialog (§12.2.1.1).

        The local CSeq is incremented, except for ACK, which takes *cseq* or the number of
        the last INVITE this side sent (§13.2.2.4). CANCEL is not built here (see
        :func:`callcenter.sip.transaction.build_cancel`). A Contact (``local_contact``) is
        added to target refresh requests unless *headers* carries one. Max-Forwards is 70.
        """
        if self.state is DialogState.TERMINATED:
            raise DialogError(f"dialog in state terminated cannot send {method}")
        if method == "CANCEL":
            raise DialogError("CANCEL is built from the INVITE, not from the dialog")
        if method == "ACK":
            seq = cseq if cseq is not None else self.invite_cseq
            if seq is None:
                raise DialogError("ACK needs the CSeq number of the INVITE it acknowledges")
        else:
            seq = self._next_cseq() if cseq is None else cseq
            self.local_cseq = seq
            if method == "INVITE":
                self.invite_cseq = seq
        via = via if via is not None else self.local_via
        if via is None:
            raise DialogError("no Via: pass via= or set dialog.local_via")
        if "branch=" not in via.lower():
            via = f"{via};branch={new_branch()}"
        uri, route_values = self._request_uri_and_routes()
        items = [("Via", via), ("Max-Forwards", "70")]
        items += [("Route", value) for value in route_values]
        items += [
            ("From", self.local_from),
            ("To", self.remote_to),
            ("Call-ID", self.call_id),
            ("CSeq", f"{seq} {method}"),
        ]
        extra = list(headers)
        if (
            method in TARGET_REFRESH_METHODS
            and self.local_contact
            and not any(name.lower() in ("contact", "m") for name, _ in extra)
        ):
            items.append(("Contact", self.local_contact))
        items += extra
        return Request(method, uri, Headers(items), body)

    def create_ack(
        self,
        cseq: int | None = None,
        *,
        via: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Request:
        """The ACK for a 2xx to the INVITE with CSeq number *cseq* (default: the last INVITE
        this side sent). Shorthand for ``create_request("ACK", cseq=...)``."""
        return self.create_request("ACK", via=via, headers=headers, body=body, cseq=cseq)

    def _next_cseq(self) -> int:
        if self.local_cseq is None:
            return secrets.randbelow(_MAX_INITIAL_CSEQ) + 1
        return self.local_cseq + 1

    def _request_uri_and_routes(self) -> tuple[URI, list[str]]:
        routes = self.route_set
        if not routes:
            return self.remote_target, []
        first = routes[0].uri
        if not isinstance(first, SipURI) or first.lr:
            return self.remote_target, self._route_values
        # strict routing (§12.2.1.1): the first route becomes the Request-URI, the remote
        # target goes last in the Route header field
        uri = first.copy(headers=None)
        uri.params.pop("method", None)
        return uri, [*self._route_values[1:], f"<{self.remote_target}>"]

    # ------------------------------------------------------ incoming traffic
    def receive_request(self, request: Request, now: float) -> int | None:
        """Check an in-dialog request (§12.2.2); returns the status to reject it with, or None.

        A CSeq lower than the last one received is out of order: 500. Target refresh
        requests (INVITE, UPDATE, SUBSCRIBE, NOTIFY) with a Contact replace the remote
        target. ACK and CANCEL are not ordered. *now* is accepted for symmetry with the other
        sans-I/O objects (session timers may use it).
        """
        method = request.method
        if method in ("ACK", "CANCEL"):
            return None
        seq = request.cseq.seq
        if self.remote_cseq is not None and seq < self.remote_cseq:
            return 500
        self.remote_cseq = seq
        if method in TARGET_REFRESH_METHODS:
            contacts = request.contacts
            if contacts:
                self.remote_target = contacts[0].uri
        return None

    def receive_response(self, response: Response) -> None:
        """Update the UAC's dialog from a response to a request it sent (§12.1.2, §12.2.1.2,
        §13.2.2.4): a 2xx to the INVITE confirms an early dialog (route set and target are
        taken again from the 2xx); a 2xx to a target refresh updates the remote target; a
        481 or 408, or a 300-699 to the INVITE of an early dialog, terminates it."""
        code = response.status_code
        if code < 200:
            return
        method = response.cseq.method
        if code < 300:
            contacts = response.contacts
            if method == "INVITE" and self.state is DialogState.EARLY:
                self.state = DialogState.CONFIRMED
                self.set_route_set(response.record_routes[::-1])
            if contacts and method in TARGET_REFRESH_METHODS:
                self.remote_target = contacts[0].uri
        elif code in (408, 481) or (method == "INVITE" and self.state is DialogState.EARLY):
            self.state = DialogState.TERMINATED

    def response_sent(self, response: Response) -> None:
        """Update the UAS's dialog after it sent *response* to the INVITE: a 2xx confirms an
        early dialog, a 300-699 terminates it."""
        if response.cseq.method != "INVITE" or self.state is not DialogState.EARLY:
            return
        if 200 <= response.status_code < 300:
            self.state = DialogState.CONFIRMED
        elif response.status_code >= 300:
            self.state = DialogState.TERMINATED

    def terminate(self) -> None:
        """The dialog ended (BYE sent or received, or an error the TU decided on)."""
        self.state = DialogState.TERMINATED

    def __repr__(self) -> str:
        role = "UAC" if self.is_uac else "UAS"
        return f"<Dialog {role} {self.state.value} id={self.id!r}>"


def _first_value(message: Request | Response, name: str) -> str | None:
    values = message.headers.values(name)
    return values[0] if values else None
