"""`fleetctl approvals serve` as a real process on 127.0.0.1: a real signed HTTP
approval (made by `fleetctl approvals sign`) lets a rollout waiting for approval
go on, with who and why journaled; a replay, an expired and a wrongly signed
approval are refused with clear HTTP statuses and journal nothing; SIGTERM stops
the server cleanly; the shared key is in no output, log or state.

The rollout waits for approval after its last step (one region), so the promote
the server runs finishes it without running Ansible: the serving process has the
real Ansible executor, and the fleet here is loopback HTTP servers
(rollout_fleet.FakeFleet) that the test process configures.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from approvals_http import free_port, post
from rollout_fleet import FakeFleet

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.core.policy import Policy
from fleetctl.services.approvals import HEADER, make, signature
from fleetctl.services.rollout import Engine, Status, lock_name

pytestmark = pytest.mark.integration

POLICY: dict[str, Any] = {
    "bake_s": 0,
    "waves": [{"size": "100%", "approval": True}],
    "gates": {"http": {"enabled": False}},
}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (1.0, 3)})  # canary a-e0, then a 100% (approval)
    yield f
    f.close()


def serve(base: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`fleetctl approvals serve` on a free loopback port, once it listens; its URL."""
    port = free_port()
    server = subprocess.Popen(
        [*base, "approvals", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until it listens
        if server.poll() is not None:
            pytest.fail(f"approvals serve exited: {server.communicate()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    server.kill()
    server.wait()
    pytest.fail("approvals serve did not listen within 60 s")


def kinds(state: Path, rid: str) -> list[str]:
    store = SqliteStore(state)
    try:
        return [e["type"] for e in store.events(rid)]
    finally:
        store.close()


def test_serve_as_a_process_approves_once_refuses_the_rest_and_stops_on_sigterm(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    key = "k3y-" + secrets.token_hex(24)
    env = {**os.environ, "FLEETCTL_APPROVAL_KEY": key, "NO_COLOR": "1", "COLUMNS": "200"}
    base = [sys.executable, "-m", "fleetctl", "--root", str(fleet.root), "--state", str(state)]

    store = SqliteStore(state)
    out = Engine(store, fleet.root, executor=fleet.executor).start(
        "lab", "edge.yml", Policy.model_validate(POLICY)
    )
    store.close()
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "approval"
    rid, step = out.id, out.doc["pause"]["step"]
    assert step == 1  # the last step: the promote completes the rollout
    before = kinds(state, rid)

    server, url = serve(base, env)
    try:
        # -- refused, and nothing journaled ---------------------------------------------
        good_key = key.encode()
        wrong = make(rid, step, "mallory", "trust me")
        status, answer = post(url, wrong.body(), signature(b"not-the-shared-key-000", wrong.body()))
        assert status == 401 and HEADER in answer["error"]
        status, answer = post(url, wrong.body(), None)  # unsigned
        assert status == 401
        tampered = make(rid, step, "alice", "ok")
        sig = signature(good_key, tampered.body())
        status, _ = post(url, tampered.body().replace(b"alice", b"mallo"), sig)
        assert status == 401  # the body changed after signing
        expired = make(rid, step, "alice", "late", ttl_s=60, now=time.time() - 3600)
        status, answer = post(url, expired.body(), signature(good_key, expired.body()))
        assert status == 410 and "expired" in answer["error"]
        assert kinds(state, rid) == before  # no approval_received, no promote
        store = SqliteStore(state)
        assert store.get("rollout", rid)["status"] == "paused"  # type: ignore[index]
        assert store.list("approval_nonce") == []  # refused ones never spend a nonce
        store.close()

        # -- a real signed approval from `fleetctl approvals sign` ----------------------
        signed = subprocess.run(
            [
                *base,
                "approvals",
                "sign",
                rid,
                "--step",
                str(step),
                "--by",
                "alice",
                "-r",
                "dashboards fine",
                "--ttl",
                "300",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert signed.returncode == 0, signed.stderr
        doc = json.loads(signed.stdout)
        assert doc["header"] == HEADER
        body = doc["body"].encode()
        status, answer = post(url, body, doc["signature"])
        assert status == 202, answer
        assert answer == {"accepted": True, "rollout": rid, "step": step, "by": "alice"}
        accepted = time.monotonic()
        deadline = accepted + 60
        while time.monotonic() < deadline:  # the promote runs in the server's thread
            # a fresh store per look, like `rollout status` run again and again
            store = SqliteStore(state)
            rec = store.get("rollout", rid)
            store.close()
            if rec is not None and rec["status"] == "completed":
                break
            time.sleep(0.2)
        print(f"approved to completed: {time.monotonic() - accepted:.1f}s")
        if rec is None or rec["status"] != "completed":
            server.kill()
            pytest.fail(f"not completed: {rec and rec['message']}; server: {server.communicate()}")

        # -- a replay of the same approval ------------------------------------------------
        status, answer = post(url, body, doc["signature"])
        assert status == 409 and "already used" in answer["error"]

        server.send_signal(signal.SIGTERM)
        sout, serr = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, serr
    assert "Traceback" not in serr
    assert "stopping" in serr  # SIGTERM stops it like Ctrl-C, after the promotes

    store = SqliteStore(state)
    events = store.events(rid)
    store.close()
    got = [e for e in events if e["type"] == "approval_received"]
    assert len(got) == 1  # one use: the replay journaled nothing
    assert got[0]["by"] == "alice" and got[0]["reason"] == "dashboards fine"
    assert got[0]["step"] == step and len(got[0]["nonce"]) == 32
    promoted = [e for e in events if e["type"] == "promoted"]
    assert len(promoted) == 1
    assert promoted[0]["by"] == "alice (signed approval)"
    assert promoted[0]["reason"] == "dashboards fine"
    assert [e["type"] for e in events][-2:] == ["completed", "lock_released"]
    assert not any(e.get("by") in ("mallory", "mallo") for e in events)

    # the shared key: in no output of serve or sign, no log line, nothing stored
    statuses = [ln for ln in serr.splitlines() if "POST /approve" in ln]
    assert [ln.rsplit("-> ", 1)[1] for ln in statuses] == ["401", "401", "401", "410", "202", "409"]
    for text in (sout, serr, signed.stdout, signed.stderr):
        assert key not in text
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert key.encode() not in f.read_bytes(), f
    assert SqliteStore(state).lock_info(lock_name("lab")) is None


def test_serve_waits_for_the_next_regions_window_and_sigterm_leaves_it_paused(
    tmp_path: Path,
) -> None:
    """After a signed approval the server's process waits for a closed deploy window
    (as `rollout promote` does, never pausing for it); SIGTERM ends that wait as a
    pause for the window, env still locked, for `rollout resume`."""
    fleet = FakeFleet(tmp_path / "ws", {"a": (0.3, 1), "b": (0.7, 2)})  # canary = all of a
    try:
        opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
        tokyo = opens.astimezone(ZoneInfo("Asia/Tokyo"))
        window = {
            "tz": "Asia/Tokyo",
            "start": f"{tokyo:%H:%M}",
            "end": f"{tokyo + timedelta(minutes=10):%H:%M}",
        }
        policy = {
            "bake_s": 0,
            "waves": ["100%"],
            "canary": {"approval": True},
            "gates": {"http": {"enabled": False}},
            "deploy_windows": {"b": window},
        }
        state = tmp_path / "state.db"
        store = SqliteStore(state)
        out = Engine(store, fleet.root, executor=fleet.executor).start(
            "lab", "edge.yml", Policy.model_validate(policy)
        )
        store.close()
        assert out.status is Status.paused and out.doc["pause"]["kind"] == "approval"
        key = "k3y-" + secrets.token_hex(24)
        env = {**os.environ, "FLEETCTL_APPROVAL_KEY": key, "NO_COLOR": "1", "COLUMNS": "200"}
        base = [sys.executable, "-m", "fleetctl", "--root", str(fleet.root), "--state", str(state)]
        server, url = serve(base, env)
        try:
            a = make(out.id, 0, "alice", "canary fine")
            assert post(url, a.body(), signature(key.encode(), a.body()))[0] == 202
            deadline = time.monotonic() + 60
            while "window_wait" not in kinds(state, out.id):
                assert time.monotonic() < deadline, "no window_wait within 60 s"
                assert server.poll() is None, server.communicate()
                time.sleep(0.2)
            store = SqliteStore(state)
            waiting = store.get("rollout", out.id)
            store.close()
            assert waiting is not None and waiting["status"] == "running"
            assert waiting["pause"]["kind"] == "window"
            assert waiting["pause"]["until"] == opens.timestamp()
            server.send_signal(signal.SIGTERM)
            _sout, serr = server.communicate(timeout=60)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        assert server.returncode == 0, serr
        assert "Traceback" not in serr
        store = SqliteStore(state)
        doc = store.get("rollout", out.id)
        info = store.lock_info(lock_name("lab"))
        store.close()
        assert doc is not None and doc["status"] == "paused" and doc["next_step"] == 1
        assert doc["pause"]["kind"] == "window"
        assert "its process is stopping" in doc["message"]
        assert info is not None and info.holder == out.id  # still its env: `resume` goes on
        evs = kinds(state, out.id)
        assert evs[-2:] == ["window_wait", "paused"]
        assert [c.limit for c in fleet.calls] == [["a-e0"]]  # b never ran
    finally:
        fleet.close()
