"""`event plan` readiness reads the edges' certificates: real TLS servers on
127.0.0.1 presenting certificates from a real CA (one with a short validity, one
from another CA), read by the verified handshake `certs status` uses; edges that
are unreachable, declared only, outside the lab or without an https port are
"unknown" with why, never probed. The numbers are worked out by hand."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetctl.adapters import tls
from fleetctl.services import event as svc
from fleetctl.services.status import Target
from tests.unit.test_tls import tls_server

pytestmark = pytest.mark.integration


def edge(name: str, region: str, address: str = "127.0.0.1", https: int | None = None,
         ca: str = "", role: str = "edge") -> Target:  # fmt: skip
    return Target(name, region, role, address, 80, 22, 0.5, https, ca)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[list[Target], dict[str, datetime]]]:
    ca_dir, other_ca = tmp_path / "ca", tmp_path / "other-ca"
    ca = str(tls.ensure_ca(ca_dir))
    pairs = {
        "edge-eu-1": tls.issue(ca_dir, "edge-eu-1.lab", addresses=["127.0.0.1"], days=90),
        "edge-eu-2": tls.issue(ca_dir, "edge-eu-2.lab", addresses=["127.0.0.1"], days=5),
        "edge-eu-3": tls.issue(other_ca, "edge-eu-3.lab", addresses=["127.0.0.1"], days=90),
    }
    now = datetime.now(UTC)
    with ExitStack() as stack:
        ports = {}
        for name, (cert, key) in pairs.items():
            c, k = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
            tls.write_pair(c, k, cert, key)
            ports[name] = stack.enter_context(tls_server(c, k))
        targets = [
            *(edge(n, "eu-west-1", https=p, ca=ca) for n, p in ports.items()),
            edge("edge-us-1", "us-east-1", https=closed_port(), ca=ca),  # unreachable
            edge("edge-us-2", "us-east-1", address=""),  # declared only
            edge("edge-us-3", "us-east-1", address="10.1.2.3", https=443, ca=ca),  # not the lab
            edge("edge-us-4", "us-east-1"),  # no https_port
            edge("origin-us-1", "us-east-1", https=443, role="origin"),  # not an edge
            edge("edge-ap-1", "ap-northeast-1", address="", https=443),  # not in the event
        ]
        yield targets, {"now": now}


def test_readiness_counts_expiring_invalid_and_unknown_certificates_by_hand(
    fleet: tuple[list[Target], dict[str, datetime]],
) -> None:
    targets, t = fleet
    # The event ends in 3 days; with the 7-day margin a certificate must last 10 days:
    # edge-eu-1 (90 days) is ok, edge-eu-2 (5 days) expires before that,
    # edge-eu-3 (another CA) does not verify; us-east-1's four edges are unknown.
    end = t["now"] + timedelta(days=3)
    deadline = end + timedelta(days=7)
    checks = svc.cert_checks(targets, ["eu-west-1", "us-east-1"], deadline, timeout_s=3.0)
    state = {c.host: c.state for c in checks}
    assert state == {
        "edge-eu-1": "ok",
        "edge-eu-2": "expiring",
        "edge-eu-3": "invalid",
        "edge-us-1": "unknown",
        "edge-us-2": "unknown",
        "edge-us-3": "unknown",
        "edge-us-4": "unknown",
    }
    why = {c.host: c.why for c in checks}
    assert why["edge-us-1"].startswith("unreachable: ConnectionRefusedError")
    assert why["edge-us-2"] == "declared only (no address)"
    assert why["edge-us-3"].startswith("not probed: 10.1.2.3 is not a lab address")
    assert why["edge-us-4"].startswith("no https_port host var")
    assert why["edge-eu-3"].startswith("does not verify")
    not_after = datetime.fromisoformat(next(c for c in checks if c.host == "edge-eu-2").not_after)
    assert abs(not_after - (t["now"] + timedelta(days=5))) < timedelta(minutes=1)

    certs = svc.CertReadiness(deadline, 7.0, checks)
    eu = certs.summary("eu-west-1")
    assert eu.startswith("1 ok, 1 expiring before the end + 7d (edge-eu-2: until ")
    assert eu.endswith(f", 1 not verifying ({why['edge-eu-3']}: edge-eu-3)")
    assert certs.summary("us-east-1").startswith("4 unknown (unreachable: ")
    assert certs.summary("ap-northeast-1") == "no edges"
    ready = svc.readiness(None, None, "prod", [], certs)  # type: ignore[arg-type]
    assert ready.ready is False  # two certificate problems
    assert sum(c.problem for c in ready.certificates.checks) == 2

    # Without the margin, the event ends before the 5-day certificate does: only the
    # one from another CA stands in the way.
    short = svc.cert_checks(targets, ["eu-west-1"], end, timeout_s=3.0)
    assert [c.state for c in short] == ["ok", "ok", "invalid"]
    # unknowns alone do not make it unready: nothing says they are bad
    us_only = svc.CertReadiness(deadline, 7.0, [c for c in checks if c.region == "us-east-1"])
    assert svc.readiness(None, None, "prod", [], us_only).ready is True  # type: ignore[arg-type]
