"""Edge certificates: what each edge presents (`certs status`), and the
certificate rotation rollout (`certs rotate`).

The edges and where they serve TLS come from the lab's state for env `lab`
(port 8443, the lab CA) or the env's inventory (host vars `https_port`,
`tls_ca_file`; no CA file: the system trust store). Every handshake
verifies the chain and the address: a certificate that does not verify is
reported as a failure, never read anyway.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fleetctl.core.certs import CertReading
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


def read(t: Target, timeout_s: float = 3.0, now: dt.datetime | None = None) -> CertReading:
    """One host's certificate by a verified TLS handshake."""
    from fleetctl.adapters import tls

    assert t.https_port is not None
    base = {"host": t.name, "region": t.region, "address": t.address, "port": t.https_port}
    try:
        peer = tls.handshake(
            t.name, t.address, t.https_port, ca_file=t.ca_file or None, timeout_s=timeout_s
        )
    except ssl.SSLCertVerificationError as exc:
        return CertReading(**base, error=f"does not verify: {exc.verify_message}")
    except (OSError, ssl.SSLError) as exc:
        return CertReading(**base, error=f"{type(exc).__name__}: {exc}"[:200])
    return CertReading(
        **base,
        subject=peer.subject,
        sha256=peer.sha256,
        not_after=peer.not_after.isoformat(),
        days_left=peer.days_left(now),
        protocol=peer.protocol,
        alpn=peer.alpn,
    )


def read_all(ts: Sequence[Target], timeout_s: float = 3.0) -> list[CertReading]:
    if not ts:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(ts))) as pool:
        return list(pool.map(lambda t: read(t, timeout_s), ts))
