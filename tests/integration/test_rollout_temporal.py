"""`--engine temporal` on the real Temporal dev server, on a fleet of real loopback
HTTP servers probed for real (only Ansible is stood in for, as in
test_rollout_engine; the lab e2e test runs the real playbooks)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rollout_fleet import SEGMENT, FakeFleet

from fleetctl.adapters import temporal
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.core.policy import Policy
from fleetctl.services.rollout import Status, lock_name
from fleetctl.services.rollout_temporal import service
from fleetctl.services.rollout_temporal.model import workflow_id
from tests.temporal_workers import WorkerThread, terminate

pytestmark = pytest.mark.integration

POLICY = {
    "bake_s": 0,
    "waves": ["50%", "100%"],
    "gates": {
        "http": {"paths": ["/healthz", SEGMENT], "samples": 20, "min_samples": 10},
        "canary_analysis": {"min_samples": 20, "min_effect_ms": 15},
    },
}
_n = itertools.count()


def policy(**over: Any) -> Policy:
    return Policy.model_validate({**POLICY, **over})


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.1, 3), "b": (0.3, 2), "c": (0.6, 2)})
    yield f
    f.close()


@pytest.fixture
def world(
    fleet: FakeFleet, tmp_path: Path, temporal_settings: temporal.Settings
) -> Iterator[tuple[SqliteStore, str, WorkerThread]]:
    """A state store, a fresh env name (so one test's workflow never meets another's)
    and workers for it: the coordinator and regions a, b, c."""
    env = "lab"
    (fleet.root / "inventories" / f"t{next(_n)}").mkdir()
    state = tmp_path / "state.db"
    store = SqliteStore(state)
    workers = WorkerThread(temporal_settings, env, ["a", "b", "c"], state_url=str(state),
                           root=fleet.root, executor=fleet.executor)  # fmt: skip
    with workers:
        try:
            yield store, env, workers
        finally:
            terminate(temporal_settings, workflow_id(env))
    store.close()


def start(fleet: FakeFleet, store: SqliteStore, settings: temporal.Settings, **kw: Any) -> Any:
    pol = kw.pop("pol", None) or policy()
    return service.start(store, fleet.root, "lab", "edge.yml", pol, settings=settings, **kw)


def types(store: SqliteStore, rid: str) -> list[str]:
    return [e["type"] for e in store.events(rid)]


def test_good_rollout_completes_with_the_local_engines_journal(
    fleet: FakeFleet, world: Any, temporal_settings: temporal.Settings
) -> None:
    store, _, _ = world
    out = start(fleet, store, temporal_settings)
    assert out.status is Status.completed, out.message
    doc = store.get("rollout", out.id)
    assert doc is not None and doc["engine"] == "temporal"
    assert set(fleet.releases().values()) == {doc["release_id"]}
    batches = [c.limit for c in fleet.calls]
    assert batches[0] == ["a-e0"]  # the canary, first and alone
    assert [b[0].split("-")[0] for b in batches] == sorted(b[0].split("-")[0] for b in batches)
    ev = types(store, out.id)
    assert ev[:3] == ["created", "lock_acquired", "step_started"]
    assert ev[-2:] == ["completed", "lock_released"]
    plan = store.get("rollout_plan", out.id)
    assert plan is not None
    assert ev.count("step_finished") == len(plan["steps"]) == doc["next_step"]
    assert store.get("lkg", "lab/edge.yml")["release_id"] == doc["release_id"]  # type: ignore[index]
    assert store.lock_info(lock_name("lab")) is None


def test_bad_canary_is_rolled_back_with_proof(
    fleet: FakeFleet, world: Any, temporal_settings: temporal.Settings
) -> None:
    store, _, _ = world
    first = start(fleet, store, temporal_settings)
    good = store.get("rollout", first.id)["release_id"]  # type: ignore[index]
    out = start(fleet, store, temporal_settings, extravars={"edge_response_delay_ms": 40})
    assert out.status is Status.rolled_back, out.message
    assert set(fleet.releases().values()) == {good}
    events = store.events(out.id)
    started = [e for e in events if e["type"] == "step_started"]
    assert [e["label"] for e in started] == ["canary"]  # nothing after the canary
    ca = next(e for e in events if e["type"] == "gate" and e["gate"] == "canary_analysis")
    assert ca["verdict"] == "fail"
    check = next(e for e in events if e["type"] == "rollback_check")
    assert check["total_changed"] == 0
    proof = next(e for e in events if e["type"] == "rollback_proof")
    assert proof["ok"] and proof["release"] == good and proof["gate_verdict"] == "pass"
    assert store.get("lkg", "lab/edge.yml")["release_id"] == good  # type: ignore[index]
