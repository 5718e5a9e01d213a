"""Registrar rules of RFC 3261 §10.3 on the pure location service."""

from __future__ import annotations

from callcenter.sip import Headers, Request
from callcenter.switch.registrar import Binding, LocationService, RegistrarPolicy

AOR = "sip:1001@example.com"


def register(
    contacts: list[str],
    *,
    expires: int | None = None,
    call_id: str = "reg-1",
    cseq: int = 1,
) -> Request:
    headers = Headers(
        [
            ("Via", "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-r1"),
            ("From", "<sip:1001@example.com>;tag=a"),
            ("To", "<sip:1001@example.com>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} REGISTER"),
            ("User-Agent", "TestPhone/1.0"),
        ]
    )
    for c in contacts:
        headers.add("Contact", c)
    if expires is not None:
        headers.add("Expires", str(expires))
    return Request("REGISTER", "sip:example.com", headers)


def test_register_adds_binding_and_lists_contacts() -> None:
    loc = LocationService()
    out = loc.register(register(["<sip:1001@10.0.0.5:5062>"]), AOR, "udp:10.0.0.5:5062", 100.0)
    assert out.status == 200
    assert [b.contact for b in out.saved] == ["sip:1001@10.0.0.5:5062"]
    assert out.headers == [("Contact", "<sip:1001@10.0.0.5:5062>;expires=3600")]
    (binding,) = loc.lookup(AOR, 100.0)
    assert binding.source == "udp:10.0.0.5:5062"
    assert binding.user_agent == "TestPhone/1.0"


def test_expiry_from_header_param_and_bounds() -> None:
    loc = LocationService(RegistrarPolicy(min_expires=60, max_expires=600, default_expires=300))
    out = loc.register(register(["<sip:a@h>;expires=30"]), AOR, "udp:h:5060", 0.0)
    assert out.status == 423
    assert ("Min-Expires", "60") in out.headers
    out = loc.register(register(["<sip:a@h>"], expires=9999, cseq=2), AOR, "udp:h:5060", 0.0)
    assert out.status == 200 and out.saved[0].expires_at == 600.0
    out = loc.register(register(["<sip:b@h>"], cseq=3), AOR, "udp:h:5060", 0.0)
    assert out.saved[0].expires_at == 300.0


def test_bindings_expire() -> None:
    loc = LocationService()
    loc.register(register(["<sip:a@h>"], expires=120), AOR, "udp:h:5060", 0.0)
    assert loc.lookup(AOR, 119.0)
    assert loc.lookup(AOR, 121.0) == []
    removed = loc.expire(121.0)
    assert [b.contact for b in removed] == ["sip:a@h"]
    assert loc.all_bindings(0.0) == []


def test_unregister_one_and_wildcard() -> None:
    loc = LocationService()
    loc.register(register(["<sip:a@h>", "<sip:b@h:5070>"]), AOR, "udp:h:5060", 0.0)
    assert len(loc.lookup(AOR, 1.0)) == 2
    out = loc.register(register(["<sip:a@h>;expires=0"], cseq=2), AOR, "udp:h:5060", 1.0)
    assert [b.contact for b in out.removed] == ["sip:a@h"]
    assert [b.contact for b in loc.lookup(AOR, 1.0)] == ["sip:b@h:5070"]
    out = loc.register(register(["*"], expires=0, cseq=3), AOR, "udp:h:5060", 2.0)
    assert out.status == 200 and len(out.removed) == 1
    assert loc.lookup(AOR, 2.0) == []


def test_wildcard_needs_expires_zero_and_alone() -> None:
    loc = LocationService()
    assert loc.register(register(["*"]), AOR, "s", 0.0).status == 400
    assert loc.register(register(["*", "<sip:a@h>"], expires=0), AOR, "s", 0.0).status == 400


def test_out_of_order_cseq_rejected_same_call_id() -> None:
    loc = LocationService()
    loc.register(register(["<sip:a@h>"], cseq=5), AOR, "s", 0.0)
    assert loc.register(register(["<sip:a@h>"], cseq=5), AOR, "s", 1.0).status == 500
    assert loc.register(register(["<sip:a@h>"], cseq=4), AOR, "s", 1.0).status == 500
    # another Call-ID may update regardless of CSeq
    assert loc.register(register(["<sip:a@h>"], call_id="x", cseq=1), AOR, "s", 1.0).status == 200


def test_query_without_contact_lists_bindings() -> None:
    loc = LocationService()
    loc.register(register(["<sip:a@h>"], expires=100), AOR, "s", 0.0)
    out = loc.register(register([], cseq=2), AOR, "s", 40.0)
    assert out.status == 200 and out.headers == [("Contact", "<sip:a@h>;expires=60")]
    assert out.saved == [] and out.removed == []


def test_contact_limit_and_bad_params() -> None:
    loc = LocationService(RegistrarPolicy(max_contacts=2))
    assert loc.register(register(["<sip:a@h>", "<sip:b@h>"]), AOR, "s", 0.0).status == 200
    assert loc.register(register(["<sip:c@h>"], cseq=2), AOR, "s", 0.0).status == 403
    assert loc.register(register(["<sip:a@h>;q=7"], cseq=3), AOR, "s", 0.0).status == 400
    assert loc.register(register(["<sip:a@h>;expires=x"], cseq=4), AOR, "s", 0.0).status == 400
    assert loc.register(register(["<tel:+123>"], cseq=5), AOR, "s", 0.0).status == 400


def test_q_orders_lookup_and_load_skips_expired() -> None:
    loc = LocationService()
    loc.register(register(["<sip:low@h>;q=0.1", "<sip:high@h>;q=0.9"]), AOR, "s", 0.0)
    assert [b.contact for b in loc.lookup(AOR, 1.0)] == ["sip:high@h", "sip:low@h"]
    fresh = LocationService()
    fresh.load(
        [
            Binding(AOR, "sip:a@h", 50.0, "c", 1, "udp:h:5060"),
            Binding(AOR, "sip:b@h", 500.0, "c", 1, "udp:h:5060"),
        ],
        now=100.0,
    )
    assert [b.contact for b in fresh.lookup(AOR, 100.0)] == ["sip:b@h"]
