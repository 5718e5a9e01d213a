"""The dialplan: which target a dialed number reaches.

Exact extension numbers win; then routes are tried in order, first match wins. Patterns are
searched (anchor them with ``^``/``$``); a route's ``rewrite`` is a regex replacement template
(``\\1``) applied to the dialed number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Dialplan", "ExtensionTarget", "Route", "Target", "TrunkTarget"]


@dataclass(frozen=True, slots=True)
class ExtensionTarget:
    number: str


@dataclass(frozen=True, slots=True)
class TrunkTarget:
    trunk: str
    number: str


Target = ExtensionTarget | TrunkTarget


@dataclass(frozen=True, slots=True)
class Route:
    pattern: re.Pattern[str]
    trunk: str
    rewrite: str | None = None


class Dialplan:
    """Resolve dialed numbers to extensions or trunks."""

    def __init__(self, extensions: set[str], routes: list[Route]) -> None:
        self._extensions = frozenset(extensions)
        self._routes = list(routes)

    def is_extension(self, number: str) -> bool:
        return number in self._extensions

    def resolve(self, dialed: str) -> Target | None:
        """The target for *dialed*, or None (the caller answers 404)."""
        if dialed in self._extensions:
            return ExtensionTarget(dialed)
        for route in self._routes:
            m = route.pattern.search(dialed)
            if m is None:
                continue
            number = m.expand(route.rewrite) if route.rewrite is not None else dialed
            return TrunkTarget(route.trunk, number)
        return None
