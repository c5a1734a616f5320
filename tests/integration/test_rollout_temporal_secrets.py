"""`--engine temporal` with secret vars and notifications, on the real Temporal dev
server: a secret value reaches the playbook from the regional worker's own
environment and never enters workflow history, the journal or the logs; a worker
without it (or with another value) fails clearly; the policy's webhooks and the
coordinator worker's own receive the rollout's notifications."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets as stdlib_secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from rollout_fleet import PROBED_POLICY, FakeFleet

from fleetctl.adapters import temporal
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.services import secrets as secrets_service
from fleetctl.services.notify import cli_targets
from fleetctl.services.rollout import Status
from fleetctl.services.rollout_temporal.model import workflow_id
from tests.temporal_workers import WorkerThread, fleet_workers, start_rollout
from tests.webhook_receiver import receiver

pytestmark = pytest.mark.integration

REGIONS = ["a", "b"]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.1, 2), "b": (0.3, 2)})
    yield f
    f.close()


def workers(
    fleet: FakeFleet, store: SqliteStore, settings: temporal.Settings, **kw: Any
) -> AbstractContextManager[WorkerThread]:
    return fleet_workers(settings, fleet, str(store.path), REGIONS, **kw)


def start(fleet: FakeFleet, store: SqliteStore, settings: temporal.Settings, **kw: Any) -> Any:
    return start_rollout(fleet, store, settings, {**PROBED_POLICY, **kw.pop("policy", {})}, **kw)


def _readable(history_json: str) -> str:
    """A history's JSON with every payload (base64 in `data`) decoded beside it, so a
    search sees what Temporal stored: inputs, results, signals, failures."""
    import base64

    decoded: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "data" and isinstance(x, str):
                    decoded.append(base64.b64decode(x).decode("utf-8", "replace"))
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(json.loads(history_json))
    return history_json + "\n".join(decoded)


def histories(settings: temporal.Settings, rollout_id: str) -> list[str]:
    """Every workflow history of the rollout (coordinator and region children), as
    JSON with its payloads decoded."""

    async def go() -> list[str]:
        client = await temporal.connect(settings)
        ids = [workflow_id("lab")]
        async for wf in client.list_workflows(f"WorkflowId STARTS_WITH 'env/lab/{rollout_id}/'"):
            ids.append(wf.id)
        return [
            _readable((await client.get_workflow_handle(i).fetch_history()).to_json()) for i in ids
        ]

    return asyncio.run(go())


def fingerprint(fleet: FakeFleet, value: str) -> dict[str, str]:
    return secrets_service.fingerprints(
        fleet.root, [secrets_service.SecretVar("db_password", value)]
    )


def test_secret_var_comes_from_the_regional_worker_and_is_never_in_history(
    fleet: FakeFleet,
    store: SqliteStore,
    temporal_settings: temporal.Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    value = "s3cr3t-" + stdlib_secrets.token_hex(8)
    environ = {"FLEETCTL_SECRET_DB_PASSWORD": value, "PATH": "/usr/bin"}
    held = secrets_service.capture(environ=environ)
    assert "FLEETCTL_SECRET_DB_PASSWORD" not in environ  # taken out of the environment
    caplog.set_level(logging.DEBUG)
    with workers(fleet, store, temporal_settings, secrets=held):
        out = start(fleet, store, temporal_settings, secret_vars=fingerprint(fleet, value))
    assert out.status is Status.completed, out.message
    applied = [c for c in fleet.calls if not c.check]
    assert applied and all(
        c.extravars["db_password"] == value for c in applied
    )  # the playbook saw it
    assert set(fleet.releases().values()) == {out.doc["release_id"]}
    created = next(e for e in store.events(out.id) if e["type"] == "created")
    assert created["secret_vars"] == fingerprint(fleet, value)  # name and fingerprint only
    found = histories(temporal_settings, out.id)
    assert len(found) == 4  # the coordinator, a child each for the canary, a and b
    assert any("db_password" in h for h in found)  # the name travels ...
    for h in found:
        assert value not in h  # ... never the value
    kept = json.dumps([store.events(out.id), store.list("rollout"), store.list("release")])
    assert "db_password" in kept and value not in kept
    for f in Path(store.path).parent.glob("state.db*"):  # the database and its WAL
        assert value.encode() not in f.read_bytes()
    assert value not in caplog.text and value not in out.message


@pytest.mark.parametrize("given", ["missing", "different"])
def test_a_worker_without_the_value_fails_clearly_and_changes_nothing(
    fleet: FakeFleet, store: SqliteStore, temporal_settings: temporal.Settings, given: str
) -> None:
    value = "s3cr3t-" + stdlib_secrets.token_hex(8)
    other = {"FLEETCTL_SECRET_DB_PASSWORD": "another-" + value} if given == "different" else {}
    with workers(fleet, store, temporal_settings, secrets=secrets_service.capture(environ=other)):
        first = start(fleet, store, temporal_settings)  # no secret: the last known-good
        assert first.status is Status.completed, first.message
        calls = len(fleet.calls)
        out = start(fleet, store, temporal_settings, secret_vars=fingerprint(fleet, value))
    assert out.status is Status.rolled_back, out.message
    assert "the worker of region a" in out.message and "db_password" in out.message
    assert ("differ" if given == "different" else "needs secret var") in out.message
    assert "FLEETCTL_SECRET_DB_PASSWORD" in out.message  # the hint: how to give it
    assert "no host was changed" in out.message
    assert len(fleet.calls) == calls  # Ansible never ran
    assert set(fleet.releases().values()) == {first.doc["release_id"]}
    failed = next(e for e in store.events(out.id) if e["type"] == "failed")
    assert "db_password" in failed["reason"] and value not in failed["reason"]
    for h in histories(temporal_settings, out.id):
        assert value not in h


def test_policy_and_worker_webhooks_receive_a_temporal_rollouts_notifications(
    fleet: FakeFleet,
    store: SqliteStore,
    temporal_settings: temporal.Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with receiver() as rec:
        # the policy names an env var; the coordinator worker reads the URL from it
        monkeypatch.setenv("FLEETCTL_TEST_HOOK", rec.url + "/policy")
        pol = {"notify": [{"name": "ops", "url_env": "FLEETCTL_TEST_HOOK"}]}
        own = cli_targets([rec.url + "/worker"], "json")
        # leaving the workers closes the notifier: queued deliveries finish
        with workers(fleet, store, temporal_settings, notify=own):
            out = start(fleet, store, temporal_settings, policy=pol)
        assert out.status is Status.completed, out.message
        for path in ("/policy", "/worker"):
            kinds = [b["kind"] for b in rec.bodies(path)]
            assert kinds[0] == "started" and kinds[-1] == "completed", (path, kinds)
            assert "canary_passed" in kinds
            assert all(b["rollout"] == out.id for b in rec.bodies(path))
        journal = store.events(out.id)
        targets = next(e for e in journal if e["type"] == "notify_targets")
        assert {t["target"] for t in targets["targets"]} == {"ops", "cli-1"}
        assert not [e for e in journal if e["type"] == "notify_failed"]
        kept = json.dumps(journal) + "".join(histories(temporal_settings, out.id))
        assert rec.url not in kept  # webhook URLs are secrets: not in history or journal
