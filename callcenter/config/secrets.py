"""First-run extension passwords, kept in ``<data>/secrets/extension-passwords.yaml``.

Extensions configured without a password get a generated one (24 URL-safe characters,
144 bits). The file is created mode 0600 inside a 0700 folder and is never readable by
others, not even while it is written. Later runs reuse the stored passwords and add new
ones for extensions that appear; a password written in the configuration always wins and
is not copied here. Passwords are never logged: tell the user where the file is, with
``password_notice``.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from callcenter.config.datadir import (
    PRIVATE_FILE_MODE,
    DataLayout,
    atomic_write_private,
    ensure_private_dir,
)
from callcenter.config.errors import ConfigError, ConfigIssue

__all__ = [
    "ExtensionPasswords",
    "ensure_extension_passwords",
    "generate_password",
    "password_notice",
    "read_extension_passwords",
]

_log = logging.getLogger(__name__)
_PASSWORD_BYTES = 18
_HEADER = (
    "# Generated digest passwords for extensions configured without one.\n"
    "# Keep this file private (mode 0600). Delete a line to get a new password on the\n"
    "# next start; set `password:` in the configuration to choose one yourself.\n"
)


@dataclass(frozen=True)
class ExtensionPasswords:
    """The stored passwords after ``ensure_extension_passwords``."""

    path: Path
    """The secrets file."""
    passwords: Mapping[str, str] = field(repr=False)
    """Extension number -> password, for every extension asked about."""
    created: tuple[str, ...] = ()
    """Numbers that got a new password on this call."""


def generate_password() -> str:
    """A strong random password (24 URL-safe characters)."""
    return secrets.token_urlsafe(_PASSWORD_BYTES)


def password_notice(path: Path) -> str:
    """The line to show the user; it names the file, never a password."""
    return f"passwords for demo extensions are in {path} (readable only by you): cat {path}"


def ensure_extension_passwords(data_dir: Path, numbers: Iterable[str]) -> ExtensionPasswords:
    """Stored passwords for ``numbers``, generating and saving the missing ones."""
    path = DataLayout(data_dir).extension_passwords
    stored = read_extension_passwords(path)
    wanted = list(dict.fromkeys(numbers))
    created = tuple(number for number in wanted if number not in stored)
    if created:
        stored = {**stored, **{number: generate_password() for number in created}}
        try:
            ensure_private_dir(path.parent)
            atomic_write_private(path, _serialize(stored))
        except OSError as exc:
            msg = f"cannot write secrets file: {exc.strerror or type(exc).__name__}"
            raise ConfigError([ConfigIssue(str(path), None, "", msg)]) from None
        _log.info(
            "generated passwords for %d extension(s)", len(created), extra={"file": str(path)}
        )
    return ExtensionPasswords(path, {n: stored[n] for n in wanted}, created)


def read_extension_passwords(path: Path) -> dict[str, str]:
    """The passwords in ``path`` (empty if it does not exist); tightens a loose file mode."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise _file_error(path, f"cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _file_error(path, "is not a regular file")
    if info.st_mode & 0o077:
        os.chmod(path, PRIVATE_FILE_MODE)
        _log.warning(
            "secrets file was readable by others; now mode 0600", extra={"file": str(path)}
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise _file_error(path, "cannot read: not a valid secrets file") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) and value for key, value in data.items()
    ):
        raise _file_error(path, "must map extension numbers (strings) to passwords (strings)")
    return dict(data)


def _serialize(passwords: Mapping[str, str]) -> bytes:
    body = yaml.safe_dump(dict(sorted(passwords.items())), default_flow_style=False)
    return (_HEADER + body).encode()


def _file_error(path: Path, message: str) -> ConfigError:
    return ConfigError([ConfigIssue(str(path), None, "", message)])
