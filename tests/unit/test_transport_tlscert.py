"""The development TLS certificate and the TLS contexts (files only; handshakes in memory)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from callcenter.sip import tlscert
from callcenter.sip.tlscert import client_context, ensure_dev_certificate, server_context

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def load(cert_path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert_path.read_bytes())


def san(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        set(names.get_values_for_type(x509.DNSName)),
        {str(ip) for ip in names.get_values_for_type(x509.IPAddress)},
    )


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, server_hostname: str) -> str:
    """A TLS handshake through memory BIOs; the negotiated version."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, conn in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    conn.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            version = c.version()
            assert version is not None
            return version
    raise AssertionError("handshake did not finish")


def test_first_run_creates_a_certificate_for_the_hosts(
    tmp_path: Path, permissive_umask: None
) -> None:
    tls_dir = tmp_path / "data" / "tls"
    cert_path, key_path = ensure_dev_certificate(tls_dir, ["pbx.example.com", "192.0.2.7"], now=NOW)
    cert = load(cert_path)
    dns, ips = san(cert)
    assert dns == {"pbx.example.com", "localhost"}
    assert ips == {"192.0.2.7", "127.0.0.1", "::1"}
    assert cert.not_valid_after_utc - cert.not_valid_before_utc >= dt.timedelta(days=825)
    assert cert.not_valid_before_utc <= NOW < cert.not_valid_after_utc
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(tls_dir.stat().st_mode) == 0o700
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, spki) == (
        cert.public_key().public_bytes(serialization.Encoding.DER, spki)
    )
    assert [p.name for p in tls_dir.iterdir() if p.name.startswith(".")] == []


def test_later_runs_reuse_the_certificate(tmp_path: Path) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path, ["127.0.0.1"], now=NOW)
    before = cert_path.read_bytes(), key_path.read_bytes()
    later = NOW + dt.timedelta(days=400)
    assert ensure_dev_certificate(tmp_path, ["127.0.0.1"], now=later) == (cert_path, key_path)
    assert (cert_path.read_bytes(), key_path.read_bytes()) == before


@pytest.mark.parametrize(
    ("hosts", "when"),
    [
        (["127.0.0.1"], NOW + dt.timedelta(days=826)),  # expired
        (["127.0.0.1", "sip.example.net"], NOW),  # a new host name
    ],
)
def test_expired_or_incomplete_certificate_is_replaced(
    tmp_path: Path, hosts: list[str], when: dt.datetime
) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path, ["127.0.0.1"], now=NOW)
    old_cert, old_key = cert_path.read_bytes(), key_path.read_bytes()
    ensure_dev_certificate(tmp_path, hosts, now=when)
    assert cert_path.read_bytes() != old_cert
    assert key_path.read_bytes() != old_key
    assert load(cert_path).not_valid_before_utc <= when < load(cert_path).not_valid_after_utc


def test_corrupt_files_are_replaced(tmp_path: Path) -> None:
    _, key_path = ensure_dev_certificate(tmp_path, ["127.0.0.1"], now=NOW)
    key_path.write_bytes(b"not a key")
    ensure_dev_certificate(tmp_path, ["127.0.0.1"], now=NOW)
    serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_key_is_opened_with_mode_0600_before_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permissive_umask: None
) -> None:
    modes: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        modes.append((os.fspath(path), mode))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", spy)
    ensure_dev_certificate(tmp_path, ["127.0.0.1"], now=NOW)
    key_opens = [mode for path, mode in modes if tlscert.KEY_FILE in path]
    assert key_opens == [0o600]


def test_contexts_handshake_with_strict_verification(tmp_path: Path) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path, ["127.0.0.1"])
    server = server_context(cert_path, key_path)
    client = client_context(cert_path)
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    assert server.minimum_version == ssl.TLSVersion.TLSv1_2
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
    assert handshake(server, client, "127.0.0.1") in {"TLSv1.2", "TLSv1.3"}
    assert handshake(server, client, "localhost") in {"TLSv1.2", "TLSv1.3"}
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server, client, "other.example.com")


def test_a_client_without_the_certificate_rejects_it(tmp_path: Path) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path, ["127.0.0.1"])
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server_context(cert_path, key_path), client_context(), "127.0.0.1")


def test_ipv6_hosts_are_written_as_ip_addresses(tmp_path: Path) -> None:
    cert_path, _ = ensure_dev_certificate(tmp_path, ["[2001:db8::1]"], now=NOW)
    _, ips = san(load(cert_path))
    assert str(ipaddress.ip_address("2001:db8::1")) in ips
