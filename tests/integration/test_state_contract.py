"""The StateStore contract, run against every backend (SQLite and S3 + DynamoDB on moto).

Switching backends is a URL, never a code change: every behaviour the rollout
engine relies on is asserted here once for all backends, through `open_store`.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_fixture import MotoServer

from fleetctl.adapters.state import LockHeld, StateStore, open_store

pytestmark = pytest.mark.integration

HAVE_SQLITE = importlib.util.find_spec("fleetctl.adapters.state.sqlite") is not None


def _s3_url(prefix: str = "team/state") -> str:
    return f"s3://fleet-state/{prefix}?table=fleetctl-locks-test"


def _bootstrap_s3() -> str:
    from fleetctl.adapters.state.s3 import S3Store

    url = _s3_url()
    S3Store.from_url(url).ensure()
    return url


@pytest.fixture(
    params=[
        pytest.param(
            "sqlite",
            marks=pytest.mark.skipif(
                not HAVE_SQLITE, reason="fleetctl.adapters.state.sqlite not merged yet"
            ),
        ),
        "s3",
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "s3":
        request.getfixturevalue("aws")
        url = _bootstrap_s3()
    else:
        url = str(tmp_path / "state.db")
    s = open_store(url)
    try:
        yield s
    finally:
        s.close()


def test_documents_round_trip_list_and_delete(store: StateStore) -> None:
    assert store.get("rollout", "r-1") is None
    store.put("rollout", "r-1", {"id": "r-1", "status": "running", "n": 1})
    store.put("rollout", "r-2", {"id": "r-2", "status": "done", "n": 2})
    store.put("freeze", "prod", {"env": "prod"})
    assert store.get("rollout", "r-1") == {"id": "r-1", "status": "running", "n": 1}
    store.put("rollout", "r-1", {"id": "r-1", "status": "done", "n": 1})  # overwrite
    assert store.get("rollout", "r-1") == {"id": "r-1", "status": "done", "n": 1}
    assert sorted(d["id"] for d in store.list("rollout")) == ["r-1", "r-2"]
    assert store.list("freeze") == [{"env": "prod"}]
    assert store.list("nothing") == []
    store.delete("rollout", "r-2")
    assert store.get("rollout", "r-2") is None
    assert [d["id"] for d in store.list("rollout")] == ["r-1"]
    store.delete("rollout", "never-existed")  # deleting nothing is not an error


def test_keys_with_slashes_and_odd_characters(store: StateStore) -> None:
    store.put("lkg", "prod/edge group", {"release": "abc"})
    assert store.get("lkg", "prod/edge group") == {"release": "abc"}
    assert store.get("lkg", "prod") is None
    assert store.list("lkg") == [{"release": "abc"}]


def test_journal_is_append_only_ordered_and_per_rollout(store: StateStore) -> None:
    seqs = [store.append_event("r-1", {"step": i, "phase": "start"}) for i in range(12)]
    other = store.append_event("r-2", {"step": 0})
    assert seqs == sorted(seqs) and len(set(seqs)) == 12
    events = store.events("r-1")
    assert [e["step"] for e in events] == list(range(12))
    assert all(e["phase"] == "start" for e in events)
    assert [e["step"] for e in store.events("r-2")] == [0]
    assert other >= 1
    assert store.events("unknown") == []


def test_s3_journal_survives_reopening(aws: MotoServer) -> None:
    url = _bootstrap_s3()
    first = open_store(url)
    assert first.append_event("r-1", {"step": 1}) == 1
    assert first.append_event("r-1", {"step": 2}) == 2
    again = open_store(url)  # a new process: no cached sequence numbers
    assert again.append_event("r-1", {"step": 3}) == 3
    # the first writer's cached sequence is stale; the conditional write catches it
    assert first.append_event("r-1", {"step": 4}) == 4
    assert [e["step"] for e in again.events("r-1")] == [1, 2, 3, 4]


def test_blobs_round_trip(store: StateStore) -> None:
    data = bytes(range(256)) * 100
    assert store.get_blob("releases/abc.tar") is None
    store.put_blob("releases/abc.tar", data)
    assert store.get_blob("releases/abc.tar") == data


def test_lock_is_exclusive_until_released(store: StateStore) -> None:
    info = store.acquire_lock("env/prod", "rollout-a", ttl_s=60)
    assert info.holder == "rollout-a" and info.expires_at > info.acquired_at
    assert store.lock_info("env/prod") is not None
    with pytest.raises(LockHeld) as held:
        store.acquire_lock("env/prod", "rollout-b", ttl_s=60)
    assert held.value.info.holder == "rollout-a"
    assert "rollout-a" in held.value.message
    # another env's lock is independent
    store.acquire_lock("env/staging", "rollout-b", ttl_s=60)
    # releasing someone else's lock does nothing
    store.release_lock("env/prod", "rollout-b")
    assert store.lock_info("env/prod").holder == "rollout-a"  # type: ignore[union-attr]
    store.release_lock("env/prod", "rollout-a")
    assert store.lock_info("env/prod") is None
    assert store.acquire_lock("env/prod", "rollout-b", ttl_s=60).holder == "rollout-b"


def test_lease_expires_and_renewal_extends_it(store: StateStore) -> None:
    first = store.acquire_lock("env/prod", "dead-holder", ttl_s=0.5)
    time.sleep(0.8)  # the holder "died": it never renews
    taken = store.acquire_lock("env/prod", "rollout-b", ttl_s=60)
    assert taken.holder == "rollout-b"
    assert store.lock_info("env/prod").holder == "rollout-b"  # type: ignore[union-attr]
    # the dead holder cannot renew a lock it lost
    with pytest.raises(LockHeld):
        store.renew_lock("env/prod", "dead-holder", ttl_s=60)
    renewed = store.renew_lock("env/prod", "rollout-b", ttl_s=120)
    assert renewed.holder == "rollout-b"
    assert renewed.expires_at > taken.expires_at
    assert first.expires_at < taken.expires_at


def test_force_takes_over_a_live_lock(store: StateStore) -> None:
    store.acquire_lock("env/prod", "rollout-a", ttl_s=600)
    info = store.acquire_lock("env/prod", "operator", ttl_s=60, force=True)
    assert info.holder == "operator"
    assert store.lock_info("env/prod").holder == "operator"  # type: ignore[union-attr]


def test_every_acquire_bumps_the_generation_and_reports_what_it_replaced(
    store: StateStore,
) -> None:
    first = store.acquire_lock("env/prod", "rollout-a", ttl_s=600)
    assert first.taken_from is None
    # the same holder again (a resumed rollout in a new process): a new token
    again = store.acquire_lock("env/prod", "rollout-a", ttl_s=600)
    assert again.generation == first.generation + 1
    assert again.taken_from is not None and again.taken_from.generation == first.generation
    forced = store.acquire_lock("env/prod", "rollout-b", ttl_s=60, force=True)
    assert forced.generation == again.generation + 1
    assert forced.taken_from is not None
    assert (forced.taken_from.holder, forced.taken_from.generation) == (
        "rollout-a",
        again.generation,
    )
    assert store.lock_info("env/prod").generation == forced.generation  # type: ignore[union-attr]
    # a release keeps the counter: the next holder never reuses an old token
    store.release_lock("env/prod", "rollout-b")
    assert store.lock_info("env/prod") is None
    after = store.acquire_lock("env/prod", "rollout-a", ttl_s=60)
    assert after.generation == forced.generation + 1 and after.taken_from is None


def test_renew_and_release_are_fenced_by_the_generation(store: StateStore) -> None:
    from fleetctl.adapters.state import LockLost

    old = store.acquire_lock("env/prod", "rollout-a", ttl_s=600)
    new = store.acquire_lock("env/prod", "rollout-a", ttl_s=600)  # another process, same id
    with pytest.raises(LockLost) as lost:
        store.renew_lock("env/prod", "rollout-a", ttl_s=600, generation=old.generation)
    assert lost.value.info is not None and lost.value.info.generation == new.generation
    assert f"generation {old.generation}" in lost.value.message
    # the stale process cannot release the new holder's lock either
    store.release_lock("env/prod", "rollout-a", generation=old.generation)
    assert store.lock_info("env/prod").generation == new.generation  # type: ignore[union-attr]
    renewed = store.renew_lock("env/prod", "rollout-a", ttl_s=900, generation=new.generation)
    assert renewed.generation == new.generation and renewed.renewed_at >= new.renewed_at
    store.release_lock("env/prod", "rollout-a", generation=new.generation)
    assert store.lock_info("env/prod") is None
    with pytest.raises(LockLost):
        store.renew_lock("env/prod", "rollout-a", ttl_s=60, generation=new.generation)


# -- S3 specifics -------------------------------------------------------------

_RACER = r"""
import os, sys, time
from fleetctl.adapters.state import open_store
from fleetctl.cli import render
from fleetctl.errors import FleetctlError
store = open_store(sys.argv[1])
go = float(sys.argv[3])
while time.time() < go:
    time.sleep(0.001)
try:
    store.acquire_lock("env/prod", sys.argv[2], ttl_s=300)
except FleetctlError as exc:
    render.error(exc)
    sys.exit(exc.exit_code)
print("WON", sys.argv[2])
"""


def test_two_processes_race_for_one_env_lock_exactly_one_wins(
    aws: MotoServer,
    tmp_path: Path,
) -> None:
    url = _bootstrap_s3()
    for round_ in range(2):
        lock_free = open_store(url)
        info = lock_free.lock_info("env/prod")
        if info is not None:
            lock_free.release_lock("env/prod", info.holder)
        go = time.time() + 1.5  # both processes are imported and waiting by then
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _RACER, url, f"racer-{round_}-{i}", repr(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(os.environ),
                text=True,
            )
            for i in range(2)
        ]
        results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
        winners = [out.split()[1] for rc, out, _ in results if rc == 0]
        losers = [err for rc, _, err in results if rc != 0]
        assert len(winners) == 1, results
        assert len(losers) == 1, results
        assert [rc for rc, _, _ in results if rc != 0] == [1]
        assert f"env/prod is locked by {winners[0]}" in losers[0]
        assert "Traceback" not in losers[0]
        assert open_store(url).lock_info("env/prod").holder == winners[0]  # type: ignore[union-attr]


def test_missing_bucket_and_table_are_clear_outside_errors(aws: MotoServer) -> None:
    from fleetctl.errors import OutsideError

    s = open_store("s3://no-such-state-bucket/x?table=no-such-table")
    with pytest.raises(OutsideError, match="state bucket no-such-state-bucket does not exist"):
        s.put("rollout", "r", {})
    with pytest.raises(OutsideError, match="lock table no-such-table does not exist"):
        s.acquire_lock("env/prod", "me", ttl_s=10)


def test_bad_state_url_is_bad_input() -> None:
    from fleetctl.errors import BadInput

    with pytest.raises(BadInput, match="unknown option"):
        open_store("s3://bucket/prefix?tabel=x")


def test_table_name_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from fleetctl.adapters.state.s3 import S3Store

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("FLEETCTL_LOCK_TABLE", "team-locks")
    assert S3Store.from_url("s3://b/p").table == "team-locks"
    assert S3Store.from_url("s3://b/p?table=t2").table == "t2"
    monkeypatch.delenv("FLEETCTL_LOCK_TABLE")
    assert S3Store.from_url("s3://b/p").table == "fleetctl-locks"


def test_missing_region_is_a_clear_outside_error(
    aws: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fleetctl.errors import OutsideError

    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(OutsideError, match="no AWS region configured") as err:
        open_store("s3://fleet-state/team").acquire_lock("env/prod", "me", ttl_s=10)
    assert err.value.exit_code == 3
    assert "AWS_REGION" in err.value.hint
    # the URL can carry the region instead
    from fleetctl.adapters.state.s3 import S3Store

    S3Store.from_url("s3://fleet-state/team?region=eu-west-1&table=t").ensure()
    store = open_store("s3://fleet-state/team?region=eu-west-1&table=t")
    assert store.acquire_lock("env/prod", "me", ttl_s=10).holder == "me"
