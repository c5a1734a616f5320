"""`fleetctl status` (and `metrics`) read the edges' certificates: an edge
whose certificate expires within the warning margin, or does not verify, is
a problem of the env's status, not only of `certs status`. Real TLS servers
on 127.0.0.1 with certificates from a real CA (issue 16)."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from fleetctl.adapters import tls
from fleetctl.core.certs import DEFAULT_WARN_DAYS
from fleetctl.services.status import StatusSource, Target
from fleetctl.services.workspace import Workspace
from tests.unit.test_tls import tls_server

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_an_expiring_or_foreign_certificate_is_a_problem_of_the_env(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    ca = str(tls.ensure_ca(ca_dir))
    days = {"edge-a": 90.0, "edge-b": DEFAULT_WARN_DAYS / 2}
    with ExitStack() as stack:
        targets = []
        for name, d in days.items():
            cert, key = tls.issue(ca_dir, f"{name}.lab", addresses=["127.0.0.1"], days=d)
            c, k = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
            tls.write_pair(c, k, cert, key)
            port = stack.enter_context(tls_server(c, k))
            targets.append(Target(name, "r1", "edge", "127.0.0.1", None, 22, 1.0, port, ca))
        cert, key = tls.issue(tmp_path / "other-ca", "edge-c.lab", addresses=["127.0.0.1"])
        tls.write_pair(tmp_path / "c.crt", tmp_path / "c.key", cert, key)
        port = stack.enter_context(tls_server(tmp_path / "c.crt", tmp_path / "c.key"))
        targets.append(Target("edge-c", "r1", "edge", "127.0.0.1", None, 22, 1.0, port, ca))

        source = StatusSource(Workspace(REPO), "lab", state_url=str(tmp_path / "none.db"))
        source._targets, source._targets_at = targets, time.monotonic()  # no inventory here
        st = source.snapshot()

    assert {c.host for c in st.certs} == {"edge-a", "edge-b", "edge-c"}
    # (the hosts' own probes, ssh/http, have nothing listening: other problems)
    problems = {p.message.split()[0]: p for p in st.problems if "certificate" in p.message
                or "TLS" in p.message}  # fmt: skip
    assert set(problems) == {"edge-b", "edge-c"}, st.problems  # edge-a: 90 days, verified
    assert problems["edge-b"].severity == "warning" and "expires in 10" in (
        problems["edge-b"].message
    )
    assert problems["edge-c"].severity == "critical" and "does not verify" in (
        problems["edge-c"].message
    )
    assert not (tmp_path / "none.db").exists()  # status never creates state
