"""YAML text -> plain data plus where every key and item sits in the file.

PyYAML's node tree (``compose``) keeps the position of every key and sequence item; a
walk over it yields a map from a location path (``("extensions", 2, "number")``) to its
1-based line, so validation errors can point at lines. The same walk finds duplicate
keys (which plain ``yaml.safe_load`` silently collapses) and remembers the raw text of
scalars YAML would turn into numbers or booleans, so that ``number: 0123`` can be read
back as the string the user typed.

Messages never quote file content: a YAML problem is reported by its description and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from callcenter.config.errors import ConfigError, ConfigIssue, Loc, format_loc

__all__ = ["YamlSource", "parse_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_COERCED_TAGS = frozenset(
    {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"}
)


@dataclass(frozen=True)
class YamlSource:
    """A parsed YAML document with positions."""

    filename: str
    data: object
    lines: dict[Loc, int] = field(repr=False)
    """Location path -> 1-based line of that key or item."""
    raw_scalars: dict[Loc, str] = field(repr=False)
    """Location path -> text as written, for plain scalars YAML typed as number/bool."""
    issues: tuple[ConfigIssue, ...] = ()
    """Problems found while reading (duplicate keys)."""

    def line_of(self, loc: Loc) -> int | None:
        """Line of ``loc``, or of its nearest ancestor present in the file."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


def parse_yaml(text: str, filename: str) -> YamlSource:
    """Parse one YAML document; raise ``ConfigError`` on a syntax error."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        raw: dict[Loc, str] = {}
        issues: list[ConfigIssue] = []
        if node is not None:
            lines[()] = node.start_mark.line + 1
            _walk(node, (), _Walk(filename, lines, raw, issues), set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_issue(exc, filename)]) from None
    except yaml.YAMLError:
        raise ConfigError([ConfigIssue(filename, None, "", "invalid YAML")]) from None
    finally:
        loader.dispose()
    return YamlSource(filename, data, lines, raw, tuple(issues))


def _syntax_issue(exc: yaml.MarkedYAMLError, filename: str) -> ConfigIssue:
    mark = exc.problem_mark or exc.context_mark
    parts = [part for part in (exc.context, exc.problem) if part]
    message = "YAML syntax error: " + (", ".join(parts) if parts else "invalid YAML")
    return ConfigIssue(filename, None if mark is None else mark.line + 1, "", message)


@dataclass(frozen=True)
class _Walk:
    filename: str
    lines: dict[Loc, int]
    raw: dict[Loc, str]
    issues: list[ConfigIssue]


def _walk(node: Node, loc: Loc, walk: _Walk, active: set[int]) -> None:
    if id(node) in active:  # a recursive alias
        return
    active.add(id(node))
    if isinstance(node, MappingNode):
        _walk_mapping(node, loc, walk, active)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            walk.lines.setdefault((*loc, index), item.start_mark.line + 1)
            _walk(item, (*loc, index), walk, active)
    elif isinstance(node, ScalarNode) and node.tag in _COERCED_TAGS and node.style is None:
        walk.raw[loc] = str(node.value)
    active.discard(id(node))


def _walk_mapping(node: MappingNode, loc: Loc, walk: _Walk, active: set[int]) -> None:
    seen: set[str] = set()
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
            continue
        key = str(key_node.value)
        child = (*loc, key)
        line = key_node.start_mark.line + 1
        if key in seen:
            walk.issues.append(ConfigIssue(walk.filename, line, format_loc(child), "duplicate key"))
            continue
        seen.add(key)
        walk.lines[child] = line
        _walk(value_node, child, walk, active)
