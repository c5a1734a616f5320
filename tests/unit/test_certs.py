"""When an edge certificate is a problem (core.certs) and how it shows."""

from __future__ import annotations

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
