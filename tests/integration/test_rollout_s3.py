"""The rollout engine with its journal, releases and env lock on S3 + DynamoDB (moto server).

Same engine, same fake fleet as test_rollout_engine.py; only the state URL
differs: switching backends is a flag, not a code change.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_fixture import MotoServer
from rollout_fleet import CANARY_ANALYSIS, HTTP_GATE, REGRESSION_DELAY_MS, FakeFleet

from fleetctl.adapters.state import LockHeld, StateStore, open_store
from fleetctl.core.policy import Policy
from fleetctl.services.rollout import Engine, Status, lock_name

pytestmark = pytest.mark.integration

URL = "s3://team-fleet-state/lab?table=fleet-locks"
POLICY: dict[str, Any] = {
    "bake_s": 0,
    "waves": ["100%"],
    "gates": {"http": HTTP_GATE, "canary_analysis": CANARY_ANALYSIS},
}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.3, 2), "b": (0.7, 2)})
    yield f
    f.close()


@pytest.fixture
def store(aws: MotoServer) -> Iterator[StateStore]:
    from fleetctl.adapters.state.s3 import S3Store

    S3Store.from_url(URL).ensure()
    s = open_store(URL)
    yield s
    s.close()


def test_rollout_and_rollback_with_state_in_s3(fleet: FakeFleet, store: StateStore) -> None:
    policy = Policy.model_validate(POLICY)
    good = Engine(store, fleet.root, executor=fleet.executor, who="alice").start(
        "lab", "edge.yml", policy
    )
    assert good.status is Status.completed, good.message
    good_rel = good.doc["release_id"]
    # the journal, the documents and the release snapshot live in the bucket
    keys = [
        o["Key"]
        for page in boto3.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket="team-fleet-state", Prefix="lab/")
        for o in page.get("Contents", [])
    ]
    assert any(k.startswith(f"lab/events/{good.id}/") for k in keys)
    assert any(k.startswith("lab/blobs/") for k in keys)
    assert any(k.startswith("lab/docs/lkg/") for k in keys)
    assert store.lock_info(lock_name("lab")) is None

    # a regression rolls back to the release snapshot read back from S3
    bad = Engine(open_store(URL), fleet.root, executor=fleet.executor, who="bob").start(
        "lab", "edge.yml", policy, extravars={"edge_response_delay_ms": REGRESSION_DELAY_MS}
    )
    assert bad.status is Status.rolled_back, bad.message
    assert set(fleet.releases().values()) == {good_rel}
    types = [e["type"] for e in open_store(URL).events(bad.id)]
    assert types[0] == "created" and "rollback_proof" in types


def test_a_paused_rollout_holds_the_env_lock_for_everyone(
    fleet: FakeFleet, store: StateStore
) -> None:
    policy = Policy.model_validate({**POLICY, "canary": {"approval": True}})
    paused = Engine(store, fleet.root, executor=fleet.executor, who="alice").start(
        "lab", "edge.yml", policy
    )
    assert paused.status is Status.paused
    other = Engine(open_store(URL), fleet.root, executor=fleet.executor, who="bob")
    with pytest.raises(LockHeld) as held:
        other.start("lab", "edge.yml", Policy.model_validate(POLICY))
    assert held.value.info.holder == paused.id


def test_state_flag_moves_the_cli_to_s3(store: StateStore, repo_root: Path) -> None:
    import json

    from typer.testing import CliRunner

    from fleetctl.cli.main import app

    runner = CliRunner()
    base = ["--root", str(repo_root), "--state", URL, "freeze"]
    on = runner.invoke(app, [*base, "on", "--env", "prod", "--reason", "final tonight"])
    assert on.exit_code == 0, on.stderr
    status = runner.invoke(app, [*base, "status", "--env", "prod", "--format", "json"])
    assert status.exit_code == 0, status.stderr
    assert "final tonight" in json.dumps(json.loads(status.stdout))
    assert open_store(URL).list("freeze")  # written to S3, not to a local SQLite file
