"""The asyncio shell of the switch: one pump between the transports and the sans-I/O core.

Input: a batch of datagrams/stream messages → parse → transaction layer → B2BUA → output queue
→ transports; then the single timer is re-armed at the core's next deadline. No task is
created per message. Malformed input is answered 400 when it is a request whose Via could be
read, otherwise dropped, and counted either way.

Protocol time is wall-clock seconds (``time.time()``) because registrations and CDRs persist
it; the loop timer is armed with the delay to the next deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from callcenter.sip.errors import SipParseError, SipSyntaxError
from callcenter.sip.message import Request, Response, make_response
from callcenter.sip.parser import Limits, parse_message
from callcenter.sip.transaction import Endpoint, TransactionLayer
from callcenter.switch.b2bua import B2BUA

__all__ = ["SwitchPump"]

log = logging.getLogger("callcenter.switch")

TIMER_RESOLUTION = 0.005
"""Seconds; SIP timers start at T1 = 500 ms, so 5 ms of lateness is harmless."""


class SwitchPump:
    """Moves bytes between the transports and the core, and keeps one timer armed."""

    def __init__(
        self,
        transactions: TransactionLayer,
        b2bua: B2BUA,
        send: Callable[[bytes, Endpoint], None],
        *,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.txl = transactions
        self.b2bua = b2bua
        self._send = send
        self.limits = limits or Limits()
        self.clock = clock
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.counters: dict[str, int] = {
            "messages_in": 0,
            "parse_errors": 0,
            "parse_errors_answered": 0,
            "dropped": 0,
        }

    def on_messages(self, batch: list[tuple[bytes, Endpoint]]) -> None:
        """Transport callback: a batch of raw messages with their source."""
        now = self.clock()
        events = []
        counters = self.counters
        for data, source in batch:
            counters["messages_in"] += 1
            try:
                message = parse_message(
                    data, limits=self.limits, datagram=source.transport == "udp"
                )
            except SipParseError as exc:
                self._bad_message(exc, source)
                continue
            try:
                events.extend(self.txl.receive(message, source, now))
            except SipSyntaxError as exc:
                counters["dropped"] += 1
                log.debug("dropped message from %s: %s", source, exc)
            except Exception:
                counters["dropped"] += 1
                log.exception("transaction layer failed on a message from %s", source)
        if events:
            self.b2bua.handle_events(events, now)
        self.flush()

    def on_send_error(self, destination: Endpoint, error: Exception) -> None:
        """Transport callback: *destination* is unreachable (connection refused, reset...).

        The transactions sending there end at once (RFC 3261 §18.4) instead of waiting for
        timer B/F, so a caller hears the failure immediately.
        """
        now = self.clock()
        self.counters["send_errors"] = self.counters.get("send_errors", 0) + 1
        log.info("cannot send to %s: %s", destination, error)
        try:
            events = self.txl.transport_error(destination, now)
        except Exception:
            log.exception("transport error handling failed")
            return
        if events:
            self.b2bua.handle_events(events, now)
        self.flush()

    def _bad_message(self, exc: SipParseError, source: Endpoint) -> None:
        self.counters["parse_errors"] += 1
        partial = exc.partial
        if partial is None or partial.method == "ACK":
            log.debug("dropped unparsable message from %s: %s", source, exc.reason)
            return
        try:
            response = make_response(partial, exc.status_code, exc.reason)
            self._send(bytes(response), self._response_target(partial, source))
            self.counters["parse_errors_answered"] += 1
        except (SipSyntaxError, ValueError):
            log.debug("could not answer bad message from %s", source)

    @staticmethod
    def _response_target(request: Request, source: Endpoint) -> Endpoint:
        if source.transport != "udp":
            return source
        via = request.top_via  # RFC 3261 §18.2.2 with RFC 3581 rport
        if "rport" in via.params:
            return Endpoint("udp", source.host, source.port)
        return Endpoint("udp", source.host, via.port or 5060)

    def send_message(self, message: Request | Response, destination: Endpoint) -> None:
        self._send(bytes(message), destination)

    def flush(self) -> None:
        """Send what the core queued and re-arm the timer."""
        for data, destination in self.txl.datagrams_to_send():
            self._send(data, destination)
        self._arm()

    def _arm(self) -> None:
        """Keep one loop timer at or before the core's next deadline.

        A timer already armed no later than the deadline is left alone (if it fires early,
        the core has nothing due and it is re-armed), so the common case of a new, later
        deadline costs no cancel and no new timer handle.
        """
        deadline = self.b2bua.get_timer()
        if deadline is None:
            return
        # Round up to the timer resolution so that deadlines close together share one wake-up.
        deadline = math.ceil(deadline / TIMER_RESOLUTION) * TIMER_RESOLUTION
        armed = self._timer_at
        if self._timer is not None and armed is not None and armed <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - self.clock())
        self._timer = loop.call_at(loop.time() + delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        try:
            self.b2bua.handle_timer(self.clock())
        except Exception:
            log.exception("timer handling failed")
        self.flush()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
