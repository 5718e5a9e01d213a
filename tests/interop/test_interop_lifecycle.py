"""The switch as a process: ready on OPTIONS (UDP and TCP), pid file, clean SIGTERM stop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from callcenter.testing import RawSipClient, SwitchProcess, build_request, sip_options_ping

pytestmark = [pytest.mark.interop, pytest.mark.integration]

StartSwitch = Callable[..., SwitchProcess]


def test_ready_switch_writes_its_pid_and_exits_0_on_sigterm(
    start_switch: StartSwitch, standard_config: dict[str, Any]
) -> None:
    switch = start_switch(standard_config)
    assert sip_options_ping(switch.sip_port) == 200
    assert int(switch.pid_file.read_text().strip()) == switch.pid
    assert switch.db_path.exists()
    assert switch.stop() == 0


def test_options_is_answered_over_tcp(switch: SwitchProcess) -> None:
    with RawSipClient(switch.sip_address, "tcp") as client:
        client.send(
            build_request(
                "OPTIONS", f"sip:127.0.0.1:{switch.sip_port}", local=client.local, transport="tcp"
            )
        )
        response = client.receive_response(5.0)
    assert response is not None and response.status == 200
