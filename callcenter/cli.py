"""The ``callcenter`` command line.

::

    callcenter run [--config FILE] [--data-dir DIR] [--sip-listen HOST:PORT]
                   [--web-listen HOST:PORT] [--rtp-ports LO-HI]
                   [--log-level LEVEL] [--log-format json|text]
    callcenter config check [FILE]
    callcenter reload [--data-dir DIR]
    callcenter --version

Exit status: 0 success, 1 failure (invalid configuration, no running switch),
2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from callcenter import __version__
from callcenter.config.datadir import DEFAULT_DATA_DIR, DataLayout, read_pid_file
from callcenter.config.errors import ConfigError
from callcenter.config.loader import default_config_path, load_config
from callcenter.config.options import RunOptions
from callcenter.config.values import HostPort, PortRange
from callcenter.logs import LEVELS

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _host_port(text: str) -> HostPort:
    try:
        return HostPort.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port_range(text: str) -> PortRange:
    try:
        return PortRange.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="callcenter", description="A softswitch with a contact center inside it."
    )
    parser.add_argument("--version", action="version", version=f"callcenter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    config = commands.add_parser("config", help="work with configuration files")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help="validate a configuration file")
    check.add_argument("file", nargs="?", type=Path, help="default: the embedded demo config")
    reload = commands.add_parser("reload", help="make the running switch reload its config")
    reload.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, metavar="DIR")
    return parser


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="run the switch")
    run.add_argument("--config", type=Path, metavar="FILE", help="default: the embedded demo")
    run.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, metavar="DIR", help="default: ./data"
    )
    run.add_argument(
        "--sip-listen",
        type=_host_port,
        metavar="HOST:PORT",
        help="SIP udp and tcp address (tls moves to PORT+1 if it would collide)",
    )
    run.add_argument("--web-listen", type=_host_port, metavar="HOST:PORT", help="HTTP address")
    run.add_argument("--rtp-ports", type=_port_range, metavar="LO-HI", help="RTP port range")
    run.add_argument("--log-level", choices=LEVELS, default="info")
    run.add_argument("--log-format", choices=("json", "text"), default="text")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors, --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "run":
        return _run(args)
    if args.command == "config":
        return _config_check(args.file)
    return _reload(args.data_dir)


def _print_issues(error: ConfigError) -> None:
    for issue in error.issues:
        print(issue, file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    try:
        config_path: Path = args.config or default_config_path()
    except ConfigError as exc:
        _print_issues(exc)
        return EXIT_FAILURE
    options = RunOptions(
        config_path=config_path,
        data_dir=args.data_dir,
        sip_listen=args.sip_listen,
        web_listen=args.web_listen,
        rtp_ports=args.rtp_ports,
        log_level=args.log_level,
        log_format=args.log_format,
    )
    app = importlib.import_module("callcenter.app")
    run_switch: Callable[[RunOptions], int] = app.run_switch
    return run_switch(options)


def _config_check(file: Path | None) -> int:
    try:
        path = file if file is not None else default_config_path()
        config = load_config(path)
    except ConfigError as exc:
        _print_issues(exc)
        return EXIT_FAILURE
    counts = (
        f"{len(config.extensions)} extensions, {len(config.trunks)} trunks,"
        f" {len(config.routes)} routes"
    )
    print(f"{path}: OK ({counts})")
    return EXIT_OK


def _reload(data_dir: Path) -> int:
    pid_file = DataLayout(data_dir).pid_file
    pid = read_pid_file(data_dir)
    if pid is None:
        return _fail(f"no running switch: no valid pid file at {pid_file}")
    stale = f"no running switch: pid {pid} from {pid_file} is gone (stale pid file)"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return _fail(stale)
    except PermissionError:
        pass  # it exists; sending SIGHUP will tell whether we may signal it
    if not _runs_callcenter(pid):
        return _fail(f"no running switch: pid {pid} from {pid_file} is another program")
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return _fail(stale)
    except PermissionError:
        return _fail(f"not allowed to signal pid {pid} (from {pid_file})")
    print(f"asked callcenter (pid {pid}) to reload its configuration")
    return EXIT_OK


def _fail(message: str) -> int:
    print(f"callcenter: {message}", file=sys.stderr)
    return EXIT_FAILURE


def _runs_callcenter(pid: int) -> bool:
    """False only when /proc shows ``pid`` running something other than callcenter
    (a pid reused after a crash); True when it cannot tell."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"callcenter" in cmdline
