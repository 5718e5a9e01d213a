"""The SIPp harness and our scenarios, peer to peer (no switch): each caller scenario
against the callee it is written for, and the failure reports the other tests rely on."""

from __future__ import annotations

import pytest

from callcenter.testing import (
    LOOPBACK,
    SippOptions,
    SippResult,
    SippRunner,
    free_port,
    require_peer,
    run_pyvoip_call,
)

pytestmark = [pytest.mark.interop, pytest.mark.integration]


def pair(
    sipp: SippRunner,
    uas_scenario: str,
    uac_scenario: str,
    *,
    calls: int = 1,
    rate: float = 10,
    timeout_s: float = 20,
) -> tuple[SippResult, SippResult]:
    """Run a caller scenario against a callee scenario; (caller, callee) results."""
    port = free_port()
    uas_options = SippOptions(uas_scenario, local_port=port, calls=calls, timeout_s=timeout_s)
    with sipp.start(uas_options) as uas:
        caller = sipp.run(
            SippOptions(
                uac_scenario,
                remote=(LOOPBACK, port),
                service="2000",
                calls=calls,
                rate=rate,
                hold_ms=100,
                timeout_s=timeout_s,
            )
        )
        callee = uas.wait(timeout=20)
    return caller, callee


def test_call_from_sipp_uac_to_sipp_uas(sipp: SippRunner) -> None:
    caller, callee = pair(sipp, "uas_answer.xml", "uac_call.xml", calls=5)
    assert caller.ok, caller.describe()
    assert callee.ok, callee.describe()
    assert (caller.successful, callee.successful) == (5, 5)
    assert len(caller.response_times_ms) == 5
    assert all(0 <= ms < 1000 for ms in caller.response_times_ms)
    assert caller.cpu_s > 0


def test_cancel_scenarios_fit_each_other(sipp: SippRunner) -> None:
    caller, callee = pair(sipp, "uas_ring.xml", "uac_cancel.xml", calls=2)
    assert caller.ok, caller.describe()
    assert callee.ok, callee.describe()


def test_busy_scenarios_fit_each_other(sipp: SippRunner) -> None:
    caller, callee = pair(sipp, "uas_busy.xml", "uac_expect_486.xml")
    assert caller.ok, caller.describe()
    assert callee.ok, callee.describe()


@pytest.mark.parametrize("scenario", ["register_ok.xml", "register_bad.xml"])
def test_register_scenarios_against_a_sipp_registrar(sipp: SippRunner, scenario: str) -> None:
    phone, registrar = pair(sipp, "registrar.xml", scenario)
    assert phone.ok, phone.describe()
    assert registrar.ok, registrar.describe()


def test_a_refused_expectation_is_a_failed_call(sipp: SippRunner) -> None:
    caller, _ = pair(sipp, "uas_answer.xml", "uac_expect_404.xml")
    assert not caller.ok
    assert (caller.exit_code, caller.failed, caller.failed_unexpected) == (1, 1, 1)
    assert caller.unexpected[0].first_line.startswith("SIP/2.0 200")
    assert "uac_expect_404" in caller.describe()


def test_a_run_without_answer_times_out(sipp: SippRunner) -> None:
    silent = free_port()
    caller = sipp.run(
        SippOptions("uac_call.xml", remote=(LOOPBACK, silent), service="2000", timeout_s=2)
    )
    assert not caller.ok
    assert caller.timed_out
    assert caller.exit_code == 255
    assert caller.elapsed_s < 10


def test_a_late_180_is_told_apart_from_other_failures(sipp: SippRunner) -> None:
    caller, callee = pair(sipp, "uas_late180.xml", "uac_call.xml", calls=3)
    assert callee.ok, callee.describe()
    assert caller.failed == 3
    assert caller.late_provisional == 3
    assert caller.failed_excluding_late_provisional == 0


def test_a_background_peer_stopped_on_request_reports_its_calls(sipp: SippRunner) -> None:
    port = free_port()
    uas = sipp.start(SippOptions("uas_answer.xml", local_port=port, timeout_s=30))
    caller = sipp.run(
        SippOptions("uac_call.xml", remote=(LOOPBACK, port), service="2000", calls=2, rate=20)
    )
    callee = uas.stop(grace=10)
    assert caller.ok, caller.describe()
    assert callee.successful == 2, callee.describe()
    assert callee.exit_code == 0


def test_pyvoip_calls_a_sipp_uas_directly(sipp: SippRunner) -> None:
    require_peer("pyVoIP")
    port = free_port()
    rtp = free_port(span=10)
    with sipp.start(SippOptions("uas_answer.xml", local_port=port, calls=1, timeout_s=60)) as uas:
        report = run_pyvoip_call(
            server=(LOOPBACK, port),
            number="2000",
            username="1002",
            password="unused",
            local_port=free_port(),
            rtp_ports=(rtp, rtp + 9),
            register=False,
            hold_s=0.5,
        )
        callee = uas.wait(30)
    assert report.answered and report.hung_up, report.describe()
    assert report.stage == "done", report.describe()
    assert callee.ok, callee.describe()


def test_authenticated_call_scenarios_fit_each_other(sipp: SippRunner) -> None:
    caller, callee = pair(sipp, "uas_challenge.xml", "uac_auth_call.xml")
    assert caller.ok, caller.describe()
    assert callee.ok, callee.describe()
    assert len(caller.response_times_ms) == 1
