"""`fleetctl status` and `fleetctl metrics dump` on the loopback HTTP fleet with
a real rollout engine run: the rollout's step and gate verdicts, the release
mix, and metrics whose numbers are the status JSON's (parsed with
prometheus-client's own text parser)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rollout_fleet import CANARY_ANALYSIS, HTTP_GATE, FakeFleet
from typer.testing import CliRunner

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.core.policy import Policy
from fleetctl.services.rollout import Engine, Status

pytestmark = pytest.mark.integration

ENV = "qa"  # not in the spec: weights come from the inventory's traffic_weight vars
POLICY = Policy.model_validate(
    {
        "bake_s": 0,
        "waves": ["100%"],
        "canary": {"approval": True},
        "gates": {"http": HTTP_GATE, "canary_analysis": CANARY_ANALYSIS},
    }
)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.2, 2), "b": (0.8, 1)})
    shutil.copytree(f.root / "inventories" / "lab", f.root / "inventories" / ENV)
    yield f
    f.close()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(
    m: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return m[(name, frozenset({"env": ENV, **labels}.items()))]


def test_status_and_metrics_show_a_paused_rollout(fleet: FakeFleet, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    runner = CliRunner()
    base = ["--root", str(fleet.root), "--state", str(state)]

    # no state yet: status works and creates none
    r = runner.invoke(app, [*base, "status", "--env", ENV, "--format", "json"])
    assert r.exit_code == 0, r.output
    assert not state.exists()
    first = json.loads(r.stdout)
    assert first["ok"] is True and first["rollout"] is None and first["freeze"] is None
    assert first["health"]["healthy"] == 3
    assert {x["region"]: x["weight"] for x in first["regions"]} == {"a": 0.2, "b": 0.8}

    store = SqliteStore(state)
    try:
        out = Engine(store, fleet.root, executor=fleet.executor).start(ENV, "edge.yml", POLICY)
    finally:
        store.close()
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "approval"
    canary = fleet.calls[0].limit[0]
    new = fleet.edges[canary].state.release

    r = runner.invoke(app, [*base, "status", "--env", ENV, "--format", "json"])
    assert r.exit_code == 0, r.output
    st = json.loads(r.stdout)
    ro = st["rollout"]
    assert ro["id"] == out.id and ro["status"] == "paused" and ro["active"] is True
    assert (ro["step"], ro["step_label"], ro["wave"]) == (0, "canary", 0)
    assert ro["release"] == new and ro["last_known_good"] is None
    gates = {g["gate"]: g["verdict"] for g in ro["gates"]}
    assert gates == {"http": "pass", "canary_analysis": "pass"}
    assert ro["last_gate_pass_at"] is not None
    # the canary runs the new release, the others what they had; mixed is fine mid-rollout
    hosts = {h["host"]: h for reg in st["regions"] for h in reg["hosts"]}
    assert hosts[canary]["release"] == new
    assert {h["release"] for n, h in hosts.items() if n != canary} == {"unreleased"}
    assert st["releases"] == {new: 1, "unreleased": 2}
    assert [p["severity"] for p in st["problems"]] == ["warning"]  # the pause, nothing else
    assert "paused at canary" in st["problems"][0]["message"]

    fail = runner.invoke(app, [*base, "status", "--env", ENV, "--fail-on-problems"])
    assert fail.exit_code == 1 and "canary" in fail.stdout and "paused" in fail.stdout

    r = runner.invoke(app, [*base, "freeze", "on", "--env", ENV, "--reason", "game night"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*base, "metrics", "dump", "--env", ENV])
    assert r.exit_code == 0, r.output
    m = samples(r.stdout)
    assert value(m, "fleet_rollout_active") == 1
    assert value(m, "fleet_rollout_paused") == 1
    assert value(m, "fleet_rollout_step") == 0 and value(m, "fleet_rollout_wave") == 0
    assert value(m, "fleet_gate_verdict", gate="http", phase="step", verdict="pass") == 1
    assert value(m, "fleet_gate_verdict", gate="http", phase="step", verdict="fail") == 0
    assert value(m, "fleet_freeze_active") == 1
    assert (
        value(m, "fleet_release_hosts", region=fleet.edges[canary].region, role="edge", release=new)
        == 1
    )
    assert value(m, "fleet_region_traffic_weight", region="b") == 0.8
    assert value(m, "fleet_problems", severity="warning") == 1


def test_watch_json_prints_count_snapshots(fleet: FakeFleet, tmp_path: Path) -> None:
    fleet.edges["b-e0"].state.broken = ("/healthz",)  # answers 503: unhealthy
    r = CliRunner().invoke(
        app,
        [
            "--root",
            str(fleet.root),
            "--state",
            str(tmp_path / "s.db"),
            "status",
            "--env",
            ENV,
            "--watch",
            "--interval",
            "0.2",
            "--count",
            "2",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 2
    b = lines[-1]["regions"][0]  # problems first: b has no healthy edge
    assert b["region"] == "b" and b["severity"] == "critical"
    assert b["hosts"][0]["health"] == "unhealthy" and b["hosts"][0]["detail"] == "HTTP 503"
