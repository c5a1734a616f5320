"""TLS: the lab's certificate authority, edge certificates, and what an edge
presents in a TLS handshake.

The CA (`<lab>/tls/ca.pem`, key `ca.key` 0600, never leaves the lab dir)
signs one certificate per edge for its address and name. Clients (probes,
gates, `certs status`) verify the chain against a CA file, or the system
trust store when none is given: never without verification.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
CA_DAYS = 3650
CERT_DAYS = 90


@dataclass(frozen=True)
class PeerCert:
    """The leaf certificate an endpoint presented (its chain verified)."""

    host: str
    address: str
    port: int
    subject: str
    sha256: str  # hex of the DER certificate, lower case, no colons
    not_after: dt.datetime  # UTC
    protocol: str  # TLSv1.3 ...
    alpn: str  # h2 | http/1.1 | ""

    def days_left(self, now: dt.datetime | None = None) -> float:
        now = now or dt.datetime.now(dt.UTC)
        return (self.not_after - now).total_seconds() / 86400


def _write_private(path: Path, data: bytes) -> None:
    """A key file, 0600 from its first byte (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ensure_ca(tls_dir: Path, name: str = "fleetctl lab CA") -> Path:
    """The CA in `tls_dir` (made once; its key 0600). Returns the CA cert path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = tls_dir / CA_CERT, tls_dir / CA_KEY
    if cert_path.exists() and key_path.exists():
        return cert_path
    tls_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(tls_dir, 0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path


def issue(
    tls_dir: Path, common_name: str, *, addresses: list[str], days: float = CERT_DAYS
) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for `common_name` and these IP addresses,
    signed by the CA in `tls_dir`. `days` may be small (an expiring cert)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ensure_ca(tls_dir)
    ca_cert = x509.load_pem_x509_certificate((tls_dir / CA_CERT).read_bytes())
    ca_key = serialization.load_pem_private_key((tls_dir / CA_KEY).read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(common_name)]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def write_pair(cert_path: Path, key_path: Path, cert_pem: bytes, key_pem: bytes) -> None:
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert_pem)
    _write_private(key_path, key_pem)


def fingerprint(cert_pem: bytes | str) -> str:
    """SHA-256 of a PEM certificate's DER bytes (hex, lower case)."""
    text = cert_pem.decode() if isinstance(cert_pem, bytes) else cert_pem
    try:
        der = ssl.PEM_cert_to_DER_cert(text.strip() + "\n")
    except ValueError as exc:
        raise ValueError(f"not a PEM certificate: {exc}") from None
    return hashlib.sha256(der).hexdigest()


def ca_problem(ca_file: str | Path) -> str:
    """Why `ca_file` cannot be what clients verify against ("" when it can)."""
    try:
        ssl.create_default_context(cafile=str(ca_file))
    except FileNotFoundError:
        return "no such file"
    except PermissionError:
        return "cannot read it (permission denied)"
    except IsADirectoryError:
        return "is a directory, not a PEM file"
    except (OSError, ssl.SSLError, ValueError) as exc:
        return f"not a PEM CA certificate ({type(exc).__name__})"
    return ""


def client_context(ca_file: str | Path | None) -> ssl.SSLContext:
    """A verifying client context: chain and host name checked against
    `ca_file` (the system store when None), TLS 1.2 at least."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


def handshake(
    host: str,
    address: str,
    port: int,
    *,
    ca_file: str | Path | None,
    timeout_s: float = 3.0,
) -> PeerCert:
    """Connect, verify the chain and the address, and describe the leaf
    certificate. Raises ssl.SSLError / OSError when that fails."""
    from cryptography import x509

    ctx = client_context(ca_file)
    with (
        socket.create_connection((address, port), timeout=timeout_s) as raw,
        ctx.wrap_socket(raw, server_hostname=address) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        protocol, alpn = tls.version() or "", tls.selected_alpn_protocol() or ""
    if der is None:  # pragma: no cover - a verified handshake always has one
        raise ssl.SSLError("no peer certificate")
    cert = x509.load_der_x509_certificate(der)
    return PeerCert(
        host=host,
        address=address,
        port=port,
        subject=cert.subject.rfc4514_string(),
        sha256=hashlib.sha256(der).hexdigest(),
        not_after=cert.not_valid_after_utc,
        protocol=protocol,
        alpn=alpn,
    )


def provision_edge(tls_dir: Path, name: str, address: str, edge_tls_dir: Path) -> bool:
    """Give one edge a certificate from the CA (`edge.crt`/`edge.key`) and
    point `current.*` (what nginx serves) at it unless a rotation moved it.
    Re-issued when missing or made for another address. True when issued."""
    from cryptography import x509

    cert_path, key_path = edge_tls_dir / "edge.crt", edge_tls_dir / "edge.key"
    fresh = False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        ips = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        fresh = address in {str(ip) for ip in ips.get_values_for_type(x509.IPAddress)}
    except (OSError, ValueError, x509.ExtensionNotFound):
        fresh = False
    if fresh and key_path.exists():
        issued = False
    else:
        write_pair(cert_path, key_path, *issue(tls_dir, name, addresses=[address]))
        issued = True
    for kind in ("crt", "key"):
        link = edge_tls_dir / f"current.{kind}"
        if issued or not link.exists():
            link.unlink(missing_ok=True)
            link.symlink_to(f"edge.{kind}")
    return issued
