"""Load a configuration file into a ``Config``, or fail with every issue located.

``load_config(path)`` reads and validates, with no side effects. With ``data_dir``, it
also gives each extension configured without a password a stored, generated one (see
``callcenter.config.secrets``), so every extension ends up with a ``DigestCredential``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from callcenter.config.errors import ConfigError, ConfigIssue, Loc, RuleViolation, format_loc
from callcenter.config.models import Config
from callcenter.config.secrets import ensure_extension_passwords
from callcenter.config.source import YamlSource, parse_yaml

__all__ = ["default_config_path", "load_config", "load_config_text"]

# Settings that are strings even when YAML would read them as numbers or booleans
# (``number: 0123`` stays "0123"; ``password: 12345678`` stays text).
_TEXT_FIELDS: tuple[Loc, ...] = (
    ("sip", "realm"),
    ("sip", "user_agent"),
    ("extensions", "*", "number"),
    ("extensions", "*", "name"),
    ("extensions", "*", "password"),
    ("trunks", "*", "name"),
    ("trunks", "*", "username"),
    ("trunks", "*", "password"),
    ("routes", "*", "pattern"),
    ("routes", "*", "trunk"),
    ("routes", "*", "rewrite"),
)
_SECRET_KEYS = frozenset({"password"})
_FRIENDLY = {
    "tuple_type": "should be a list",
    "model_type": "should be a mapping of settings",
    "model_attributes_type": "should be a mapping of settings",
    "dict_type": "should be a mapping",
}


def default_config_path() -> Path:
    """The embedded demo configuration, ``config/callcenter.yaml`` of the source tree."""
    candidates = [
        Path(__file__).resolve().parents[2] / "config" / "callcenter.yaml",
        Path.cwd() / "config" / "callcenter.yaml",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    message = (
        "the embedded configuration config/callcenter.yaml was not found (looked in "
        + ", ".join(str(c.parent) for c in candidates)
        + "); pass --config FILE"
    )
    raise ConfigError([ConfigIssue("config/callcenter.yaml", None, "", message)])


def load_config(path: Path, *, data_dir: Path | None = None) -> Config:
    """Read, parse and validate the configuration at ``path``."""
    filename = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue(filename, None, "", "not UTF-8 text")]) from None
    except OSError as exc:
        msg = f"cannot read: {exc.strerror or type(exc).__name__}"
        raise ConfigError([ConfigIssue(filename, None, "", msg)]) from None
    return load_config_text(text, filename, data_dir=data_dir)


def load_config_text(
    text: str, filename: str = "<config>", *, data_dir: Path | None = None
) -> Config:
    """Parse and validate configuration ``text``; ``filename`` is used in messages."""
    source = parse_yaml(text, filename)
    issues = list(source.issues)
    data = source.data if source.data is not None else {}
    if not isinstance(data, dict):
        issues.append(
            ConfigIssue(
                filename, source.line_of(()), "", "the top level must be a mapping of settings"
            )
        )
        raise ConfigError(issues)
    _restore_text_fields(data, source)
    # A section left empty (``trunks:`` with every entry commented out) takes its default.
    data = {key: value for key, value in data.items() if value is not None}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        issues.extend(_issues_from_validation(exc, source))
    if issues:
        raise ConfigError(sorted(issues, key=lambda i: (i.line or 0, i.field)))
    if data_dir is not None:
        config = _with_stored_passwords(config, data_dir)
    return config


def _with_stored_passwords(config: Config, data_dir: Path) -> Config:
    missing = [ext.number for ext in config.extensions if ext.credential is None]
    if not missing:
        return config
    stored = ensure_extension_passwords(data_dir, missing)
    loaded = config.with_passwords(stored.passwords)
    loaded._passwords_file = stored.path
    return loaded


def _restore_text_fields(data: dict[object, object], source: YamlSource) -> None:
    for loc, text in source.raw_scalars.items():
        if any(_matches(loc, pattern) for pattern in _TEXT_FIELDS):
            _set_at(data, loc, text)


def _matches(loc: Loc, pattern: Loc) -> bool:
    if len(loc) != len(pattern):
        return False
    return all(
        (p == "*" and isinstance(part, int)) or p == part
        for part, p in zip(loc, pattern, strict=True)
    )


def _set_at(data: object, loc: Loc, value: str) -> None:
    target = data
    for part in loc[:-1]:
        if isinstance(target, dict):
            target = target.get(part)
        elif isinstance(target, list) and isinstance(part, int) and part < len(target):
            target = target[part]
        else:
            return
    if isinstance(target, dict) and loc[-1] in target:
        target[loc[-1]] = value


def _issues_from_validation(exc: ValidationError, source: YamlSource) -> Iterator[ConfigIssue]:
    for error in exc.errors(include_url=False):
        for loc, message in _located_messages(error):
            yield ConfigIssue(source.filename, source.line_of(loc), format_loc(loc), message)


def _located_messages(error: ErrorDetails) -> Iterator[tuple[Loc, str]]:
    loc: Loc = tuple(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, RuleViolation):
        for sub_loc, message in cause.problems:
            yield loc + sub_loc, message
        return
    if error["type"] == "value_error" and isinstance(cause, Exception):
        message = str(cause)
    elif error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = _unknown_key_message(loc)
    elif error["type"] in _FRIENDLY:
        message = _FRIENDLY[error["type"]]
    else:
        message = error["msg"]
    yield loc, _without_secret_input(loc, message, error.get("input"))


def _without_secret_input(loc: Loc, message: str, value: object) -> str:
    if any(part in _SECRET_KEYS for part in loc) and isinstance(value, str) and value:
        return message.replace(value, "***")
    return message


def _unknown_key_message(loc: Loc) -> str:
    key = str(loc[-1]) if loc else ""
    known = _known_keys(loc[:-1])
    if not known:
        return "unknown setting"
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "expected one of: " + ", ".join(known)
    return f"unknown setting; {hint}"


def _known_keys(loc: Loc) -> list[str]:
    """The keys allowed in the mapping at ``loc`` (by walking the model types)."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        model = None if info is None else _model_in(info.annotation)
    if model is None:
        return []
    return [
        info.alias or name
        for name, info in model.model_fields.items()
        if name not in ("credential",)
    ]


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, typing.Annotated, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
