"""Config values, models, credentials, the demo config and command-line overrides."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import pytest
from pydantic import ValidationError

import callcenter.config as config_pkg
from callcenter.config import (
    Config,
    DigestCredential,
    ExtensionConfig,
    HostPort,
    PortRange,
    RunOptions,
    TrunkConfig,
    apply_run_options,
    default_config_path,
    load_config,
    load_config_text,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5060", HostPort("127.0.0.1", 5060)),
        ("[::1]:5061", HostPort("::1", 5061)),
        ("[2001:db8::7]:1", HostPort("2001:db8::7", 1)),
        ("pbx.example.com:65535", HostPort("pbx.example.com", 65535)),
        ("localhost:8080", HostPort("localhost", 8080)),
        (" 0.0.0.0:5060 ", HostPort("0.0.0.0", 5060)),
    ],
)
def test_host_port_parses(text: str, expected: HostPort) -> None:
    assert HostPort.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:50x",
        ":5060",
        "[::1:5060",
        "[127.0.0.1]:5060",
        "[::1]5060",
        "::1:5060",
        "1.2.3:5060",
        "host_name:5060",
        "-bad.example:5060",
        "127.0.0.1:٥٠٦٠",
    ],
)
def test_host_port_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        HostPort.parse(text)


def test_host_port_round_trips_through_str() -> None:
    for text in ("127.0.0.1:5060", "[::1]:5060", "a.example:1"):
        assert str(HostPort.parse(text)) == text


def test_overlap_considers_wildcards() -> None:
    assert HostPort("0.0.0.0", 5060).overlaps(HostPort("127.0.0.1", 5060))
    assert HostPort("::", 5060).overlaps(HostPort("::1", 5060))
    assert not HostPort("127.0.0.1", 5060).overlaps(HostPort("127.0.0.2", 5060))
    assert not HostPort("0.0.0.0", 5060).overlaps(HostPort("0.0.0.0", 5061))


def test_port_range() -> None:
    ports = PortRange.parse("20000-20009")
    assert (ports.low, ports.high, len(ports), str(ports)) == (20000, 20009, 10, "20000-20009")
    assert 20009 in ports and 20010 not in ports and 19999 not in ports
    for bad in ("20001-20009", "20000-20000", "20000-", "0-10", "10-70000", "a-b"):
        with pytest.raises(ValueError):
            PortRange.parse(bad)


def test_ha1_values_match_rfc_7616_definition() -> None:
    credential = DigestCredential.derive("1001", "example.com", "s3cret-pass")
    a1 = b"1001:example.com:s3cret-pass"
    assert credential.ha1_md5 == hashlib.md5(a1).hexdigest()
    assert credential.ha1_sha256 == hashlib.sha256(a1).hexdigest()
    assert credential.ha1("MD5") == credential.ha1("md5-sess") == credential.ha1_md5
    assert credential.ha1("SHA-256") == credential.ha1_sha256
    with pytest.raises(ValueError):
        credential.ha1("SHA-512-256")


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_ha1_gives_the_rfc_7616_example_response(algorithm: str, expected: str) -> None:
    # RFC 7616 section 3.9.1: Mufasa, realm http-auth@example.org, "Circle of Life".
    credential = DigestCredential.derive("Mufasa", "http-auth@example.org", "Circle of Life")
    h = hashlib.md5 if algorithm == "MD5" else hashlib.sha256
    nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    ha2 = h(b"GET:/dir/index.html").hexdigest()
    data = f"{credential.ha1(algorithm)}:{nonce}:00000001:{cnonce}:auth:{ha2}"
    assert h(data.encode()).hexdigest() == expected


def test_config_keeps_no_extension_password() -> None:
    config = load_config_text(
        'sip: {domain: pbx.example.com, realm: "callcenter"}\n'
        'extensions:\n  - {number: "1002", password: "explicit-secret"}\n',
        "c.yaml",
    )
    ext = config.extensions[0]
    assert ext.password is None
    assert ext.credential == DigestCredential.derive("1002", "callcenter", "explicit-secret")
    dumped = repr(config) + str(config) + config.model_dump_json()
    assert "explicit-secret" not in dumped
    assert ext.credential is not None and ext.credential.ha1_md5 not in dumped


def test_directly_built_config_hashes_passwords_too() -> None:
    extension = ExtensionConfig.model_validate({"number": "7", "password": "abcdefgh1"})
    config = Config(extensions=(extension,))
    assert config.extensions[0].password is None
    assert config.extensions[0].credential == DigestCredential.derive("7", "127.0.0.1", "abcdefgh1")


def test_realm_defaults_to_domain() -> None:
    config = load_config_text("sip: {domain: pbx.example.com}\n", "c.yaml")
    assert config.digest_realm == "pbx.example.com"


def test_trunk_password_stays_usable_but_hidden() -> None:
    config = load_config_text(
        "trunks:\n"
        "  - {name: p, host: sip.example.com, username: acme, password: tr-pw-123,"
        " register: true}\n",
        "c.yaml",
    )
    trunk = config.trunk("p")
    assert trunk is not None and trunk.password is not None
    assert trunk.password.get_secret_value() == "tr-pw-123"
    assert trunk.register_enabled is True
    for shown in (repr(config), str(trunk), config.model_dump_json(), repr(trunk.password)):
        assert "tr-pw-123" not in shown


def test_models_are_frozen_and_forbid_extras() -> None:
    config = Config()
    with pytest.raises(ValidationError):
        config.sip.domain = "other"
    with pytest.raises(ValidationError):
        TrunkConfig.model_validate({"name": "x", "host": "h", "colour": "red"})


def test_unquoted_numbers_keep_their_text() -> None:
    config = load_config_text(
        "extensions:\n  - {number: 0123, password: 12345678}\n  - {number: 1001}\n", "c.yaml"
    )
    assert [ext.number for ext in config.extensions] == ["0123", "1001"]
    assert config.extensions[0].credential == DigestCredential.derive(
        "0123", "127.0.0.1", "12345678"
    )


def test_empty_file_gives_defaults() -> None:
    config = load_config_text("", "empty.yaml")
    assert config == Config()
    assert config.sip.listen.udp == HostPort("127.0.0.1", 5060)
    assert config.sip.listen.tls == HostPort("127.0.0.1", 5061)
    assert config.media.rtp_ports == PortRange(20000, 20999)


def test_listen_section_disables_omitted_transports() -> None:
    config = load_config_text('sip:\n  listen:\n    udp: "[::1]:5080"\n', "c.yaml")
    assert config.sip.listen.udp == HostPort("::1", 5080)
    assert config.sip.listen.tcp is None and config.sip.listen.tls is None


def test_every_field_is_documented() -> None:
    models = [getattr(config_pkg, name) for name in config_pkg.__all__]
    for model in models:
        if isinstance(model, type) and hasattr(model, "model_fields"):
            for name, info in model.model_fields.items():
                assert info.description, f"{model.__name__}.{name} has no description"


def test_embedded_demo_config() -> None:
    path = default_config_path()
    assert path == Path(config_pkg.__file__).resolve().parents[2] / "config" / "callcenter.yaml"
    config = load_config(path)
    assert [ext.number for ext in config.extensions] == ["1001", "1002", "1003", "1004", "1005"]
    assert all(ext.credential is None for ext in config.extensions)
    [trunk] = config.trunks
    assert (trunk.name, trunk.host, trunk.port, trunk.register_enabled) == (
        "provider",
        "127.0.0.1",
        5070,
        False,
    )
    [route] = config.routes
    assert route.trunk == "provider"
    match = route.regex.fullmatch("9555123")
    assert match is not None and route.rewrite is not None
    assert match.expand(route.rewrite) == "555123"


def options(**overrides: object) -> RunOptions:
    values: dict[str, object] = {
        "config_path": Path("c.yaml"),
        "data_dir": Path("data"),
        "sip_listen": None,
        "web_listen": None,
        "rtp_ports": None,
        "log_level": "info",
        "log_format": "text",
    }
    values.update(overrides)
    return RunOptions(**values)  # type: ignore[arg-type]


def test_sip_listen_override_moves_tls_only_on_collision() -> None:
    config = Config()
    moved = apply_run_options(config, options(sip_listen=HostPort("0.0.0.0", 5061)))
    listen = moved.sip.listen
    assert listen.udp == listen.tcp == HostPort("0.0.0.0", 5061)
    assert listen.tls == HostPort("0.0.0.0", 5062)
    kept = apply_run_options(config, options(sip_listen=HostPort("127.0.0.1", 5080)))
    assert kept.sip.listen.tls == HostPort("127.0.0.1", 5061)
    assert config.sip.listen.udp == HostPort("127.0.0.1", 5060)  # the original is unchanged


def test_web_and_rtp_overrides() -> None:
    overrides = options(web_listen=HostPort("::1", 9090), rtp_ports=PortRange(30000, 30099))
    config = apply_run_options(Config(), overrides)
    assert config.web.listen == HostPort("::1", 9090)
    assert config.media.rtp_ports == PortRange(30000, 30099)
    assert apply_run_options(Config(), options()) == Config()


@pytest.mark.parametrize(
    "module", ["callcenter.config", "callcenter.store", "callcenter.logs", "callcenter.cli"]
)
def test_public_names_exist(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []
    assert len(set(imported.__all__)) == len(imported.__all__)
