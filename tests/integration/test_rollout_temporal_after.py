"""`--engine temporal`, after and around the run, on the real Temporal dev server:
`rollout rollback` of a completed Temporal rollout, and a deploy window that opens
a few seconds after the start, waited out on a durable timer (real time: the
time-skipping test server is not installed here, and the window check reads the
wall clock in an activity, which time skipping would not move)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rollout_fleet import PROBED_POLICY, FakeFleet

from fleetctl.adapters import temporal
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.services.rollout import Engine, Status, lock_name
from fleetctl.services.rollout_temporal import service
from fleetctl.services.rollout_temporal.model import workflow_id
from tests.temporal_workers import fleet_workers, start_rollout

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.1, 2), "b": (0.3, 2)})
    yield f
    f.close()


@pytest.fixture
def world(
    fleet: FakeFleet, tmp_path: Path, temporal_settings: temporal.Settings
) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "state.db")
    try:
        with fleet_workers(temporal_settings, fleet, str(store.path)):
            yield store
    finally:
        store.close()


def start(fleet: FakeFleet, store: SqliteStore, settings: temporal.Settings, **kw: Any) -> Any:
    return start_rollout(fleet, store, settings, {**PROBED_POLICY, **kw.pop("policy", {})}, **kw)


def test_rollback_of_a_completed_temporal_rollout_restores_the_last_known_good(
    fleet: FakeFleet, world: SqliteStore, temporal_settings: temporal.Settings
) -> None:
    store = world
    first = start(fleet, store, temporal_settings)
    good = first.doc["release_id"]
    second = start(fleet, store, temporal_settings, extravars={"edge_note": "v2"})
    assert second.status is Status.completed, second.message
    assert set(fleet.releases().values()) == {second.doc["release_id"]} != {good}
    # what `fleetctl rollout rollback ID` does
    out = Engine(store, fleet.root, executor=fleet.executor).rollback(second.id, "bad metrics")
    assert out.status is Status.rolled_back, out.message
    assert set(fleet.releases().values()) == {good}  # every host, both regions
    events = store.events(second.id)
    proof = next(e for e in events if e["type"] == "rollback_proof")
    assert proof["ok"] and proof["release"] == good and proof["check_changed"] == 0
    assert proof["gate_verdict"] == "pass" and proof["hosts"] == 4
    lkg = store.get("lkg", "lab/edge.yml")
    assert lkg is not None and lkg["release_id"] == good  # its release is no longer good
    assert store.lock_info(lock_name("lab")) is None
    assert store.get("rollout", second.id)["status"] == "rolled_back"  # type: ignore[index]


def _window_opening_soon(min_s: float = 6.0) -> tuple[str, float]:
    """A UTC start time ("HH:MM") a few seconds ahead (windows are to the minute)."""
    now = datetime.now(UTC)
    at = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    if (at - now).total_seconds() < min_s:
        at += timedelta(minutes=1)
    return at.strftime("%H:%M"), (at - now).total_seconds()


def test_a_regions_deploy_window_is_waited_out_on_a_durable_timer_then_replayed(
    fleet: FakeFleet, world: SqliteStore, temporal_settings: temporal.Settings
) -> None:
    from temporalio.worker import Replayer

    from fleetctl.services.rollout_temporal.workflows import Coordinator, RegionWorkflow

    store = world
    opens, wait_s = _window_opening_soon()
    end = (datetime.strptime(opens, "%H:%M") + timedelta(hours=2)).strftime("%H:%M")
    windows = {"b": {"tz": "UTC", "start": opens, "end": end}}  # region a: any time
    out = start(fleet, store, temporal_settings, policy={"deploy_windows": windows})
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "window", out.message
    # nobody resumes it: the coordinator's timer does, when the window opens
    since = len(store.events(out.id))
    out = service.follow(store, temporal_settings, out.id, timeout_s=wait_s + 120, since=since)
    assert out.status is Status.completed, out.message
    events = store.events(out.id)
    paused = [e for e in events if e["type"] == "paused"]
    assert len(paused) == 1 and paused[0]["kind"] == "window"
    assert "b's deploy window" in paused[0]["reason"]
    assert 0 < paused[0]["until_s"] <= wait_s + 1  # to the second, not to the minute
    resumed = next(e for e in events if e["type"] == "resumed")
    started_b = next(e for e in events if e["type"] == "step_started" and "b" in e["label"])
    assert resumed["at"] >= paused[0]["at"]
    assert datetime.fromtimestamp(started_b["at"], UTC).strftime("%H:%M") >= opens
    # region a went first, before the window opened
    a_done = [e for e in events if e["type"] == "step_finished"][:2]
    assert all(e["at"] < paused[0]["at"] + paused[0]["until_s"] for e in a_done)

    async def replay() -> None:
        client = await temporal.connect(temporal_settings)
        history = await client.get_workflow_handle(workflow_id("lab")).fetch_history()
        timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
        assert timers, "the window was not waited on a durable timer"
        await Replayer(workflows=[Coordinator, RegionWorkflow]).replay_workflow(history)

    asyncio.run(replay())


def test_a_region_child_continues_as_new_and_the_rollout_completes_with_its_journal(
    fleet: FakeFleet,
    world: SqliteStore,
    temporal_settings: temporal.Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the region child's history limit set low, region a's child goes on in a
    fresh run after every step (continue-as-new): every step still runs once, in
    order, and the journal is the one a single run writes."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.worker import Replayer

    from fleetctl.services.rollout_temporal import model
    from fleetctl.services.rollout_temporal.workflows import Coordinator, RegionWorkflow

    store = world
    monkeypatch.setattr(model, "REGION_HISTORY_EVENTS", 5)  # any step is more than that
    pol = {"canary": {"region": "b"}, "waves": [1, 2]}  # region a: 2 steps, after the canary
    out = start(fleet, store, temporal_settings, policy=pol)
    assert out.status is Status.completed, out.message
    plan = store.get("rollout_plan", out.id)
    assert plan is not None
    events = store.events(out.id)
    finished = [e["step"] for e in events if e["type"] == "step_finished"]
    assert finished == list(range(len(plan["steps"])))  # each once, in order
    assert [e["step"] for e in events if e["type"] == "step_started"] == finished
    applied = [c.limit for c in fleet.calls if not c.check]
    assert len(applied) == len(plan["steps"])  # no batch ran twice
    assert set(fleet.releases().values()) == {out.doc["release_id"]}

    async def runs() -> dict[str, list[Any]]:
        client = await temporal.connect(temporal_settings)
        found: dict[str, list[Any]] = {}
        async for wf in client.list_workflows(f"WorkflowId STARTS_WITH 'env/lab/{out.id}/'"):
            found.setdefault(wf.id, []).append(wf)
        replayer = Replayer(workflows=[Coordinator, RegionWorkflow])
        for wfs in found.values():
            for wf in wfs:
                h = await client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
                await replayer.replay_workflow(h)
        return found

    found = asyncio.run(runs())
    region_a = next(v for k, v in found.items() if k.endswith("-a"))
    statuses = sorted(str(r.status) for r in region_a)
    assert len(region_a) >= 2, statuses  # it did continue as new
    assert sum(r.status == WorkflowExecutionStatus.CONTINUED_AS_NEW for r in region_a) >= 1
    assert sum(r.status == WorkflowExecutionStatus.COMPLETED for r in region_a) == 1
