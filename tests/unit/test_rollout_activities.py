"""The activities' contract (services/rollout/activities.py): requests and
results are frozen dataclasses of JSON data (what Temporal's default data
converter carries), and a side-effecting activity checks the fence it was
given before anything else: a superseded caller changes nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from fleetctl.adapters.state.base import LockLost
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.core.rollout.record import RollbackProof
from fleetctl.services.rollout import activities as act

FENCE = act.Fence("r-1", "lab", 3)
APPLY = act.ApplyRequest(FENCE, "f" * 64, "edge.yml", ("a-e0", "a-e1"), 60.0, deadline_at=99.0)
APPLIED = act.ApplyResult("fff1", "successful", "", 1.5, {"a-e0": {"state": "ok", "changed": 0}})
GATES = act.GateReport(
    ({"gate": "http", "verdict": "pass", "reason": "ok", "numbers": {"samples": 20}},), "pass"
)
SAMPLES: list[Any] = [
    FENCE,
    APPLY,
    APPLIED,
    act.GateRequest(FENCE, {"bake_s": 0}, ("http",), ("a-e0",), touched=("a-e0",)),
    GATES,
    act.ProofRequest(FENCE, "e" * 64, "edge.yml", ("a-e0",), 60.0, {}, "successful"),
    act.ProofReport(APPLIED, {"a-e0": 0}, (), GATES, RollbackProof(ok=True, hosts=1)),
]


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_requests_and_results_are_frozen_json_data(value: Any) -> None:
    params = getattr(type(value), "__dataclass_params__", None)
    assert params is not None and params.frozen
    json.dumps(dataclasses.asdict(value))  # raises on anything that is not JSON data


def test_gate_report_gives_back_typed_results() -> None:
    (r,) = GATES.gate_results()
    assert r.gate == "http" and str(r.verdict) == "pass" and r.numbers == {"samples": 20}


def test_a_stale_fence_stops_apply_before_the_executor_runs(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    calls: list[Any] = []
    try:
        held = store.acquire_lock("env/lab", "r-1", 60.0)
        ctx = act.ActivityContext(
            store=store,
            root=tmp_path,
            workdir=lambda: tmp_path,
            executor=lambda *a, **k: calls.append(a),
        )
        stale = dataclasses.replace(APPLY, fence=act.Fence("r-1", "lab", held.generation - 1))
        with pytest.raises(LockLost):
            act.apply_batch(ctx, stale)
        with pytest.raises(LockLost):
            act.roll_back_hosts(ctx, dataclasses.replace(APPLY, fence=act.Fence("r-2", "lab", 1)))
        assert calls == []
    finally:
        store.close()


def test_apply_heartbeats_while_the_playbook_runs(tmp_path: Path) -> None:
    """The executor polls `cancel` while Ansible runs (ansible-runner's cancel
    callback); each poll must heartbeat. Without it a Temporal batch longer
    than the heartbeat timeout (10 s) was taken for a dead worker's, retried
    and failed: `make demo-temporal` on a loaded machine, 'activity Heartbeat
    timeout' at the canary."""
    from fleetctl.services import release as release_service

    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "edge.yml").write_text("- hosts: all\n  tasks: []\n")
    (tmp_path / "inventories" / "lab").mkdir(parents=True)
    (tmp_path / "inventories" / "lab" / "hosts.yml").write_text("all: {}\n")
    store = SqliteStore(tmp_path / "state.db")
    beats: list[int] = []
    try:
        rel = release_service.snapshot(store, tmp_path, "lab")

        def executor(*args: Any, cancel: Any, **kw: Any) -> Any:
            for _ in range(3):  # three polls of a long run
                assert cancel() is False
            return type("Result", (), {"status": "successful", "hosts": {}, "duration_s": 12.0})()

        ctx = act.ActivityContext(
            store=store,
            root=tmp_path,
            workdir=lambda: tmp_path / "work",
            executor=executor,
            heartbeat=lambda: beats.append(1),
        )
        req = act.ApplyRequest(act.Fence("r-1", "lab", None), rel.hash, "edge.yml", ("e",), 60.0)
        assert act.apply_batch(ctx, req).status == "successful"
        assert len(beats) == 3
    finally:
        store.close()
