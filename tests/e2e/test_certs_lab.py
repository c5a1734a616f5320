"""Certificates end to end on a real lab: edges serve HTTPS from the lab CA,
`certs status` reads them by verified handshake, `certs rotate` rolls a new
one out as a rollout whose `tls_cert` gate checks the fingerprint, and a
certificate from another CA is rolled back to the previous one, proven the
same way. The private keys are in no output, journal, release or log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetctl.adapters import tls
from fleetctl.services import lab as lab_service
from tests.e2e.test_rollout_lab import FAST, LabWS, lab  # noqa: F401 - the module's lab fixture

pytestmark = pytest.mark.e2e


def leaks(needle: str, *roots: Path) -> list[str]:
    found = []
    for root in roots:
        for p in [root] if root.is_file() else root.rglob("*"):
            try:
                if p.is_file() and needle.encode() in p.read_bytes():
                    found.append(str(p))
            except OSError:
                continue
    return found


def new_pair(ws: LabWS, tmp: Path, name: str, ca_dir: Path) -> tuple[Path, Path, str, str]:
    """A certificate for every edge's address from the CA in `ca_dir`."""
    cert, key = tls.issue(ca_dir, f"{name}.lab", addresses=[h.address for h in ws.edges()])
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    tls.write_pair(cert_path, key_path, cert, key)
    key_body = key.decode().splitlines()[1]  # a line of the key's base64: never anywhere
    return cert_path, key_path, tls.fingerprint(cert), key_body


def status(ws: LabWS, *extra: str) -> tuple[int, dict]:
    p = ws.run("certs", "status", "--env", "lab", "--lab-dir", str(ws.lab_dir),
                "--format", "json", *extra)  # fmt: skip
    return p.returncode, json.loads(p.stdout)


def test_edges_serve_https_from_the_lab_ca(lab: LabWS) -> None:  # noqa: F811
    rc, data = status(lab)
    assert rc == 0, data
    assert len(data["certs"]) == len(lab.edges())
    for c in data["certs"]:
        assert c["error"] == "" and c["protocol"] in ("TLSv1.2", "TLSv1.3")
        assert c["alpn"] == "h2"  # HTTP/2 offered beside HTTP/1.1
        assert 89 < c["days_left"] <= 90
    rc, data = status(lab, "--warn-days", "100")  # 90-day certificates expire "soon"
    assert rc == 1 and len(data["problems"]) == len(lab.edges())
    m = lab.run("metrics", "dump", "--env", "lab", "--lab-dir", str(lab.lab_dir))
    assert "fleet_cert_days_left{" in m.stdout and "fleet_cert_verified{" in m.stdout


def test_rotation_completes_and_a_bad_one_rolls_back_proven(
    lab: LabWS,  # noqa: F811
    tmp_path: Path,
) -> None:
    ca = lab.lab_dir / lab_service.TLS_DIR
    cert, key, fp, key_body = new_pair(lab, tmp_path, "good", ca)
    args = ["certs", "rotate", "--env", "lab", "--lab-dir", str(lab.lab_dir),
            "--policy", str(FAST), "--yes", "--format", "json"]  # fmt: skip
    p = lab.run(*args, "--cert", str(cert), "--key", str(key))
    assert p.returncode == 0, p.stderr[-3000:]
    good = json.loads(p.stdout)
    assert good["status"] == "completed" and good["sha256"] == fp
    gates = [e for e in lab.events(good["id"]) if e["type"] == "gate" and e["gate"] == "tls_cert"]
    assert gates and all(g["verdict"] == "pass" for g in gates)
    _, data = status(lab)
    assert {c["sha256"] for c in data["certs"]} == {fp}

    # a certificate the edges' clients do not trust: the canary fails, rolled back
    rogue_ca = tmp_path / "rogue-ca"
    rcert, rkey, rfp, rkey_body = new_pair(lab, tmp_path, "rogue", rogue_ca)
    p2 = lab.run(*args, "--cert", str(rcert), "--key", str(rkey))
    assert p2.returncode == 1, p2.stderr[-3000:]
    bad = json.loads(p2.stdout)
    assert bad["status"] == "rolled_back"
    events = lab.events(bad["id"])
    step = next(e for e in events if e["type"] == "gate" and e["gate"] == "tls_cert")
    assert step["verdict"] == "fail" and "does not verify" in json.dumps(step["numbers"])
    # the probes of the other gates go over verified HTTPS too: the canary's
    # foreign certificate fails them with the verifier's reason, not a traceback
    http = next(e for e in events if e["type"] == "gate" and e["gate"] == "http")
    assert http["verdict"] == "fail" and http["numbers"]["scheme"] == "https"
    assert (
        "TLS certificate does not verify: unable to get local issuer certificate"
        in (http["reason"])
    )
    proof = [e for e in events if e["type"] == "gate" and e["phase"] == "rollback"]
    tls_proof = next(e for e in proof if e["gate"] == "tls_cert")
    assert tls_proof["verdict"] == "pass"
    assert tls_proof["numbers"]["expected_sha256"] == fp
    assert tls_proof["numbers"]["must_not_present"] == rfp
    why = lab.run("rollout", "why", bad["id"])
    assert "tls_cert" in why.stdout and "rollback PROVEN" in why.stdout
    assert "TLS certificate does not verify" in why.stdout and "Traceback" not in p2.stderr
    _, data = status(lab)
    assert {c["sha256"] for c in data["certs"]} == {fp}  # the previous one, on every edge

    # the keys: on the edges (0600), nowhere fleetctl keeps or prints things
    outputs = p.stdout + p.stderr + p2.stdout + p2.stderr + why.stdout
    # the state db (journal), the release store, the workspace, the lab's logs
    # (Ansible, nginx, sshd); the edges' tls/ dirs are where keys belong
    kept = [lab.state, lab.state.parent / "releases", lab.root, lab.lab_dir / "logs"]
    assert all(k.exists() for k in kept)
    for body in (key_body, rkey_body):
        assert body not in outputs
        assert not leaks(body, *kept)
    assert not leaks("BEGIN PRIVATE KEY", *kept)


def test_a_missing_ca_file_is_a_clear_error_before_anything_runs(
    lab: LabWS,  # noqa: F811
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    policy = tmp_path / "policy.yml"
    policy.write_text(
        FAST.read_text().replace("  http:\n", f"  http:\n    ca_file: {missing}\n", 1)
    )
    assert str(missing) in policy.read_text()
    before = set(lab.served().values())
    rc, out, err = lab.start(policy=policy)
    assert rc == 2 and f"gates.http.ca_file {missing}: no such file" in err, err
    assert "Traceback" not in err and not out
    assert set(lab.served().values()) == before
