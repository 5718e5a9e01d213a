"""Configuration errors name the file, the line and the field exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.config import ConfigError, ConfigIssue, load_config, load_config_text


def issues_of(text: str, filename: str = "bad.yaml") -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, filename)
    assert all(issue.file == filename for issue in caught.value.issues)
    return [(issue.line, issue.field, issue.message) for issue in caught.value.issues]


UNKNOWN_KEY_AND_BAD_PORT = """\
sip:
  domain: "127.0.0.1"
  listen:
    udp: "127.0.0.1:5060"
registrar:
  min_expires: 60
  max_expire: 7200
media:
  rtp_ports: "20000-20999"
web:
  # the port is out of range
  listen: "127.0.0.1:80800"
"""


def test_unknown_key_and_bad_port_are_located() -> None:
    assert issues_of(UNKNOWN_KEY_AND_BAD_PORT) == [
        (7, "registrar.max_expire", "unknown setting; did you mean 'max_expires'?"),
        (12, "web.listen", "port 80800 is out of range 1-65535"),
    ]


def test_error_text_is_one_issue_per_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(UNKNOWN_KEY_AND_BAD_PORT, "conf/bad.yaml")
    assert str(caught.value).splitlines() == [
        "conf/bad.yaml:7: registrar.max_expire: unknown setting; did you mean 'max_expires'?",
        "conf/bad.yaml:12: web.listen: port 80800 is out of range 1-65535",
    ]


def test_route_naming_a_missing_trunk() -> None:
    text = """\
trunks:
  - name: provider
    host: 127.0.0.1
routes:
  - pattern: '^9(\\d+)$'
    trunk: provider
  - pattern: '^0(\\d+)$'
    trunk: carrier
"""
    assert issues_of(text) == [
        (8, "routes[1].trunk", "unknown trunk 'carrier' (defined trunks: provider)"),
    ]


def test_duplicate_extension_points_at_the_second_one() -> None:
    text = """\
extensions:
  - number: "1001"
  - number: "1002"
  - number: "1001"
"""
    assert issues_of(text) == [(4, "extensions[2].number", "duplicate extension '1001'")]


def test_duplicate_trunk_name() -> None:
    text = """\
trunks:
  - {name: a, host: 10.0.0.1}
  - {name: a, host: 10.0.0.2}
"""
    assert issues_of(text) == [(3, "trunks[1].name", "duplicate trunk 'a'")]


def test_yaml_syntax_error_has_the_line() -> None:
    text = """\
sip:
  domain: "127.0.0.1"
extensions: [
  {number: "1001"},
  {number: "1002"}
registrar: {}
"""
    [(line, field, message)] = issues_of(text)
    assert (line, field) == (6, "")
    assert message.startswith("YAML syntax error: ")


def test_yaml_syntax_error_does_not_quote_the_file() -> None:
    text = 'trunks:\n  - name: p\n    password: "hunter2-secret\n'
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "bad.yaml")
    assert "hunter2" not in str(caught.value)
    assert caught.value.issues[0].line is not None


def test_duplicate_yaml_key() -> None:
    text = "calls:\n  max_forwards: 70\n  max_forwards: 20\n"
    assert issues_of(text) == [(3, "calls.max_forwards", "duplicate key")]


def test_missing_field_points_at_its_mapping() -> None:
    text = """\
trunks:
  - name: provider
    port: 5070
"""
    assert issues_of(text) == [(2, "trunks[0].host", "is required")]


def test_register_without_credentials() -> None:
    text = """\
trunks:
  - name: provider
    host: sip.example.com
    username: acme
    register: true
"""
    assert issues_of(text) == [(2, "trunks[0].password", "is required when register is true")]


def test_registrar_order() -> None:
    text = """\
registrar:
  min_expires: 60
  max_expires: 600
  default_expires: 3600
"""
    assert issues_of(text) == [
        (4, "registrar.default_expires", "must be within min_expires..max_expires (60..600)")
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"127.0.0.1"', "expected HOST:PORT, got '127.0.0.1'"),
        ('"::1:5060"', "write IPv6 addresses in brackets, as in [::1]:5060; got '::1:5060'"),
        ('"300.1.1.1:5060"', "invalid IPv4 address '300.1.1.1'"),
        ('"[::1]:0"', "port 0 is out of range 1-65535"),
        ("5060", "expected a HOST:PORT string, as in 127.0.0.1:5060"),
    ],
)
def test_bad_listen_addresses(value: str, message: str) -> None:
    text = f"sip:\n  listen:\n    tcp: {value}\n"
    assert issues_of(text) == [(3, "sip.listen.tcp", message)]


def test_tls_colliding_with_tcp() -> None:
    text = 'sip:\n  listen:\n    tcp: "0.0.0.0:5060"\n    tls: "127.0.0.1:5060"\n'
    assert issues_of(text) == [
        (4, "sip.listen.tls", "127.0.0.1:5060 collides with the tcp listener")
    ]


def test_no_transport_at_all() -> None:
    text = "sip:\n  listen:\n    udp: null\n"
    assert issues_of(text) == [(2, "sip.listen", "enable at least one transport: udp, tcp or tls")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"20001-20999"', "range start 20001 must be even (RTP uses even ports)"),
        ('"20000-10000"', "range start 20000 must be below its end 10000"),
        ('"20000"', "expected LO-HI, got '20000'"),
    ],
)
def test_bad_rtp_ports(value: str, message: str) -> None:
    assert issues_of(f"media:\n  rtp_ports: {value}\n") == [(2, "media.rtp_ports", message)]


def test_bad_route_pattern_and_rewrite() -> None:
    text = """\
trunks: [{name: p, host: 127.0.0.1}]
routes:
  - {pattern: '^9(\\d+', trunk: p}
  - {pattern: '^9(\\d+)$', trunk: p, rewrite: '\\2'}
"""
    [first, second] = issues_of(text)
    assert first[:2] == (3, "routes[0].pattern")
    assert first[2].startswith("invalid regular expression: missing )")
    assert second == (
        4,
        "routes[1].rewrite",
        "refers to group '2', which the pattern does not define",
    )


def test_wrong_type_and_bad_extension_number() -> None:
    text = """\
calls:
  no_answer_timeout: soon
extensions:
  - number: "10 01"
"""
    assert issues_of(text) == [
        (
            2,
            "calls.no_answer_timeout",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        (4, "extensions[0].number", "String should match pattern '^[A-Za-z0-9._-]+$'"),
    ]


def test_credential_cannot_be_written_in_the_file() -> None:
    text = 'extensions:\n  - number: "1001"\n    credential: {ha1_md5: x}\n'
    assert issues_of(text) == [
        (3, "extensions[0].credential", "is derived from the password; do not set it")
    ]


def test_password_values_never_appear_in_errors() -> None:
    text = """\
extensions:
  - {number: "1001", password: "short7!"}
  - {number: "1002", password: [hunter2-secret]}
trunks:
  - {name: p, host: 127.0.0.1, password: {x: hunter3-secret}}
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "bad.yaml")
    rendered = str(caught.value)
    for secret in ("short7!", "hunter2", "hunter3"):
        assert secret not in rendered
    assert [(i.line, i.field) for i in caught.value.issues] == [
        (2, "extensions[0].password"),
        (3, "extensions[1].password"),
        (5, "trunks[0].password"),
    ]
    assert caught.value.issues[0].message == "must be at least 8 characters long"


def test_top_level_must_be_a_mapping() -> None:
    assert issues_of("- a\n- b\n") == [(1, "", "the top level must be a mapping of settings")]


def test_unknown_top_level_key_lists_nothing_close() -> None:
    [(line, field, message)] = issues_of("colour: blue\n")
    assert (line, field) == (1, "colour")
    assert message == (
        "unknown setting; expected one of: sip, registrar, calls, auth, media, web,"
        " extensions, trunks, routes"
    )


def test_issues_are_sorted_by_line() -> None:
    text = """\
web:
  listen: "nowhere"
sip:
  domain: "bad domain"
"""
    assert [line for line, _, _ in issues_of(text)] == [2, 4]


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert caught.value.issues == [
        ConfigIssue(str(missing), None, "", "cannot read: No such file or directory")
    ]
    assert str(caught.value) == f"{missing}: cannot read: No such file or directory"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"sip:\n  user_agent: \xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)


def test_shape_errors_use_yaml_words() -> None:
    text = """\
sip: 5060
extensions:
  number: "1001"
trunks:
  - provider
"""
    assert issues_of(text) == [
        (1, "sip", "should be a mapping of settings"),
        (2, "extensions", "should be a list"),
        (5, "trunks[0]", "should be a mapping of settings"),
    ]


def test_empty_sections_take_defaults() -> None:
    config = load_config_text("sip:\ntrunks:\nroutes:\n", "c.yaml")
    assert config.trunks == () and config.sip.domain == "127.0.0.1"
