"""Structured logging: formats, and secrets that never reach the output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from callcenter.logs import mask_text, mask_value, setup_logging

PASSWORD = "Tr0ub4dor&3-horse"
PAN = "4111111111111111"  # Luhn-valid test card number
PAN_SPACED = "5500 0000 0000 0004"  # Luhn-valid, with separators
HA1 = "939e7578ed9e3c518a452acee763bce9"
AUTH_HEADER = (
    'Authorization: Digest username="1001", realm="pbx", nonce="abc", uri="sip:pbx",'
    f' response="{HA1}", algorithm=MD5'
)


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def emit_everything(log: logging.Logger) -> None:
    log.info("trunk login with password=%s", PASSWORD)
    log.info("caller typed %s for payment", PAN)
    log.info("card %s on file", PAN_SPACED)
    log.info("REGISTER sip:pbx SIP/2.0\r\n%s\r\nVia: SIP/2.0/UDP 10.0.0.5", AUTH_HEADER)
    log.info("raw params %s", {"password": PASSWORD, "ha1": HA1})
    log.info(
        "extra fields",
        extra={
            "password": PASSWORD,
            "trunk_password": PASSWORD,
            "digits": PAN,
            "card": int(PAN),
            "headers": {"Proxy-Authorization": AUTH_HEADER, "To": "<sip:1002@pbx>"},
            "history": [f"pan {PAN}", "ok"],
        },
    )
    try:
        raise RuntimeError(f"provider refused password={PASSWORD} card {PAN}")
    except RuntimeError:
        log.exception("failure")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_never_reach_the_output(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", fmt)  # type: ignore[arg-type]
    emit_everything(logging.getLogger("callcenter.test"))
    err = capsys.readouterr().err
    assert err.count("\n") >= 7
    digits_only = "".join(ch for ch in err if ch.isdigit() or ch == "\n")
    for secret in (PASSWORD, PAN, PAN_SPACED, HA1):
        assert secret not in err
    for card in (PAN, PAN_SPACED.replace(" ", "")):
        assert card not in digits_only
    assert "****1111" in err and "****0004" in err  # the last four remain for support


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "json")
    log = logging.getLogger("callcenter.sip")
    log.info("sent %d bytes", 512, extra={"call_id": "abc@host", "peer": "udp:10.0.0.5:5062"})
    log.debug("not shown")
    [line] = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry.pop("ts").endswith("Z")
    assert entry == {
        "level": "info",
        "logger": "callcenter.sip",
        "msg": "sent 512 bytes",
        "call_id": "abc@host",
        "peer": "udp:10.0.0.5:5062",
    }


def test_text_lines(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("warning", "text")
    log = logging.getLogger("callcenter.store")
    log.info("hidden")
    log.warning("slow commit", extra={"ms": 250, "file": "data/x y.db"})
    [line] = capsys.readouterr().err.splitlines()
    ts, level, name, rest = line.split(None, 3)
    assert ts.endswith("Z")
    assert (level, name) == ("WARNING", "callcenter.store")
    assert rest == 'slow commit ms=250 file="data/x y.db"'


def test_setup_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "text")
    setup_logging("info", "json")
    logging.getLogger("x").info("once")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["msg"] == "once"


def test_bad_level_or_format() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        setup_logging("verbose")
    with pytest.raises(ValueError, match="unknown log format"):
        setup_logging("info", "xml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter22 next", "password=*** next"),
        ("{'secret': 'abc', 'n': 1}", "{'secret': ***, 'n': 1}"),
        ('"api_key": "k-123"', '"api_key": ***'),
        ("Proxy-Authorization: Digest a=b\r\nVia: x", "Proxy-Authorization: Digest ***\r\nVia: x"),
        ("authorization: Bearer abc.def", "authorization: Bearer ***"),
        (f"response={HA1}", "response=***"),
        ("card 4111-1111-1111-1111.", "card [card ****1111]."),
        ("4012888888881881", "[card ****1881]"),
        # Not card numbers: Luhn fails, too short, too long, or a longer run.
        ("4111111111111112", "4111111111111112"),
        ("call 123456789012", "call 123456789012"),
        ("id 41111111111111110000", "id 41111111111111110000"),
        ("response: 180 Ringing", "response: 180 Ringing"),
        ("WWW-Authenticate: Digest nonce=abc", "WWW-Authenticate: Digest nonce=abc"),
    ],
)
def test_mask_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_mask_value_recurses_into_structures() -> None:
    assert mask_value({"user": "1001", "Password": "x", "nested": [PAN, {"token": 1}]}) == {
        "user": "1001",
        "Password": "***",
        "nested": ["[card ****1111]", {"token": "***"}],
    }
    assert mask_value(int(PAN)) == "[card ****1111]"
    assert mask_value(1700000000000) == 1700000000000  # not Luhn-valid: left alone
