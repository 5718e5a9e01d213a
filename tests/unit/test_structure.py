"""House rules checked by code: pure modules do no I/O, packages export what they say."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Protocol and routing logic: sans-I/O, time comes in as an argument.
PURE_MODULES = [
    "callcenter/sip/grammar.py",
    "callcenter/sip/errors.py",
    "callcenter/sip/uri.py",
    "callcenter/sip/headers.py",
    "callcenter/sip/message.py",
    "callcenter/sip/parser.py",
    "callcenter/sip/status.py",
    "callcenter/sip/timers.py",
    "callcenter/sip/events.py",
    "callcenter/sip/transaction.py",
    "callcenter/sip/transaction_base.py",
    "callcenter/sip/transaction_client.py",
    "callcenter/sip/transaction_server.py",
    "callcenter/sip/dialog.py",
    "callcenter/sip/reliable.py",
    "callcenter/sip/auth.py",
    "callcenter/sip/auth_digest.py",
    "callcenter/sip/auth_params.py",
    "callcenter/sip/auth_server.py",
    "callcenter/sip/auth_lockout.py",
    "callcenter/sip/transport_common.py",
    "callcenter/switch/registrar.py",
    "callcenter/switch/routing.py",
    "callcenter/switch/call.py",
    "callcenter/switch/b2bua.py",
    "callcenter/switch/outbound.py",
    "callcenter/switch/inleg.py",
    "callcenter/switch/authgate.py",
    "callcenter/switch/timers.py",
    "callcenter/switch/trunkreg.py",
    "callcenter/switch/anchor.py",
]
# The media plane and its kernels: all but the asyncio shell, the workers and the start-up warm-up.
MEDIA_SHELLS = {"media/io.py", "media/worker.py", "media/control.py", "dsp/warmup.py"}
PURE_MODULES += sorted(
    str(p.relative_to(ROOT))
    for package in ("media", "dsp")
    for p in (ROOT / package).glob("*.py")
    if str(p.relative_to(ROOT)) not in MEDIA_SHELLS
)
FORBIDDEN = {"asyncio", "socket", "threading", "time", "selectors", "ssl", "subprocess"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_does_no_io(module: str) -> None:
    bad = imported_modules(ROOT / module) & FORBIDDEN
    assert not bad, f"{module} imports {sorted(bad)}: protocol logic must stay sans-I/O"


def test_sip_stack_does_not_import_the_switch_or_media() -> None:
    for path in (ROOT / "callcenter/sip").glob("*.py"):
        text = path.read_text()
        assert "callcenter.switch" not in text, path
        assert "from media" not in text and "import media" not in text, path


def test_dsp_imports_nothing_of_ours_and_media_not_the_switch() -> None:
    for path in (ROOT / "dsp").glob("*.py"):
        assert not imported_modules(path) & {"callcenter", "media"}, path
    for path in (ROOT / "media").glob("*.py"):
        assert "callcenter" not in imported_modules(path), path


def test_importing_the_cli_does_not_load_numba() -> None:
    import subprocess
    import sys

    code = "import sys, callcenter.cli, media, dsp; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("package", ["callcenter", "media", "dsp"])
def test_every_module_declares_all_and_it_resolves(package: str) -> None:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            continue
        for name in exported:
            assert hasattr(module, name), f"{info.name}.__all__ names missing {name}"


def test_sip_package_public_surface() -> None:
    import callcenter.sip as sip

    for name in ("parse_message", "SipParseError", "Request", "Response", "make_response"):
        assert name in sip.__all__
    with pytest.raises(sip.SipParseError) as info:
        sip.parse_message(b"garbage\r\n\r\n")
    assert info.value.status_code == 400
