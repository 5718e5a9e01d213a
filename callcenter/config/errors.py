"""Configuration errors that point at file, line and field.

``ConfigError`` carries every ``ConfigIssue`` found; ``str()`` of it is one issue per line,
``FILE:LINE: FIELD: MESSAGE``. ``RuleViolation`` is what model validators raise for
cross-field rules, so the loader can point at the exact item (say ``routes[2].trunk``)
rather than at the model that holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ConfigError", "ConfigIssue", "Loc", "RuleViolation", "format_loc"]

Loc = tuple[str | int, ...]


def format_loc(loc: Loc) -> str:
    """``("extensions", 2, "number")`` -> ``"extensions[2].number"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a configuration file.

    ``line`` is 1-based, or ``None`` when the problem is not tied to a line (an unreadable
    file). ``field`` is the dotted path of the setting (``sip.listen.udp``,
    ``extensions[1].number``), or ``""`` for problems of the file as a whole.
    """

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(Exception):
    """The configuration could not be loaded; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class RuleViolation(ValueError):
    """A cross-field rule failed; ``problems`` are (location, message) pairs.

    Locations are relative to the model whose validator raised.
    """

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        self.problems: tuple[tuple[Loc, str], ...] = tuple(problems)
        super().__init__("; ".join(f"{format_loc(loc)}: {msg}" for loc, msg in self.problems))
