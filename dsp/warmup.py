"""Warm every numba kernel up front, so no media tick ever waits for compilation.

Kernels are compiled on first call and cached on disk (``cache=True``, in ``__pycache__`` next
to the sources or under ``NUMBA_CACHE_DIR``). :func:`warm_up` calls each kernel module's own
``warm_up()`` once at switch start: with a warm cache that only loads machine code; with a
cold one it compiles everything and fills the cache. This is the one ``dsp`` module that
reads a clock, and only to report how long warming took.
"""

from __future__ import annotations

import importlib
import time
from typing import Final

__all__ = ["KERNEL_MODULES", "warm_up"]

KERNEL_MODULES: Final[tuple[str, ...]] = (
    "dsp.g711",
    "dsp.g722",
    "dsp.resample",
    "dsp.mix",
    "dsp.level",
    "dsp.tones",
    "dsp.dtmf",
)
"""Every module with numba kernels; each exposes ``warm_up() -> None``."""


def warm_up() -> float:
    """Import every kernel module and call its ``warm_up()``; returns the seconds it took."""
    started = time.perf_counter()
    for name in KERNEL_MODULES:
        importlib.import_module(name).warm_up()
    return time.perf_counter() - started
