"""A region's steps wait, in the runner's process and durably, for its deploy window.

Real windows in IANA zones that open a few seconds from now: the engine's clock
seam (`Runner(clock=...)`) is shifted so that a minute boundary (windows are
whole minutes) falls a few seconds ahead; real time passes, nothing in the
engine is patched. A real kill -9 of a waiting process, then `resume`; a real
`fleetctl rollout start` subprocess waiting, seen by `status`/`why`, and
aborted by `fleetctl rollout abort` from another process.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rollout_fleet import Call, FakeFleet

from fleetctl.adapters.state import open_store
from fleetctl.core.policy import Policy
from fleetctl.services import freeze
from fleetctl.services.approvals import HEADER, ApprovalServer, make, signature
from fleetctl.services.rollout import Engine, Status, lock_name

pytestmark = pytest.mark.integration

APPROVAL_KEY = b"window-test-approval-key-0123456789"

NO_HTTP: dict[str, Any] = {
    "bake_s": 0,
    "waves": ["100%"],
    "gates": {"http": {"enabled": False}},
}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    # canary a-e0, then the rest of a, then b (the region with a window)
    f = FakeFleet(tmp_path / "ws", {"a": (0.3, 2), "b": (0.7, 2)})
    yield f
    f.close()


def shifted_clock(opens_in_s: float) -> tuple[float, float]:
    """(offset, boundary): a clock `time.time() + offset` reads a whole minute
    (`boundary`, epoch seconds) `opens_in_s` real seconds from now."""
    real = time.time() + opens_in_s
    boundary = math.ceil(real / 60.0) * 60.0
    return boundary - real, boundary


def window_at(boundary: float, tz: str, minutes: int = 10) -> dict[str, str]:
    local = datetime.fromtimestamp(boundary, ZoneInfo(tz))
    return {
        "tz": tz,
        "start": f"{local:%H:%M}",
        "end": f"{local + timedelta(minutes=minutes):%H:%M}",
    }


def events_of(url: str, rid: str) -> list[dict[str, Any]]:
    store = open_store(url)
    try:
        return store.events(rid)
    finally:
        store.close()


def test_a_region_waits_in_process_for_its_window_then_goes_on(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    offset, boundary = shifted_clock(4.0)
    clock: Callable[[], float] = lambda: time.time() + offset  # noqa: E731
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

root, url, policy, offset = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
eng = Engine(open_store(url), Path(root), executor=executor, wait_windows=True,
             clock=lambda: time.time() + offset)
if sys.argv[5] == "promote":
    out = eng.promote(sys.argv[6], "canary looks fine")
else:
    out = eng.start("lab", "edge.yml", Policy.model_validate(json.loads(policy)))
print("ended", out.status.value, flush=True)
"""


def test_kill_9_while_waiting_then_resume_waits_on_and_goes_on(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    offset, boundary = shifted_clock(15.0)
    clock: Callable[[], float] = lambda: time.time() + offset  # noqa: E731
    pol = {**NO_HTTP, "deploy_windows": {"b": window_at(boundary, "Europe/Dublin")}}
    url = str(tmp_path / "state.db")
    waiter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WAITER,
            str(fleet.root),
            url,
            json.dumps(pol),
            str(offset),
            "start",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = open_store(url)
    rid = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until it journals its wait
            docs = store.list("rollout")
            rid = docs[0]["id"] if docs else None
            if rid and any(e["type"] == "window_wait" for e in store.events(rid)):
                break
            assert waiter.poll() is None, waiter.communicate()
            time.sleep(0.1)
        assert rid is not None
        assert clock() < boundary - 2, "the machine was too slow to kill it before the opening"
        os.kill(waiter.pid, signal.SIGKILL)
        out, _ = waiter.communicate(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert "batch ['b-" not in out and "ended" not in out  # killed while waiting
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
    offset, boundary = shifted_clock(3600.0)
    clock: Callable[[], float] = lambda: time.time() + offset  # noqa: E731
    pol = Policy.model_validate(
        {**NO_HTTP, "deploy_windows": {"b": window_at(boundary, "Asia/Tokyo")}}
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


def _fleetctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "fleetctl", *args]


def test_cli_start_waits_status_and_why_show_it_abort_ends_it(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    """A real `fleetctl rollout start` waits for a window three hours away; status and
    why show the wait and its end; `rollout abort` from another process ends it
    within seconds (rolled back: nothing was changed); nothing ever ran."""
    opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    pol = tmp_path / "windows.yml"
    win = window_at(opens.timestamp(), "Asia/Tokyo", minutes=60)
    pol.write_text(
        "bake_s: 0\nwaves: ['100%']\ngates: {http: {enabled: false}}\n"
        f"deploy_windows:\n  '*': {{tz: {win['tz']}, start: '{win['start']}', "
        f"end: '{win['end']}'}}\n"
    )
    base = ["--root", str(fleet.root), "--state", str(tmp_path / "state.db")]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    starter = subprocess.Popen(
        _fleetctl(*base, "rollout", "start", "edge.yml", "--env", "lab", "-p", str(pol), "--yes"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = str(tmp_path / "state.db")
        rid = None
        deadline = time.monotonic() + 60
        while not Path(url).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        # one connection for the polling: opening a store per look can starve its writer
        store = open_store(url)
        while time.monotonic() < deadline:
            docs = store.list("rollout")
            rid = docs[0]["id"] if docs else None
            if rid is not None and any(e["type"] == "window_wait" for e in store.events(rid)):
                break
            assert starter.poll() is None, starter.communicate()
            time.sleep(0.2)
        store.close()
        assert rid is not None
        local = opens.astimezone(ZoneInfo("Asia/Tokyo"))
        when = f"{local:%a %Y-%m-%d %H:%M} JST ({opens:%H:%M} UTC)"
        st = subprocess.run(
            _fleetctl(*base, "rollout", "status", rid),
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert st.returncode == 0, st.stderr
        flat = " ".join(st.stdout.split())  # the table wraps its title and cells
        assert "running waiting for a window, opens" in flat
        assert "(in 2h5" in flat or "(in 3h00m" in flat  # when the wait ends
        assert "waiting for window" in flat  # the canary's state
        assert st.stderr.strip() == f"waiting for a window, opens {when}"  # the record's message
        why = subprocess.run(
            _fleetctl(*base, "rollout", "why", rid), capture_output=True, text=True, env=env
        )
        flat = " ".join(why.stdout.split())
        assert "canary: waiting for a window (" in flat and f"opens {when}" in flat
        js = json.loads(
            subprocess.run(
                _fleetctl(*base, "rollout", "status", rid, "--format", "json"),
                capture_output=True,
                text=True,
                env=env,
            ).stdout
        )
        assert js["status"] == "running" and js["pause"]["until"] == opens.timestamp()
        asked = time.monotonic()
        ab = subprocess.run(
            _fleetctl(*base, "rollout", "abort", rid, "--reason", "not tonight"),
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert ab.returncode == 0, ab.stderr
        assert "abort requested" in ab.stderr
        _out, err = starter.communicate(timeout=60)
        took = time.monotonic() - asked
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
    print(f"abort honoured {took:.1f}s after `rollout abort` was run")
    assert starter.returncode == 1, err
    assert "Traceback" not in err
    flat = " ".join(err.split())
    assert "canary: waiting for a window" in flat and f"opens {when}" in flat  # the progress
    assert "not tonight" in flat and "nothing to roll back" in flat
    store = open_store(str(tmp_path / "state.db"))
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "rolled_back" and doc["touched"] == []
    assert not any(e["type"] == "step_started" for e in store.events(rid))
    assert store.lock_info(lock_name("lab")) is None
    store.close()
    assert fleet.calls == []


# -- promote, and a signed approval, continue a rollout like start and resume ------------

# the canary (a-e0, region a, no window) pauses for approval; the next step is region b
APPROVE_CANARY: dict[str, Any] = {**NO_HTTP, "canary": {"approval": True}}


@pytest.fixture
def fleet_a1(tmp_path: Path) -> Iterator[FakeFleet]:
    # canary a-e0 is all of region a, so the step after its approval is b's wave
    f = FakeFleet(tmp_path / "ws", {"a": (0.3, 1), "b": (0.7, 2)})
    yield f
    f.close()


def paused_for_approval(
    fleet: FakeFleet, url: str, pol: dict[str, Any], clock: Callable[[], float] = time.time
) -> str:
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


def wait_for_event(url: str, rid: str, kind: str, proc: subprocess.Popen[str]) -> None:
    """Until the rollout journals `kind` (the process `proc` must stay alive meanwhile)."""
    store = open_store(url)  # one connection for the polling
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(e["type"] == kind for e in store.events(rid)):
                return
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
    finally:
        store.close()
    pytest.fail(f"no {kind} journaled within 60 s")


def test_cli_promote_waits_for_the_next_regions_window_abort_ends_it(
    fleet_a1: FakeFleet, tmp_path: Path
) -> None:
    """`fleetctl rollout promote` passes the canary's approval, then waits (does not
    pause) for region b's window three hours away; status and why show the wait;
    `rollout abort` from another process ends it within seconds; b never ran."""
    opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(opens.timestamp(), "Asia/Tokyo")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol)
    base = ["--root", str(fleet_a1.root), "--state", url]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    promoter = subprocess.Popen(
        _fleetctl(*base, "rollout", "promote", rid, "--reason", "canary looks fine"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for_event(url, rid, "window_wait", promoter)
        local = opens.astimezone(ZoneInfo("Asia/Tokyo"))
        when = f"{local:%a %Y-%m-%d %H:%M} JST ({opens:%H:%M} UTC)"
        st = subprocess.run(
            _fleetctl(*base, "rollout", "status", rid),
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert st.returncode == 0, st.stderr
        flat = " ".join(st.stdout.split())
        assert f"running waiting for b window, opens {when}" in flat
        assert "(in 2h5" in flat or "(in 3h00m" in flat  # when the wait ends
        assert st.stderr.strip() == f"waiting for b window, opens {when}"
        why = subprocess.run(
            _fleetctl(*base, "rollout", "why", rid), capture_output=True, text=True, env=env
        )
        flat = " ".join(why.stdout.split())
        assert "promoted canary" in flat and "canary looks fine" in flat
        assert "b wave 1 (100%): waiting for b window (" in flat and f"opens {when}" in flat
        asked = time.monotonic()
        ab = subprocess.run(
            _fleetctl(*base, "rollout", "abort", rid, "--reason", "not tonight"),
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert ab.returncode == 0, ab.stderr
        assert "abort requested" in ab.stderr
        _out, err = promoter.communicate(timeout=60)
        took = time.monotonic() - asked
    finally:
        if promoter.poll() is None:
            promoter.kill()
            promoter.wait()
    print(f"abort honoured {took:.1f}s after `rollout abort` was run")
    assert promoter.returncode == 1, err
    assert "Traceback" not in err
    flat = " ".join(err.split())
    assert "waiting for b window" in flat and f"opens {when}" in flat  # the progress
    # The canary changed a-e0 and the group has no earlier release: ended, not guessed.
    assert "not tonight" in flat and "no last known-good release" in flat
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
    opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(opens.timestamp(), "Asia/Tokyo")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol)
    base = ["--root", str(fleet_a1.root), "--state", url]
    r = subprocess.run(
        _fleetctl(*base, "rollout", "promote", rid, "-r", "canary fine", "--no-wait"),
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        timeout=120,
    )
    assert r.returncode == 1, r.stderr
    assert "outside b's deploy window" in " ".join(r.stderr.split())
    store = open_store(url)
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "paused"
    assert doc["pause"]["kind"] == "window" and doc["next_step"] == 1  # the canary passed
    assert store.lock_info(lock_name("lab")) is not None  # still its env
    store.close()


def test_kill_9_during_a_promote_wait_then_resume_goes_on(
    fleet_a1: FakeFleet, tmp_path: Path
) -> None:
    offset, boundary = shifted_clock(15.0)
    clock: Callable[[], float] = lambda: time.time() + offset  # noqa: E731
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(boundary, "Europe/Dublin")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol, clock)
    promoter = subprocess.Popen(
        [sys.executable, "-c", _WAITER, str(fleet_a1.root), url, "{}", str(offset), "promote", rid],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_event(url, rid, "window_wait", promoter)
        assert clock() < boundary - 2, "the machine was too slow to kill it before the opening"
        os.kill(promoter.pid, signal.SIGKILL)
        out, _ = promoter.communicate(timeout=30)
    finally:
        if promoter.poll() is None:
            promoter.kill()
            promoter.wait()
    assert "batch" not in out and "ended" not in out  # killed while waiting
    store = open_store(url)
    doc = store.get("rollout", rid)
    assert doc is not None and doc["status"] == "running" and doc["next_step"] == 1
    assert doc["pause"]["kind"] == "window" and doc["pause"]["until"] == boundary
    b_started: list[float] = []
    fleet_a1.on_call = lambda call: b_started.append(clock())
    resumed = Engine(
        open_store(url), fleet_a1.root, executor=fleet_a1.executor, clock=clock, wait_windows=True
    ).resume(rid)
    assert resumed.status is Status.completed, resumed.message
    assert b_started and min(b_started) >= boundary
    assert [c.limit for c in fleet_a1.calls] == [["a-e0"], ["b-e0", "b-e1"]]
    kinds = [e["type"] for e in store.events(rid)]
    assert kinds.count("promoted") == 1 and kinds.count("step_finished") == 2
    assert kinds[kinds.index("resumed") :][:3] == ["resumed", "window_wait", "window_opened"]
    assert store.lock_info(lock_name("lab")) is None
    store.close()


def _approve(server: ApprovalServer, rid: str) -> tuple[int, dict[str, Any]]:
    a = make(rid, 0, "alice", "canary looks fine")
    req = urllib.request.Request(f"{server.url}/approve", data=a.body(), method="POST")
    req.add_header(HEADER, signature(APPROVAL_KEY, a.body()))
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


@contextmanager
def approvals_server(
    fleet: FakeFleet, url: str, clock: Callable[[], float]
) -> Iterator[ApprovalServer]:
    """A real approvals server on 127.0.0.1 whose promotes wait for windows, as the
    CLI's `approvals serve` does."""

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

    srv = ApprovalServer(APPROVAL_KEY, lambda: open_store(url), engine_for, clock=clock)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        thread.join(timeout=10)
        srv.wait_idle()


def test_a_signed_approval_waits_for_the_window_in_the_servers_thread(
    fleet_a1: FakeFleet, tmp_path: Path
) -> None:
    offset, boundary = shifted_clock(6.0)
    clock: Callable[[], float] = lambda: time.time() + offset  # noqa: E731
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(boundary, "Asia/Kolkata")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol, clock)
    b_started: list[float] = []
    fleet_a1.on_call = lambda call: b_started.append(clock())
    with approvals_server(fleet_a1, url, clock) as srv:
        code, answer = _approve(srv, rid)
        answered = clock()
        assert code == 202 and answer["accepted"], answer
        srv.wait_idle(timeout=120)
        outcome = srv.outcomes[-1]
    assert answered < boundary  # the HTTP answer did not wait for the window
    assert outcome.status is Status.completed, outcome
    assert b_started and min(b_started) >= boundary
    evs = events_of(url, rid)
    kinds = [e["type"] for e in evs]
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
    offset, boundary = shifted_clock(3600.0)
    clock: Callable[[], float] = lambda: time.time() + offset  # noqa: E731
    pol = {**APPROVE_CANARY, "deploy_windows": {"b": window_at(boundary, "Asia/Tokyo")}}
    url = str(tmp_path / "state.db")
    rid = paused_for_approval(fleet_a1, url, pol, clock)
    with approvals_server(fleet_a1, url, clock) as srv:
        assert _approve(srv, rid)[0] == 202
        store = open_store(url)
        deadline = time.monotonic() + 60
        while not any(e["type"] == "window_wait" for e in store.events(rid)):
            assert time.monotonic() < deadline, "no window_wait within 60 s"
            time.sleep(0.2)
        store.close()
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
