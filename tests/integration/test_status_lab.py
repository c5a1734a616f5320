"""`fleetctl status` and `fleetctl metrics serve` on the real lab: after an edge's
nginx is stopped, the status JSON matches the lab's real state, and the
Prometheus endpoint (scraped over HTTP, parsed with prometheus-client's text
parser) carries the same numbers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from fleetctl.cli.main import app
from fleetctl.services import lab as lab_service
from tests.lab_fixture import REPO, LabHandle

pytestmark = pytest.mark.integration

FLEETCTL = str(Path(sys.executable).with_name("fleetctl"))
RELEASE = "r-status-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(url: str, deadline_s: float = 20.0) -> str:
    end = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def test_status_and_metrics_match_the_lab_after_an_edge_stops(
    lab: LabHandle, tmp_path: Path
) -> None:
    deployed, stopped, *others = sorted(lab.edges(), key=lambda h: h.name)
    applied = lab.apply("edge.yml", limit=deployed.name, extravars={"fleet_release": RELEASE})
    assert applied.ok
    base = ["--root", str(REPO), "--state", str(tmp_path / "state.db")]
    args = [*base, "status", "--env", "lab", "--lab-dir", str(lab.dir), "--format", "json"]
    proc = None
    lab.stop(stopped.name, "nginx")
    try:
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        st = json.loads(r.stdout)
        _, real = lab_service.lab_status(lab.dir)  # the lab's own view, probed separately
        hosts = {h["host"]: h for reg in st["regions"] for h in reg["hosts"]}
        assert set(hosts) == {s.host.name for s in real}
        for s in real:
            h = hosts[s.host.name]
            assert (h["region"], h["role"]) == (s.host.region, s.host.role)
            assert h["release"] == (s.release or None)
            assert (h["health"] == "healthy") == (s.health == "ok"), (h, s)
        assert hosts[stopped.name]["health"] == "unhealthy"  # nginx down, sshd up
        assert "ssh up" in hosts[stopped.name]["detail"]
        assert hosts[deployed.name]["release"] == RELEASE
        assert all(hosts[h.name]["health"] == "healthy" for h in [deployed, *others])
        assert st["problems"][0]["region"] == stopped.region  # problems first
        assert st["regions"][0]["region"] == stopped.region
        assert st["regions"][0]["severity"] == "critical"  # its only edge is down

        # the endpoint, as Prometheus sees it
        port = free_port()
        proc = subprocess.Popen(
            [
                FLEETCTL,
                *base,
                "metrics",
                "serve",
                "--env",
                "lab",
                "--lab-dir",
                str(lab.dir),
                "--address",
                "127.0.0.1",
                "--port",
                str(port),
                "--interval",
                "0",
                "--duration",
                "60",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        text = scrape(f"http://127.0.0.1:{port}/metrics")
        again = json.loads(CliRunner().invoke(app, args).stdout)
    finally:
        lab.start(stopped.name, "nginx")
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)

    m: dict[str, dict[frozenset[tuple[str, str]], float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            m.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value

    def v(name: str, **labels: str) -> float:
        return m[name][frozenset({"env": "lab", **labels}.items())]

    assert v("fleet_status_up") == 1
    for snap in (st, again):  # the lab did not change between the two snapshots
        for reg in snap["regions"]:
            region = reg["region"]
            assert v("fleet_region_traffic_weight", region=region) == reg["weight"]
            assert v("fleet_region_drained", region=region) == int(reg["drained"])
            for health, n in reg["health"].items():
                got = sum(
                    val
                    for lb, val in m["fleet_hosts"].items()
                    if ("region", region) in lb and ("health", health) in lb
                )
                assert got == n, (region, health)
            for release, n in reg["releases"].items():
                got = sum(
                    val
                    for lb, val in m["fleet_release_hosts"].items()
                    if ("region", region) in lb and ("release", release) in lb
                )
                assert got == n, (region, release)
        for sev in ("critical", "warning"):
            n = sum(1 for p in snap["problems"] if p["severity"] == sev)
            assert v("fleet_problems", severity=sev) == n
        assert v("fleet_rollout_active") == 0 and v("fleet_freeze_active") == 0
    assert v("fleet_host_healthy", region=stopped.region, role="edge", host=stopped.name) == 0
    assert v("fleet_host_healthy", region=deployed.region, role="edge", host=deployed.name) == 1
