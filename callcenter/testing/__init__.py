"""Developer kit: run the switch and real SIP peers against it, from tests or by hand.

- :mod:`callcenter.testing.process` — :class:`SwitchProcess`: the switch as a child process
  (free ports, config file, readiness by ``OPTIONS``, SIGTERM stop with exit-status check,
  logs and database at hand), plus builders for config entries.
- :mod:`callcenter.testing.sipp` — SIPp runs with bounded time and parsed results
  (:class:`SippRunner`, :class:`SippOptions`, :class:`SippResult`), free-port helpers.
- :mod:`callcenter.testing.peers` — :func:`require_peer` (skip, or fail under ``CI=true``,
  when SIPp or pyVoIP is missing), a raw UDP/TCP SIP client with digest helpers, and a
  pyVoIP phone driven in a child process.

The interop tests in ``tests/interop`` and ``benchmarks/sip_cps.py`` are built on these.
"""

from callcenter.testing.peers import (
    PyVoipCallReport,
    RawSipClient,
    SipResponse,
    build_request,
    digest_authorization,
    parse_challenge,
    parse_response,
    require_peer,
    run_pyvoip_call,
    sip_options_ping,
)
from callcenter.testing.process import (
    SwitchError,
    SwitchExitError,
    SwitchProcess,
    SwitchStartError,
    extension,
    process_cpu_seconds,
    route,
    switch_config,
    trunk,
)
from callcenter.testing.sipp import (
    LOOPBACK,
    SippOptions,
    SippProcess,
    SippResult,
    SippRunner,
    free_port,
    port_is_free,
    run_sipp,
)

__all__ = [
    "LOOPBACK",
    "PyVoipCallReport",
    "RawSipClient",
    "SipResponse",
    "SippOptions",
    "SippProcess",
    "SippResult",
    "SippRunner",
    "SwitchError",
    "SwitchExitError",
    "SwitchProcess",
    "SwitchStartError",
    "build_request",
    "digest_authorization",
    "extension",
    "free_port",
    "parse_challenge",
    "parse_response",
    "port_is_free",
    "process_cpu_seconds",
    "require_peer",
    "route",
    "run_pyvoip_call",
    "run_sipp",
    "sip_options_ping",
    "switch_config",
    "trunk",
]
