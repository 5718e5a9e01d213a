"""Layout of the data folder, and the pid file that ``callcenter reload`` relies on.

::

    data/                      (default ./data, created on first run)
      callcenter.db            SQLite database (WAL)
      callcenter.pid           pid of the running switch: decimal digits and a newline
      secrets/                 mode 0700
        extension-passwords.yaml   generated extension passwords, mode 0600
      tls/                     self-signed development certificate

Pid file contract: the running switch writes its pid with ``write_pid_file`` once it
listens, and removes it with ``remove_pid_file`` on exit; it reloads its configuration
on SIGHUP. ``callcenter reload`` reads the file and sends SIGHUP to that pid.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_DATA_DIR",
    "DataLayout",
    "atomic_write_private",
    "ensure_private_dir",
    "read_pid_file",
    "remove_pid_file",
    "write_pid_file",
]

DEFAULT_DATA_DIR = Path("data")
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


@dataclass(frozen=True, slots=True)
class DataLayout:
    """Paths inside a data folder (nothing is created by building one)."""

    root: Path

    @property
    def database(self) -> Path:
        """The SQLite database."""
        return self.root / "callcenter.db"

    @property
    def pid_file(self) -> Path:
        """Pid of the running switch."""
        return self.root / "callcenter.pid"

    @property
    def secrets_dir(self) -> Path:
        """Private folder (0700) for generated secrets."""
        return self.root / "secrets"

    @property
    def extension_passwords(self) -> Path:
        """Generated extension passwords (0600)."""
        return self.secrets_dir / "extension-passwords.yaml"

    @property
    def tls_dir(self) -> Path:
        """TLS certificate and key."""
        return self.root / "tls"


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it mode 0700."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR_MODE)


def atomic_write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; the file is mode 0600 from its creation.

    Writes a new file created with O_EXCL and mode 0600 next to ``path``, syncs it, renames
    it over ``path`` and syncs the folder, so a reader sees the old or the new content and
    the content is never readable by others, not even briefly.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), PRIVATE_FILE_MODE)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_pid_file(data_dir: Path, pid: int | None = None) -> Path:
    """Record ``pid`` (default: this process) as the running switch; return the file."""
    layout = DataLayout(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    pid = os.getpid() if pid is None else pid
    tmp = layout.pid_file.with_name(f".{layout.pid_file.name}.{secrets.token_hex(6)}.tmp")
    tmp.write_text(f"{pid}\n", encoding="ascii")
    os.replace(tmp, layout.pid_file)
    return layout.pid_file


def read_pid_file(data_dir: Path) -> int | None:
    """The pid recorded in the data folder, or None if there is no valid pid file."""
    try:
        text = DataLayout(data_dir).pid_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def remove_pid_file(data_dir: Path, pid: int | None = None) -> None:
    """Remove the pid file if it names ``pid`` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    if read_pid_file(data_dir) == pid:
        DataLayout(data_dir).pid_file.unlink(missing_ok=True)
