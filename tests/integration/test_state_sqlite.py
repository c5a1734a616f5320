"""SQLite state backend specifics: WAL, durability across kill -9, concurrent
writers, blob files beside the database, lease semantics of env locks."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleetctl.adapters.state import LockHeld, open_store
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.errors import BadInput, FleetctlError, OutsideError

pytestmark = pytest.mark.integration

WRITER = """
import sys
from fleetctl.adapters.state.sqlite import SqliteStore
s = SqliteStore(sys.argv[1])
i = 0
while True:
    i += 1
    seq = s.append_event(sys.argv[2], {"n": i})
    s.put("rollout", sys.argv[2], {"last": seq})
    print(seq, flush=True)
    if len(sys.argv) > 3 and i >= int(sys.argv[3]):
        break
"""


def test_wal_mode_and_documents_survive_reopen(tmp_path: Path) -> None:
    db = tmp_path / "s" / "state.db"
    store = open_store(str(db))
    assert isinstance(store, SqliteStore)
    store.put("rollout", "r1", {"status": "running", "n": 1})
    store.put("rollout", "r0", {"status": "done"})
    store.put("rollout", "r1", {"status": "paused", "n": 2})
    store.close()
    mode = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    again = open_store(f"sqlite://{db}")
    assert again.get("rollout", "r1") == {"status": "paused", "n": 2}
    assert [d["status"] for d in again.list("rollout")] == ["done", "paused"]
    again.delete("rollout", "r0")
    assert again.get("rollout", "r0") is None
    again.close()


def test_kill_9_loses_no_finished_write(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), "r1"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    seen = 0
    for line in proc.stdout:  # bounded: we kill it after 200 acknowledged writes
        seen = int(line)
        if seen >= 200:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    store = SqliteStore(db)
    events = store.events("r1")
    assert len(events) >= seen
    assert [e["n"] for e in events] == list(range(1, len(events) + 1))
    doc = store.get("rollout", "r1")
    assert doc is not None and doc["last"] >= seen - 1
    store.close()


def test_two_writers_never_share_a_sequence_number(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    SqliteStore(db).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), "shared", "150"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].split() for p in procs]
    seqs = [int(x) for out in outs for x in out]
    assert sorted(seqs) == list(range(1, 301))
    assert len(SqliteStore(db).events("shared")) == 300


def test_blobs_are_files_beside_the_database(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / ".fleetctl" / "state.db")
    store.put_blob("releases/abc123", b"tar bytes")
    assert (tmp_path / ".fleetctl" / "releases" / "abc123").read_bytes() == b"tar bytes"
    assert store.get_blob("releases/abc123") == b"tar bytes"
    assert store.get_blob("releases/nope") is None
    assert not list((tmp_path / ".fleetctl" / "releases").glob(".tmp-*"))
    for bad in ("../escape", "/abs", "releases/../../x", ""):
        with pytest.raises(BadInput):
            store.put_blob(bad, b"x")


def test_lock_lease_semantics(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    other = SqliteStore(tmp_path / "state.db")  # a second process's connection
    info = store.acquire_lock("env/lab", "r-1", ttl_s=60)
    assert other.lock_info("env/lab") == info
    with pytest.raises(LockHeld) as held:
        other.acquire_lock("env/lab", "r-2", ttl_s=60)
    assert held.value.info.holder == "r-1"
    assert "locked by r-1 (held for " in held.value.message
    assert held.value.exit_code == 1
    # the holder may take it again (resume) and renew it
    assert store.acquire_lock("env/lab", "r-1", ttl_s=60).holder == "r-1"
    renewed = store.renew_lock("env/lab", "r-1", ttl_s=120)
    assert renewed.expires_at > info.expires_at
    with pytest.raises(LockHeld):
        other.renew_lock("env/lab", "r-2", ttl_s=60)
    # release by someone else is a no-op
    other.release_lock("env/lab", "r-2")
    assert store.lock_info("env/lab") is not None
    # force takes it over
    taken = other.acquire_lock("env/lab", "r-2", ttl_s=60, force=True)
    assert store.lock_info("env/lab") == taken
    with pytest.raises(LockHeld):
        store.renew_lock("env/lab", "r-1", ttl_s=60)
    other.release_lock("env/lab", "r-2")
    assert store.lock_info("env/lab") is None
    with pytest.raises(FleetctlError, match="not locked by r-1"):
        store.renew_lock("env/lab", "r-1", ttl_s=60)
    # an expired lease is free for anyone
    store.acquire_lock("env/lab", "r-3", ttl_s=0.05)
    time.sleep(0.1)
    assert other.acquire_lock("env/lab", "r-4", ttl_s=60).holder == "r-4"


def test_unopenable_path_is_an_outside_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(OutsideError, match="cannot open the state database"):
        SqliteStore(blocker / "state.db")


_OPENER = """
import sys, time
from fleetctl.adapters.state.sqlite import SqliteStore
while time.time() < float(sys.argv[2]):
    pass
s = SqliteStore(sys.argv[1])
s.put("opened", sys.argv[3], {"ok": True})
s.close()
"""


def test_processes_creating_one_new_database_at_once_all_open_it(tmp_path: Path) -> None:
    """A new state file appears whole: a second fleetctl starting at the same
    moment (e.g. `rollout status` polling a `rollout start`) never sees it empty
    or without tables and calls it corrupt. Repeated: the race is narrow."""
    for round_ in range(5):
        db = tmp_path / f"r{round_}" / "state.db"
        go = time.time() + 1.5  # all start together, after their imports
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPENER, str(db), str(go), str(i)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(6)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, errors
        store = SqliteStore(db, create=False)
        assert len(store.list("opened")) == 6
        store.close()
        assert [p.name for p in db.parent.iterdir() if p.name.endswith(".new")] == []
        assert oct(db.stat().st_mode & 0o777) == oct(0o600)


def test_a_mistyped_state_path_creates_no_directories(tmp_path: Path) -> None:
    """Only the database's own directory is made (`.fleetctl/` of the default
    path); a --state under directories that do not exist is exit 2, not a new tree."""
    from typer.testing import CliRunner

    from fleetctl.cli.main import app

    SqliteStore(tmp_path / "one-level" / "state.db").close()  # the default's shape
    assert (tmp_path / "one-level" / "state.db").is_file()
    with pytest.raises(BadInput, match="does not exist"):
        SqliteStore(tmp_path / "typo" / "deeper" / "state.db")
    typo = str(tmp_path / "typo" / "deeper" / "s.db")
    res = CliRunner().invoke(
        app, ["--state", typo, "freeze", "on", "--env", "prod", "--reason", "match"]
    )
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())  # the message wraps at the terminal width
    assert "does not exist" in out and "--state" in out and "Traceback" not in out
    assert not (tmp_path / "typo").exists()
