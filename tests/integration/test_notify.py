"""Rollout notifications to a real HTTP receiver on 127.0.0.1 (Slack blocks and the JSON
event), retries, a dead webhook that never fails the rollout, and URLs kept secret."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rollout_fleet import PROBED_POLICY, FakeFleet
from typer.testing import CliRunner
from webhook_receiver import receiver

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.core.policy import Policy
from fleetctl.services import rollout as rollout_service
from fleetctl.services.notify import Notifier, Target, cli_targets, fingerprint
from fleetctl.services.rollout import Engine, Status

pytestmark = pytest.mark.integration

SLACK_ENV = "FLEETCTL_TEST_SLACK_URL"


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.3, 2), "b": (0.7, 2)})
    yield f
    f.close()


def run(
    fleet: FakeFleet,
    store: SqliteStore,
    notifier: Notifier,
    extravars: dict[str, Any] | None = None,
    **over: Any,
) -> Any:
    eng = Engine(store, fleet.root, executor=fleet.executor, notify=notifier.submit)
    try:
        return eng.start(
            "lab", "edge.yml", Policy.model_validate({**PROBED_POLICY, **over}), extravars=extravars
        )
    finally:
        notifier.close()


def quick(targets: list[Target], store: SqliteStore, **kw: Any) -> Notifier:
    return Notifier(targets, store.append_event, backoff_s=0.01, timeout_s=2, **kw)


def test_a_good_rollout_tells_slack_and_json_targets(
    fleet: FakeFleet, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiver() as rec:
        slack_url, json_url = f"{rec.url}/slack/T0/B0/secret", f"{rec.url}/events"
        monkeypatch.setenv(SLACK_ENV, slack_url)
        notifier = quick(cli_targets([json_url], "json"), store, base=fleet.root)
        out = run(
            fleet,
            store,
            notifier,
            notify=[{"name": "ops-slack", "url_env": SLACK_ENV, "format": "slack"}],
        )
        assert out.status is Status.completed, out.message
        events = rec.bodies("/events")
        slack = rec.bodies("/slack/T0/B0/secret")

    assert [e["kind"] for e in events] == ["started", "canary_passed", "completed"]
    first = events[0]
    assert first["schema"] == "fleetctl.notify/v1"
    assert first["rollout"] == out.id and first["env"] == "lab"
    assert first["release"] == out.doc["release_id"]
    assert first["event"]["type"] == "created"  # the journal's own event
    assert events[1]["step"] == "canary" and events[1]["verdict"] == "pass"

    assert len(slack) == 3
    done = slack[-1]
    assert "rollout completed: lab" in done["text"]
    header, facts, why, context = done["blocks"]
    assert header["type"] == "header"
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in facts["fields"]}
    assert fields == {
        "*env*": "lab",
        "*release*": out.doc["release_id"],
        "*step*": "b wave 1 (100%)",
        "*verdict*": "pass",
    }
    assert why["text"]["text"].startswith("*why:* release ")
    assert f"fleetctl rollout why {out.id}" in context["elements"][0]["text"]

    # The journal names the targets and fingerprints, never a URL.
    journal = store.events(out.id)
    targets = [e for e in journal if e["type"] == "notify_targets"]
    assert targets[0]["targets"] == [
        {"target": "cli-1", "fingerprint": fingerprint(json_url), "format": "json"},
        {"target": "ops-slack", "fingerprint": fingerprint(slack_url), "format": "slack"},
    ]
    assert not [e for e in journal if e["type"] == "notify_failed"]
    everything = json.dumps(journal) + json.dumps(store.get("rollout", out.id))
    assert "/slack/T0/B0/secret" not in everything and rec.url not in everything
    # Nor anywhere on disk: the state db (journal, record, release snapshots) and the project.
    files = [p for p in store.path.parent.rglob("*") if p.is_file()]
    assert store.path in files and any(p.suffix == ".db-wal" or p == store.path for p in files)
    for path in files:
        assert b"/slack/T0/B0/secret" not in path.read_bytes(), path


def test_gate_failed_and_rolled_back_with_proof(fleet: FakeFleet, store: SqliteStore) -> None:
    with receiver() as rec:
        good = run(fleet, store, quick([], store))
        assert good.status is Status.completed
        out = run(
            fleet,
            store,
            quick(cli_targets([rec.url + "/e"], "json"), store),
            extravars={"edge_broken_paths": ["/vod/"]},
        )
        assert out.status is Status.rolled_back, out.message
        events = rec.bodies()
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "rolled_back"
    assert "gate_failed" in kinds
    failed = next(e for e in events if e["kind"] == "gate_failed")
    assert failed["verdict"] == "fail" and failed["step"] == "canary"
    assert failed["why"].startswith("step gate http: FAIL")
    back = events[-1]
    assert "proof: PROVEN" in back["why"] and back["verdict"] == "rolled back"


def test_approval_needed_says_what_it_waits_for(fleet: FakeFleet, store: SqliteStore) -> None:
    with receiver() as rec:
        out = run(
            fleet,
            store,
            quick(cli_targets([rec.url], "slack"), store),
            canary={"approval": True},
        )
        assert out.status is Status.paused
        slack = rec.bodies()
    assert "rollout approval needed: lab" in slack[-1]["text"]
    assert "waits for an approval" in slack[-1]["text"]


def test_retries_then_delivers(fleet: FakeFleet, store: SqliteStore) -> None:
    with receiver(fail_first=2) as rec:
        out = run(fleet, store, quick(cli_targets([rec.url], "json"), store))
        assert out.status is Status.completed
        assert rec.seen == 3 + 2  # three notifications, the first one twice refused
        assert [e["kind"] for e in rec.bodies()] == ["started", "canary_passed", "completed"]
    assert not [e for e in store.events(out.id) if e["type"] == "notify_failed"]


def test_a_dead_webhook_is_journaled_and_never_fails_the_rollout(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    with receiver() as rec:
        dead = rec.url + "/hook-secret"
    # The receiver is gone: nothing listens on that port any more.
    out = run(fleet, store, quick(cli_targets([dead], "slack"), store))
    assert out.status is Status.completed, out.message
    failed = [e for e in store.events(out.id) if e["type"] == "notify_failed"]
    assert [e["kind"] for e in failed] == ["started", "canary_passed", "completed"]
    assert all(e["attempts"] == 4 and e["target"] == "cli-1" for e in failed)
    assert all(e["fingerprint"] == fingerprint(dead) for e in failed)
    assert "Connection" in failed[0]["error"] or "refused" in failed[0]["error"]
    assert "hook-secret" not in json.dumps(store.events(out.id))
    why = CliRunner().invoke(app, ["--state", str(store.path), "rollout", "why", out.id])
    assert "notification started not delivered to cli-1" in why.stdout + why.stderr
    assert "hook-secret" not in why.output


def test_a_full_queue_drops_and_journals_without_blocking(
    fleet: FakeFleet, store: SqliteStore
) -> None:
    release = threading.Event()

    def stuck(url: str, body: bytes, timeout: float) -> None:
        release.wait(timeout=30)

    notifier = Notifier(
        cli_targets(["http://127.0.0.1:9/never"], "json"),
        store.append_event,
        queue_size=1,
        sender=stuck,
    )
    eng = Engine(store, fleet.root, executor=fleet.executor, notify=notifier.submit)
    out = eng.start("lab", "edge.yml", Policy.model_validate(PROBED_POLICY))
    assert out.status is Status.completed  # while the sender was stuck
    release.set()
    notifier.close(wait_s=5)
    failed = [e for e in store.events(out.id) if e["type"] == "notify_failed"]
    assert any("queue full" in e["error"] for e in failed)


def test_cli_notify_flag_and_policy_errors(
    fleet: FakeFleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollout_service, "ansible_executor", fleet.executor)
    runner = CliRunner()
    base = ["--root", str(fleet.root), "--state", str(tmp_path / "state.db")]
    pol = tmp_path / "p.yml"
    pol.write_text(json.dumps(PROBED_POLICY))
    with receiver() as rec:
        url = rec.url + "/cli-secret"
        r = runner.invoke(
            app,
            [
                *base,
                "rollout",
                "start",
                "edge.yml",
                "--env",
                "lab",
                "--yes",
                "--policy",
                str(pol),
                "--notify",
                url,
                "--notify-format",
                "slack",
            ],
        )
        assert r.exit_code == 0, r.output
        assert [b["text"].split(" —")[0] for b in rec.bodies()] == [
            "▶ rollout started: lab",
            "✅ rollout canary passed: lab",
            "✅ rollout completed: lab",
        ]
    assert "cli-secret" not in r.output

    # A URL written into the policy is refused, and not echoed.
    bad = tmp_path / "bad.yml"
    bad.write_text("notify:\n  - {name: ops, url: 'https://hooks.example.invalid/T/B/xyz'}\n")
    r = runner.invoke(
        app, [*base, "rollout", "start", "edge.yml", "--env", "lab", "--yes", "--policy", str(bad)]
    )
    assert r.exit_code == 2 and "a webhook URL is a secret" in r.stderr
    assert "xyz" not in r.output
    # A target whose env var is not set: refused before anything starts.
    unset = tmp_path / "unset.yml"
    unset.write_text("notify:\n  - {name: ops, url_env: FLEETCTL_TEST_NOT_SET}\n")
    monkeypatch.delenv("FLEETCTL_TEST_NOT_SET", raising=False)
    r = runner.invoke(
        app,
        [*base, "rollout", "start", "edge.yml", "--env", "lab", "--yes", "--policy", str(unset)],
    )
    assert r.exit_code == 2
    assert "notify target 'ops': env var FLEETCTL_TEST_NOT_SET is empty or not set" in r.stderr
    r = runner.invoke(
        app,
        [
            *base,
            "rollout",
            "start",
            "edge.yml",
            "--env",
            "lab",
            "--yes",
            "--notify",
            "ftp://x/secret-token",
        ],
    )
    assert r.exit_code == 2 and "must start with https://" in r.stderr
    assert "secret-token" not in r.output
