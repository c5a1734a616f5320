"""Env lock takeovers and crash recovery of the rollout engine (issue 17, "Lock takeover").

The engine with a real state store (SQLite, and S3 + DynamoDB on moto where
the lock semantics matter), a fleet of real loopback HTTP servers, real
probes; only Ansible is stood in for (rollout_fleet.FakeFleet), except in the
kill -9 test of the Ansible adapter's private data dir, which runs the real one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rollout_fleet import CANARY_ANALYSIS, HTTP_GATE, REGRESSION_DELAY_MS, FakeFleet

from fleetctl.adapters import procs
from fleetctl.adapters.state import LockHeld, StateStore, open_store
from fleetctl.core.policy import Policy
from fleetctl.errors import BadInput, FleetctlError
from fleetctl.services.rollout import Engine, LiveHolder, Status, lock_name
from fleetctl.services.rollout import lease as rollout

pytestmark = pytest.mark.integration

POLICY: dict[str, Any] = {
    "bake_s": 0,
    "waves": ["100%"],
    "gates": {"http": HTTP_GATE, "canary_analysis": CANARY_ANALYSIS},
}
S3_URL = "s3://fleet-takeover-state/t?table=fleet-takeover-locks"


def policy(**over: Any) -> Policy:
    return Policy.model_validate({**POLICY, **over})


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    # two regions: canary a-e0, then the rest of a, then b
    f = FakeFleet(tmp_path / "ws", {"a": (0.3, 2), "b": (0.7, 2)})
    yield f
    f.close()


def _open(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "s3":
        request.getfixturevalue("aws")
        from fleetctl.adapters.state.s3 import S3Store

        S3Store.from_url(S3_URL).ensure()
        return S3_URL
    return str(tmp_path / "state.db")


@pytest.fixture(params=["sqlite", "s3"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _open(request.param, tmp_path, request)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return str(tmp_path / "state.db")


def engine(fleet: FakeFleet, url: str, who: str = "tester") -> Engine:
    # every engine gets its own store connection, like a separate process
    return Engine(open_store(url), fleet.root, executor=fleet.executor, who=who)


def types(store: StateStore, rid: str) -> list[str]:
    return [e["type"] for e in store.events(rid)]


def test_force_refuses_a_live_holder_and_force_live_supersedes_it(
    fleet: FakeFleet, url: str
) -> None:
    store = open_store(url)
    seen: dict[str, Any] = {}

    def take_over_mid_rollout(call: Any) -> None:
        if len(fleet.calls) != 2:  # the first rollout's second batch is in flight
            return
        seen["first_calls"] = 2
        with pytest.raises(LiveHolder) as refused:
            engine(fleet, url, who="bob").start("lab", "edge.yml", policy(), force=True)
        seen["refused"] = refused.value
        # taken over for real; the newer rollout pauses at its canary, keeping the lock
        seen["second"] = engine(fleet, url, who="bob").start(
            "lab",
            "edge.yml",
            policy(canary={"approval": True}),
            extravars={"v": 2},
            force_live=True,
        )

    fleet.on_call = take_over_mid_rollout
    first = engine(fleet, url, who="alice").start("lab", "edge.yml", policy())
    second = seen["second"]
    refused = seen["refused"]
    assert isinstance(refused, LockHeld) and refused.exit_code == 1
    assert "renewed its lease" in refused.message and "--force-live" in refused.hint

    # the first rollout stopped cleanly before its next side effect
    assert first.status is Status.superseded, first.message
    assert f"superseded by {second.id}" in first.message
    assert "stopped before its next change" in first.message
    first_calls = [c for c in fleet.calls if c.release == first.doc["release_id"]]
    assert len(first_calls) == 2  # the in-flight batch, nothing after it
    doc = store.get("rollout", first.id)
    assert doc is not None and doc["status"] == "superseded"
    assert doc["superseded_by"] == second.id
    ev = types(store, first.id)
    assert ev[-1] == "superseded"  # nothing written by the old holder after the takeover
    sup = store.events(first.id)[-1]
    assert sup["by_rollout"] == second.id and sup["by"] == "bob" and sup["forced"] == "live"
    taken = next(e for e in store.events(second.id) if e["type"] == "lock_taken_over")
    assert taken["previous_holder"] == first.id and taken["previous_status"] == "running"
    assert taken["forced"] == "live" and taken["expired"] is False
    assert taken["generation"] > taken["previous_generation"]
    # the superseded rollout's release never became last known-good
    assert store.get("lkg", "lab/edge.yml") is None

    # and it is not resumable: resuming would re-apply its older release
    with pytest.raises(BadInput) as err:
        engine(fleet, url).resume(first.id)
    assert err.value.exit_code == 2
    assert f"superseded by {second.id}" in err.value.message
    assert len(fleet.calls) == 3  # nothing ran
    # the newer rollout goes on as usual
    done = engine(fleet, url).promote(second.id, "canary fine")
    assert done.status is Status.completed, done.message
    lkg = store.get("lkg", "lab/edge.yml")
    assert lkg is not None and lkg["rollout"] == second.id


def test_expired_lease_taken_by_a_plain_start_closes_the_dead_holder(
    fleet: FakeFleet, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(url)
    monkeypatch.setattr(rollout, "LOCK_TTL_S", 0.5)
    fleet.crash_at_call = 2  # "kill -9" during the second batch
    with pytest.raises(SystemExit):
        engine(fleet, url).start("lab", "edge.yml", policy())
    dead = store.list("rollout")[0]
    assert dead["status"] == "running"
    fleet.crash_at_call = None
    time.sleep(0.8)  # the dead holder's lease runs out
    monkeypatch.setattr(rollout, "LOCK_TTL_S", 120.0)
    out = engine(fleet, url, who="carol").start("lab", "edge.yml", policy(), extravars={"v": 3})
    assert out.status is Status.completed, out.message
    taken = next(e for e in store.events(out.id) if e["type"] == "lock_taken_over")
    assert taken["previous_holder"] == dead["id"]
    assert taken["expired"] is True and taken["forced"] is False
    assert "lock_acquired" not in types(store, out.id)
    closed = store.get("rollout", dead["id"])
    assert closed is not None and closed["status"] == "superseded"
    assert closed["superseded_by"] == out.id
    assert types(store, dead["id"])[-1] == "superseded"
    # `rollout why` tells both sides of the story
    from typer.testing import CliRunner

    from fleetctl.cli.main import app

    base = ["--root", str(fleet.root), "--state", url, "rollout", "why"]
    old_why = CliRunner().invoke(app, [*base, dead["id"]])
    assert old_why.exit_code == 0, old_why.output
    assert f"superseded by {out.id} (carol took over" in " ".join(old_why.output.split())
    new_why = CliRunner().invoke(app, [*base, out.id])
    assert new_why.exit_code == 0, new_why.output
    assert f"TAKEN OVER from {dead['id']} (running" in " ".join(new_why.output.split())
    assert "(its lease had expired)" in " ".join(new_why.output.split())


def test_force_takes_over_a_dead_holder_within_its_lease(fleet: FakeFleet, sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    fleet.crash_at_call = 2
    with pytest.raises(SystemExit):
        engine(fleet, sqlite_url).start("lab", "edge.yml", policy())
    dead = store.list("rollout")[0]
    fleet.crash_at_call = None
    with pytest.raises(LockHeld) as held:  # a plain start waits for the lease
        engine(fleet, sqlite_url).start("lab", "edge.yml", policy())
    assert not isinstance(held.value, LiveHolder)
    # its process is gone, so one --force is enough, even though it renewed just now
    out = engine(fleet, sqlite_url).start("lab", "edge.yml", policy(), force=True)
    assert out.status is Status.completed, out.message
    taken = next(e for e in store.events(out.id) if e["type"] == "lock_taken_over")
    assert taken["previous_holder"] == dead["id"] and taken["forced"] is True
    assert store.get("rollout", dead["id"])["status"] == "superseded"  # type: ignore[index]


def test_a_second_process_of_the_same_rollout_fences_the_first(
    fleet: FakeFleet, sqlite_url: str
) -> None:
    store = open_store(sqlite_url)
    seen: dict[str, Any] = {}

    def resume_elsewhere(call: Any) -> None:
        if len(fleet.calls) != 2:
            return
        rid = store.list("rollout")[0]["id"]
        with pytest.raises(FleetctlError, match="is still running"):
            engine(fleet, sqlite_url).resume(rid)
        seen["other"] = engine(fleet, sqlite_url).resume(rid, force_live=True)

    fleet.on_call = resume_elsewhere
    with pytest.raises(FleetctlError) as err:
        engine(fleet, sqlite_url).start("lab", "edge.yml", policy())
    assert "taken over by another process" in err.value.message
    assert "stopped before its next change" in err.value.message
    other = seen["other"]
    assert other.status is Status.completed, other.message
    # the first process wrote nothing after the second took over: the journal
    # of the rollout ends with the second process's completion
    ev = types(store, other.id)
    assert ev[-2:] == ["completed", "lock_released"]
    taken = [e for e in store.events(other.id) if e["type"] == "lock_taken_over"]
    assert len(taken) == 1 and taken[0]["previous_holder"] == other.id
    assert store.get("rollout", other.id)["status"] == "completed"  # type: ignore[index]


class _DiesAt:
    """A state store whose process "dies" right before journaling the nth event of a type."""

    def __init__(self, inner: StateStore, event_type: str, nth: int = 1) -> None:
        self.inner = inner
        self.event_type = event_type
        self.left = nth

    def append_event(self, rollout_id: str, event: dict[str, Any]) -> int:
        if event.get("type") == self.event_type:
            self.left -= 1
            if self.left == 0:
                raise SystemExit(f"killed before journaling {self.event_type}")
        return self.inner.append_event(rollout_id, event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize(
    ("dies_at", "final", "expected_tail"),
    [
        ("completed", Status.completed, ["completed", "lock_released"]),
        ("rollback_proof", Status.rolled_back, ["rollback_proof", "rolled_back", "lock_released"]),
    ],
)
def test_kill_after_the_final_status_then_resume_finishes_the_bookkeeping(
    fleet: FakeFleet,
    sqlite_url: str,
    dies_at: str,
    final: Status,
    expected_tail: list[str],
) -> None:
    store = open_store(sqlite_url)
    if final is Status.rolled_back:  # needs a last known-good to roll back to
        assert engine(fleet, sqlite_url).start("lab", "edge.yml", policy()).status.value == (
            "completed"
        )
    extra = {"edge_response_delay_ms": REGRESSION_DELAY_MS} if final is Status.rolled_back else {}
    dying = Engine(_DiesAt(open_store(sqlite_url), dies_at), fleet.root, executor=fleet.executor)
    with pytest.raises(SystemExit):
        dying.start("lab", "edge.yml", policy(), extravars=extra)
    rid = max(store.list("rollout"), key=lambda d: d["created_at"])["id"]
    assert store.get("rollout", rid)["status"] == final.value  # type: ignore[index]
    assert dies_at not in types(store, rid)
    assert store.lock_info(lock_name("lab")) is not None  # left locked
    calls = len(fleet.calls)

    out = engine(fleet, sqlite_url).resume(rid)
    assert out.status is final
    assert out.message.startswith(f"already {final.value}")
    assert len(fleet.calls) == calls  # nothing re-applied
    ev = types(store, rid)
    assert ev[-len(expected_tail) - 1 :] == [*expected_tail, "bookkeeping_finished"]
    assert store.lock_info(lock_name("lab")) is None
    # a second retry changes nothing and answers the same
    again = engine(fleet, sqlite_url).resume(rid)
    assert again.status is final and types(store, rid) == ev


def test_a_start_after_a_kill_at_the_very_end_is_not_refused(
    fleet: FakeFleet, sqlite_url: str
) -> None:
    store = open_store(sqlite_url)
    dying = Engine(
        _DiesAt(open_store(sqlite_url), "completed"), fleet.root, executor=fleet.executor
    )
    with pytest.raises(SystemExit):
        dying.start("lab", "edge.yml", policy())
    ended = store.list("rollout")[0]
    out = engine(fleet, sqlite_url).start("lab", "edge.yml", policy(), extravars={"v": 4})
    assert out.status is Status.completed, out.message
    assert store.get("rollout", ended["id"])["status"] == "completed"  # type: ignore[index]
    tail = store.events(ended["id"])[-2:]
    assert [e["type"] for e in tail] == ["completed", "lock_released"]
    assert tail[1]["taken_over_by"] == out.id


def test_cli_resume_of_completed_exits_0_and_of_superseded_exits_2(
    fleet: FakeFleet, sqlite_url: str
) -> None:
    from typer.testing import CliRunner

    from fleetctl.cli.main import app

    store = open_store(sqlite_url)
    dying = Engine(
        _DiesAt(open_store(sqlite_url), "completed"), fleet.root, executor=fleet.executor
    )
    with pytest.raises(SystemExit):
        dying.start("lab", "edge.yml", policy())
    rid = store.list("rollout")[0]["id"]
    base = ["--root", str(fleet.root), "--state", sqlite_url, "rollout"]
    runner = CliRunner()
    res = runner.invoke(app, [*base, "resume", rid])
    assert res.exit_code == 0, res.output
    assert "already completed" in res.output
    assert types(store, rid)[-1] == "bookkeeping_finished"

    store.put("rollout", "r-old", {**store.get("rollout", rid), "id": "r-old"})  # type: ignore[dict-item]
    store.put(
        "rollout",
        "r-old",
        {**store.get("rollout", "r-old"), "status": "superseded", "superseded_by": rid},  # type: ignore[dict-item]
    )
    res = runner.invoke(app, [*base, "resume", "r-old"])
    assert res.exit_code == 2, res.output
    assert f"superseded by {rid}" in res.output
    assert "Traceback" not in res.output


_ANSIBLE_CHILD = r"""
import sys
from pathlib import Path
from fleetctl.adapters.ansible import run_playbook
run_playbook(Path(sys.argv[1]), "localhost,", extravars={"token": "x"},
             env={"FLEETCTL_ROLLOUT_ID": sys.argv[2]})
"""


def test_kill_9_leaves_no_ansible_private_dir_after_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real adapter, killed mid-run: its private data dir (extra vars
    inside) is named after the dead process, so the sweep finds it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    play = tmp_path / "slow.yml"
    play.write_text(
        "- hosts: all\n  connection: local\n  gather_facts: false\n"
        "  tasks:\n    - ansible.builtin.pause: {seconds: 60}\n"
    )
    tag = "r-sweep-test-" + os.urandom(3).hex()
    child = subprocess.Popen(
        [sys.executable, "-c", _ANSIBLE_CHILD, str(play), tag],
        env={**os.environ, "TMPDIR": str(tmp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not procs.with_environ("FLEETCTL_ROLLOUT_ID", tag):
            time.sleep(0.1)  # bounded wait for ansible-playbook to be running
        dirs = list(tmp.glob("fleetctl-ansible-*"))
        assert len(dirs) == 1, dirs
        assert dirs[0].name.startswith(f"fleetctl-ansible-{child.pid}-")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        procs.kill(procs.with_environ("FLEETCTL_ROLLOUT_ID", tag))
    assert dirs[0].exists()  # the kill -9 left it behind
    mine = Path(tempfile.mkdtemp(prefix=f"fleetctl-ansible-{procs.owner_tag()}-", dir=tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    swept = rollout._sweep_dead_workdirs()
    assert swept == [dirs[0].name]
    assert not dirs[0].exists()
    assert mine.exists()  # a live process's dir is never touched


def test_resume_sweeps_the_dead_runs_temp_dirs(
    fleet: FakeFleet, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    sleeper = subprocess.Popen(["sleep", "30"])
    proc = next(p for p in procs.all_procs() if p.pid == sleeper.pid)
    sleeper.kill()
    sleeper.wait()
    fleet.crash_at_call = 2
    with pytest.raises(SystemExit):
        engine(fleet, sqlite_url).start("lab", "edge.yml", policy())
    fleet.crash_at_call = None
    rid = open_store(sqlite_url).list("rollout")[0]["id"]
    # what a kill -9 of that run leaves: its Ansible private dir, extra vars inside
    dead = tmp / f"fleetctl-ansible-{proc.pid}-{proc.start}-abc123"
    (dead / "env").mkdir(parents=True)
    (dead / "env" / "extravars").write_text("token: x\n")
    out = engine(fleet, sqlite_url).resume(rid)
    assert out.status is Status.completed, out.message
    assert not dead.exists()
    assert list(tmp.iterdir()) == []


_HOLDER = r"""
import json, sys, time
from pathlib import Path
from fleetctl.adapters.state import open_store
from fleetctl.core.policy import Policy
from fleetctl.services.rollout import Engine

class Host:
    state, changed = "changed", 1
    def to_dict(self):
        return {"state": self.state, "changed": self.changed}

class Result:
    def __init__(self, hosts, status="successful"):
        self.status, self.error, self.duration_s = status, "", 0.0
        self.hosts = {h: Host() for h in hosts}

calls = []
def executor(playbook, inventory, *, limit, check, diff, extravars, timeout_s, cancel, env=None):
    calls.append(list(limit))
    if len(calls) == 2:  # a long batch that polls its cancel callback, like Ansible's
        import os, subprocess
        # a worker in its own session, tagged like Ansible's (it outlives its parent)
        subprocess.Popen(["sleep", "120"], env={**os.environ, **env}, start_new_session=True)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if cancel():
                return Result(limit, "canceled")
            time.sleep(0.1)
    return Result(limit)

policy = Policy.model_validate(json.loads(sys.argv[3]))
out = Engine(open_store(sys.argv[2]), Path(sys.argv[1]), executor=executor, who="p1").start(
    "lab", "edge.yml", policy)
print(json.dumps({"status": out.status.value, "message": out.message, "calls": len(calls)}))
"""


def test_a_live_holder_in_another_process_is_refused_then_stops_when_superseded(
    fleet: FakeFleet, url: str
) -> None:
    """Two real processes: --force refuses a holder that is alive and renewing;
    --force-live takes over, and the old holder cancels its running batch and
    stops before its next side effect (no traceback, not left running)."""
    import json

    no_http = {**POLICY, "gates": {"http": {"enabled": False}}}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(fleet.root), url, json.dumps(no_http)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    store = open_store(url)
    try:
        deadline = time.monotonic() + 60
        rid = None
        while time.monotonic() < deadline:  # bounded wait for its second batch
            docs = store.list("rollout")
            rid = docs[0]["id"] if docs else None
            if rid and sum(e["type"] == "step_started" for e in store.events(rid)) == 2:
                break
            time.sleep(0.1)
        assert rid is not None
        # its "Ansible" starts just after the step is journaled: wait for it (bounded)
        while time.monotonic() < deadline and not procs.with_environ(rollout.TAG, rid):
            time.sleep(0.1)
        assert procs.with_environ(rollout.TAG, rid)  # its "Ansible" is running
        calls: list[list[str]] = []

        def quick(playbook: Path, inventory: Path, **kw: Any) -> Any:
            calls.append(list(kw["limit"]))
            return fleet.executor(playbook, inventory, **kw)

        def taker() -> Engine:
            return Engine(open_store(url), fleet.root, executor=quick, who="bob")

        with pytest.raises(LiveHolder) as refused:
            taker().start("lab", "edge.yml", Policy.model_validate(no_http), force=True)
        assert f"held by {rid}, which is running (pid {holder.pid} on " in refused.value.message
        new = taker().start(
            "lab", "edge.yml", Policy.model_validate(no_http), extravars={"v": 2}, force_live=True
        )
        # the taker ended the old holder's running batch before running its own
        assert procs.with_environ(rollout.TAG, rid) == []
        assert new.status is Status.completed, new.message
        out, err = holder.communicate(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if rid is not None:
            procs.kill(procs.with_environ(rollout.TAG, rid))
    assert holder.returncode == 0, err
    assert "Traceback" not in err
    result = json.loads(out)
    assert result["status"] == "superseded", result
    assert result["calls"] == 2  # its batch was cancelled; no batch after the takeover
    assert f"superseded by {new.id}" in result["message"]
    old = store.get("rollout", rid)
    assert old is not None and old["status"] == "superseded" and old["superseded_by"] == new.id
    assert types(store, rid)[-1] == "superseded"


@pytest.mark.parametrize(
    ("dies_at", "nth"),
    [
        ("created", 1),
        ("lock_acquired", 1),
        ("step_started", 2),
        ("step_applied", 2),
        ("gate", 1),
        ("step_finished", 1),
        ("step_finished", 3),
        ("completed", 1),
        ("lock_released", 1),
    ],
)
def test_killed_anywhere_then_resumed_every_step_finishes_once(
    fleet: FakeFleet, sqlite_url: str, dies_at: str, nth: int
) -> None:
    store = open_store(sqlite_url)
    dying = Engine(
        _DiesAt(open_store(sqlite_url), dies_at, nth), fleet.root, executor=fleet.executor
    )
    with pytest.raises(SystemExit):
        dying.start("lab", "edge.yml", policy())
    rid = store.list("rollout")[0]["id"]
    out = engine(fleet, sqlite_url).resume(rid)
    assert out.status is Status.completed, out.message
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "completed"
    finished = [e["step"] for e in store.events(rid) if e["type"] == "step_finished"]
    assert sorted(finished) == list(range(doc["plan_steps"]))  # none lost, none twice
    assert set(fleet.releases().values()) == {doc["release_id"]}
    lkg = store.get("lkg", "lab/edge.yml")
    assert lkg is not None and lkg["rollout"] == rid
    assert store.lock_info(lock_name("lab")) is None
    ev = types(store, rid)
    assert ev.count("completed") == 1
    assert ev[-1] in ("lock_released", "bookkeeping_finished")
    # and a CI retry of the resume is a no-op that answers the same
    assert engine(fleet, sqlite_url).resume(rid).status is Status.completed
    assert types(store, rid) == ev
