"""The `tls_cert` gate of a certificate rollout: does each changed edge
present the certificate the release says, in a verified TLS handshake?

The expected certificate is the release's extra var `cert_var` (public; the
key is a secret var and never seen here). In the rollback proof it is the
restored release's; when that is the bootstrap one (no certificate in the
release) the proof is: the chain verifies and the rolled-back certificate is
no longer presented. `activities.run_step_gates` calls `run` after the other
gates (it needs the state store to read the releases).
"""

from __future__ import annotations

import ssl
from collections.abc import Collection, Sequence
from typing import Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.core.gates import GateResult, Verdict
from fleetctl.core.planner import Host
from fleetctl.core.policy import Policy
from fleetctl.services.rollout import video_gates

NAME = "tls_cert"


def _cert_of(store: StateStore, release: str | None, var: str) -> str:
    from fleetctl.services import release as release_service

    if not release:
        return ""
    return str(release_service.get(store, release).extravars.get(var) or "")


def run(
    store: StateStore,
    gates: Collection[str],
    policy: Policy,
    changed: Sequence[Host],
    *,
    release: str,
    avoid_release: str = "",
) -> list[GateResult]:
    """Changed hosts must present `release`'s certificate; in a rollback proof
    (`avoid_release`: the rolled-back release) the gate runs even when the
    proof's gate list does not name it, and the avoided certificate must be gone."""
    cfg = policy.gates.tls_cert
    if not cfg.enabled or not release or (NAME not in gates and not avoid_release):
        return []
    try:
        want_pem = _cert_of(store, release, cfg.cert_var)
        avoid_pem = _cert_of(store, avoid_release, cfg.cert_var)
    except Exception as exc:
        return [GateResult(NAME, Verdict.INCONCLUSIVE, f"cannot read the release: {exc}")]
    return [check(changed, policy, want_pem, avoid_pem=avoid_pem)]


def check(
    changed: Sequence[Host], policy: Policy, want_pem: str, *, avoid_pem: str = ""
) -> GateResult:
    """Handshake with every changed edge of a probed role and compare."""
    from fleetctl.adapters import tls

    http = policy.gates.http
    hosts = [h for h in changed if h.role in set(http.roles)]
    if not hosts:
        return GateResult(NAME, Verdict.SKIPPED, "no changed host of a probed role")
    want = tls.fingerprint(want_pem) if want_pem else ""
    avoid = tls.fingerprint(avoid_pem) if avoid_pem else ""
    seen: dict[str, str] = {}
    bad: list[str] = []
    for h in hosts:
        port = h.port or http.port
        try:
            peer = tls.handshake(
                h.name,
                h.address or h.name,
                port,
                ca_file=video_gates.ca_of(h, http),
                timeout_s=policy.gates.tls_cert.timeout_s,
            )
        except ssl.SSLCertVerificationError as exc:
            seen[h.name] = f"does not verify: {exc.verify_message}"
            bad.append(h.name)
            continue
        except (OSError, ssl.SSLError) as exc:
            seen[h.name] = f"no TLS on :{port}: {type(exc).__name__}"
            bad.append(h.name)
            continue
        seen[h.name] = peer.sha256
        if (want and peer.sha256 != want) or (avoid and peer.sha256 == avoid):
            bad.append(h.name)
    numbers: dict[str, Any] = {"expected_sha256": want or None, "presented": seen}
    if avoid:
        numbers["must_not_present"] = avoid
    what = f"certificate {want[:16]}" if want else "a verified certificate"
    if bad:
        return GateResult(
            NAME,
            Verdict.FAIL,
            f"{len(bad)}/{len(hosts)} changed edges do not present {what}: {', '.join(bad)}",
            numbers,
        )
    edges = "1 edge presents" if len(hosts) == 1 else f"{len(hosts)} edges present"
    return GateResult(NAME, Verdict.PASS, f"{edges} {what}", numbers)
