"""Config → media plane: the engine in this process, or worker processes, and the anchor policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from callcenter.config import Config
from callcenter.switch.anchor import MediaPolicy
from media.codecs import Codec, codec_by_name
from media.control import LocalMedia, MediaControl
from media.engine import EngineSettings
from media.events import MediaEvent
from media.offer_answer import SrtpPolicy
from media.ports import PortAllocator

__all__ = ["MediaPlane", "media_address", "media_policy", "start_media_plane"]

_SRTP = {"off": SrtpPolicy.NONE, "accept": SrtpPolicy.OPTIONAL, "require": SrtpPolicy.MANDATORY}
WILDCARDS = ("0.0.0.0", "::")


class MediaPlane(MediaControl, Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def media_address(config: Config) -> tuple[str, str]:
    """(address to bind, address to announce in SDP)."""
    listen = config.sip.listen
    first = listen.udp or listen.tcp or listen.tls
    listen_host = first.host if first is not None else "127.0.0.1"
    bind = config.media.address or listen_host
    announce = config.media.address or config.sip.advertise or listen_host
    if announce in WILDCARDS:
        announce = "127.0.0.1"
    return bind, announce


def media_policy(config: Config) -> MediaPolicy:
    codecs: list[Codec] = []
    for name in config.media.codecs:
        codec = codec_by_name(name)
        if codec is not None:
            codecs.append(codec)
    return MediaPolicy(
        codecs=tuple(codecs),
        telephone_event=config.media.telephone_event,
        srtp=_SRTP[config.media.srtp],
        srtp_trunks=frozenset(t.name for t in config.trunks if t.srtp),
    )


def start_media_plane(config: Config, on_events: Callable[[list[MediaEvent]], None]) -> MediaPlane:
    """Warm the DSP kernels up, then start the engine (or its workers) on the running loop."""
    from dsp.warmup import warm_up

    warm_up()  # compiled (or loaded from the cache) now, not during the first call's tick
    m = config.media
    bind, announce = media_address(config)
    ports = PortAllocator(m.rtp_ports.low, m.rtp_ports.high)
    settings = EngineSettings(
        local_address=announce,
        jitter_min_ms=m.jitter_min_ms,
        jitter_max_ms=m.jitter_max_ms,
        media_timeout=m.rtp_timeout or None,
    )
    plane: MediaPlane
    if m.workers > 0:
        from media.worker import MediaWorkerPool

        plane = MediaWorkerPool(m.workers, ports, settings, on_events, bind_host=bind)
    else:
        plane = LocalMedia(ports, settings, on_events, bind_host=bind)
    plane.start()
    return plane
