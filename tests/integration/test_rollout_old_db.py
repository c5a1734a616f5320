"""Rollouts stored by an older fleetctl (commit 3f2e60f, before the record
and event schema and before fencing tokens) still load and show: the state
db in tests/fixtures/old_rollout_db was written by that code (make.py there
says how), with one completed, one rolled-back and one paused rollout."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rollout_fleet import FakeFleet
from typer.testing import CliRunner

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.core.rollout import events as ev
from fleetctl.core.rollout.record import RolloutRecord, Status
from fleetctl.services import rollout as svc

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "old_rollout_db"
OLD = json.loads((FIXTURE / "old.json").read_text())


@pytest.fixture
def old(tmp_path: Path) -> Iterator[tuple[CliRunner, list[str], Path]]:
    fleet = FakeFleet(tmp_path / "ws", {"a": (0.2, 2), "b": (0.8, 1)})  # the same workspace
    fleet.close()
    state = tmp_path / "state"
    shutil.copytree(FIXTURE, state, ignore=shutil.ignore_patterns("*.py", "*.json"))
    yield CliRunner(), ["--root", str(fleet.root), "--state", str(state / "old.db")], state


def by_status() -> dict[str, str]:
    return {d["status"]: rid for rid, d in OLD["rollout"].items()}


def test_the_fixture_is_of_the_old_schema() -> None:
    docs = list(OLD["rollout"].values())
    assert sorted(d["status"] for d in docs) == ["completed", "paused", "rolled_back"]
    assert all("lock_generation" not in d for d in docs)  # written before fencing


def test_old_records_and_events_load_through_the_schema(old: Any) -> None:
    _, _, state = old
    store = SqliteStore(state / "old.db")
    try:
        for rid, doc in OLD["rollout"].items():
            rec = svc.load_record(store, rid)
            assert {k: v for k, v in rec.to_dict().items() if k in doc} == doc
            assert rec.lock_generation is None
            journal = svc.journal(store, rid)
            assert journal and not any(isinstance(e, ev.UnknownEvent) for e in journal)
            # what the old code stored is what the typed events write back
            for e, stored in zip(journal, OLD["events"][rid], strict=True):
                assert {k: v for k, v in e.to_dict().items() if k in stored} == stored
        rolled = RolloutRecord.from_dict(OLD["rollout"][by_status()["rolled_back"]])
        assert rolled.status is Status.rolled_back
        proof = [e for e in svc.journal(store, rolled.id) if isinstance(e, ev.RollbackProofEvent)]
        assert proof[0].ok and proof[0].check_changed == 0
        paused = svc.load_record(store, by_status()["paused"])
        assert paused.pause is not None and paused.pause.kind.value == "approval"
        assert svc.last_known_good_record(store, "lab/edge.yml") is not None
    finally:
        store.close()


def test_list_status_why_history_show_old_rollouts(old: Any) -> None:
    runner, base, _ = old
    ids = by_status()
    r = runner.invoke(app, [*base, "rollout", "list"])
    assert r.exit_code == 0, r.output
    assert all(rid in r.stdout for rid in ids.values())
    r = runner.invoke(app, [*base, "rollout", "list", "--format", "json"])
    assert {d["id"]: d["status"] for d in json.loads(r.stdout)} == {v: k for k, v in ids.items()}

    r = runner.invoke(app, [*base, "rollout", "status", ids["paused"]])
    assert r.exit_code == 0, r.output
    assert "paused" in r.stdout and "canary" in r.stdout
    r = runner.invoke(app, [*base, "rollout", "status", ids["rolled_back"], "--format", "json"])
    data = json.loads(r.stdout)
    assert data["status"] == "rolled_back" and data["rollback_proof"]["ok"] is True
    assert [e["type"] for e in data["events"]] == [
        e["type"] for e in OLD["events"][ids["rolled_back"]]
    ]

    r = runner.invoke(app, [*base, "rollout", "why", ids["rolled_back"]])
    assert r.exit_code == 0, r.output
    assert "rollback PROVEN" in r.stdout and "gate canary_analysis: FAIL" in r.stdout
    r = runner.invoke(app, [*base, "rollout", "why", ids["completed"]])
    assert "completed" in r.stdout and "now the last known-good" in r.stdout

    r = runner.invoke(app, [*base, "rollout", "history", "--env", "lab", "--format", "json"])
    assert r.exit_code == 0, r.output
    hist = json.loads(r.stdout)
    assert {row["rollout"]: row["status"] for row in hist["rollouts"]} == {
        v: k for k, v in ids.items()
    }
    lkg = hist["last_known_good"]["lab/edge.yml"]
    assert lkg["rollout"] == ids["completed"]
    r = runner.invoke(app, [*base, "rollout", "history", "--env", "lab"])
    assert r.exit_code == 0 and "last known-good of lab/edge.yml" in r.output
