"""The composition root: reads the config, wires the parts, runs the switch.

:class:`Softswitch` owns one running switch (transports, transaction layer, B2BUA, store) and
can be used from Python (``async with Softswitch(config, data_dir) as sw``) as well as from
``callcenter run`` (:func:`run_switch`). SIGTERM/SIGINT stop it gracefully (answered calls get
BYE, the store is flushed); SIGHUP reloads the config, keeping the last good one when the new
one is invalid.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callcenter.config import (
    Config,
    ConfigError,
    DataLayout,
    RunOptions,
    apply_run_options,
    load_config,
    password_notice,
    remove_pid_file,
    write_pid_file,
)
from callcenter.config.datadir import atomic_write_private, ensure_private_dir
from callcenter.logs import setup_logging
from callcenter.sip.auth import AuthLockout, DigestServer
from callcenter.sip.parser import Limits
from callcenter.sip.tlscert import ensure_dev_certificate, server_context
from callcenter.sip.transaction import Endpoint, TransactionLayer
from callcenter.sip.transport import SipTransports
from callcenter.store import CdrRecord, RegistrationRow, Store
from callcenter.store.records import CallDirection, HangupBy
from callcenter.store.records import Disposition as CdrDisposition
from callcenter.switch.anchor import MediaAnchor
from callcenter.switch.authgate import AuthGate
from callcenter.switch.b2bua import B2BUA, SwitchSettings, TrunkPeer
from callcenter.switch.call import Call, CallState
from callcenter.switch.media import MediaPlane, media_policy, start_media_plane
from callcenter.switch.registrar import Binding, LocationService, RegistrarPolicy
from callcenter.switch.routing import Dialplan, Route
from callcenter.switch.service import SwitchPump
from callcenter.switch.trunkreg import TrunkRegistration
from media.events import DtmfReceived, MediaEvent, MediaTimeout

__all__ = ["Softswitch", "SwitchAddresses", "run_switch"]

log = logging.getLogger("callcenter")

SWEEP_INTERVAL = 30.0


@dataclass(frozen=True, slots=True)
class SwitchAddresses:
    """Where a running switch listens (ports resolved when 0 was asked)."""

    udp: Endpoint | None
    tcp: Endpoint | None
    tls: Endpoint | None


class Softswitch:
    """One running switch. Start with :meth:`start` (or ``async with``), stop with :meth:`stop`."""

    def __init__(self, config: Config, data_dir: Path, *, config_path: Path | None = None):
        self.config = config
        self.config_path = config_path
        self.layout = DataLayout(data_dir)
        self.store: Store | None = None
        self.transports: SipTransports | None = None
        self.txl = TransactionLayer()
        self.b2bua: B2BUA | None = None
        self.pump: SwitchPump | None = None
        self.addresses = SwitchAddresses(None, None, None)
        self.trunk_registrations: list[TrunkRegistration] = []
        self.media: MediaPlane | None = None
        self.anchor: MediaAnchor | None = None
        self._media_subscribers: list[Callable[[MediaEvent], None]] = []
        self._stopped = asyncio.Event()
        self._stopping = False

    async def __aenter__(self) -> Softswitch:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- start
    async def start(self) -> None:
        config = self.config
        ensure_private_dir(self.layout.root)  # CDRs and registrations: owner only
        ensure_private_dir(self.layout.secrets_dir)
        self.store = Store.open(self.layout.database)
        now = time.time()
        location = LocationService(_policy(config))
        location.load([_binding_of(r) for r in self.store.load_registrations(now)], now)
        auth = AuthGate(
            DigestServer(
                config.digest_realm,
                self._auth_key(),
                config.auth.nonce_ttl,
                algorithms=config.auth.algorithms,
            ),
            _lockout(config),
            self._ha1_lookup(config),
        )
        self.media = start_media_plane(config, self._on_media_events)
        self.anchor = MediaAnchor(self.media, media_policy(config))
        self.b2bua = B2BUA(
            self.txl,
            _settings(config),
            sdp=self.anchor,
            location=location,
            dialplan=_dialplan(config),
            auth=auth,
            trunks=_trunks(config),
            extension_names=_extension_names(config),
            local=self._local_endpoint,
            on_call_ended=self._write_cdr,
            on_registration=self._persist_bindings,
        )
        limits = Limits(max_message_size=config.sip.max_message_size)
        self.transports = SipTransports(
            self._on_messages,
            on_send_error=self._on_send_error,
            max_message_size=config.sip.max_message_size,
        )
        self.pump = SwitchPump(self.txl, self.b2bua, self.transports.send, limits=limits)
        await self._listen(config)
        self.b2bua.timers.schedule(now + SWEEP_INTERVAL, self._sweep)
        self._start_trunk_registrations(now)
        self.pump.flush()

    def _on_messages(self, batch: list[tuple[bytes, Endpoint]]) -> None:
        if self.pump is not None:
            self.pump.on_messages(batch)

    def _on_send_error(self, destination: Endpoint, error: Exception) -> None:
        if self.pump is not None:
            self.pump.on_send_error(destination, error)

    async def _listen(self, config: Config) -> None:
        assert self.transports is not None
        listen = config.sip.listen
        udp = tcp = tls = None
        if listen.udp is not None:
            udp = await self.transports.listen_udp(listen.udp.host, listen.udp.port)
        if listen.tcp is not None:
            tcp = await self.transports.listen_tcp(listen.tcp.host, listen.tcp.port)
        if listen.tls is not None:
            names = sorted({config.sip.domain, listen.tls.host, "localhost"})
            cert, key = ensure_dev_certificate(self.layout.tls_dir, names)
            tls = await self.transports.listen_tls(
                listen.tls.host, listen.tls.port, server_context(cert, key)
            )
        self.addresses = SwitchAddresses(udp, tcp, tls)

    def _local_endpoint(self, transport: str) -> Endpoint:
        assert self.transports is not None
        endpoint = self.transports.local_endpoint(transport)
        advertise = self.config.sip.advertise
        if advertise:
            return Endpoint(endpoint.transport, advertise, endpoint.port)
        return endpoint

    def _auth_key(self) -> bytes:
        path = self.layout.secrets_dir / "digest-nonce.key"
        if path.exists():
            data = path.read_bytes()
            if len(data) >= 32:
                return data
        key = secrets.token_bytes(32)
        atomic_write_private(path, key)
        return key

    @staticmethod
    def _ha1_lookup(config: Config) -> Callable[[str, str], str | None]:
        """``lookup(username, algorithm)`` over the config's stored HA1 digests."""
        table: dict[str, dict[str, str]] = {}
        for ext in config.extensions:
            cred = ext.credential
            if cred is not None:
                table[ext.number] = {"MD5": cred.ha1_md5, "SHA-256": cred.ha1_sha256}
        return lambda user, algorithm: table.get(user, {}).get(algorithm)

    def _start_trunk_registrations(self, now: float) -> None:
        assert self.b2bua is not None
        for trunk in self.config.trunks:
            if not trunk.register_enabled or not trunk.username or trunk.password is None:
                continue
            reg = TrunkRegistration(
                name=trunk.name,
                registrar=Endpoint(trunk.transport, trunk.host, trunk.port),
                domain=trunk.host,
                username=trunk.username,
                password=trunk.password.get_secret_value(),
                expires=trunk.register_expires,
                transactions=self.txl,
                timers=self.b2bua.timers,
                local=self._local_endpoint,
                user_agent=self.config.sip.user_agent,
            )
            reg.start(now)
            self.trunk_registrations.append(reg)

    # ------------------------------------------------------------ persistence
    def _write_cdr(self, call: Call) -> None:
        if self.store is None or call.a is None:
            return
        end = call.ended_at or time.time()
        billsec = end - call.answered_at if call.answered_at is not None else 0.0
        record = CdrRecord(
            call_id=call.a.invite.call_id,
            caller=call.caller,
            callee=call.callee,
            direction=CallDirection(call.direction),
            start_time=call.created_at,
            end_time=end,
            duration_s=end - call.created_at,
            billsec_s=billsec,
            disposition=call.disposition or CdrDisposition.FAILED,
            sip_code=call.sip_code,
            sip_reason=call.sip_reason,
            caller_display=call.caller_display,
            answer_time=call.answered_at,
            hangup_by=HangupBy(call.hangup_by) if call.hangup_by else None,
            trunk=call.trunk,
        )
        self.store.write_cdr(record)

    def _persist_bindings(self, saved: list[object], removed: list[object]) -> None:
        if self.store is None:
            return
        for b in saved:
            if isinstance(b, Binding):
                self.store.save_registration(_row_of(b))
        for b in removed:
            if isinstance(b, Binding):
                self.store.delete_registration(b.aor, b.contact)

    def _sweep(self, now: float) -> None:
        assert self.b2bua is not None
        removed = self.b2bua.location.expire(now)
        if removed and self.store is not None:
            self.store.delete_expired_registrations(now)
        self.b2bua.timers.schedule(now + SWEEP_INTERVAL, self._sweep)

    # ------------------------------------------------------------- reload
    def reload(self) -> bool:
        """Re-read the config file; keep the running config when the new one is invalid."""
        if self.config_path is None or self.b2bua is None:
            return False
        try:
            new = load_config(self.config_path, data_dir=self.layout.root)
        except ConfigError as exc:
            log.error("config reload rejected; keeping the running config:\n%s", exc)
            return False
        self.apply(new)
        log.info("config reloaded from %s", self.config_path)
        return True

    def apply(self, new: Config) -> None:
        """Swap in a validated config (listen addresses need a restart to change)."""
        assert self.b2bua is not None
        if new.sip.listen != self.config.sip.listen:
            log.warning("sip.listen changed: restart the switch to apply it")
            new = new.model_copy(update={"sip": self.config.sip})
        b = self.b2bua
        b.dialplan = _dialplan(new)
        b.trunks = {t.name: t for t in _trunks(new)}
        b.extension_names = _extension_names(new)
        b.settings = _settings(new)
        b.location.policy = _policy(new)
        b.auth.lookup = self._ha1_lookup(new)
        self.config = new

    # --------------------------------------------------------------- stop
    async def stop(self, grace: float = 2.0) -> None:
        if self._stopping:
            return
        self._stopping = True
        now = time.time()
        if self.b2bua is not None and self.pump is not None:
            self.b2bua.hangup_all(now)
            for reg in self.trunk_registrations:
                reg.stop(now)
            self.pump.flush()
            deadline = time.monotonic() + grace
            # bounded wait for the answers to our BYEs; the core has no event to await
            while time.monotonic() < deadline and self.txl.pending_client_transactions():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            self.pump.close()
        if self.transports is not None:
            await self.transports.close()
        if self.media is not None:
            self.media.stop()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def _media_timeout(self, event: MediaTimeout) -> None:
        """`media.rtp_timeout`: an answered call whose media stopped is hung up."""
        if self.b2bua is None or self.pump is None:
            return
        call = self.b2bua.calls.get(event.stream_id.rsplit("-", 1)[0])
        if call is None or call.state is not CallState.ANSWERED:
            return
        log.warning("no RTP on call %s for %.0f s: hanging up", call.id, event.silent_for)
        self.b2bua.relay.hangup(call, time.time(), by="system")
        self.pump.flush()

    # ---------------------------------------------------------------- media events
    def subscribe_media(self, callback: Callable[[MediaEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with every media event (DTMF, timeouts); returns an unsubscribe."""
        self._media_subscribers.append(callback)
        return lambda: self._media_subscribers.remove(callback)

    def _on_media_events(self, events: list[MediaEvent]) -> None:
        for event in events:
            if isinstance(event, DtmfReceived):
                # the digit itself is never logged: it may belong to a card number or a PIN
                log.debug("DTMF key press on stream %s (%s)", event.stream_id, event.source)
            elif isinstance(event, MediaTimeout):
                self._media_timeout(event)
            for callback in list(self._media_subscribers):
                try:
                    callback(event)
                except Exception:
                    log.exception("media event subscriber failed")


# ---------------------------------------------------------------- config → parts
def _policy(config: Config) -> RegistrarPolicy:
    r = config.registrar
    return RegistrarPolicy(r.min_expires, r.max_expires, r.default_expires)


def _lockout(config: Config) -> AuthLockout:
    lo = config.auth.lockout
    return AuthLockout(lo.max_failures, lo.window, lo.base_delay, lo.max_delay)


def _settings(config: Config) -> SwitchSettings:
    return SwitchSettings(
        domain=config.sip.domain,
        user_agent=config.sip.user_agent,
        no_answer_timeout=float(config.calls.no_answer_timeout),
        max_forwards=config.calls.max_forwards,
    )


def _dialplan(config: Config) -> Dialplan:
    routes = [Route(re.compile(r.pattern), r.trunk, r.rewrite) for r in config.routes]
    return Dialplan({e.number for e in config.extensions}, routes)


def _trunks(config: Config) -> list[TrunkPeer]:
    return [
        TrunkPeer(
            t.name,
            Endpoint(t.transport, t.host, t.port),
            t.match_source_port,
            t.username,
            t.password.get_secret_value() if t.password is not None else None,
        )
        for t in config.trunks
    ]


def _extension_names(config: Config) -> dict[str, str]:
    return {e.number: e.name for e in config.extensions if e.name}


def _binding_of(row: RegistrationRow) -> Binding:
    return Binding(
        row.aor, row.contact, row.expires_at, row.call_id, row.cseq, row.source,
        row.user_agent or "", row.q,
    )  # fmt: skip


def _row_of(b: Binding) -> RegistrationRow:
    return RegistrationRow(
        aor=b.aor,
        contact=b.contact,
        expires_at=b.expires_at,
        call_id=b.call_id,
        cseq=b.cseq,
        source=b.source,
        user_agent=b.user_agent or None,
        q=b.q,
    )


# ------------------------------------------------------------------ command line
def run_switch(options: RunOptions) -> int:
    """``callcenter run``: run in the foreground until SIGTERM/SIGINT; returns the exit code."""
    setup_logging(options.log_level, "json" if options.log_format == "json" else "text")
    try:
        config = apply_run_options(
            load_config(options.config_path, data_dir=options.data_dir), options
        )
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        runner = asyncio.Runner()
    with runner:
        return runner.run(_serve(config, options))


def _raise_open_file_limit() -> None:
    """Each call holds four media sockets: allow as many open files as the system lets us."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        log.warning("could not raise the open-file limit; calls are limited by it")


async def _serve(config: Config, options: RunOptions) -> int:
    _raise_open_file_limit()
    switch = Softswitch(config, options.data_dir, config_path=options.config_path)
    loop = asyncio.get_running_loop()
    # Handlers and pid file come first: once the switch answers, it can also be stopped.
    stop_requested = asyncio.Event()
    ensure_private_dir(options.data_dir)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    loop.add_signal_handler(signal.SIGHUP, switch.reload)
    write_pid_file(options.data_dir)
    try:
        try:
            await switch.start()
        except OSError as exc:
            print(f"cannot start: {exc}", file=sys.stderr)
            await switch.stop(grace=0)
            return 1
        _tune_garbage_collector()
        _announce(switch, config)
        await stop_requested.wait()
        await switch.stop()
    finally:
        remove_pid_file(options.data_dir)
    log.info("stopped")
    return 0


GC_THRESHOLDS = (10_000, 5, 10)
"""Young generations collected less often (Python's default is 700, 10, 10): a call's objects
mostly die young instead of being promoted, and full collections, whose pause grows with the
number of live transactions, become rare. Measured in docs/decisions/0001-sip-core-shape.md."""


def _tune_garbage_collector() -> None:
    gc.freeze()  # what start-up created lives as long as the process: never scan it again
    gc.set_threshold(*GC_THRESHOLDS)


def _announce(switch: Softswitch, config: Config) -> None:
    a = switch.addresses
    listening = ", ".join(f"{e.transport} {e.host}:{e.port}" for e in (a.udp, a.tcp, a.tls) if e)
    lines = [
        f"callcenter {__import__('callcenter').__version__} running",
        f"  SIP listening on {listening}",
        f"  data folder: {switch.layout.root.resolve()}",
    ]
    if config.extensions:
        first = config.extensions[0].number
        target = a.udp or a.tcp
        server = f"{target.host}:{target.port}" if target else "?"
        lines.append(
            f"  register a phone: user {first}, domain {config.sip.domain}, server {server}"
        )
    if config.passwords_file is not None:
        lines.append("  " + password_notice(config.passwords_file))
    lines.append("  stop with Ctrl-C; reload the config with `callcenter reload`")
    print("\n".join(lines), flush=True)
    log.info("started", extra={"listen": listening})
