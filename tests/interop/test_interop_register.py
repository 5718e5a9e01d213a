"""REGISTER with digest authentication: SIPp (MD5) and a raw client (MD5 and SHA-256)."""

from __future__ import annotations

import re
import time

import pytest

from callcenter.testing import (
    RawSipClient,
    SippOptions,
    SippRunner,
    SipResponse,
    SwitchProcess,
    build_request,
    digest_authorization,
    free_port,
    parse_challenge,
)

pytestmark = [pytest.mark.interop, pytest.mark.integration]

AOR_1002 = "SELECT aor, contact, expires_at FROM registrations WHERE aor LIKE '%1002@%'"


def test_sipp_registers_with_digest(switch: SwitchProcess, sipp: SippRunner) -> None:
    port = free_port()
    phone = sipp.run(
        SippOptions(
            "register_ok.xml", remote=switch.sip_address, local_port=port, calls=1, timeout_s=15
        )
    )
    assert phone.ok, phone.describe()
    rows = switch.wait_for_rows(AOR_1002)
    assert len(rows) == 1, rows
    assert f"127.0.0.1:{port}" in rows[0]["contact"]
    assert rows[0]["expires_at"] > time.time() + 60


def test_sipp_with_a_wrong_password_is_refused(switch: SwitchProcess, sipp: SippRunner) -> None:
    phone = sipp.run(
        SippOptions("register_bad.xml", remote=switch.sip_address, calls=1, timeout_s=15)
    )
    assert phone.ok, phone.describe()  # the scenario expects 401 or 403 at the end
    assert switch.query(AOR_1002) == []


def register(
    client: RawSipClient, switch: SwitchProcess, *, authorization: str | None = None, cseq: int
) -> SipResponse:
    uri = f"sip:127.0.0.1:{switch.sip_port}"
    client.send(
        build_request(
            "REGISTER",
            uri,
            local=client.local,
            call_id=f"reg-{client.local[1]}@127.0.0.1",
            cseq=cseq,
            from_uri="sip:1002@127.0.0.1",
            from_tag="fixedtag",
            to_uri="sip:1002@127.0.0.1",
            headers=[
                ("Contact", f"<sip:1002@127.0.0.1:{client.local[1]}>"),
                ("Expires", "600"),
                *([("Authorization", authorization)] if authorization else []),
            ],
        )
    )
    response = client.receive_response(5.0)
    assert response is not None, "no final response to REGISTER"
    return response


def challenges(response: SipResponse) -> dict[str, dict[str, str]]:
    """The Digest challenges of a 401 by algorithm (no algorithm parameter means MD5)."""
    found = {}
    for value in response.values("WWW-Authenticate"):
        params = parse_challenge(value)
        assert params["scheme"].lower() == "digest", value
        found[params.get("algorithm", "MD5").upper()] = params
    return found


def test_challenge_offers_md5_and_sha256_in_the_domain_realm(switch: SwitchProcess) -> None:
    with RawSipClient(switch.sip_address) as client:
        response = register(client, switch, cseq=1)
    assert response.status == 401
    offered = challenges(response)
    assert {"MD5", "SHA-256"} <= set(offered)
    assert {params["realm"] for params in offered.values()} == {"127.0.0.1"}
    assert all(params.get("nonce") for params in offered.values())


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_register_answering_either_challenge(switch: SwitchProcess, algorithm: str) -> None:
    with RawSipClient(switch.sip_address) as client:
        challenge = challenges(register(client, switch, cseq=1))[algorithm]
        credentials = digest_authorization(
            challenge,
            username="1002",
            password="secret1002",
            method="REGISTER",
            uri=f"sip:127.0.0.1:{switch.sip_port}",
        )
        response = register(client, switch, authorization=credentials, cseq=2)
        port = client.local[1]
    assert response.status == 200, response.raw
    contacts = " ".join(response.values("Contact"))
    assert f"127.0.0.1:{port}" in contacts
    expires = response.header("Expires") or _param(contacts, "expires")
    assert expires is not None and int(expires) > 0
    rows = switch.wait_for_rows(AOR_1002)
    assert any(f"127.0.0.1:{port}" in row["contact"] for row in rows)


def _param(text: str, name: str) -> str | None:
    match = re.search(rf";\s*{name}\s*=\s*(\d+)", text, re.IGNORECASE)
    return match.group(1) if match else None


def test_wrong_password_gets_401_or_403(switch: SwitchProcess) -> None:
    with RawSipClient(switch.sip_address) as client:
        challenge = challenges(register(client, switch, cseq=1))["MD5"]
        credentials = digest_authorization(
            challenge,
            username="1002",
            password="wrong",
            method="REGISTER",
            uri=f"sip:127.0.0.1:{switch.sip_port}",
        )
        response = register(client, switch, authorization=credentials, cseq=2)
    assert response.status in (401, 403)
    assert switch.query(AOR_1002) == []


def test_invite_from_an_untrusted_source_is_challenged(switch: SwitchProcess) -> None:
    with RawSipClient(switch.sip_address) as client:
        branch = "z9hG4bKuntrusted1"
        invite = build_request(
            "INVITE",
            f"sip:2000@127.0.0.1:{switch.sip_port}",
            local=client.local,
            branch=branch,
            call_id="untrusted-1@127.0.0.1",
            from_uri="sip:1002@127.0.0.1",
            from_tag="t1",
            headers=[("Contact", f"<sip:1002@127.0.0.1:{client.local[1]}>")],
        )
        client.send(invite)
        response = client.receive_response(5.0)
        assert response is not None
        ack = build_request(
            "ACK",
            f"sip:2000@127.0.0.1:{switch.sip_port}",
            local=client.local,
            branch=branch,
            call_id="untrusted-1@127.0.0.1",
            from_uri="sip:1002@127.0.0.1",
            from_tag="t1",
            to_tag=_to_tag(response),
        )
        client.send(ack)
    assert response.status == 401, response.raw  # the switch is the caller's UAS
    values = response.values("WWW-Authenticate")
    assert values and all(parse_challenge(v)["scheme"].lower() == "digest" for v in values)


def _to_tag(response: SipResponse) -> str | None:
    match = re.search(r";\s*tag=([^;>\s]+)", response.header("To") or "")
    return match.group(1) if match else None
