"""Typed configuration with precise errors.

The configuration is YAML validated into frozen pydantic models (``models``); problems are
reported as ``ConfigError`` listing ``FILE:LINE: FIELD: MESSAGE`` issues (``loader``).
Extension passwords become ``DigestCredential`` HA1 digests while loading; extensions
without one get a generated password kept in the data folder (``secrets``). ``datadir``
owns the data-folder layout and the pid file, ``options`` the ``callcenter run`` options.
"""

from callcenter.config.datadir import (
    DEFAULT_DATA_DIR,
    DataLayout,
    read_pid_file,
    remove_pid_file,
    write_pid_file,
)
from callcenter.config.errors import ConfigError, ConfigIssue
from callcenter.config.loader import default_config_path, load_config, load_config_text
from callcenter.config.models import (
    AuthConfig,
    CallsConfig,
    Config,
    ExtensionConfig,
    LockoutConfig,
    MediaConfig,
    RegistrarConfig,
    RouteConfig,
    SipConfig,
    SipListenConfig,
    TrunkConfig,
    WebConfig,
)
from callcenter.config.options import RunOptions, apply_run_options
from callcenter.config.secrets import (
    ExtensionPasswords,
    ensure_extension_passwords,
    password_notice,
)
from callcenter.config.values import DigestCredential, HostPort, PortRange

__all__ = [
    "DEFAULT_DATA_DIR",
    "AuthConfig",
    "CallsConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "DataLayout",
    "DigestCredential",
    "ExtensionConfig",
    "ExtensionPasswords",
    "HostPort",
    "LockoutConfig",
    "MediaConfig",
    "PortRange",
    "RegistrarConfig",
    "RouteConfig",
    "RunOptions",
    "SipConfig",
    "SipListenConfig",
    "TrunkConfig",
    "WebConfig",
    "apply_run_options",
    "default_config_path",
    "ensure_extension_passwords",
    "load_config",
    "load_config_text",
    "password_notice",
    "read_pid_file",
    "remove_pid_file",
    "write_pid_file",
]
