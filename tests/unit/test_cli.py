"""The command line: exit codes and messages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest

import callcenter
from callcenter import cli
from callcenter.config import (
    DataLayout,
    HostPort,
    PortRange,
    RunOptions,
    default_config_path,
    write_pid_file,
)

GOOD = """\
extensions: [{number: "1001"}, {number: "1002"}]
trunks: [{name: p, host: 127.0.0.1}]
routes: [{pattern: '^9', trunk: p}]
"""
BAD = """\
sip:
  listen:
    udp: "127.0.0.1:5060"
    tcp: "localhost:x"
registrar:
  colour: 1
"""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"callcenter {callcenter.__version__}\n"


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: callcenter" in capsys.readouterr().err


def test_config_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    assert cli.main(["config", "check", str(path)]) == 0
    out = capsys.readouterr()
    assert out.out == f"{path}: OK (2 extensions, 1 trunks, 1 routes)\n"
    assert out.err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.yaml"]  # no side effects


def test_config_check_embedded_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "check"]) == 0
    path = default_config_path()
    assert capsys.readouterr().out == f"{path}: OK (5 extensions, 1 trunks, 1 routes)\n"


def test_config_check_lists_every_issue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    assert cli.main(["config", "check", str(path)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.splitlines() == [
        f"{path}:4: sip.listen.tcp: port 'x' is not a number",
        f"{path}:6: registrar.colour: unknown setting; expected one of:"
        " min_expires, max_expires, default_expires",
    ]


def test_config_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "missing.yaml"
    assert cli.main(["config", "check", str(path)]) == 1
    assert capsys.readouterr().err == f"{path}: cannot read: No such file or directory\n"


@pytest.fixture
def fake_app(monkeypatch: pytest.MonkeyPatch) -> list[RunOptions]:
    calls: list[RunOptions] = []

    def run_switch(options: RunOptions) -> int:
        calls.append(options)
        return 7

    module = types.ModuleType("callcenter.app")
    module.run_switch = run_switch  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "callcenter.app", module)
    return calls


def test_run_passes_parsed_options(fake_app: list[RunOptions], tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    argv = [
        "run",
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "d"),
        "--sip-listen",
        "[::1]:5080",
        "--web-listen",
        "0.0.0.0:8443",
        "--rtp-ports",
        "30000-30999",
        "--log-level",
        "debug",
        "--log-format",
        "json",
    ]
    assert cli.main(argv) == 7
    assert fake_app == [
        RunOptions(
            config_path=config,
            data_dir=tmp_path / "d",
            sip_listen=HostPort("::1", 5080),
            web_listen=HostPort("0.0.0.0", 8443),
            rtp_ports=PortRange(30000, 30999),
            log_level="debug",
            log_format="json",
        )
    ]


def test_run_defaults(fake_app: list[RunOptions]) -> None:
    assert cli.main(["run"]) == 7
    assert fake_app == [
        RunOptions(
            config_path=default_config_path(),
            data_dir=Path("data"),
            sip_listen=None,
            web_listen=None,
            rtp_ports=None,
            log_level="info",
            log_format="text",
        )
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sip-listen", "5060"], "argument --sip-listen: expected HOST:PORT, got '5060'"),
        (["--web-listen", "h:70000"], "argument --web-listen: port 70000 is out of range 1-65535"),
        (["--rtp-ports", "3-2"], "argument --rtp-ports: range start 3 must be below its end 2"),
        (["--log-level", "loud"], "argument --log-level: invalid choice: 'loud'"),
        (["--log-format", "xml"], "argument --log-format: invalid choice: 'xml'"),
    ],
)
def test_run_usage_errors(
    args: list[str],
    message: str,
    fake_app: list[RunOptions],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert "usage: callcenter run" in err
    assert message in err
    assert fake_app == []


def test_reload_without_pid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reload", "--data-dir", str(tmp_path)]) == 1
    pid_file = DataLayout(tmp_path).pid_file
    assert capsys.readouterr().err == (
        f"callcenter: no running switch: no valid pid file at {pid_file}\n"
    )


def test_reload_sends_sighup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    monkeypatch.setattr(cli, "_runs_callcenter", lambda pid: True)
    write_pid_file(tmp_path, 4242)
    assert cli.main(["reload", "--data-dir", str(tmp_path)]) == 0
    assert sent == [(4242, 0), (4242, signal.SIGHUP)]
    assert capsys.readouterr().out == "asked callcenter (pid 4242) to reload its configuration\n"


def test_reload_with_stale_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def gone(pid: int, sig: int) -> None:
        raise ProcessLookupError(pid)

    monkeypatch.setattr(os, "kill", gone)
    write_pid_file(tmp_path, 4242)
    assert cli.main(["reload", "--data-dir", str(tmp_path)]) == 1
    assert "pid 4242" in capsys.readouterr().err


def test_reload_with_garbage_pid_file(tmp_path: Path) -> None:
    DataLayout(tmp_path).pid_file.write_text("not a pid\n")
    assert cli.main(["reload", "--data-dir", str(tmp_path)]) == 1


@pytest.mark.integration
def test_reload_signals_a_real_process(tmp_path: Path) -> None:
    script = (
        "import signal, sys\n"
        "signal.signal(signal.SIGHUP, lambda *_: (print('reloaded', flush=True), sys.exit(0)))\n"
        "print('ready', flush=True)\n"
        "signal.pause()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, "callcenter-run"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        write_pid_file(tmp_path, child.pid)
        assert cli.main(["reload", "--data-dir", str(tmp_path)]) == 0
        assert child.stdout.readline() == "reloaded\n"
        assert child.wait(timeout=10) == 0
    finally:
        child.kill()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


@pytest.mark.integration
def test_reload_refuses_a_reused_pid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        write_pid_file(tmp_path, child.pid)
        assert cli.main(["reload", "--data-dir", str(tmp_path)]) == 1
        assert "is another program" in capsys.readouterr().err
        assert child.poll() is None  # not signalled
    finally:
        child.kill()
        child.wait(timeout=10)


def test_pid_file_helpers(tmp_path: Path) -> None:
    from callcenter.config import read_pid_file, remove_pid_file

    assert read_pid_file(tmp_path) is None
    path = write_pid_file(tmp_path)
    assert path.read_text() == f"{os.getpid()}\n"
    assert read_pid_file(tmp_path) == os.getpid()
    remove_pid_file(tmp_path, pid=os.getpid() + 1)  # someone else's: kept
    assert path.exists()
    remove_pid_file(tmp_path)
    assert not path.exists()
