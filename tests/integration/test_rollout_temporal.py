"""`--engine temporal` on the real Temporal dev server, on a fleet of real loopback
HTTP servers probed for real (only Ansible is stood in for, as in
test_rollout_engine; the lab e2e test runs the real playbooks)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rollout_fleet import PROBED_POLICY, REGRESSION_DELAY_MS, FakeFleet

from fleetctl.adapters import temporal
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.core.policy import Policy
from fleetctl.services.rollout import Status, lock_name
from fleetctl.services.rollout_temporal import service
from fleetctl.services.rollout_temporal.model import HEARTBEAT_S, workflow_id
from tests.temporal_workers import WorkerThread, fleet_workers, start_rollout

pytestmark = pytest.mark.integration

POLICY = {**PROBED_POLICY, "waves": ["50%", "100%"]}
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
    with fleet_workers(temporal_settings, fleet, str(state), ["a", "b", "c"], env=env) as workers:
        yield store, env, workers
    store.close()


def start(fleet: FakeFleet, store: SqliteStore, settings: temporal.Settings, **kw: Any) -> Any:
    return start_rollout(fleet, store, settings, kw.pop("pol", None) or policy(), **kw)


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


def test_a_batch_longer_than_the_heartbeat_timeout_runs_once(
    fleet: FakeFleet, world: Any, temporal_settings: temporal.Settings
) -> None:
    """Ansible polls its cancel callback while it runs and the activity heartbeats
    from there: a batch longer than HEARTBEAT_S is not taken for a dead worker's
    and run again (it was, when only gates heartbeated)."""
    store, _, _ = world
    fleet.run_for_s = {1: HEARTBEAT_S + 4}  # the canary's batch
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        watched = pool.submit(_heartbeats_seen_by_the_server, temporal_settings, stop)
        try:
            out = start(fleet, store, temporal_settings, pol=policy(waves=["100%"]))
        finally:
            stop.set()
        beats = watched.result(timeout=60)
    assert out.status is Status.completed, out.message
    applied = [e for e in store.events(out.id) if e["type"] == "step_applied"]
    assert [e.get("attempt", 1) for e in applied] == [1] * len(applied)
    assert [c.limit for c in fleet.calls].count(["a-e0"]) == 1
    # The worker heartbeats often (HEARTBEAT_S/5), not at the SDK's default 0.8 x
    # the timeout, which left a loaded worker 2 s before its batch was run again.
    canary = max(beats.values(), key=len)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(canary)]
    assert len(canary) >= 4 and max(gaps) <= HEARTBEAT_S / 2, canary


def _heartbeats_seen_by_the_server(
    settings: temporal.Settings, stop: threading.Event
) -> dict[str, list[datetime]]:
    """Each running activity's heartbeat times as the server records them
    (`describe` of every running workflow, about 3 times a second)."""

    async def watch() -> dict[str, list[datetime]]:
        client = await temporal.connect(settings)
        seen: dict[str, list[datetime]] = {}
        while not stop.is_set():
            async for wf in client.list_workflows('ExecutionStatus="Running"'):
                desc = await client.get_workflow_handle(wf.id, run_id=wf.run_id).describe()
                for act in desc.raw_description.pending_activities:
                    if act.HasField("last_heartbeat_time"):
                        at = act.last_heartbeat_time.ToDatetime()
                        times = seen.setdefault(f"{wf.id}/{act.activity_id}", [])
                        if not times or times[-1] != at:
                            times.append(at)
            await asyncio.sleep(0.3)
        return seen

    return asyncio.run(watch())


def test_bad_canary_is_rolled_back_with_proof(
    fleet: FakeFleet, world: Any, temporal_settings: temporal.Settings
) -> None:
    store, _, _ = world
    first = start(fleet, store, temporal_settings)
    good = store.get("rollout", first.id)["release_id"]  # type: ignore[index]
    out = start(
        fleet, store, temporal_settings, extravars={"edge_response_delay_ms": REGRESSION_DELAY_MS}
    )
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


def test_two_concurrent_starts_exactly_one_wins(
    fleet: FakeFleet, world: Any, temporal_settings: temporal.Settings
) -> None:
    """Two starters on one env race to the server: the workflow ID (the env's lock)
    lets exactly one in. (Planning reads Ansible's inventory, which is not thread
    safe, so the two inputs are built first and the starts race.)"""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    store, _, _ = world
    pol = policy(canary={"hosts": 1, "approval": True})  # the winner holds the env, paused
    inputs = [
        service.build_input(
            store,
            fleet.root,
            "lab",
            "edge.yml",
            pol,
            settings=temporal_settings,
            extravars=None,
            policy_file=None,
            who=f"starter{i}",
            max_parallel_regions=1,
        )[0]
        for i in range(2)
    ]

    def one(inp: Any) -> Any:
        try:
            return asyncio.run(service.start_workflow(temporal_settings, inp))[1]
        except service.EnvLocked as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, inputs))
    lost = [r for r in results if isinstance(r, service.EnvLocked)]
    won = [inp for inp, r in zip(inputs, results, strict=True) if not isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1, results
    assert f"locked by {won[0].rollout_id}" in lost[0].message and lost[0].exit_code == 1
    out = service.follow(store, temporal_settings, won[0].rollout_id, timeout_s=120)
    assert out.status is Status.paused
    assert [d["id"] for d in store.list("rollout")] == [won[0].rollout_id]  # loser left no record
    # and a third start through the front door is refused the same way
    with pytest.raises(service.EnvLocked, match=f"locked by {won[0].rollout_id}"):
        start(fleet, store, temporal_settings)


def test_approval_pauses_promote_records_who_and_why_then_replays(
    fleet: FakeFleet, world: Any, temporal_settings: temporal.Settings
) -> None:
    import asyncio

    from temporalio.worker import Replayer

    from fleetctl.services.rollout_temporal.workflows import Coordinator, RegionWorkflow

    store, _, _ = world
    out = start(fleet, store, temporal_settings, pol=policy(canary={"hosts": 1, "approval": True}))
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "approval"
    assert service.query(store, out.id)["status"] == "paused"
    since = service.signal(store, out.id, "promote", "canary looks fine", who="alice")
    done = service.follow(store, temporal_settings, out.id, timeout_s=120, since=since)
    assert done.status is Status.completed, done.message
    promoted = next(e for e in store.events(out.id) if e["type"] == "promoted")
    assert (promoted["by"], promoted["reason"], promoted["label"]) == (
        "alice",
        "canary looks fine",
        "canary",
    )

    async def replay() -> int:
        client = await temporal.connect(temporal_settings)
        ids = [workflow_id("lab")]
        async for wf in client.list_workflows(f"WorkflowId STARTS_WITH 'env/lab/{out.id}/'"):
            ids += [] if wf.id in ids else [wf.id]
        histories = [await client.get_workflow_handle(i).fetch_history() for i in ids]
        replayer = Replayer(workflows=[Coordinator, RegionWorkflow])
        for h in histories:
            await replayer.replay_workflow(h)  # raises on any nondeterminism
        return len(histories)

    assert asyncio.run(replay()) == 5  # the coordinator, a child per unit (canary, a, b, c)


def test_server_stopped_mid_bake_and_restarted_from_its_database(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    """The dev server is stopped during a bake and started again from its SQLite
    file on the same port: the durable timer and the rollout survive, it completes."""
    from tests.temporal_fixture import fresh_server

    server = fresh_server(tmp_path).start()
    s = temporal.settings(server.address, environ={})
    state = tmp_path / "state.db"
    store = SqliteStore(state)
    try:
        with WorkerThread(
            s, "lab", ["a", "b", "c"], state_url=str(state), root=fleet.root,
            executor=fleet.executor,
        ):  # fmt: skip
            out = start(fleet, store, s, pol=policy(bake_s=4), wait=False)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "bake" not in types(store, out.id):
                time.sleep(0.1)
            assert "bake" in types(store, out.id)
            server.stop()
            time.sleep(1)
            server.start()  # same port, same database file
            done = service.follow(store, s, out.id, timeout_s=180)
        assert done.status is Status.completed, done.message
        assert set(fleet.releases().values()) == {done.doc["release_id"]}
        assert types(store, out.id).count("step_finished") == done.doc["plan_steps"]
    finally:
        store.close()
        server.stop()
