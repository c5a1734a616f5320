"""Edge certificates: which hosts serve TLS (`certs status` reads each with
services.status.read_certs, as `status` does), and the certificate rotation
rollout (`certs rotate`).

The edges and where they serve TLS come from the lab's state for env `lab`
(port 8443, the lab CA) or the env's inventory (host vars `https_port`,
`tls_ca_file`; no CA file: the system trust store). Every handshake
verifies the chain and the address: a certificate that does not verify is
reported as a failure, never read anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetctl.core.policy import Policy
from fleetctl.errors import BadInput
from fleetctl.services import status as status_service
from fleetctl.services.status import Target
from fleetctl.services.workspace import Workspace


def tls_targets(ws: Workspace, env: str, lab_dir: Path | None = None) -> list[Target]:
    """The env's hosts that serve TLS (an https port and an address)."""
    ts = [t for t in status_service.targets(ws, env, lab_dir) if t.https_port and t.address]
    if not ts:
        raise BadInput(
            f"no host of env {env!r} serves TLS",
            hint="hosts need an address (ansible_host) and the host var https_port",
        )
    return ts


# -- rotation ---------------------------------------------------------------------------

PLAYBOOK = "certs.yml"
CERT_VAR = "edge_tls_cert_pem"  # plain: a certificate is public, and part of the release
KEY_VAR = "edge_tls_key"  # secret: a secret var, never in a release, journal or output


@dataclass(frozen=True)
class NewCert:
    pem: str
    sha256: str
    subject: str
    not_after: str


def read_pair(cert_file: Path, key_file: Path) -> NewCert:
    """The new certificate, checked against its key before anything starts.
    Errors name the file and never print the key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from fleetctl.adapters import tls

    try:
        pem = cert_file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--cert {cert_file}: cannot read it ({type(exc).__name__})") from None
    if pem.count("BEGIN CERTIFICATE") != 1:
        raise BadInput(
            f"--cert {cert_file}: expected exactly one PEM certificate",
            hint="the edge's certificate alone (-----BEGIN CERTIFICATE-----)",
        )
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
        sha = tls.fingerprint(pem)
    except ValueError:
        raise BadInput(f"--cert {cert_file}: not a valid PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        # the parser's message could quote the file: name only the kind of error
        raise BadInput(
            f"--key {key_file}: not an unencrypted PEM private key ({type(exc).__name__})"
        ) from None
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
        raise BadInput(
            f"--key {key_file} is not the key of --cert {cert_file}",
            hint="give the private key the certificate was issued for",
        )
    return NewCert(
        pem.strip() + "\n",
        sha,
        cert.subject.rfc4514_string(),
        cert.not_valid_after_utc.isoformat(),
    )


def rotate_policy(policy: Policy, ca_file: str | None) -> Policy:
    """The policy of a rotation: probes go over https (verified against the
    CA) and the `tls_cert` gate is on."""
    gates = policy.gates
    http = gates.http.model_copy(
        update={
            "scheme": "https",
            "port_var": "https_port",
            "ca_file": gates.http.ca_file or ca_file,
        }
    )
    tls_cert = gates.tls_cert.model_copy(update={"enabled": True})
    return policy.model_copy(
        update={"gates": gates.model_copy(update={"http": http, "tls_cert": tls_cert})}
    )


def ca_of(ws: Workspace, env: str, lab_dir: Path | None) -> str | None:
    """The CA the env's edges verify against (the lab's; the inventory's
    `tls_ca_file`), None for the system trust store."""
    cas = {t.ca_file for t in tls_targets(ws, env, lab_dir)}
    return next(iter(cas)) if len(cas) == 1 and "" not in cas else None
