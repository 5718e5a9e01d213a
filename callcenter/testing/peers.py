"""Test peers: finding the real ones (SIPp, pyVoIP) and small scripted ones of our own.

- :func:`require_peer` returns the path of a peer program or module; when it is missing the
  test is skipped, or failed with install instructions when ``CI=true``.
- :class:`RawSipClient` sends hand-made bytes over UDP or TCP and reads what comes back;
  :func:`build_request`, :func:`parse_response` and :func:`digest_authorization` go with it.
  It is independent of the switch's own SIP code, so tests do not check it against itself.
- :func:`sip_options_ping` is the one-shot ``OPTIONS`` probe used to see a switch is ready.
- :func:`run_pyvoip_call` drives pyVoIP's ``VoIPPhone`` (register, call, hang up) in a child
  process with a hard deadline, since pyVoIP's blocking calls can hang forever.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NoReturn, Self, TypeVar

__all__ = [
    "PEERS",
    "PyVoipCallReport",
    "RawSipClient",
    "SipResponse",
    "build_request",
    "digest_authorization",
    "parse_challenge",
    "parse_response",
    "pyvoip_child_main",
    "require_peer",
    "run_pyvoip_call",
    "sip_options_ping",
]

LOOPBACK = "127.0.0.1"
_T = TypeVar("_T")
Transport = Literal["udp", "tcp"]

# --- finding peers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """A third-party program (``binary``) or Python module (``module``) the tests drive."""

    kind: Literal["binary", "module"]
    target: str
    install: str


PEERS: Mapping[str, Peer] = {
    "sipp": Peer(
        "binary",
        "sipp",
        "install Debian's sip-tester: apt-get install -y --no-install-recommends sip-tester",
    ),
    "baresip": Peer(
        "binary",
        "baresip",
        "install Debian's baresip-core: apt-get install -y --no-install-recommends baresip-core",
    ),
    "espeak-ng": Peer(
        "binary",
        "espeak-ng",
        "install Debian's espeak-ng and sox: apt-get install -y --no-install-recommends"
        " espeak-ng sox",
    ),
    "sox": Peer(
        "binary",
        "sox",
        "install Debian's sox: apt-get install -y --no-install-recommends sox",
    ),
    "pyVoIP": Peer(
        "module",
        "pyVoIP",
        "install the dev extras into the venv: .venv/bin/pip install -e '.[dev]'"
        " (it pins pyVoIP==1.6.8)",
    ),
}


def find_peer(name: str) -> str | None:
    """The path of peer ``name`` (a key of PEERS), or None when it is not installed."""
    peer = PEERS[name]
    if peer.kind == "binary":
        return shutil.which(peer.target)
    spec = importlib.util.find_spec(peer.target)
    return None if spec is None else (spec.origin or peer.target)


def require_peer(name: str) -> str:
    """The path of peer ``name``; otherwise skip the test, or fail it under ``CI=true``."""
    found = find_peer(name)
    if found is not None:
        return found
    message = f"test peer {name!r} is not installed; {PEERS[name].install}"
    _missing(message, in_ci=os.environ.get("CI", "").strip().lower() == "true")


def _missing(message: str, *, in_ci: bool) -> NoReturn:
    import pytest  # only test sessions come here; the rest of the kit works without pytest

    if in_ci:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- raw SIP ---------------------------------------------------------------------------

_COMPACT = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
}


@dataclass(frozen=True)
class SipResponse:
    """A response as seen on the wire: status, headers in order (lower-case names), body."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)
    raw: bytes = field(repr=False)

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive, compact forms understood)."""
        wanted = _COMPACT.get(name.lower(), name.lower())
        return [value for key, value in self.headers if key == wanted]

    def header(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None


def parse_response(data: bytes) -> SipResponse | None:
    """Parse a response; None when ``data`` is not one (a request, or garbage)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or parts[0] != "SIP/2.0" or not (parts[1].isdigit() and len(parts[1]) == 3):
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if colon:
            key = name.strip().lower()
            headers.append((_COMPACT.get(key, key), value.strip()))
    reason = parts[2] if len(parts) > 2 else ""
    return SipResponse(int(parts[1]), reason, tuple(headers), body, data)


def build_request(
    method: str,
    uri: str,
    *,
    local: tuple[str, int],
    transport: Transport = "udp",
    branch: str | None = None,
    call_id: str | None = None,
    cseq: int = 1,
    cseq_method: str | None = None,
    from_uri: str = f"sip:probe@{LOOPBACK}",
    from_tag: str | None = None,
    to_uri: str | None = None,
    to_tag: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    omit: Collection[str] = (),
    body: bytes = b"",
    content_length: str | None = None,
) -> bytes:
    """A request, well-formed unless asked otherwise.

    ``headers`` are appended; ``omit`` drops standard headers by name (e.g. ``"Call-ID"``);
    ``content_length`` replaces the computed count; ``cseq_method`` replaces the method in
    CSeq. Missing branch, tag and Call-ID values are generated.
    """
    to = f"<{to_uri or uri}>" + (f";tag={to_tag}" if to_tag else "")
    standard = [
        ("Via", f"SIP/2.0/{transport.upper()} {local[0]}:{local[1]};branch={branch or _branch()}"),
        ("Max-Forwards", "70"),
        ("From", f"<{from_uri}>;tag={from_tag or _token()[:10]}"),
        ("To", to),
        ("Call-ID", call_id or f"{_token()}@{local[0]}"),
        ("CSeq", f"{cseq} {cseq_method or method}"),
    ]
    dropped = {name.lower() for name in omit}
    lines = [f"{method} {uri} SIP/2.0"]
    lines += [f"{name}: {value}" for name, value in standard if name.lower() not in dropped]
    lines += [f"{name}: {value}" for name, value in headers]
    if "content-length" not in dropped:
        lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _branch() -> str:
    return f"z9hG4bK{_token()}"


def _token() -> str:
    return uuid.uuid4().hex


class RawSipClient:
    """A socket bound to 127.0.0.1 that sends bytes to a SIP server and reads replies.

    Over UDP one ``receive`` is one datagram; over TCP it is one message framed by its
    Content-Length. ``peer_closed`` tells when the server closed the TCP connection.
    """

    def __init__(
        self, server: tuple[str, int], transport: Transport = "udp", *, timeout: float = 2.0
    ) -> None:
        self.server = server
        self.transport: Transport = transport
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(timeout)
        if transport == "tcp":
            self.sock.connect(server)
        self.peer_closed = False
        self._buffer = b""

    @property
    def local(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return (str(host), int(port))

    def send(self, data: bytes) -> None:
        if self.transport == "udp":
            self.sock.sendto(data, self.server)
        else:
            self.sock.sendall(data)

    def receive(self, timeout: float) -> bytes | None:
        """The next datagram or framed TCP message, or None on silence (or a closed stream)."""
        deadline = time.monotonic() + timeout
        if self.transport == "udp":
            return self._receive_datagram(deadline)
        return self._receive_framed(deadline)

    def receive_response(self, timeout: float, *, final: bool = True) -> SipResponse | None:
        """The next response (the next final one when ``final``), or None on silence."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            data = self.receive(left)
            if data is None:
                return None
            response = parse_response(data)
            if response is not None and (response.status >= 200 or not final):
                return response
        return None

    def _receive_datagram(self, deadline: float) -> bytes | None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        self.sock.settimeout(left)
        try:
            return self.sock.recv(65535)
        except (TimeoutError, ConnectionRefusedError):
            return None

    def _receive_framed(self, deadline: float) -> bytes | None:
        while True:
            message = _split_message(self._buffer)
            if message is not None:
                self._buffer = self._buffer[len(message) :]
                return message
            left = deadline - time.monotonic()
            if left <= 0 or self.peer_closed:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.peer_closed = True
                return None
            self._buffer += chunk

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _split_message(buffer: bytes) -> bytes | None:
    """The first complete message of a stream buffer, or None when more bytes are needed."""
    buffer = buffer.lstrip(b"\r\n")
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = 0
    for line in buffer[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            try:
                length = max(0, int(value.strip()))
            except ValueError:
                length = 0
    total = end + 4 + length
    return buffer[:total] if len(buffer) >= total else None


def sip_options_ping(port: int, host: str = LOOPBACK, *, timeout: float = 0.5) -> int | None:
    """Send one ``OPTIONS`` over UDP; the final status that answers it, or None on silence."""
    with RawSipClient((host, port), "udp", timeout=timeout) as client:
        call_id = f"{_token()}@{host}"
        client.send(
            build_request(
                "OPTIONS",
                f"sip:{host}:{port}",
                local=client.local,
                call_id=call_id,
                headers=[("Accept", "application/sdp")],
            )
        )
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            response = client.receive_response(left)
            if response is None:
                return None
            if response.header("call-id") == call_id:
                return response.status
    return None


# --- digest (RFC 7616 / RFC 8760, the client side) --------------------------------------

_HASHES: Mapping[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
}


def parse_challenge(value: str) -> dict[str, str]:
    """The parameters of a ``Digest`` challenge header value (quotes removed, names lower)."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {"scheme": scheme}
    for name, param in _split_params(rest):
        params[name.lower()] = param
    return params


def _split_params(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        eq = text.find("=", i)
        if eq < 0:
            break
        name = text[i:eq].strip(" ,\t")
        j = eq + 1
        if j < len(text) and text[j] == '"':
            end = text.find('"', j + 1)
            end = len(text) if end < 0 else end
            found.append((name, text[j + 1 : end]))
            i = end + 1
        else:
            end = text.find(",", j)
            end = len(text) if end < 0 else end
            found.append((name, text[j:end].strip()))
            i = end
        i += 1 if i < len(text) and text[i] == "," else 0
    return found


def digest_authorization(
    challenge: Mapping[str, str],
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str | None = None,
    nc: int = 1,
) -> str:
    """An ``Authorization`` value answering ``challenge`` (from :func:`parse_challenge`)."""
    algorithm = challenge.get("algorithm", "MD5")
    digest = _HASHES[algorithm.upper()]

    def h(text: str) -> str:
        return str(digest(text.encode()).hexdigest())

    realm, nonce = challenge["realm"], challenge["nonce"]
    ha1 = h(f"{username}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    fields = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce = cnonce or _token()[:16]
        count = f"{nc:08x}"
        response = h(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", f"nc={count}", f'cnonce="{cnonce}"']
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
    fields += [f'response="{response}"', f"algorithm={algorithm}"]
    if "opaque" in challenge:
        fields.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(fields)


# --- pyVoIP ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PyVoipCallReport:
    """What a pyVoIP phone did in :func:`run_pyvoip_call`."""

    exit_code: int
    stage: str
    """The last stage reached: start, registered, calling, answered, hung_up, done."""
    registered: bool
    answered: bool
    hung_up: bool
    states: tuple[str, ...]
    error: str | None
    stderr_tail: str

    def describe(self) -> str:
        return (
            f"pyVoIP: exit {self.exit_code}, stage {self.stage}, registered {self.registered},"
            f" answered {self.answered}, hung up {self.hung_up}, states {list(self.states)},"
            f" error {self.error}\n--- stderr (tail) ---\n{self.stderr_tail}"
        )


def run_pyvoip_call(
    *,
    server: tuple[str, int],
    number: str,
    username: str,
    password: str,
    local_port: int,
    rtp_ports: tuple[int, int],
    register: bool = True,
    hold_s: float = 1.0,
    step_timeout: float = 15.0,
    timeout: float = 90.0,
) -> PyVoipCallReport:
    """Start a pyVoIP phone, (register,) call ``number``, wait for the answer, hang up, stop.

    Runs in a child process killed after ``timeout`` seconds; each blocking pyVoIP step is
    bounded by ``step_timeout``. With ``register=False`` no REGISTER is sent, which lets
    pyVoIP call a plain SIPp directly. The password goes to the child through its stdin.
    """
    args = {
        "server": list(server),
        "number": number,
        "username": username,
        "password": password,
        "local_port": local_port,
        "rtp_ports": list(rtp_ports),
        "register": register,
        "hold_s": hold_s,
        "step_timeout": step_timeout,
    }
    code = "import sys; from callcenter.testing.peers import pyvoip_child_main as m; sys.exit(m())"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(args).encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        exit_code, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        exit_code, stdout, stderr = -9, expired.stdout or b"", expired.stderr or b""
    return _report(exit_code, stdout, stderr)


def _report(exit_code: int, stdout: bytes, stderr: bytes) -> PyVoipCallReport:
    tail = "\n".join(stderr.decode("utf-8", "replace").splitlines()[-30:])
    data: dict[str, Any] = {}
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith("{"):
            data = json.loads(line)
            break
    return PyVoipCallReport(
        exit_code=exit_code,
        stage=str(data.get("stage", "no report")),
        registered=bool(data.get("registered")),
        answered=bool(data.get("answered")),
        hung_up=bool(data.get("hung_up")),
        states=tuple(str(s) for s in data.get("states", ())),
        error=data.get("error") if exit_code != -9 else "killed after the deadline",
        stderr_tail=tail,
    )


def pyvoip_child_main() -> int:
    """Body of the child started by :func:`run_pyvoip_call` (arguments as JSON on stdin)."""
    args = json.loads(sys.stdin.read())
    report: dict[str, Any] = {"stage": "start", "states": []}
    try:
        _drive_pyvoip(args, report)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(report), flush=True)
    sys.stderr.flush()
    # pyVoIP leaves non-daemon timer threads behind; do not wait for them.
    os._exit(0)


def _drive_pyvoip(args: Mapping[str, Any], report: dict[str, Any]) -> None:
    from pyVoIP.VoIP import CallState, PhoneStatus, VoIPPhone

    step = float(args["step_timeout"])
    low, high = args["rtp_ports"]
    phone = VoIPPhone(
        args["server"][0],
        int(args["server"][1]),
        args["username"],
        args["password"],
        myIP=LOOPBACK,
        sipPort=int(args["local_port"]),
        rtpPortLow=int(low),
        rtpPortHigh=int(high),
    )
    if not args["register"]:
        phone.sip.register = lambda: True  # type: ignore[method-assign]
    try:
        _bounded(phone.start, step, "phone.start()")
        if args["register"]:
            _wait_for(lambda: phone.get_status() == PhoneStatus.REGISTERED, step)
            report["registered"] = phone.get_status() == PhoneStatus.REGISTERED
            if not report["registered"]:
                report["error"] = f"not registered: phone status {phone.get_status().name}"
                return
            report["stage"] = "registered"
        # pyVoIP's receive thread starts 1 s after start(); calling earlier duplicates ACKs.
        time.sleep(1.5)
        report["stage"] = "calling"
        call = _bounded(lambda: phone.call(str(args["number"])), step, "phone.call()")

        def state() -> str:  # read afresh each time: pyVoIP's threads change it
            return str(call.state.name)

        _wait_for(lambda: state() in (CallState.ANSWERED.name, CallState.ENDED.name), step)
        report["states"].append(state())
        if state() != CallState.ANSWERED.name:
            report["error"] = f"call not answered: state {state()}"
            return
        report["answered"] = True
        report["stage"] = "answered"
        time.sleep(float(args["hold_s"]))
        _bounded(call.hangup, step, "call.hangup()")
        report["states"].append(state())
        report["hung_up"] = state() == CallState.ENDED.name
        report["stage"] = "hung_up"
    finally:
        _bounded(phone.stop, step, "phone.stop()")
        if report["stage"] == "hung_up":
            report["stage"] = "done"


def _bounded(fn: Callable[[], _T], timeout: float, what: str) -> _T:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=what, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"{what} did not return within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
