"""Random identifiers for branches, tags and Call-IDs, drawn from a pooled CSPRNG.

RFC 3261 wants branches, tags and Call-IDs unique and hard to guess (§8.1.1.4, §19.3): a
guessable tag or Call-ID lets an attacker inject BYE or CANCEL. ``os.urandom`` gives that,
but one system call per identifier costs more than the rest of a branch's work at high call
rates, so random bytes are read 4 KiB at a time and handed out in slices.
"""

from __future__ import annotations

import os

__all__ = ["random_hex"]

_POOL_SIZE = 4096
_pool = b""
_offset = 0


def random_hex(nbytes: int) -> str:
    """*nbytes* bytes from the operating system's CSPRNG, as lower-case hex."""
    global _pool, _offset
    end = _offset + nbytes
    if end > len(_pool):
        _pool = os.urandom(max(_POOL_SIZE, nbytes))
        _offset = 0
        end = nbytes
    chunk = _pool[_offset:end]
    _offset = end
    return chunk.hex()
