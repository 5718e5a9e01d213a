"""Structured logging to stderr, with secrets masked wherever they appear.

``setup_logging(level, fmt)`` installs one stderr handler on the root logger:

* ``json``: one object per line, ``{"ts", "level", "logger", "msg", ...extra fields}``;
* ``text``: ``TS LEVEL LOGGER MSG key=value ...``.

Extra fields are what callers pass as ``logger.info("...", extra={"call_id": ...})``.

``RedactingFilter`` runs before formatting and masks:

* values of keys that name secrets (password, secret, token, authorization, ha1, digest
  response, ...), both in extra fields and in ``key=value`` / ``key: value`` text;
* the value of ``Authorization`` and ``Proxy-Authorization`` headers quoted in messages;
* card-number-like digit runs (13-19 digits, spaces or dashes allowed, passing the Luhn
  check), keeping only the last four digits.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any, Literal

__all__ = [
    "MASK",
    "JsonFormatter",
    "RedactingFilter",
    "TextFormatter",
    "mask_text",
    "mask_value",
    "setup_logging",
]

MASK = "***"
LogFormat = Literal["json", "text"]
LEVELS = ("debug", "info", "warning", "error", "critical")

_SECRET_KEY_RE = re.compile(
    r"pass(word|wd|phrase)?$|^pwd$|secret|token|authorization|ha1|api_?key|private_?key"
    r"|credential|cookie|(nonce|digest)_?response|^response$|card_?number|^pan$|^cvv|^cvc",
    re.IGNORECASE,
)
_AUTH_HEADER_RE = re.compile(
    r"(?P<name>\b(?:Proxy-)?Authorization[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<scheme>(?:Digest|Basic|Bearer)\s+)?(?P<value>[^\r\n]*)",
    re.IGNORECASE,
)
_SECRET_TERMS = (
    r"password|passwd|secret|token|ha1|api[_-]?key|private[_-]?key|(?:nonce|digest)[_-]?response"
)
_KEY_VALUE_RE = re.compile(
    rf"(?P<key>[\w-]*(?:{_SECRET_TERMS})[\w-]*[\"']?)(?P<sep>\s*[=:]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;&)}\]]+)",
    re.IGNORECASE,
)
# A digest ``response`` parameter: 32 (MD5) or 64 (SHA-256) hex digits.
_DIGEST_RESPONSE_RE = re.compile(
    r"(?P<key>\bresponse[\"']?\s*[=:]\s*)(?P<value>[\"']?[0-9a-f]{32,64}[\"']?)", re.IGNORECASE
)
_CARD_RE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return f"[card ****{digits[-4:]}]"
    return match.group(0)


def _mask_auth_header(match: re.Match[str]) -> str:
    return f"{match.group('name')}{match.group('scheme') or ''}{MASK}"


def _mask_key_value(match: re.Match[str]) -> str:
    return f"{match.group('key')}{match.group('sep')}{MASK}"


def mask_text(text: str) -> str:
    """``text`` with auth header values, secret ``key=value`` pairs and card numbers masked."""
    text = _AUTH_HEADER_RE.sub(_mask_auth_header, text)
    text = _KEY_VALUE_RE.sub(_mask_key_value, text)
    text = _DIGEST_RESPONSE_RE.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _CARD_RE.sub(_mask_card, text)


def is_secret_key(key: str) -> bool:
    """True for field names whose values are secrets."""
    return bool(_SECRET_KEY_RE.search(key.replace("-", "_")))


def mask_value(value: object, key: str = "") -> object:
    """A copy of ``value`` with secrets masked, recursing into mappings and sequences."""
    if key and is_secret_key(key) and value is not None:
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {str(k): mask_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(item) for item in value]
    if isinstance(value, bool | int | float) or value is None:
        return _mask_number(value)
    return mask_text(str(value))


def _mask_number(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 13:
        masked = mask_text(str(value))
        return value if masked == str(value) else masked
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a caller added with ``extra=``."""
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


class RedactingFilter(logging.Filter):
    """Masks secrets in the message, its arguments, extra fields and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad arguments: keep the template, drop the arguments
            message = str(record.msg)
        record.msg = mask_text(message)
        record.args = None
        for key, value in extra_fields(record).items():
            setattr(record, key, mask_value(value, key))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            entry[key if key not in entry else f"extra_{key}"] = value
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def _text_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if not text or re.search(r'[\s"=]', text):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(logging.Formatter):
    """``TS LEVEL LOGGER MSG key=value ...``, one line per record plus any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), f"{record.levelname:<7}", record.name, record.getMessage()]
        parts += [f"{k}={_text_value(v)}" for k, v in extra_fields(record).items()]
        line = " ".join(parts)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def setup_logging(level: str = "info", fmt: LogFormat = "text") -> None:
    """Send all logs to stderr in ``fmt`` at ``level``, with secrets masked.

    Idempotent: a second call replaces the handler installed by the first.
    """
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LEVELS)}")
    if fmt not in ("json", "text"):
        raise ValueError(f"unknown log format {fmt!r}; expected json or text")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
