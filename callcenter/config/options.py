"""What ``callcenter run`` passes to the switch, and how its overrides apply to a Config.

``--sip-listen HOST:PORT`` replaces the udp and tcp listen addresses (enabling both). The
tls listener keeps its own address unless it would collide with the new tcp one; then it
moves to ``HOST:PORT+1``. ``--web-listen`` and ``--rtp-ports`` replace ``web.listen`` and
``media.rtp_ports``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callcenter.config.models import Config, SipListenConfig
from callcenter.config.values import HostPort, PortRange

__all__ = ["RunOptions", "apply_run_options", "override_sip_listen"]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Options of ``callcenter run``; ``None`` overrides keep the configured value."""

    config_path: Path
    data_dir: Path
    sip_listen: HostPort | None
    web_listen: HostPort | None
    rtp_ports: PortRange | None
    log_level: str
    log_format: str


def override_sip_listen(listen: SipListenConfig, address: HostPort) -> SipListenConfig:
    """udp and tcp on ``address``; tls moved to PORT+1 only if it would collide."""
    tls = listen.tls
    if tls is not None and tls.overlaps(address):
        if address.port >= 65535:
            raise ValueError(f"cannot place tls next to {address}: no port above it")
        tls = HostPort(address.host, address.port + 1)
    return listen.model_copy(update={"udp": address, "tcp": address, "tls": tls})


def apply_run_options(config: Config, options: RunOptions) -> Config:
    """``config`` with the command-line overrides of ``options`` applied."""
    if options.sip_listen is not None:
        sip = config.sip.model_copy(
            update={"listen": override_sip_listen(config.sip.listen, options.sip_listen)}
        )
        config = config.model_copy(update={"sip": sip})
    if options.web_listen is not None:
        web = config.web.model_copy(update={"listen": options.web_listen})
        config = config.model_copy(update={"web": web})
    if options.rtp_ports is not None:
        media = config.media.model_copy(update={"rtp_ports": options.rtp_ports})
        config = config.model_copy(update={"media": media})
    return config
