"""Load: 200 calls at 20 calls/s through the switch, none failed on either side."""

from __future__ import annotations

import pytest

from callcenter.testing import LOOPBACK, SippOptions, SippRunner, SwitchProcess

pytestmark = [pytest.mark.interop, pytest.mark.integration, pytest.mark.slow]

CALLS = 200
RATE = 20


def test_200_calls_at_20_per_second(
    switch: SwitchProcess, sipp: SippRunner, uac_port: int, uas_port: int
) -> None:
    answering = SippOptions("uas_answer.xml", local_port=uas_port, calls=CALLS, timeout_s=90)
    with sipp.start(answering) as uas:
        calling = sipp.run(
            SippOptions(
                "uac_call.xml",
                remote=(LOOPBACK, switch.sip_port),
                local_port=uac_port,
                service="2000",
                calls=CALLS,
                rate=RATE,
                call_limit=100,
                hold_ms=500,
                timeout_s=90,
            )
        )
        called = uas.wait(timeout=30)
    assert calling.ok and calling.successful == CALLS, calling.describe()
    assert called.ok and called.successful == CALLS, called.describe()
    assert calling.failed == called.failed == 0
    rows = switch.wait_for_rows("SELECT disposition FROM cdr", min_count=CALLS, timeout=30)
    assert len(rows) == CALLS
    assert {row["disposition"] for row in rows} == {"answered"}
    assert switch.alive()
