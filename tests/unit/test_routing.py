"""The dialplan: extensions first, then routes in order."""

from __future__ import annotations

import re

from callcenter.switch.routing import Dialplan, ExtensionTarget, Route, TrunkTarget


def plan() -> Dialplan:
    return Dialplan(
        {"1001", "1002"},
        [
            Route(re.compile(r"^9(\d+)$"), "provider", r"\1"),
            Route(re.compile(r"^(2\d{3})$"), "lab"),
            Route(re.compile(r"^1\d{3}$"), "fallback"),
        ],
    )


def test_extension_wins_over_routes() -> None:
    assert plan().resolve("1001") == ExtensionTarget("1001")
    assert plan().resolve("1003") == TrunkTarget("fallback", "1003")


def test_rewrite_and_order() -> None:
    assert plan().resolve("9555123") == TrunkTarget("provider", "555123")
    assert plan().resolve("2000") == TrunkTarget("lab", "2000")


def test_no_match() -> None:
    assert plan().resolve("42") is None
    assert plan().resolve("") is None
    assert not plan().is_extension("42")
