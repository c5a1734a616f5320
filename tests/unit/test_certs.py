"""When an edge certificate is a problem (core.certs) and how it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.core.certs import CertReading, cert_problems
from fleetctl.core.fleet_status import CRITICAL, WARNING

pytestmark = pytest.mark.unit


def reading(days: float | None, error: str = "") -> CertReading:
    return CertReading("e1", "r1", "127.0.0.1", 8443, days_left=days, error=error)


def test_expiring_within_warn_days_is_a_warning() -> None:
    (p,) = cert_problems([reading(20.5)], warn_days=21)
    assert p.severity == WARNING and "20.5 days" in p.message and p.host == "e1"
    assert cert_problems([reading(21.5)], warn_days=21) == ()


def test_expired_or_unverified_is_critical() -> None:
    assert cert_problems([reading(-1)], 21)[0].severity == CRITICAL
    (p,) = cert_problems([reading(None, "does not verify: self-signed")], 21)
    assert p.severity == CRITICAL and "self-signed" in p.message


def test_rotate_refuses_a_key_that_is_not_the_certificates(tmp_path: Path) -> None:
    from fleetctl.adapters import tls
    from fleetctl.errors import BadInput
    from fleetctl.services.certs import read_pair

    ca = tmp_path / "ca"
    cert, key = tls.issue(ca, "a", addresses=["127.0.0.1"])
    _, other_key = tls.issue(ca, "b", addresses=["127.0.0.1"])
    (tmp_path / "a.crt").write_bytes(cert)
    (tmp_path / "a.key").write_bytes(key)
    (tmp_path / "b.key").write_bytes(other_key)
    got = read_pair(tmp_path / "a.crt", tmp_path / "a.key")
    assert got.sha256 == tls.fingerprint(cert) and got.subject == "CN=a"
    with pytest.raises(BadInput, match="is not the key of --cert") as exc:
        read_pair(tmp_path / "a.crt", tmp_path / "b.key")
    body = other_key.decode().splitlines()[1]
    assert body not in str(exc.value.message) + str(exc.value.hint)
    (tmp_path / "two.crt").write_bytes(cert + cert)
    with pytest.raises(BadInput, match="exactly one PEM certificate"):
        read_pair(tmp_path / "two.crt", tmp_path / "a.key")
    (tmp_path / "junk.key").write_text("-----BEGIN PRIVATE KEY-----\nsecretjunk\n")
    with pytest.raises(BadInput, match="not an unencrypted PEM private key") as exc2:
        read_pair(tmp_path / "a.crt", tmp_path / "junk.key")
    assert "secretjunk" not in exc2.value.message
