"""The typed configuration: frozen pydantic models, unknown keys rejected.

Every field carries its documentation as an attribute docstring (it becomes the field's
``description``). ``Config`` is the root. Cross-field rules raise ``RuleViolation`` so that
errors point at the exact item (``routes[1].trunk``), not at the model that holds it.

Passwords: an extension's ``password`` is read while validating and replaced at once by a
``DigestCredential`` (HA1 digests); a validated ``Config`` holds no extension password.
Trunk passwords are needed to answer a provider's challenges, so they stay, as
``SecretStr`` (masked in ``repr``, ``str`` and dumps).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    SecretStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from callcenter.config.errors import Loc, RuleViolation
from callcenter.config.values import DigestCredential, HostPort, PortRange, validate_host

__all__ = [
    "AuthConfig",
    "CallsConfig",
    "Config",
    "ExtensionConfig",
    "LockoutConfig",
    "MediaConfig",
    "RegistrarConfig",
    "RouteConfig",
    "SipConfig",
    "SipListenConfig",
    "TrunkConfig",
    "WebConfig",
]

NAME_PATTERN = r"^[A-Za-z0-9._-]+$"
MIN_PASSWORD_LENGTH = 8
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_GROUP_REF_RE = re.compile(r"\\(?:(\d+)|g<([^>]*)>)")


def _to_host_port(value: object) -> HostPort:
    if isinstance(value, HostPort):
        return value
    if isinstance(value, str):
        return HostPort.parse(value)
    raise ValueError("expected a HOST:PORT string, as in 127.0.0.1:5060")


def _to_port_range(value: object) -> PortRange:
    if isinstance(value, PortRange):
        return value
    if isinstance(value, str):
        return PortRange.parse(value)
    raise ValueError("expected a LO-HI string, as in 20000-20999")


def _to_credential(value: object) -> DigestCredential | None:
    if value is None or isinstance(value, DigestCredential):
        return value
    raise ValueError("is derived from the password; do not set it")


def _plain_text(value: str) -> str:
    if _CONTROL_RE.search(value):
        raise ValueError("must not contain control characters")
    return value


HostPortText = Annotated[
    HostPort,
    PlainValidator(_to_host_port),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["127.0.0.1:5060", "[::1]:5060"]}),
]
PortRangeText = Annotated[
    PortRange,
    PlainValidator(_to_port_range),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["20000-20999"]}),
]
Credential = Annotated[DigestCredential | None, PlainValidator(_to_credential)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class SipListenConfig(_Model):
    """Where the SIP transports listen. A transport that is omitted or null is disabled."""

    udp: HostPortText | None = None
    """UDP listen address, ``HOST:PORT``."""
    tcp: HostPortText | None = None
    """TCP listen address, ``HOST:PORT`` (may share the UDP port)."""
    tls: HostPortText | None = None
    """TLS listen address, ``HOST:PORT`` (must not collide with the TCP one)."""

    @model_validator(mode="after")
    def _check_transports(self) -> Self:
        if self.udp is None and self.tcp is None and self.tls is None:
            raise RuleViolation([((), "enable at least one transport: udp, tcp or tls")])
        if self.tcp is not None and self.tls is not None and self.tcp.overlaps(self.tls):
            raise RuleViolation([(("tls",), f"{self.tls} collides with the tcp listener")])
        return self


def _default_listen() -> SipListenConfig:
    return SipListenConfig(
        udp=HostPort("127.0.0.1", 5060),
        tcp=HostPort("127.0.0.1", 5060),
        tls=HostPort("127.0.0.1", 5061),
    )


class SipConfig(_Model):
    """SIP service settings."""

    domain: str = "127.0.0.1"
    """SIP domain served (host name or IP); also the digest realm unless ``realm`` is set."""
    realm: str | None = Field(default=None, min_length=1, max_length=128)
    """Digest realm (RFC 7616); defaults to ``domain``."""
    listen: SipListenConfig = Field(default_factory=_default_listen)
    """Transport listen addresses; the whole section defaults to udp and tcp on
    127.0.0.1:5060 and tls on 127.0.0.1:5061."""
    advertise: str | None = None
    """Host to put in Via and Contact when listening on a wildcard address (0.0.0.0, ::)."""
    max_message_size: int = Field(default=65535, ge=1500, le=1_048_576)
    """Largest SIP message accepted, in bytes."""
    user_agent: str = Field(default="callcenter", min_length=1, max_length=256)
    """Value of the User-Agent and Server headers."""

    @field_validator("domain", "advertise")
    @classmethod
    def _check_host(cls, value: str | None) -> str | None:
        return None if value is None else validate_host(value)

    @field_validator("realm")
    @classmethod
    def _check_realm(cls, value: str | None) -> str | None:
        if value is not None and ('"' in value or "\\" in value):
            raise ValueError("must not contain quotes or backslashes")
        return None if value is None else _plain_text(value)

    @field_validator("user_agent")
    @classmethod
    def _check_user_agent(cls, value: str) -> str:
        return _plain_text(value)

    @property
    def digest_realm(self) -> str:
        """The realm used in digest challenges: ``realm`` or else ``domain``."""
        return self.realm if self.realm is not None else self.domain


class RegistrarConfig(_Model):
    """Registration lifetimes in seconds (RFC 3261 section 10.3)."""

    min_expires: int = Field(default=60, ge=1)
    """Shorter requested lifetimes are refused with 423 Interval Too Brief."""
    max_expires: int = Field(default=7200, ge=1)
    """Longer requested lifetimes are cut down to this."""
    default_expires: int = Field(default=3600, ge=1)
    """Lifetime granted when the REGISTER asks for none."""

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        if self.min_expires > self.max_expires:
            msg = f"must not exceed max_expires ({self.max_expires})"
            raise RuleViolation([(("min_expires",), msg)])
        if not self.min_expires <= self.default_expires <= self.max_expires:
            msg = (
                f"must be within min_expires..max_expires ({self.min_expires}..{self.max_expires})"
            )
            raise RuleViolation([(("default_expires",), msg)])
        return self


class CallsConfig(_Model):
    """Call handling."""

    no_answer_timeout: int = Field(default=60, ge=1, le=86400)
    """Seconds a ringing call may go unanswered before it is given up (408/480)."""
    max_forwards: int = Field(default=70, ge=1, le=255)
    """Max-Forwards put on requests the switch originates (RFC 3261 section 8.1.1.6)."""


class LockoutConfig(_Model):
    """Slows down password guessing: after ``max_failures`` failed digest attempts within
    ``window`` seconds, a source waits ``base_delay`` seconds, doubling to ``max_delay``."""

    max_failures: int = Field(default=5, ge=1)
    """Failed attempts tolerated within the window."""
    window: int = Field(default=300, ge=1)
    """Seconds over which failures are counted."""
    base_delay: float = Field(default=2, ge=0)
    """First delay in seconds once locked out."""
    max_delay: float = Field(default=600, ge=0)
    """Longest delay in seconds."""

    @model_validator(mode="after")
    def _check_delays(self) -> Self:
        if self.max_delay < self.base_delay:
            msg = f"must be at least base_delay ({self.base_delay})"
            raise RuleViolation([(("max_delay",), msg)])
        return self


class AuthConfig(_Model):
    """Digest authentication (RFC 7616, RFC 8760)."""

    nonce_ttl: int = Field(default=300, ge=1, le=86400)
    """Seconds a digest nonce stays fresh."""
    algorithms: tuple[Literal["SHA-256", "MD5"], ...] = Field(
        default=("SHA-256", "MD5"), min_length=1
    )
    """Digest algorithms offered, one challenge each, most preferred first (RFC 8760 §2.4).
    Some clients read only the first challenge and speak only MD5 (SIPp 3.6, older
    handsets): list MD5 first for them."""
    lockout: LockoutConfig = Field(default_factory=LockoutConfig)
    """Brute-force protection."""

    @model_validator(mode="after")
    def _check_algorithms(self) -> Self:
        if len(set(self.algorithms)) != len(self.algorithms):
            raise RuleViolation([(("algorithms",), "lists an algorithm twice")])
        return self


MEDIA_CODECS = ("PCMU", "PCMA", "G722")


class MediaConfig(_Model):
    """Media plane. Every call's audio passes through the switch (it is anchored)."""

    rtp_ports: PortRangeText = PortRange(20000, 20999)
    """UDP port range for RTP and RTCP, ``LO-HI`` with an even ``LO``. Each call uses two
    port pairs (one per leg), so the range holds (HI - LO + 1) / 4 calls."""
    address: str | None = None
    """Address the media sockets bind to and SDP announces; default: the UDP SIP listen host
    (or ``sip.advertise`` when set)."""
    codecs: tuple[Literal["PCMU", "PCMA", "G722"], ...] = ("PCMU", "PCMA", "G722")
    """Audio codecs offered and accepted, in order of preference."""
    telephone_event: bool = True
    """Offer and accept RFC 4733 telephone-events (DTMF)."""
    jitter_min_ms: int = Field(default=20, ge=0, le=1000)
    """Smallest playout delay of the jitter buffer (used when the switch decodes audio)."""
    jitter_max_ms: int = Field(default=200, ge=20, le=2000)
    """Largest playout delay of the jitter buffer."""
    workers: int = Field(default=0, ge=0, le=64)
    """Media worker processes; 0 runs media in the switch process."""
    rtp_timeout: float = Field(default=0, ge=0, le=3600)
    """Hang up an answered call when a party that should be sending RTP has sent none for
    this many seconds (a dead phone, a broken NAT path); 0 never does. Legs on hold that
    were told not to send are exempt."""
    srtp: Literal["off", "accept", "require"] = "accept"
    """SRTP with SDES keys (RFC 4568): ``accept`` answers SRTP offers with SRTP, ``require``
    also rejects plain RTP offers (488), ``off`` refuses SRTP-only offers."""

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        return None if value is None else validate_host(value)

    @field_validator("codecs")
    @classmethod
    def _check_codecs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one codec")
        if len(set(value)) != len(value):
            raise ValueError("lists a codec twice")
        return value

    @model_validator(mode="after")
    def _check_jitter(self) -> Self:
        if self.jitter_min_ms > self.jitter_max_ms:
            raise RuleViolation([(("jitter_min_ms",), "must not exceed jitter_max_ms")])
        return self


class WebConfig(_Model):
    """HTTP API and web pages."""

    listen: HostPortText = HostPort("127.0.0.1", 8080)
    """HTTP listen address, ``HOST:PORT``."""


class ExtensionConfig(_Model):
    """A phone that registers with the switch. Its digest username is ``number``."""

    number: str = Field(pattern=NAME_PATTERN, max_length=64)
    """Extension number (the SIP user part): letters, digits, ``.``, ``_`` and ``-``."""
    name: str | None = Field(default=None, max_length=128)
    """Display name."""
    password: SecretStr | None = Field(default=None, repr=False, exclude=True)
    """Digest password. Optional: when absent, one is generated on first run and kept in
    the data folder. Hashed into ``credential`` while loading, then dropped."""
    credential: SkipJsonSchema[Credential] = Field(default=None, exclude=True)
    """HA1 digests derived from the password; set by the loader, never in the file."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        return None if value is None else _plain_text(value)

    @field_validator("password")
    @classmethod
    def _check_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
        return value

    def with_password(self, realm: str, password: str) -> ExtensionConfig:
        """A copy holding the HA1 digests of ``password`` instead of any password."""
        credential = DigestCredential.derive(self.number, realm, password)
        return self.model_copy(update={"password": None, "credential": credential})


class TrunkConfig(_Model):
    """A static SIP peer: a provider, a gateway or a test tool."""

    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    name: str = Field(pattern=NAME_PATTERN, max_length=64)
    """Unique name, used by routes."""
    host: str
    """Peer host name or IP address (no port; see ``port``)."""
    port: int = Field(default=5060, ge=1, le=65535)
    """Peer port."""
    transport: Literal["udp", "tcp", "tls"] = "udp"
    """Transport used to reach the peer."""
    match_source_port: bool = True
    """Inbound requests from ``host`` (and ``port``, when true) belong to this trunk."""
    username: str | None = Field(default=None, min_length=1, max_length=128)
    """Digest username for the peer's challenges to our requests."""
    password: SecretStr | None = Field(default=None, repr=False, exclude=True)
    """Digest password for the peer's challenges; kept masked, never logged."""
    register_enabled: bool = Field(default=False, alias="register")
    """Send REGISTER to the peer (needs ``username`` and ``password``). Written
    ``register`` in the file."""
    register_expires: int = Field(default=3600, ge=1)
    """Lifetime in seconds asked for in outbound REGISTER."""
    srtp: bool = False
    """Offer SRTP (RTP/SAVP with SDES keys, RFC 4568) on calls to this peer."""

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        return validate_host(value)

    @field_validator("password")
    @classmethod
    def _check_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("must not be empty (use null for none)")
        return value

    @model_validator(mode="after")
    def _check_register(self) -> Self:
        if self.register_enabled:
            missing: list[tuple[Loc, str]] = [
                ((key,), "is required when register is true")
                for key in ("username", "password")
                if getattr(self, key) is None
            ]
            if missing:
                raise RuleViolation(missing)
        return self


class RouteConfig(_Model):
    """A dialplan entry, tried after exact extension numbers; the first match wins."""

    pattern: str = Field(min_length=1)
    """Python regular expression searched in the dialled number; anchor it with ``^`` and
    ``$`` to match the whole number."""
    trunk: str
    """Name of the trunk the call goes out through."""
    rewrite: str | None = None
    """Number sent to the trunk, with ``\\1`` / ``\\g<name>`` group references;
    the dialled number unchanged when null."""

    @field_validator("pattern")
    @classmethod
    def _check_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _check_rewrite(self) -> Self:
        if self.rewrite is None:
            return self
        regex = self.regex
        for number, name in _GROUP_REF_RE.findall(self.rewrite):
            ref = number or name
            ok = int(ref) <= regex.groups if ref.isdigit() else ref in regex.groupindex
            if not ok:
                msg = f"refers to group {ref!r}, which the pattern does not define"
                raise RuleViolation([(("rewrite",), msg)])
        return self

    @property
    def regex(self) -> re.Pattern[str]:
        """The compiled ``pattern``."""
        return re.compile(self.pattern)


def _duplicates(values: list[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    found: list[tuple[int, str]] = []
    for index, value in enumerate(values):
        if value in seen:
            found.append((index, value))
        seen.add(value)
    return found


class Config(_Model):
    """The whole switch configuration."""

    sip: SipConfig = Field(default_factory=SipConfig)
    """SIP service."""
    registrar: RegistrarConfig = Field(default_factory=RegistrarConfig)
    """Registrar lifetimes."""
    calls: CallsConfig = Field(default_factory=CallsConfig)
    """Call handling."""
    auth: AuthConfig = Field(default_factory=AuthConfig)
    """Digest authentication."""
    media: MediaConfig = Field(default_factory=MediaConfig)
    """Media plane."""
    web: WebConfig = Field(default_factory=WebConfig)
    """HTTP face."""
    extensions: tuple[ExtensionConfig, ...] = ()
    """Phones that register; numbers are unique."""
    trunks: tuple[TrunkConfig, ...] = ()
    """Static SIP peers; names are unique."""
    routes: tuple[RouteConfig, ...] = ()
    """Dialplan after exact extension numbers; first match wins."""

    _passwords_file: Path | None = PrivateAttr(default=None)

    @field_validator("extensions")
    @classmethod
    def _unique_numbers(cls, value: tuple[ExtensionConfig, ...]) -> tuple[ExtensionConfig, ...]:
        dups = _duplicates([ext.number for ext in value])
        if dups:
            raise RuleViolation([((i, "number"), f"duplicate extension {n!r}") for i, n in dups])
        return value

    @field_validator("trunks")
    @classmethod
    def _unique_names(cls, value: tuple[TrunkConfig, ...]) -> tuple[TrunkConfig, ...]:
        dups = _duplicates([trunk.name for trunk in value])
        if dups:
            raise RuleViolation([((i, "name"), f"duplicate trunk {n!r}") for i, n in dups])
        return value

    @model_validator(mode="after")
    def _check_routes_and_hash(self) -> Self:
        names = [trunk.name for trunk in self.trunks]
        defined = ", ".join(names) or "none"
        problems: list[tuple[Loc, str]] = [
            (("routes", i, "trunk"), f"unknown trunk {route.trunk!r} (defined trunks: {defined})")
            for i, route in enumerate(self.routes)
            if route.trunk not in names
        ]
        if problems:
            raise RuleViolation(problems)
        # Replace plaintext passwords by their digests before anyone sees this object.
        hashed = tuple(
            ext.with_password(self.digest_realm, ext.password.get_secret_value())
            if ext.password is not None
            else ext
            for ext in self.extensions
        )
        object.__setattr__(self, "extensions", hashed)
        return self

    @property
    def digest_realm(self) -> str:
        """The digest realm: ``sip.realm`` or else ``sip.domain``."""
        return self.sip.digest_realm

    @property
    def passwords_file(self) -> Path | None:
        """The generated-passwords file used while loading, if any."""
        return self._passwords_file

    def extension(self, number: str) -> ExtensionConfig | None:
        """The extension with this number, if configured."""
        return next((ext for ext in self.extensions if ext.number == number), None)

    def trunk(self, name: str) -> TrunkConfig | None:
        """The trunk with this name, if configured."""
        return next((trunk for trunk in self.trunks if trunk.name == name), None)

    def with_passwords(self, passwords: Mapping[str, str]) -> Config:
        """A copy where extensions without a credential get one from ``passwords``
        (number -> password). Extensions that already have one keep it."""
        realm = self.digest_realm
        extensions = tuple(
            ext.with_password(realm, passwords[ext.number])
            if ext.credential is None and ext.number in passwords
            else ext
            for ext in self.extensions
        )
        return self.model_copy(update={"extensions": extensions})
