"""`approvals serve`: real HTTP requests on 127.0.0.1 approve a paused rollout once, signed,
before expiry; the approval resolves the pause exactly like `rollout promote`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from approvals_http import post, serving
from rollout_fleet import PROBED_POLICY, FakeFleet
from typer.testing import CliRunner

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.core.policy import Policy
from fleetctl.services.approvals import ApprovalServer, make, signature
from fleetctl.services.rollout import Engine, Status

pytestmark = pytest.mark.integration

KEY = b"test-approval-key-0123456789abcdef"
POLICY: dict[str, Any] = {**PROBED_POLICY, "canary": {"approval": True}}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.3, 2), "b": (0.7, 2)})
    yield f
    f.close()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def server(fleet: FakeFleet, state: Path) -> Iterator[ApprovalServer]:
    def engine_for(store: Any, who: str, _stopping: Any) -> Engine:
        return Engine(store, fleet.root, executor=fleet.executor, who=f"{who} (signed approval)")

    with serving(ApprovalServer(KEY, lambda: SqliteStore(state), engine_for)) as srv:
        yield srv


def paused(fleet: FakeFleet, state: Path) -> str:
    store = SqliteStore(state)
    try:
        out = Engine(store, fleet.root, executor=fleet.executor).start(
            "lab", "edge.yml", Policy.model_validate(POLICY)
        )
    finally:
        store.close()
    assert out.status is Status.paused and out.doc["pause"]["kind"] == "approval"
    return out.id


def events(state: Path, rid: str) -> list[dict[str, Any]]:
    store = SqliteStore(state)
    try:
        return store.events(rid)
    finally:
        store.close()


def test_a_signed_approval_promotes_once(
    fleet: FakeFleet, state: Path, server: ApprovalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = paused(fleet, state)
    # Signed by the CLI, as a person or a chat bot would.
    monkeypatch.setenv("FLEETCTL_APPROVAL_KEY", KEY.decode())
    r = CliRunner().invoke(
        app, ["approvals", "sign", rid, "--step", "0", "--by", "alice", "-r", "canary looks fine"]
    )
    assert r.exit_code == 0, r.output
    signed = json.loads(r.stdout)
    body, sig = signed["body"].encode(), signed["signature"]

    # Tampered (another approver) with the same signature: refused.
    forged = body.replace(b'"alice"', b'"mallory"')
    assert post(server.url, forged, sig)[0] == 401
    assert post(server.url, body, None)[0] == 401

    code, answer = post(server.url, body, sig)
    assert code == 202, answer
    assert answer == {"accepted": True, "rollout": rid, "step": 0, "by": "alice"}
    server.wait_idle()
    assert server.outcomes[-1].status is Status.completed, server.outcomes[-1].message

    journal = events(state, rid)
    received = [e for e in journal if e["type"] == "approval_received"]
    assert len(received) == 1
    assert received[0]["by"] == "alice" and received[0]["reason"] == "canary looks fine"
    promoted = [e for e in journal if e["type"] == "promoted"]
    assert promoted[0]["by"] == "alice (signed approval)"
    assert promoted[0]["reason"] == "canary looks fine" and promoted[0]["pause_kind"] == "approval"
    assert journal[-1]["type"] in ("completed", "lock_released")
    assert KEY.decode() not in json.dumps(journal)

    why = CliRunner().invoke(app, ["--state", str(state), "rollout", "why", rid])
    assert why.exit_code == 0, why.output
    assert "signed approval of step 0 by alice: canary looks fine" in why.stdout + why.stderr

    # The same approval again: one use only.
    code, answer = post(server.url, body, sig)
    assert code == 409 and "already used" in answer["error"]


def test_expired_wrong_step_and_not_paused_are_refused(
    fleet: FakeFleet, state: Path, server: ApprovalServer
) -> None:
    rid = paused(fleet, state)

    def signed(step: int = 0, ttl: float = 600, now: float | None = None, **kw: Any) -> Any:
        a = make(kw.get("rollout", rid), step, "bob", "ok", ttl_s=ttl, now=now)
        return a.body(), signature(KEY, a.body())

    import time

    code, answer = post(server.url, *signed(now=time.time() - 700))
    assert code == 410 and "expired" in answer["error"]
    code, answer = post(server.url, *signed(ttl=86400))
    assert code == 400 and "more than 3600 s away" in answer["error"]
    code, answer = post(server.url, *signed(step=1))
    assert code == 409 and "waits at step 0, not step 1" in answer["error"]
    code, answer = post(server.url, *signed(rollout="r-nope"))
    assert code == 404 and "no rollout 'r-nope'" in answer["error"]
    code, answer = post(server.url, b"{}", signature(KEY, b"{}"))
    assert code == 400
    # Still paused: nothing above promoted it.
    assert not [e for e in events(state, rid) if e["type"] in ("promoted", "approval_received")]
    # Approved, then a second (fresh) approval finds it no longer paused.
    assert post(server.url, *signed())[0] == 202
    server.wait_idle()
    code, answer = post(server.url, *signed())
    assert code == 409 and "not waiting for approval" in answer["error"]


def test_serve_refuses_a_public_address_and_a_short_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = CliRunner().invoke(app, ["approvals", "serve", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "not a loopback address" in r.stderr
    monkeypatch.setenv("FLEETCTL_APPROVAL_KEY", "short")
    r = CliRunner().invoke(app, ["approvals", "serve"])
    assert r.exit_code == 2 and "shorter than 16 bytes" in r.stderr
    assert "short" not in r.stdout
