"""Dialogs (RFC 3261 §12): creation on both sides, route sets, in-dialog requests, CSeq."""

from __future__ import annotations

import pytest
from sip_helpers import ALICE, BOB, make_request

from callcenter.sip.dialog import Dialog, DialogError, DialogState, new_tag, record_route_headers
from callcenter.sip.errors import SipSyntaxError
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.parser import parse_message

RR = [
    ("Record-Route", "<sip:p1.example.com;lr>"),
    ("Record-Route", "<sip:p2.example.com;lr>, <sip:p3.example.com;lr>"),
]
VIA = "SIP/2.0/UDP 10.0.0.1:5060;rport"


def wire(message: Request | Response) -> Request | Response:
    return parse_message(bytes(message))


def invite(**kw: object) -> Request:
    request = wire(make_request("INVITE", cseq=10, extra=RR, **kw))  # type: ignore[arg-type]
    assert isinstance(request, Request)
    return request


def response_to(
    request: Request, status: int, *, contact: str = f"<sip:bob@{BOB}:5062>"
) -> Response:
    extra = [*record_route_headers(request), ("Contact", contact)]
    response = wire(make_response(request, status, to_tag="bob-tag", extra=extra))
    assert isinstance(response, Response)
    return response


def uac_dialog(status: int = 200) -> tuple[Request, Dialog]:
    request = invite()
    return request, Dialog.from_uac(request, response_to(request, status), local_via=VIA)


def uas_dialog(status: int = 200) -> tuple[Request, Dialog]:
    request = invite()
    response = response_to(request, status, contact="<sip:switch@10.0.0.2>")
    return request, Dialog.from_uas(request, response)


# ----------------------------------------------------------------- creation
def test_uac_dialog_from_2xx() -> None:
    _, dialog = uac_dialog()
    assert dialog.id == ("call-1@alice", "alice-tag", "bob-tag")
    assert dialog.state is DialogState.CONFIRMED and dialog.is_uac
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:p3.example.com;lr",
        "sip:p2.example.com;lr",
        "sip:p1.example.com;lr",
    ]  # reversed for the UAC (§12.1.2)
    assert str(dialog.remote_target) == f"sip:bob@{BOB}:5062"
    assert (dialog.local_cseq, dialog.remote_cseq, dialog.invite_cseq) == (10, None, 10)
    assert dialog.local_contact == f"<sip:alice@{ALICE}:5060>"
    assert not dialog.secure


def test_uac_early_dialog_from_1xx_is_confirmed_by_the_2xx() -> None:
    request = invite()
    early = response_to(request, 180)
    dialog = Dialog.from_uac(request, early)
    assert dialog.state is DialogState.EARLY
    final = wire(
        make_response(
            request,
            200,
            to_tag="bob-tag",
            extra=[("Record-Route", "<sip:only.example.com;lr>"), ("Contact", "<sip:bob@new>")],
        )
    )
    assert isinstance(final, Response)
    dialog.receive_response(final)
    assert dialog.state is DialogState.CONFIRMED
    assert [str(r.uri) for r in dialog.route_set] == ["sip:only.example.com;lr"]
    assert str(dialog.remote_target) == "sip:bob@new"


def test_uac_early_dialog_ends_with_a_failure() -> None:
    request = invite()
    dialog = Dialog.from_uac(request, response_to(request, 183))
    busy = wire(make_response(request, 486, to_tag="bob-tag"))
    assert isinstance(busy, Response)
    dialog.receive_response(busy)
    assert dialog.state is DialogState.TERMINATED


def test_uas_dialog_keeps_record_route_order_and_takes_the_request_contact() -> None:
    _, dialog = uas_dialog()
    assert dialog.id == ("call-1@alice", "bob-tag", "alice-tag")
    assert not dialog.is_uac and dialog.state is DialogState.CONFIRMED
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:p1.example.com;lr",
        "sip:p2.example.com;lr",
        "sip:p3.example.com;lr",
    ]
    assert str(dialog.remote_target) == f"sip:alice@{ALICE}:5060"
    assert (dialog.local_cseq, dialog.remote_cseq) == (None, 10)
    assert dialog.local_contact == "<sip:switch@10.0.0.2>"  # from the response


def test_uas_early_dialog_confirmed_or_ended_by_its_final_response() -> None:
    request = invite()
    for status, state in [(200, DialogState.CONFIRMED), (487, DialogState.TERMINATED)]:
        dialog = Dialog.from_uas(request, response_to(request, 180), "<sip:me@10.0.0.2>")
        assert dialog.state is DialogState.EARLY
        dialog.response_sent(wire(make_response(request, status, to_tag="bob-tag")))  # type: ignore[arg-type]
        assert dialog.state is state


def test_no_dialog_without_tags_or_from_failures() -> None:
    request = invite()
    untagged = wire(make_response(request, 180))
    assert isinstance(untagged, Response)
    with pytest.raises(SipSyntaxError, match="tags"):
        Dialog.from_uac(request, untagged)
    with pytest.raises(SipSyntaxError, match="does not create"):
        Dialog.from_uac(request, response_to(request, 404))
    no_contact = make_request("INVITE", contact=None)
    with pytest.raises(SipSyntaxError, match="Contact"):
        Dialog.from_uas(no_contact, response_to(no_contact, 200))


def test_sips_request_uri_makes_a_secure_dialog() -> None:
    request = invite(uri=f"sips:bob@{BOB}")
    dialog = Dialog.from_uac(request, response_to(request, 200))
    assert dialog.secure
    assert Dialog.from_uas(request, response_to(request, 200), secure=False).secure is False


# ------------------------------------------------------------- requests
def test_loose_routing_request_in_dialog() -> None:
    _, dialog = uac_dialog()
    bye = wire(dialog.create_request("BYE"))
    assert isinstance(bye, Request)
    assert str(bye.uri) == f"sip:bob@{BOB}:5062"
    assert bye.headers.get_all("Route") == [
        "<sip:p3.example.com;lr>",
        "<sip:p2.example.com;lr>",
        "<sip:p1.example.com;lr>",
    ]
    assert (bye.cseq.seq, bye.cseq.method) == (11, "BYE")
    assert bye.from_.tag == "alice-tag" and bye.to.tag == "bob-tag"
    assert bye.call_id == "call-1@alice"
    assert bye.header_int("Max-Forwards") == 70
    assert bye.branch is not None and bye.branch.startswith("z9hG4bK")
    assert bye.top_via.host == "10.0.0.1"
    assert "Contact" not in bye.headers
    assert str(dialog.next_destination()) == "sip:p3.example.com;lr"


def test_strict_routing_puts_the_first_route_in_the_request_uri() -> None:
    request = invite()
    response = wire(
        make_response(
            request,
            200,
            to_tag="bob-tag",
            extra=[
                ("Record-Route", "<sip:loose.example.com;lr>"),
                ("Record-Route", "<sip:strict.example.com;method=INVITE>"),
                ("Contact", "<sip:bob@10.0.0.2>"),
            ],
        )
    )
    assert isinstance(response, Response)
    dialog = Dialog.from_uac(request, response, local_via=VIA)
    info = wire(dialog.create_request("INFO"))
    assert isinstance(info, Request)
    assert str(info.uri) == "sip:strict.example.com"  # method param stripped
    assert info.headers.get_all("Route") == ["<sip:loose.example.com;lr>", "<sip:bob@10.0.0.2>"]
    assert str(dialog.next_destination()) == "sip:strict.example.com;method=INVITE"


def test_no_route_set_sends_to_the_remote_target() -> None:
    request = wire(make_request("INVITE"))
    assert isinstance(request, Request)
    dialog = Dialog.from_uac(request, response_to(request, 200), local_via=VIA)
    bye = dialog.create_request("BYE")
    assert "Route" not in bye.headers
    assert dialog.next_destination() is dialog.remote_target


def test_target_refresh_requests_carry_the_contact_and_increment_cseq() -> None:
    _, dialog = uac_dialog()
    reinvite = dialog.create_request("INVITE", body=b"v=0\r\n")
    assert reinvite.headers.get("Contact") == f"<sip:alice@{ALICE}:5060>"
    assert reinvite.cseq.seq == 11 and dialog.invite_cseq == 11
    update = dialog.create_request("UPDATE", headers=[("Contact", "<sip:other@x>")])
    assert update.headers.get_all("Contact") == ["<sip:other@x>"]
    assert update.cseq.seq == 12


def test_ack_takes_the_invite_cseq_and_does_not_increment() -> None:
    _, dialog = uac_dialog()
    ack = dialog.create_ack()
    assert (ack.cseq.seq, ack.cseq.method) == (10, "ACK")
    assert dialog.local_cseq == 10
    dialog.create_request("INVITE")
    assert dialog.create_ack().cseq.seq == 11
    assert dialog.create_request("ACK", cseq=10).cseq.seq == 10
    assert "Contact" not in ack.headers


def test_uas_first_request_chooses_a_cseq_then_increments() -> None:
    _, dialog = uas_dialog()
    bye = dialog.create_request("BYE", via=VIA)
    first = bye.cseq.seq
    assert 1 <= first <= 2**20
    assert dialog.create_request("INFO", via=VIA).cseq.seq == first + 1
    assert bye.from_.tag == "bob-tag" and bye.to.tag == "alice-tag"


def test_via_with_branch_is_kept_and_missing_via_is_an_error() -> None:
    _, dialog = uas_dialog()
    with pytest.raises(DialogError, match="Via"):
        dialog.create_request("BYE")
    bye = dialog.create_request("BYE", via=f"{VIA};branch=z9hG4bKmine")
    assert bye.branch == "z9hG4bKmine"


def test_terminated_dialog_and_cancel_are_refused() -> None:
    _, dialog = uac_dialog()
    with pytest.raises(DialogError, match="CANCEL"):
        dialog.create_request("CANCEL")
    dialog.terminate()
    with pytest.raises(DialogError, match="terminated"):
        dialog.create_request("BYE")


def test_uas_ack_needs_an_invite_cseq() -> None:
    _, dialog = uas_dialog()
    with pytest.raises(DialogError, match="ACK"):
        dialog.create_ack(via=VIA)


# --------------------------------------------------------------- receiving
def in_dialog(method: str, cseq: int, contact: str | None = None) -> Request:
    return make_request(method, cseq=cseq, to_tag="bob-tag", contact=contact)


def test_cseq_lower_than_the_last_one_is_rejected_with_500() -> None:
    _, dialog = uas_dialog()
    assert dialog.receive_request(in_dialog("INFO", 12), 1.0) is None
    assert dialog.remote_cseq == 12
    assert dialog.receive_request(in_dialog("INFO", 11), 2.0) == 500
    assert dialog.remote_cseq == 12
    assert dialog.receive_request(in_dialog("ACK", 10), 2.0) is None  # ACK is not ordered
    assert dialog.receive_request(in_dialog("BYE", 13), 3.0) is None


def test_uac_dialog_takes_the_first_remote_cseq() -> None:
    _, dialog = uac_dialog()
    assert dialog.receive_request(in_dialog("BYE", 5000), 1.0) is None
    assert dialog.remote_cseq == 5000


def test_target_refresh_from_reinvite_and_update() -> None:
    _, dialog = uas_dialog()
    dialog.receive_request(in_dialog("INVITE", 11, "<sip:alice@192.0.2.99:5070>"), 1.0)
    assert str(dialog.remote_target) == "sip:alice@192.0.2.99:5070"
    dialog.receive_request(in_dialog("UPDATE", 12, "<sip:alice@192.0.2.100>"), 2.0)
    assert str(dialog.remote_target) == "sip:alice@192.0.2.100"
    dialog.receive_request(in_dialog("INFO", 13, "<sip:ignored@x>"), 3.0)
    assert str(dialog.remote_target) == "sip:alice@192.0.2.100"


def test_uac_2xx_to_reinvite_refreshes_target_and_481_ends_the_dialog() -> None:
    _, dialog = uac_dialog()
    reinvite = dialog.create_request("INVITE")
    ok = response_to(reinvite, 200, contact="<sip:bob@moved>")
    dialog.receive_response(ok)
    assert str(dialog.remote_target) == "sip:bob@moved"
    gone = wire(make_response(dialog.create_request("BYE"), 481))
    assert isinstance(gone, Response)
    dialog.receive_response(gone)
    assert dialog.state is DialogState.TERMINATED


def test_new_tags_are_random() -> None:
    assert len({new_tag() for _ in range(1000)}) == 1000
