"""A region's steps wait, in the runner's process and durably, for its deploy window,
whichever command continues the rollout: start, resume, promote, a signed approval.

Real windows in IANA zones that open a few seconds from now: the engine's clock
seam (`Runner(clock=...)`) is shifted so that a minute boundary (windows are
whole minutes) falls a few seconds ahead; real time passes, nothing in the
engine is patched. A real kill -9 of a waiting process, then `resume`; real
`fleetctl rollout start` / `promote` subprocesses waiting, seen by `status`/`why`,
and aborted by `fleetctl rollout abort` from another process; a real approvals
server on 127.0.0.1 whose promote waits in its worker thread.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from approvals_http import post, serving
from rollout_fleet import Call, FakeFleet

from fleetctl.adapters.state import open_store
from fleetctl.core.policy import Policy
from fleetctl.services import freeze
from fleetctl.services.approvals import ApprovalServer, make, signature
from fleetctl.services.rollout import Engine, Status, lock_name

pytestmark = pytest.mark.integration

APPROVAL_KEY = b"window-test-approval-key-0123456789"
NO_HTTP: dict[str, Any] = {
    "bake_s": 0,
    "waves": ["100%"],
    "gates": {"http": {"enabled": False}},
}
# the canary (a-e0, region a, no window) pauses for approval
APPROVE_CANARY: dict[str, Any] = {**NO_HTTP, "canary": {"approval": True}}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    # canary a-e0, then the rest of a, then b (the region with a window)
    f = FakeFleet(tmp_path / "ws", {"a": (0.3, 2), "b": (0.7, 2)})
    yield f
    f.close()


@pytest.fixture
def fleet_a1(tmp_path: Path) -> Iterator[FakeFleet]:
    # canary a-e0 is all of region a, so the step after its approval is b's wave
    f = FakeFleet(tmp_path / "ws", {"a": (0.3, 1), "b": (0.7, 2)})
    yield f
    f.close()


# -- clocks and windows --------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftedClock:
    """Real time plus `offset`: it reads a whole minute (`boundary`, epoch seconds) a
    chosen number of real seconds from now, so a window can open at `boundary`."""

    offset: float
    boundary: float

    def __call__(self) -> float:
        return time.time() + self.offset


def shifted_clock(opens_in_s: float) -> ShiftedClock:
    real = time.time() + opens_in_s
    boundary = math.ceil(real / 60.0) * 60.0
    return ShiftedClock(boundary - real, boundary)


def window_at(boundary: float, tz: str, minutes: int = 10) -> dict[str, str]:
    local = datetime.fromtimestamp(boundary, ZoneInfo(tz))
    return {
        "tz": tz,
        "start": f"{local:%H:%M}",
        "end": f"{local + timedelta(minutes=minutes):%H:%M}",
    }


def in_3_hours(tz: str) -> tuple[datetime, str]:
    """A whole minute three hours from now, and how `fleetctl` writes it in `tz`."""
    opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    local = opens.astimezone(ZoneInfo(tz))
    return opens, f"{local:%a %Y-%m-%d %H:%M} {local:%Z} ({opens:%H:%M} UTC)"


# -- the state, and the processes that wait ---------------------------------------------------


def events_of(url: str, rid: str) -> list[dict[str, Any]]:
    store = open_store(url)
    try:
        return store.events(rid)
    finally:
        store.close()


def wait_for_event(
    url: str, kind: str, proc: subprocess.Popen[str] | None = None, rid: str | None = None
) -> str:
    """Until a rollout (`rid`, else the only one) journals `kind`; its id. `proc`, when
    given, must stay alive meanwhile."""
    deadline = time.monotonic() + 60
    while not Path(url).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    # one connection for the polling: opening a store per look can starve its writer
    store = open_store(url)
    try:
        while time.monotonic() < deadline:
            docs = store.list("rollout") if rid is None else [{"id": rid}]
            if docs and any(e["type"] == kind for e in store.events(docs[0]["id"])):
                return str(docs[0]["id"])
            assert proc is None or proc.poll() is None, proc.communicate()
            time.sleep(0.2)
    finally:
        store.close()
    pytest.fail(f"no {kind} journaled within 60 s")


@contextmanager
def reaped(proc: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """`proc`, killed on the way out if a failed assertion left it running."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def paused_for_approval(
    fleet: FakeFleet, url: str, pol: dict[str, Any], clock: Callable[[], float] = time.time
) -> str:
    """Start a rollout in this process; its canary passes and pauses for approval."""
    store = open_store(url)
    try:
        out = Engine(store, fleet.root, executor=fleet.executor, clock=clock).start(
            "lab", "edge.yml", Policy.model_validate(pol)
        )
    finally:
        store.close()
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "approval", out.message
    assert out.doc["next_step"] == 0
    return out.id


_WAITER = r"""
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
    def __init__(self, hosts):
        self.status, self.error, self.duration_s = "successful", "", 0.0
        self.hosts = {h: Host() for h in hosts}

def executor(playbook, inventory, *, limit, check, diff, extravars, timeout_s, cancel, env=None):
    print("batch", list(limit), flush=True)
    return Result(limit)

root, url, offset, command = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
eng = Engine(open_store(url), Path(root), executor=executor, wait_windows=True,
             clock=lambda: time.time() + offset)
if command == "promote":
    out = eng.promote(sys.argv[5], "canary looks fine")
else:
    out = eng.start("lab", "edge.yml", Policy.model_validate(json.loads(sys.argv[5])))
print("ended", out.status.value, flush=True)
"""


def kill_9_once_waiting(
    fleet: FakeFleet, url: str, clock: ShiftedClock, *command: str
) -> tuple[str, str]:
    """Run `start POLICY_JSON` or `promote ID` (waiting for windows, on `clock`) in a
    process of its own, kill -9 it once it journals its window wait: (rollout id,
    what it printed)."""
    argv = [sys.executable, "-c", _WAITER, str(fleet.root), url, str(clock.offset), *command]
    with reaped(
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ) as waiter:
        rid = wait_for_event(url, "window_wait", waiter)
        assert clock() < clock.boundary - 2, "the machine was too slow to kill it in time"
        os.kill(waiter.pid, signal.SIGKILL)
        out, _ = waiter.communicate(timeout=30)
    assert "batch ['b-" not in out and "ended" not in out  # killed while waiting
    return rid, out


@dataclass
class Cli:
    """`fleetctl --root R --state S ...` as real processes."""

    root: Path
    state: str
    env: dict[str, str] = field(
        default_factory=lambda: {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    )

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "fleetctl", "--root", str(self.root), "--state", self.state]

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.argv(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.argv(), *args], capture_output=True, text=True, env=self.env, timeout=120
        )


def flat(text: str) -> str:
    return " ".join(text.split())  # tables wrap their titles and cells


def assert_status_and_why_show_the_wait(cli: Cli, rid: str, label: str, waiting: str) -> None:
    """`rollout status` and `why`, run while `label` waits: `waiting` is the record's
    message ("waiting for b window, opens Mon ... JST (... UTC)")."""
    st = cli.run("rollout", "status", rid)
    assert st.returncode == 0, st.stderr
    assert f"running {waiting}" in flat(st.stdout)
    assert "(in 2h5" in flat(st.stdout) or "(in 3h00m" in flat(st.stdout)  # when it ends
    assert st.stderr.strip() == waiting
    why = cli.run("rollout", "why", rid)
    region, opens = waiting.removeprefix("waiting for ").split(", ", 1)
    assert f"{label}: waiting for {region} (" in flat(why.stdout) and opens in flat(why.stdout)


def abort_from_another_process(cli: Cli, rid: str, waiter: subprocess.Popen[str]) -> str:
    """`rollout abort` while `waiter` waits; `waiter` ends by itself within seconds (its
    stderr)."""
    asked = time.monotonic()
    ab = cli.run("rollout", "abort", rid, "--reason", "not tonight")
    assert ab.returncode == 0, ab.stderr
    assert "abort requested" in ab.stderr
    _out, err = waiter.communicate(timeout=60)
    print(f"abort honoured {time.monotonic() - asked:.1f}s after `rollout abort` was run")
    assert waiter.returncode == 1, err
    assert "Traceback" not in err and "not tonight" in err
    return err


# -- start and resume ---------------------------------------------------------------------------


def test_a_region_waits_in_process_for_its_window_then_goes_on(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    clock = shifted_clock(4.0)
    boundary = clock.boundary
    pol = Policy.model_validate(
        {
            **NO_HTTP,
            "deploy_windows": {"b": window_at(boundary, "Asia/Kolkata"), "*": {"tz": "UTC"}},
        }
    )
    started_at: dict[str, float] = {}

    def seen(call: Call) -> None:
        for h in call.limit:
            started_at.setdefault(h, clock())

    fleet.on_call = seen
    url = str(tmp_path / "state.db")
    printed: list[dict[str, Any]] = []
    eng = Engine(
        open_store(url),
        fleet.root,
        executor=fleet.executor,
        clock=clock,
        wait_windows=True,
        on_event=printed.append,
    )
    out = eng.start("lab", "edge.yml", pol)
    assert out.status is Status.completed, out.message
    # region a ran before the opening; region b only once its Kolkata window opened
    assert started_at["a-e0"] < boundary and started_at["a-e1"] < boundary
    assert started_at["b-e0"] >= boundary and started_at["b-e1"] >= boundary
    evs = events_of(url, out.id)
    kinds = [e["type"] for e in evs]
    assert "paused" not in kinds and "resumed" not in kinds  # went on by itself
    wait = next(e for e in evs if e["type"] == "window_wait")
    assert wait["region"] == "b" and wait["opens_at"] == boundary
    local = datetime.fromtimestamp(boundary, ZoneInfo("Asia/Kolkata"))
    assert wait["opens"] == (
        f"{local:%a %Y-%m-%d %H:%M} IST ({datetime.fromtimestamp(boundary, UTC):%H:%M} UTC)"
    )
    opened = kinds.index("window_opened")
    assert kinds.index("window_wait") < opened
    assert kinds[opened + 1] == "step_started" and evs[opened + 1]["region"] == "b"
    assert evs[opened]["waited_s"] > 0
    # the progress the CLI prints is the journal's event, as it happens
    assert any(e.get("type") == "window_wait" for e in printed)


def test_kill_9_while_waiting_then_resume_waits_on_and_goes_on(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    clock = shifted_clock(15.0)
    boundary = clock.boundary
    pol = {**NO_HTTP, "deploy_windows": {"b": window_at(boundary, "Europe/Dublin")}}
    url = str(tmp_path / "state.db")
    rid, _out = kill_9_once_waiting(fleet, url, clock, "start", json.dumps(pol))
    store = open_store(url)
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "running"  # the record says it waits
    assert doc["pause"]["kind"] == "window" and doc["pause"]["until"] == boundary
    assert doc["message"].startswith("waiting for b window, opens ")
    # A wrong opening in the record ("already open") is not trusted: resume recomputes it.
    doc["pause"]["until"] = boundary - 3600
    store.put("rollout", rid, doc)
    b_started: list[float] = []
    fleet.on_call = lambda call: b_started.append(clock()) if call.limit[0][0] == "b" else None
    resumed = Engine(
        open_store(url), fleet.root, executor=fleet.executor, clock=clock, wait_windows=True
    ).resume(rid)
    assert resumed.status is Status.completed, resumed.message
    assert b_started and min(b_started) >= boundary
    kinds = [e["type"] for e in store.events(rid)]
    after = kinds[kinds.index("resumed") :]
    assert after[:3] == ["resumed", "window_wait", "window_opened"]
    waits = [e for e in store.events(rid) if e["type"] == "window_wait"]
    assert [w["opens_at"] for w in waits] == [boundary, boundary]
    assert kinds.count("step_finished") == 3 and kinds[-1] == "lock_released"
    assert store.lock_info(lock_name("lab")) is None
    store.close()


def test_no_wait_pauses_and_a_freeze_during_a_wait_pauses_for_the_freeze(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    clock = shifted_clock(3600.0)
    pol = Policy.model_validate(
        {**NO_HTTP, "deploy_windows": {"b": window_at(clock.boundary, "Asia/Tokyo")}}
    )
    url = str(tmp_path / "state.db")
    # --no-wait: as before, a pause for the window
    out = Engine(open_store(url), fleet.root, executor=fleet.executor, clock=clock).start(
        "lab", "edge.yml", pol
    )
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "window"
    assert "until" not in out.doc["pause"]
    # waiting: a freeze set meanwhile (by another process's store) is honoured within seconds
    store = open_store(url)
    froze: dict[str, float] = {}

    def sleep(s: float) -> None:
        if "at" not in froze:
            freeze.set_freeze(store, "lab", True, "match night", by="ops")
            froze["at"] = time.monotonic()
        time.sleep(s)

    waiting = Engine(
        open_store(url),
        fleet.root,
        executor=fleet.executor,
        clock=clock,
        sleep=sleep,
        wait_windows=True,
    )
    again = waiting.resume(out.id)
    took = time.monotonic() - froze["at"]
    assert again.status is Status.paused and again.doc["pause"]["kind"] == "freeze"
    assert took < 30  # bounded, not a timing claim: the wait wakes every 2 s
    kinds = [e["type"] for e in store.events(out.id)]
    assert kinds[-2:] == ["window_wait", "paused"]
    store.close()


def test_cli_start_waits_status_and_why_show_it_abort_ends_it(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    """A real `fleetctl rollout start` waits for a window three hours away; status and
    why show the wait and its end; `rollout abort` from another process ends it
    within seconds (rolled back: nothing was changed); nothing ever ran."""
    opens, when = in_3_hours("Asia/Tokyo")
    pol = tmp_path / "windows.yml"
    win = window_at(opens.timestamp(), "Asia/Tokyo", minutes=60)
    pol.write_text(
        "bake_s: 0\nwaves: ['100%']\ngates: {http: {enabled: false}}\n"
        f"deploy_windows:\n  '*': {{tz: {win['tz']}, start: '{win['start']}', "
        f"end: '{win['end']}'}}\n"
    )
    url = str(tmp_path / "state.db")
    cli = Cli(fleet.root, url)
    with reaped(
        cli.popen("rollout", "start", "edge.yml", "--env", "lab", "-p", str(pol), "--yes")
    ) as starter:
        rid = wait_for_event(url, "window_wait", starter)
        # (the canary's region is "a": "waiting for a window")
        assert_status_and_why_show_the_wait(
            cli, rid, "canary", f"waiting for a window, opens {when}"
        )
        assert "waiting for window" in flat(cli.run("rollout", "status", rid).stdout)  # its step
        js = json.loads(cli.run("rollout", "status", rid, "--format", "json").stdout)
        assert js["status"] == "running" and js["pause"]["until"] == opens.timestamp()
        err = abort_from_another_process(cli, rid, starter)
    assert "canary: waiting for a window" in flat(err) and f"opens {when}" in flat(err)
    assert "nothing to roll back" in flat(err)
    store = open_store(url)
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "rolled_back" and doc["touched"] == []
    assert not any(e["type"] == "step_started" for e in store.events(rid))
    assert store.lock_info(lock_name("lab")) is None
    store.close()
    assert fleet.calls == []


# -- promote, and a signed approval, continue a rollout like start and resume -------------------


def test_cli_promote_waits_for_the_next_regions_window_abort_ends_it(
    fleet_a1: FakeFleet, tmp_path: Path
) -> None:
    """`fleetctl rollout promote` passes the canary's approval, then waits (does not
    pause) for region b's window three hours away; status and why show the wait;
    `rollout abort` from another process ends it within seconds; b never ran."""
    opens, when = in_3_hours("Asia/Tokyo")
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(opens.timestamp(), "Asia/Tokyo")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol)
    cli = Cli(fleet_a1.root, url)
    with reaped(cli.popen("rollout", "promote", rid, "--reason", "canary looks fine")) as promoter:
        wait_for_event(url, "window_wait", promoter, rid)
        waiting = f"waiting for b window, opens {when}"
        assert_status_and_why_show_the_wait(cli, rid, "b wave 1 (100%)", waiting)
        why = flat(cli.run("rollout", "why", rid).stdout)
        assert "promoted canary" in why and "canary looks fine" in why
        err = abort_from_another_process(cli, rid, promoter)
    assert "waiting for b window" in flat(err) and f"opens {when}" in flat(err)  # the progress
    # The canary changed a-e0 and the group has no earlier release: ended, not guessed.
    assert "no last known-good release" in flat(err)
    store = open_store(url)
    evs = store.events(rid)
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "failed" and doc["touched"] == ["a-e0"]
    kinds = [e["type"] for e in evs]
    assert kinds.index("promoted") < kinds.index("window_wait") < kinds.index("abort_requested")
    assert "paused" not in kinds[kinds.index("promoted") :]  # it waited, never paused
    assert [e["step"] for e in evs if e["type"] == "step_started"] == [0]
    assert store.lock_info(lock_name("lab")) is None
    store.close()
    assert [c.limit for c in fleet_a1.calls] == [["a-e0"]]  # b never ran


def test_cli_promote_no_wait_pauses_for_the_window(fleet_a1: FakeFleet, tmp_path: Path) -> None:
    opens, _when = in_3_hours("Asia/Tokyo")
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(opens.timestamp(), "Asia/Tokyo")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol)
    r = Cli(fleet_a1.root, url).run("rollout", "promote", rid, "-r", "canary fine", "--no-wait")
    assert r.returncode == 1, r.stderr
    assert "outside b's deploy window" in flat(r.stderr)
    store = open_store(url)
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "paused"
    assert doc["pause"]["kind"] == "window" and doc["next_step"] == 1  # the canary passed
    assert store.lock_info(lock_name("lab")) is not None  # still its env
    store.close()


def test_kill_9_during_a_promote_wait_then_resume_goes_on(
    fleet_a1: FakeFleet, tmp_path: Path
) -> None:
    clock = shifted_clock(15.0)
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(clock.boundary, "Europe/Dublin")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol, clock)
    assert kill_9_once_waiting(fleet_a1, url, clock, "promote", rid)[0] == rid
    store = open_store(url)
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "running" and doc["next_step"] == 1
    assert doc["pause"]["kind"] == "window" and doc["pause"]["until"] == clock.boundary
    b_started: list[float] = []
    fleet_a1.on_call = lambda call: b_started.append(clock())
    resumed = Engine(
        open_store(url), fleet_a1.root, executor=fleet_a1.executor, clock=clock, wait_windows=True
    ).resume(rid)
    assert resumed.status is Status.completed, resumed.message
    assert b_started and min(b_started) >= clock.boundary
    assert [c.limit for c in fleet_a1.calls] == [["a-e0"], ["b-e0", "b-e1"]]
    kinds = [e["type"] for e in store.events(rid)]
    assert kinds.count("promoted") == 1 and kinds.count("step_finished") == 2
    assert kinds[kinds.index("resumed") :][:3] == ["resumed", "window_wait", "window_opened"]
    assert store.lock_info(lock_name("lab")) is None
    store.close()


def approvals_server(fleet: FakeFleet, url: str, clock: Callable[[], float]) -> ApprovalServer:
    """An approvals server whose promotes wait for windows, as `approvals serve`'s do."""

    def engine_for(store: Any, who: str, stopping: Callable[[], bool]) -> Engine:
        return Engine(
            store,
            fleet.root,
            executor=fleet.executor,
            clock=clock,
            who=f"{who} (signed approval)",
            wait_windows=True,
            stop_waiting=stopping,
        )

    return ApprovalServer(APPROVAL_KEY, lambda: open_store(url), engine_for, clock=clock)


def approve_canary(server: ApprovalServer, rid: str) -> tuple[int, dict[str, Any]]:
    a = make(rid, 0, "alice", "canary looks fine")
    return post(server.url, a.body(), signature(APPROVAL_KEY, a.body()))


def test_a_signed_approval_waits_for_the_window_in_the_servers_thread(
    fleet_a1: FakeFleet, tmp_path: Path
) -> None:
    clock = shifted_clock(6.0)
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(clock.boundary, "Asia/Kolkata")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol, clock)
    b_started: list[float] = []
    fleet_a1.on_call = lambda call: b_started.append(clock())
    with serving(approvals_server(fleet_a1, url, clock)) as srv:
        code, answer = approve_canary(srv, rid)
        answered = clock()
        assert code == 202 and answer["accepted"], answer
        srv.wait_idle(timeout=120)
        outcome = srv.outcomes[-1]
    assert answered < clock.boundary  # the HTTP answer did not wait for the window
    assert outcome.status is Status.completed, outcome
    assert b_started and min(b_started) >= clock.boundary
    kinds = [e["type"] for e in events_of(url, rid)]
    after = kinds[kinds.index("approval_received") :]
    assert after[:5] == [
        "approval_received",
        "lock_acquired",
        "promoted",
        "step_finished",
        "window_wait",
    ]
    assert "paused" not in after and kinds.index("window_opened") < kinds.index("completed")


def test_approvals_server_stopping_during_a_wait_leaves_it_paused_for_the_window(
    fleet_a1: FakeFleet, tmp_path: Path
) -> None:
    clock = shifted_clock(3600.0)
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(clock.boundary, "Asia/Tokyo")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol, clock)
    with serving(approvals_server(fleet_a1, url, clock)) as srv:
        assert approve_canary(srv, rid)[0] == 202
        wait_for_event(url, "window_wait", rid=rid)
        assert srv._workers[-1].is_alive()  # it waits in the server's worker thread
        # leaving the block stops the server: the wait ends within seconds
    outcome = srv.outcomes[-1]
    assert outcome.status is Status.paused, outcome
    assert outcome.doc["pause"]["kind"] == "window" and outcome.doc["next_step"] == 1
    assert "the wait was given up: its process is stopping" in outcome.message
    store = open_store(url)
    info = store.lock_info(lock_name("lab"))
    assert info is not None and info.holder == rid  # still its env, for `resume`
    store.close()
    assert [c.limit for c in fleet_a1.calls] == [["a-e0"]]
