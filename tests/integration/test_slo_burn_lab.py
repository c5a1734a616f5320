"""`slo_burn` against a real Prometheus scraping real mtail exporters on the
lab edges' nginx access logs (`lab up --prometheus`). Every number the gate
judges comes from requests the test really sent to nginx: no metric is made
up here."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

from fleetctl.adapters import http_probe
from fleetctl.adapters.prometheus import read_burn
from fleetctl.core.gates import Verdict
from fleetctl.core.planner import Host
from fleetctl.core.policy import Gates, Policy, SloBurnGate
from fleetctl.core.slo_burn import slo_burn_gate
from fleetctl.services import lab as lab_service
from fleetctl.services import lab_monitoring
from fleetctl.services.rollout import video_gates
from tests.lab_fixture import PLAYBOOKS, LabHandle

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prom(lab: LabHandle) -> str:
    """The lab, re-upped with monitoring; returns Prometheus's URL once it
    scrapes every edge's exporter."""
    n = int(os.environ.get("FLEETCTL_TEST_LAB_HOSTS", "5"))
    handle = lab_service.lab_up(
        n,
        lab_dir=lab.dir,
        playbooks_dir=PLAYBOOKS,
        subnet=lab.lab.subnet,
        apply=False,
        prometheus=True,
    )
    url = lab_monitoring.url(handle)
    deadline = time.monotonic() + 90  # bounded; a loaded machine starts it slowly
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/api/v1/targets", timeout=2) as resp:
                targets = json.loads(resp.read())["data"]["activeTargets"]
            if len(targets) == len(lab.edges()) and all(t["health"] == "up" for t in targets):
                return url
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail("Prometheus did not scrape every edge's mtail within 90 s")


def cfg(url: str) -> SloBurnGate:
    # windows scaled 1/60: fast 60 s / 5 s, slow 360 s / 30 s
    return SloBurnGate(enabled=True, url=url, window_scale=1 / 60, min_requests=50)


def send(url: str, n: int) -> None:
    for _ in range(n):
        http_probe.get(url, 2.0)


def test_burn_rates_from_real_prometheus(prom: str, lab: LabHandle) -> None:
    calm, burning, quiet = lab.edges()[:3]
    send(calm.url("/healthz"), 120)
    flag = Path(burning.lab_root) / "drain"  # a drained edge answers /healthz with 503
    flag.touch()
    try:
        for _ in range(60):
            send(burning.url("/healthz"), 1)
            send(burning.url("/vod/sample/master.m3u8"), 1)
    finally:
        flag.unlink()
    time.sleep(3)  # > 2 scrape intervals: the last requests are in Prometheus
    c = cfg(prom)

    r = slo_burn_gate(read_burn(prom, c, [calm.name], attempts=2), c)
    assert r.verdict is Verdict.PASS, r.reason
    assert r.numbers["fast"]["long"]["requests"] >= 100  # type: ignore[index]

    r = slo_burn_gate(read_burn(prom, c, [burning.name], attempts=2), c)
    assert r.verdict is Verdict.FAIL, r.reason
    fast = r.numbers["fast"]  # type: ignore[index]
    # half the requests failed: 50 % / 0.1 % budget = 500x (Prometheus's
    # increase() extrapolates at the edges of a young series, so not exactly)
    assert fast["long"]["burn_rate"] > 100 and fast["short"]["burn_rate"] > 100
    assert fast["short"]["errors"] > 0

    # an edge nobody watched in these windows: Inconclusive, never Pass
    r = slo_burn_gate(read_burn(prom, c, [quiet.name], attempts=2), c)
    assert r.verdict is Verdict.INCONCLUSIVE and "requests < 50" in r.reason


def test_unreachable_prometheus_is_inconclusive_through_the_gate_runner(lab: LabHandle) -> None:
    edge = lab.edges()[0]
    dead = f"http://{lab.lab.subnet}.1:9"  # nothing listens there
    policy = Policy(gates=Gates(slo_burn=cfg(dead)))
    host = Host(edge.name, edge.region, "edge", address=edge.address)
    results = video_gates.run(["slo_burn"], policy, [host], [host], set())
    assert [(r.gate, r.verdict) for r in results] == [("slo_burn", Verdict.INCONCLUSIVE)]
    assert "unreadable" in results[0].reason and "refused" in results[0].reason
