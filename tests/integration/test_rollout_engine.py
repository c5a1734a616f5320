"""The rollout engine on a fleet of real loopback HTTP servers, probed for real.

Only Ansible is stood in for (rollout_fleet.FakeFleet.executor configures the
servers like the edge role does); the lab e2e tests run the real playbooks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rollout_fleet import CANARY_ANALYSIS, HTTP_GATE, REGRESSION_DELAY_MS, FakeFleet

from fleetctl.adapters.state import LockHeld
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.core.policy import Policy
from fleetctl.errors import JobFailed
from fleetctl.services import freeze
from fleetctl.services.rollout import Engine, Status, lock_name

pytestmark = pytest.mark.integration

POLICY = {
    "bake_s": 0,
    "waves": ["50%", "100%"],
    "gates": {"http": HTTP_GATE, "canary_analysis": CANARY_ANALYSIS},
}


def policy(**over: Any) -> Policy:
    data: dict[str, Any] = {**POLICY, **over}
    return Policy.model_validate(data)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    # three regions: "a" lowest traffic (canary), then "b", then "c"
    f = FakeFleet(tmp_path / "ws", {"a": (0.1, 3), "b": (0.3, 2), "c": (0.6, 2)})
    yield f
    f.close()


def engine(fleet: FakeFleet, store: SqliteStore, who: str = "tester") -> Engine:
    return Engine(store, fleet.root, executor=fleet.executor, who=who)


def types(store: SqliteStore, rid: str) -> list[str]:
    return [e["type"] for e in store.events(rid)]


def good(fleet: FakeFleet, store: SqliteStore) -> str:
    out = engine(fleet, store).start("lab", "edge.yml", policy())
    assert out.status is Status.completed, out.message
    return out.id


def test_good_rollout_completes_in_plan_order(fleet: FakeFleet, store: SqliteStore) -> None:
    out = engine(fleet, store).start("lab", "edge.yml", policy())
    assert out.status is Status.completed, out.message
    rel = out.doc["release_id"]
    assert set(fleet.releases().values()) == {rel}
    batches = [c.limit for c in fleet.calls]
    assert batches[0] == ["a-e0"]  # canary in the lowest-traffic region
    regions = [b[0].split("-")[0] for b in batches]
    assert regions == sorted(regions)  # a, then b, then c
    assert sorted(h for b in batches for h in b) == sorted(fleet.edges)
    lkg = store.get("lkg", "lab/edge.yml")
    assert lkg is not None and lkg["release_id"] == rel
    ev = types(store, out.id)
    assert ev[:3] == ["created", "lock_acquired", "step_started"]
    assert ev[-2:] == ["completed", "lock_released"]
    gates = [e for e in store.events(out.id) if e["type"] == "gate"]
    assert {g["verdict"] for g in gates} <= {"pass", "skipped"}
    assert store.lock_info(lock_name("lab")) is None


def test_latency_regression_caught_at_canary_and_rolled_back_with_proof(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    first = good(fleet, store)
    good_rel = store.get("rollout", first)["release_id"]  # type: ignore[index]
    # REGRESSION_DELAY_MS on every response: far above the noise floor the
    # policy sets, under the 1 s absolute p95 threshold (canary analysis judges).
    out = engine(fleet, store).start(
        "lab", "edge.yml", policy(), extravars={"edge_response_delay_ms": REGRESSION_DELAY_MS}
    )
    assert out.status is Status.rolled_back, out.message
    bad_calls = fleet.calls[7:]
    assert [c.limit for c in bad_calls] == [["a-e0"], ["a-e0"], ["a-e0"]]  # canary only
    assert [c.check for c in bad_calls] == [False, False, True]  # apply, re-apply, proof
    assert bad_calls[1].release == good_rel
    assert fleet.edges["a-e0"].state.delay_ms == 0
    assert set(fleet.releases().values()) == {good_rel}
    events = store.events(out.id)
    gate = next(e for e in events if e["type"] == "gate" and e["gate"] == "canary_analysis")
    assert gate["verdict"] == "fail"
    assert gate["numbers"]["latency_p"] < 0.01
    http = next(e for e in events if e["type"] == "gate" and e["gate"] == "http")
    assert http["verdict"] == "pass"  # the absolute threshold alone would have let it through
    check = next(e for e in events if e["type"] == "rollback_check")
    assert check["total_changed"] == 0
    proof = next(e for e in events if e["type"] == "rollback_proof")
    assert proof["ok"] and proof["release"] == good_rel and proof["gate_verdict"] == "pass"
    # the last known-good did not move
    assert store.get("lkg", "lab/edge.yml")["release_id"] == good_rel  # type: ignore[index]


def test_broken_paths_fail_the_http_gate(fleet: FakeFleet, store: SqliteStore) -> None:
    good(fleet, store)
    out = engine(fleet, store).start(
        "lab", "edge.yml", policy(), extravars={"edge_broken_paths": ["/vod/"]}
    )
    assert out.status is Status.rolled_back
    gates = {
        e["gate"]: e for e in store.events(out.id) if e["type"] == "gate" and e["phase"] == "step"
    }
    assert gates["http"]["verdict"] == "fail"
    assert gates["http"]["numbers"]["errors"] == 20  # every segment request of the canary
    assert fleet.edges["a-e0"].state.broken == ()


def test_without_a_known_good_release_it_stops_instead_of_guessing(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    out = engine(fleet, store).start(
        "lab", "edge.yml", policy(), extravars={"edge_response_delay_ms": REGRESSION_DELAY_MS}
    )
    assert out.status is Status.failed
    assert "no last known-good release (refusing to guess)" in out.message
    assert "a-e0" in out.message
    assert "rollback_impossible" in types(store, out.id)
    assert len(fleet.calls) == 1  # nothing re-applied
    assert store.lock_info(lock_name("lab")) is None


def test_failed_host_counts_against_the_global_limit(fleet: FakeFleet, store: SqliteStore) -> None:
    good(fleet, store)
    out = engine(fleet, store).start(
        "lab", "edge.yml", policy(max_failed_hosts=1), extravars={"fail_hosts": ["b-e0", "c-e1"]}
    )
    # b-e0 fails (1 <= 1 allowed), c-e1 fails later: 2 > 1 over the whole rollout
    assert out.status is Status.rolled_back, out.message
    assert "2 host(s) failed the change (b-e0, c-e1) > max_failed_hosts 1" in out.message
    rb = next(e for e in store.events(out.id) if e["type"] == "rollback_started")
    assert "c-e1" in rb["hosts"] and "a-e0" in rb["hosts"]


def test_unreachable_host_pauses_and_promote_continues(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    good(fleet, store)
    fleet.edges["b-e1"].reachable = False
    out = engine(fleet, store).start("lab", "edge.yml", policy(), extravars={"v": 2})
    assert out.status is Status.paused
    assert out.doc["pause"]["kind"] == "unreachable"
    assert "b-e1" in out.message and "not counted as change failures" in out.message
    assert out.doc["failed_hosts"] == []
    # the env stays locked while paused
    info = store.lock_info(lock_name("lab"))
    assert info is not None and info.holder == out.id
    with pytest.raises(LockHeld):
        engine(fleet, store).start("lab", "edge.yml", policy())
    fleet.edges["b-e1"].reachable = True
    done = engine(fleet, store, who="alice").resume(out.id)
    assert done.status is Status.completed, done.message
    assert set(fleet.releases().values()) == {done.doc["release_id"]}


def test_inconclusive_pauses_and_promote_records_who_and_why(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    good(fleet, store)
    # A baseline edge stops answering: its probes fail in a row, so the canary
    # cannot be told apart from a broken probe path.
    dead = fleet.edges["c-e1"]
    assert dead.server is not None
    dead.server.shutdown()
    dead.server.server_close()
    out = engine(fleet, store).start("lab", "edge.yml", policy(), extravars={"v": 3})
    assert out.status is Status.paused
    assert out.doc["pause"]["kind"] == "gate"
    assert "baseline probes failed" in out.message
    assert store.get("lkg", "lab/edge.yml")["rollout"] != out.id  # type: ignore[index]
    promoted = engine(fleet, store, who="bob").promote(out.id, "checked graphs by hand")
    # every later step is inconclusive too, so it pauses again at the next step
    assert promoted.status is Status.paused
    ev = next(e for e in store.events(out.id) if e["type"] == "promoted")
    assert ev["by"] == "bob" and ev["reason"] == "checked graphs by hand"
    assert ev["label"] == "canary"
    finished = [e["step"] for e in store.events(out.id) if e["type"] == "step_finished"]
    assert finished == [0]


def test_approval_step_waits_for_promote(fleet: FakeFleet, store: SqliteStore) -> None:
    out = engine(fleet, store).start("lab", "edge.yml", policy(canary={"approval": True}))
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "approval"
    assert [c.limit for c in fleet.calls] == [["a-e0"]]
    done = engine(fleet, store).promote(out.id, "canary looks fine")
    assert done.status is Status.completed
    assert [c.limit for c in fleet.calls][1] != ["a-e0"]  # the canary was not re-run


def test_crash_mid_wave_then_resume_skips_finished_steps(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    fleet.crash_at_call = 3  # the third batch (region b, wave 1) dies mid-run
    with pytest.raises(SystemExit):
        engine(fleet, store).start("lab", "edge.yml", policy())
    rid = store.list("rollout")[0]["id"]
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "running" and doc["next_step"] == 2
    fleet.crash_at_call = None
    done = engine(fleet, store).resume(rid)
    assert done.status is Status.completed, done.message
    batches = [c.limit for c in fleet.calls]
    assert batches[:2] == [["a-e0"], ["a-e1"]]
    assert batches[2] == batches[3]  # only the interrupted batch runs twice
    assert len(batches) == doc["plan_steps"] + 1
    started = [e["step"] for e in store.events(rid) if e["type"] == "step_started"]
    assert started == [0, 1, 2, 2, 3, 4, 5, 6]


def test_lock_refuses_a_second_start_and_force_is_recorded(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    seen: list[str] = []

    def second_start(call: Any) -> None:
        if len(fleet.calls) == 1:
            with pytest.raises(LockHeld) as held:
                engine(fleet, store).start("lab", "edge.yml", policy())
            seen.append(held.value.message)

    fleet.on_call = second_start
    first = engine(fleet, store).start("lab", "edge.yml", policy())
    assert first.status is Status.completed
    assert seen and seen[0].startswith(f"env/lab is locked by {first.id} (held for ")
    # a stale lock (its process died) is taken only with --force, and recorded
    store.acquire_lock(lock_name("lab"), "r-dead", ttl_s=3600)
    fleet.on_call = None
    with pytest.raises(LockHeld):
        engine(fleet, store).start("lab", "edge.yml", policy())
    out = engine(fleet, store).start("lab", "edge.yml", policy(), force=True)
    assert out.status is Status.completed
    taken = next(e for e in store.events(out.id) if e["type"] == "lock_taken_over")
    assert taken["previous_holder"] == "r-dead"


def test_freeze_blocks_a_start_and_pauses_a_running_rollout(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    freeze.set_freeze(store, "lab", True, "incident 42", by="carol")
    with pytest.raises(JobFailed, match="env lab is frozen by carol: incident 42"):
        engine(fleet, store).start("lab", "edge.yml", policy())
    assert fleet.calls == []
    freeze.set_freeze(store, "lab", False, "", by="carol")

    def freeze_after_canary(call: Any) -> None:
        if len(fleet.calls) == 1:
            freeze.set_freeze(store, "lab", True, "match night", by="dave")

    fleet.on_call = freeze_after_canary
    out = engine(fleet, store).start("lab", "edge.yml", policy())
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "freeze"
    assert len(fleet.calls) == 1  # no new step started
    freeze.set_freeze(store, "lab", False, "", by="dave")
    fleet.on_call = None
    assert engine(fleet, store).resume(out.id).status is Status.completed
    assert [e["type"] for e in freeze.history(store, "lab")] == [
        "freeze_on",
        "freeze_off",
        "freeze_on",
        "freeze_off",
    ]


def test_abort_requested_elsewhere_stops_after_the_batch_and_rolls_back(
    fleet: FakeFleet, store: SqliteStore, tmp_path: Path
) -> None:
    good(fleet, store)
    other = SqliteStore(tmp_path / "state.db")  # "another process"

    def abort_during_wave(call: Any) -> None:
        if len(fleet.calls) == 9:  # second batch of the new rollout
            rid = max(other.list("rollout"), key=lambda d: d["created_at"])["id"]
            res = Engine(other, fleet.root, executor=fleet.executor, who="erin").abort(rid, "pager")
            assert "stops after its current batch" in res.message

    fleet.on_call = abort_during_wave
    out = engine(fleet, store).start("lab", "edge.yml", policy(), extravars={"v": 9})
    assert out.status is Status.rolled_back, out.message
    assert "aborted by erin: pager" in out.message
    rb = next(e for e in store.events(out.id) if e["type"] == "rollback_started")
    assert rb["hosts"] == ["a-e0", "a-e1"]  # the batch finished, nothing after it
    other.close()


def test_manual_rollback_of_a_completed_rollout_restores_the_previous_release(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    first = good(fleet, store)
    rel1 = store.get("rollout", first)["release_id"]  # type: ignore[index]
    second = engine(fleet, store).start("lab", "edge.yml", policy(), extravars={"v": 2})
    assert second.status is Status.completed
    out = engine(fleet, store).rollback(second.id, "metrics look off")
    assert out.status is Status.rolled_back, out.message
    assert set(fleet.releases().values()) == {rel1}
    assert store.get("lkg", "lab/edge.yml")["release_id"] == rel1  # type: ignore[index]


def test_deploy_window_pauses_outside(fleet: FakeFleet, store: SqliteStore) -> None:
    # a window on no day at all -> never inside
    pol = policy(deploy_window={"days": [], "start": "00:00", "end": "23:59"})
    out = engine(fleet, store).start("lab", "edge.yml", pol)
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "window"
    assert fleet.calls == []


def test_promote_past_an_unreachable_host_still_runs_the_gates(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    good(fleet, store)
    fleet.edges["b-e1"].reachable = False
    out = engine(fleet, store).start("lab", "edge.yml", policy(), extravars={"v": 5})
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "unreachable"
    done = engine(fleet, store, who="frank").promote(out.id, "b-e1 is being replaced")
    assert done.status is Status.completed, done.message
    assert done.doc["accepted_unreachable"] == ["b-e1"]
    events = store.events(out.id)
    b2 = [e for e in events if e.get("label") == "b wave 2 (100%)"]
    assert [e["type"] for e in b2].count("step_started") == 2  # re-run after the promote
    assert any(e["type"] == "step_verdict" and e["verdict"] == "pass" for e in b2)
    rel = done.doc["release_id"]
    assert {n: r for n, r in fleet.releases().items() if r != rel} == {
        "b-e1": fleet.releases()["b-e1"]
    }


def test_progress_deadline_fails_the_step_and_rolls_back(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    good(fleet, store)
    real = fleet.executor

    def slow(*args: Any, **kw: Any) -> Any:
        res = real(*args, **kw)
        if not kw["check"] and len(fleet.calls) == 8:  # the new rollout's canary
            res.status = "timeout"
        return res

    out = Engine(store, fleet.root, executor=slow).start(
        "lab", "edge.yml", policy(), extravars={"v": 6}
    )
    assert out.status is Status.rolled_back
    assert "progress deadline of 600s passed during canary" in out.message


def test_prometheus_gate_on_a_loopback_api(fleet: FakeFleet, store: SqliteStore) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    value = {"v": "0.001"}

    class Prom(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(
                {
                    "status": "success",
                    "data": {"resultType": "vector", "result": [{"value": [0, value["v"]]}]},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Prom)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        gates = {
            **POLICY["gates"],
            "prometheus": {
                "enabled": True,
                "url": url,
                "queries": [{"name": "5xx_ratio", "query": "sum(rate(x[1m]))", "max": 0.01}],
            },
        }
        out = engine(fleet, store).start("lab", "edge.yml", policy(gates=gates))
        assert out.status is Status.completed
        prom = [
            e for e in store.events(out.id) if e["type"] == "gate" and e["gate"] == "prometheus"
        ]
        assert prom and all(e["verdict"] == "pass" for e in prom)
        value["v"] = "0.2"
        out = engine(fleet, store).start("lab", "edge.yml", policy(gates=gates), extravars={"v": 7})
        assert out.status is Status.rolled_back
        assert "5xx_ratio=0.2 > 0.01" in out.message
    finally:
        srv.shutdown()
        srv.server_close()


def test_region_waits_for_its_own_local_window_then_resume_goes_on(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    import time as _time
    from datetime import UTC, datetime, timedelta

    now = datetime.fromtimestamp(_time.time(), UTC)
    later = now + timedelta(hours=12)
    tokyo = later.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    # Region "b" may deploy only in a one-hour Tokyo slot 12 hours from now; "a" and "c"
    # fall under "*" (always open).
    pol = policy(
        deploy_windows={
            "b": {
                "tz": "Asia/Tokyo",
                "start": f"{tokyo:%H}:00",
                "end": f"{(tokyo.hour + 1) % 24:02d}:00",
            },
            "*": {"tz": "Europe/Dublin"},
        }
    )
    out = engine(fleet, store).start("lab", "edge.yml", pol)
    assert out.status is Status.paused, out.message
    pause = out.doc["pause"]
    assert pause["kind"] == "window"
    assert "outside b's deploy window" in pause["reason"] and "Asia/Tokyo" in pause["reason"]
    assert "opens" in pause["reason"] and "JST" in pause["reason"]
    # The canary and region a ran; nothing in b or c.
    ran = {h.split("-")[0] for c in fleet.calls for h in c.limit}
    assert ran == {"a"}
    # Resume outside the window: it pauses again, durably, at the same step.
    again = engine(fleet, store).resume(out.id)
    assert again.status is Status.paused and again.doc["pause"]["step"] == pause["step"]
    # What `rollout resume --wait` sleeps for: until b's Tokyo slot opens.
    from fleetctl.services.windows import window_wait

    wait = window_wait(store, out.id, now)
    assert wait is not None and wait.region == "b"
    slot = tokyo.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    assert wait.opens == slot
    assert wait.text.endswith("JST (" + f"{slot:%H:%M}" + " UTC)")
    assert wait.seconds(now) == (slot - now).total_seconds()
    # Resume when the window is open (a clock 12 h on): b and c run to the end.
    inside = Engine(
        store,
        fleet.root,
        executor=fleet.executor,
        who="tester",
        clock=lambda: _time.time() + 12 * 3600,
    )
    done = inside.resume(out.id)
    assert done.status is Status.completed, done.message
    assert window_wait(store, out.id, now) is None
    assert {h.split("-")[0] for c in fleet.calls for h in c.limit} == {"a", "b", "c"}
