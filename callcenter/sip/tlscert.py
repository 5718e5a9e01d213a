"""The development TLS certificate and the TLS contexts of the SIP transports.

:func:`ensure_dev_certificate` makes a self-signed certificate on first run (RSA 2048, which
every SIP phone accepts; 825 days, the longest validity clients accept for a server
certificate) naming the configured hosts plus ``localhost``, 127.0.0.1 and ::1, and reuses it
until it expires or the host list grows. The private key is written with mode 0600 from its
creation: the file is opened with that mode before any byte of the key is written.
:func:`server_context` and :func:`client_context` build TLS 1.2+ contexts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["client_context", "ensure_dev_certificate", "server_context"]

logger = logging.getLogger("callcenter.sip.tlscert")

CERT_FILE = "dev-cert.pem"
KEY_FILE = "dev-key.pem"
VALIDITY = dt.timedelta(days=825)
RENEW_BEFORE = dt.timedelta(days=1)
"""A certificate this close to its end is replaced rather than reused."""
CLOCK_SKEW = dt.timedelta(hours=1)
_ALWAYS = ("localhost", "127.0.0.1", "::1")


def ensure_dev_certificate(
    tls_dir: Path, hostnames: list[str], *, now: dt.datetime | None = None
) -> tuple[Path, Path]:
    """``(certificate, key)`` paths in *tls_dir*, creating or renewing them when needed."""
    now = now or dt.datetime.now(dt.UTC)
    names = _subject_names(hostnames)
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path = tls_dir / CERT_FILE, tls_dir / KEY_FILE
    if _reusable(cert_path, key_path, names, now):
        return cert_path, key_path
    logger.info("creating a self-signed TLS certificate for %s in %s", ", ".join(names), tls_dir)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _self_signed(key, names, now)
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2 minimum, no client certificate requested)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(cert, key)
    return context


def client_context(cafile: Path | None = None) -> ssl.SSLContext:
    """A verifying TLS client context (TLS 1.2 minimum, host names checked).

    With *cafile* only the certificates in that file are trusted (e.g. the development
    certificate); otherwise the system's trusted CAs.
    """
    context = ssl.create_default_context(cafile=str(cafile) if cafile is not None else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# -- certificate ----------------------------------------------------------------------------


def _subject_names(hostnames: list[str]) -> list[str]:
    names: list[str] = []
    for name in [*hostnames, *_ALWAYS]:
        text = _canonical(name)
        if text and text not in names:
            names.append(text)
    return names


def _canonical(name: str) -> str:
    bare = name.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return bare.lower().rstrip(".")


def _general_names(names: list[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def _self_signed(key: rsa.RSAPrivateKey, names: list[str], now: dt.datetime) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "callcenter development"),
        ]
    )
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )


def _reusable(cert_path: Path, key_path: Path, names: list[str], now: dt.datetime) -> bool:
    """True when both files exist, match, are valid now and cover every name."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound):
        return False
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        return False
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc - RENEW_BEFORE:
        return False
    covered = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    covered |= {dns.lower() for dns in san.get_values_for_type(x509.DNSName)}
    return set(names) <= covered


# -- files ----------------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    """Write *path* atomically with mode 0600 from the first byte on."""
    _write_atomic(path, data, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    _write_atomic(path, data, 0o644)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), mode)  # the umask can only have removed bits
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
