"""The rollout and freeze commands through Typer's CliRunner: exit codes,
streams, JSON, and what `status`, `why`, `list`, `history` show of rollouts
the engine ran on the loopback fleet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rollout_fleet import CANARY_ANALYSIS, HTTP_GATE, REGRESSION_DELAY_MS, FakeFleet
from typer.testing import CliRunner

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.core.policy import Policy
from fleetctl.services.rollout import Engine, Status

pytestmark = pytest.mark.integration

POLICY = Policy.model_validate(
    {
        "bake_s": 0,
        "waves": ["100%"],
        "gates": {"http": HTTP_GATE, "canary_analysis": CANARY_ANALYSIS},
    }
)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.2, 2), "b": (0.8, 1)})
    yield f
    f.close()


@pytest.fixture
def cli(fleet: FakeFleet, tmp_path: Path) -> Iterator[tuple[CliRunner, list[str], Path]]:
    state = tmp_path / "state.db"
    yield CliRunner(), ["--root", str(fleet.root), "--state", str(state)], state


def test_plan_is_deterministic_and_touches_nothing(cli: tuple[CliRunner, list[str], Path]) -> None:
    runner, base, state = cli
    args = [*base, "rollout", "plan", "edge.yml", "--env", "lab", "--format", "json"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == json.loads(second.stdout)
    data = json.loads(first.stdout)
    assert data["steps"][0]["label"] == "canary" and data["host_count"] == 3
    assert not state.exists()
    table = runner.invoke(app, [*base, "rollout", "plan", "edge.yml", "--env", "lab"])
    assert "canary" in table.stdout and "a-e0" in table.stdout


def test_bad_policy_and_bad_names_are_exit_2(
    cli: tuple[CliRunner, list[str], Path], tmp_path: Path
) -> None:
    runner, base, _ = cli
    bad = tmp_path / "p.yml"
    bad.write_text("bake_s: 1\nwaves: [0]\n")
    r = runner.invoke(
        app, [*base, "rollout", "plan", "edge.yml", "--env", "lab", "--policy", str(bad)]
    )
    assert r.exit_code == 2
    assert f"{bad}:2: waves[0].size: a host count must be at least 1" in r.stderr
    r = runner.invoke(app, [*base, "rollout", "plan", "nope.yml", "--env", "lab"])
    assert r.exit_code == 2 and "no playbook 'nope.yml'" in r.stderr
    r = runner.invoke(app, [*base, "rollout", "plan", "edge.yml", "--env", "qa"])
    assert (
        r.exit_code == 2
        and "unknown env 'qa' (--env)" in r.stderr
        and "known envs: lab" in r.stderr
    )
    r = runner.invoke(app, [*base, "rollout", "why", "r-nope"])
    assert r.exit_code == 2 and "no rollout 'r-nope'" in r.stderr


def test_freeze_commands_and_a_frozen_start(cli: tuple[CliRunner, list[str], Path]) -> None:
    runner, base, _ = cli
    r = runner.invoke(app, [*base, "freeze", "on", "--env", "lab"])
    assert r.exit_code == 2 and "needs a --reason" in r.stderr
    r = runner.invoke(app, [*base, "freeze", "on", "--env", "lab", "--reason", "incident 7"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*base, "freeze", "status", "--env", "lab", "--format", "json"])
    assert json.loads(r.stdout)["frozen"] is True
    assert json.loads(r.stdout)["reason"] == "incident 7"
    r = runner.invoke(app, [*base, "rollout", "start", "edge.yml", "--env", "lab", "--yes"])
    assert r.exit_code == 1 and "env lab is frozen by" in r.stderr and "incident 7" in r.stderr
    r = runner.invoke(app, [*base, "freeze", "off", "--env", "lab"])
    assert r.exit_code == 0
    r = runner.invoke(app, [*base, "freeze", "status", "--env", "lab", "--format", "json"])
    assert json.loads(r.stdout)["frozen"] is False


def test_status_why_list_history_of_real_rollouts(
    fleet: FakeFleet, cli: tuple[CliRunner, list[str], Path]
) -> None:
    runner, base, state = cli
    store = SqliteStore(state)
    eng = Engine(store, fleet.root, executor=fleet.executor)
    good = eng.start("lab", "edge.yml", POLICY)
    bad = eng.start(
        "lab", "edge.yml", POLICY, extravars={"edge_response_delay_ms": REGRESSION_DELAY_MS}
    )
    store.close()
    assert good.status is Status.completed and bad.status is Status.rolled_back

    r = runner.invoke(app, [*base, "rollout", "list", "--format", "json"])
    assert [d["id"] for d in json.loads(r.stdout)] == [bad.id, good.id]

    r = runner.invoke(app, [*base, "rollout", "status", "--format", "json"])
    doc = json.loads(r.stdout)
    assert doc["id"] == bad.id and doc["status"] == "rolled_back"
    assert doc["rollback_proof"]["ok"] is True and doc["freeze"] is None

    r = runner.invoke(app, [*base, "rollout", "status", good.id])
    assert r.exit_code == 0 and "completed" in r.stdout and "done" in r.stdout

    r = runner.invoke(app, [*base, "rollout", "why", "r-"])
    assert r.exit_code == 2 and "matches 2 rollouts" in r.stderr
    r = runner.invoke(app, [*base, "rollout", "why", bad.id[:-1]])  # a unique prefix
    assert r.exit_code == 0
    assert "latency regression" in r.stdout
    assert "latency_p=" in r.stdout and "baseline_median_ms=" in r.stdout
    assert "proof: --check --diff" in r.stdout and "rollback PROVEN" in r.stdout

    r = runner.invoke(app, [*base, "rollout", "history", "--env", "lab", "--format", "json"])
    hist = json.loads(r.stdout)
    assert hist["last_known_good"]["lab/edge.yml"]["rollout"] == good.id
    assert [x["last_known_good"] for x in hist["rollouts"]] == [False, True]

    r = runner.invoke(app, [*base, "rollout", "promote", bad.id, "--reason", "x"])
    assert r.exit_code == 2 and "not paused" in r.stderr


def test_plan_shows_when_each_region_can_run(
    cli: tuple[CliRunner, list[str], Path], tmp_path: Path
) -> None:
    runner, base, _ = cli
    pol = tmp_path / "windows.yml"
    pol.write_text(
        "deploy_windows:\n"
        "  b: {tz: Asia/Tokyo, start: '02:00', end: '06:00', days: []}\n"
        "  a: {tz: Europe/Dublin}\n"
    )
    args = [*base, "rollout", "plan", "edge.yml", "--env", "lab", "--policy", str(pol)]
    r = runner.invoke(app, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    win = json.loads(r.stdout)["windows"]
    assert win["a"]["open_now"] is True and win["a"]["window"] == "00:00-24:00 Europe/Dublin"
    assert win["b"] == {
        "window": "02:00-06:00 Asia/Tokyo, no days",
        "open_now": False,
        "next_open": None,
        "closes": None,
        "text": "never (02:00-06:00 Asia/Tokyo, no days)",
    }
    table = runner.invoke(app, args)
    assert "can run" in table.stdout and "never (02:00-06:00 Asia/Tokyo" in table.stdout
    plain = runner.invoke(app, [*base, "rollout", "plan", "edge.yml", "--env", "lab"])
    assert "can run" not in plain.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text("deploy_windows:\n  b: {tz: Asia/Tokio}\n")
    r = runner.invoke(
        app, [*base, "rollout", "plan", "edge.yml", "--env", "lab", "--policy", str(bad)]
    )
    assert r.exit_code == 2
    assert "unknown time zone 'Asia/Tokio'" in r.stderr and f"{bad}:2" in r.stderr
