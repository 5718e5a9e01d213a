"""First-run extension passwords: generated once, private, reused; explicit ones win."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
import yaml

from callcenter.config import (
    ConfigError,
    DataLayout,
    DigestCredential,
    ensure_extension_passwords,
    load_config,
    load_config_text,
    password_notice,
)

CONFIG = """\
sip: {domain: pbx.example.com}
extensions:
  - {number: "1001"}
  - {number: "1002", password: "explicit-secret"}
  - {number: "1003"}
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stored(data_dir: Path) -> dict[str, str]:
    data = yaml.safe_load(DataLayout(data_dir).extension_passwords.read_text())
    assert isinstance(data, dict)
    return data


def test_generated_passwords_are_private_and_give_credentials(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = load_config_text(CONFIG, "c.yaml", data_dir=data_dir)
    secrets_file = DataLayout(data_dir).extension_passwords
    assert config.passwords_file == secrets_file
    assert mode(secrets_file) == 0o600
    assert mode(secrets_file.parent) == 0o700
    passwords = stored(data_dir)
    assert sorted(passwords) == ["1001", "1003"]  # the explicit one is not copied
    assert all(len(pw) >= 24 for pw in passwords.values())
    assert passwords["1001"] != passwords["1003"]
    by_number = {ext.number: ext.credential for ext in config.extensions}
    assert by_number == {
        "1001": DigestCredential.derive("1001", "pbx.example.com", passwords["1001"]),
        "1002": DigestCredential.derive("1002", "pbx.example.com", "explicit-secret"),
        "1003": DigestCredential.derive("1003", "pbx.example.com", passwords["1003"]),
    }
    assert [p.name for p in secrets_file.parent.iterdir()] == [secrets_file.name]


def test_file_is_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_config_text(CONFIG, "c.yaml", data_dir=tmp_path)
    finally:
        os.umask(old)
    layout = DataLayout(tmp_path)
    assert mode(layout.extension_passwords) == 0o600
    assert mode(layout.secrets_dir) == 0o700


def test_passwords_are_reused_and_new_extensions_added(tmp_path: Path) -> None:
    first = load_config_text(CONFIG, "c.yaml", data_dir=tmp_path)
    before = stored(tmp_path)
    again = load_config_text(CONFIG, "c.yaml", data_dir=tmp_path)
    assert stored(tmp_path) == before
    assert again.extensions == first.extensions
    grown = CONFIG + '  - {number: "1004"}\n'
    load_config_text(grown, "c.yaml", data_dir=tmp_path)
    after = stored(tmp_path)
    assert sorted(after) == ["1001", "1003", "1004"]
    assert {k: after[k] for k in before} == before


def test_explicit_password_wins_over_a_stored_one(tmp_path: Path) -> None:
    load_config_text(CONFIG, "c.yaml", data_dir=tmp_path)
    generated = stored(tmp_path)["1001"]
    explicit = CONFIG.replace('{number: "1001"}', '{number: "1001", password: "chosen-pw-1"}')
    config = load_config_text(explicit, "c.yaml", data_dir=tmp_path)
    ext = config.extension("1001")
    assert ext is not None and ext.credential is not None
    assert ext.credential == DigestCredential.derive("1001", "pbx.example.com", "chosen-pw-1")
    assert ext.credential != DigestCredential.derive("1001", "pbx.example.com", generated)


def test_without_data_dir_there_are_no_side_effects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]
    assert [ext.credential is None for ext in config.extensions] == [True, False, True]
    assert config.passwords_file is None


def test_no_file_when_every_extension_has_a_password(tmp_path: Path) -> None:
    config = load_config_text(
        'extensions: [{number: "1", password: "abcdefgh"}]\n', "c.yaml", data_dir=tmp_path
    )
    assert config.passwords_file is None
    assert not DataLayout(tmp_path).secrets_dir.exists()


def test_loose_file_mode_is_tightened(tmp_path: Path) -> None:
    load_config_text(CONFIG, "c.yaml", data_dir=tmp_path)
    path = DataLayout(tmp_path).extension_passwords
    path.chmod(0o644)
    ensure_extension_passwords(tmp_path, ["1001"])
    assert mode(path) == 0o600


def test_malformed_secrets_file_is_reported_without_content(tmp_path: Path) -> None:
    path = DataLayout(tmp_path).extension_passwords
    path.parent.mkdir(parents=True)
    path.write_text("- leaked-value-1\n- leaked-value-2\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        load_config_text(CONFIG, "c.yaml", data_dir=tmp_path)
    assert str(caught.value) == (
        f"{path}: must map extension numbers (strings) to passwords (strings)"
    )


def test_passwords_are_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = ensure_extension_passwords(tmp_path, ["1001", "1002"])
    assert result.created == ("1001", "1002")
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for password in result.passwords.values():
        assert password not in logged
        assert password not in repr(result)
    assert ensure_extension_passwords(tmp_path, ["1001"]).created == ()


def test_notice_names_the_file_only(tmp_path: Path) -> None:
    result = ensure_extension_passwords(tmp_path, ["1001"])
    notice = password_notice(result.path)
    assert notice == (
        f"passwords for demo extensions are in {result.path} (readable only by you):"
        f" cat {result.path}"
    )
    assert result.passwords["1001"] not in notice
