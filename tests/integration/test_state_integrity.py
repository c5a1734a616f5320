"""Corrupt or missing state (issue 17, section 4), through the CLI.

Every command checks the store when it opens it: a corrupt, zero-length or
schema-less SQLite file, a directory, or an undecodable S3 object is refused
with exit 3, the file, and what to do; never a traceback, and never mistaken
for an empty store (a lost freeze must not read as "not frozen"). Commands
that only read never create a missing store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import boto3
import pytest
from aws_fixture import MotoServer
from typer.testing import CliRunner

from fleetctl.adapters.state import open_store
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.errors import OutsideError

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

# Every command that opens the state store (reads and writes).
STATE_COMMANDS = [
    ["freeze", "status", "--env", "staging"],
    ["freeze", "on", "--env", "staging", "-r", "x"],
    ["freeze", "off", "--env", "staging"],
    ["history", "--env", "staging"],
    ["rollout", "list"],
    ["rollout", "status"],
    ["rollout", "why", "r-1"],
    ["hosts", "list", "--env", "lab"],
    ["status", "--env", "staging", "--format", "json"],
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _run(runner: CliRunner, db: Path | str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--root", str(REPO), "--state", str(db), *args])
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, result.stderr


def _frozen_db(runner: CliRunner, tmp_path: Path) -> Path:
    db = tmp_path / "state.db"
    code, err = _run(runner, db, "freeze", "on", "--env", "staging", "-r", "incident 1")
    assert code == 0, err
    return db


def _assert_refused(runner: CliRunner, db: Path, what: str) -> None:
    for cmd in STATE_COMMANDS:
        code, err = _run(runner, db, *cmd)
        assert code == 3, (cmd, err)
        assert str(db) in err and what in err, (cmd, err)
        assert "FROZEN" not in err and "not frozen" not in err


def test_garbage_in_pages_is_corrupt_exit_3(runner: CliRunner, tmp_path: Path) -> None:
    db = _frozen_db(runner, tmp_path)
    data = bytearray(db.read_bytes())
    for off in range(1024, len(data), 1024):
        data[off : off + 128] = b"\xde\xad\xbe\xef" * 32
    db.write_bytes(bytes(data))
    _assert_refused(runner, db, "corrupt")
    _code, err = _run(runner, db, "freeze", "status", "--env", "staging")
    assert "restore" in err and "backup" in err


def test_zero_length_db_is_corrupt_not_empty(runner: CliRunner, tmp_path: Path) -> None:
    db = _frozen_db(runner, tmp_path)
    db.write_bytes(b"")
    _assert_refused(runner, db, "empty")
    assert db.stat().st_size == 0  # nothing wrote over the evidence


def test_not_sqlite_is_corrupt(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"hello, this is not a database" * 200)
    _assert_refused(runner, db, "corrupt")


def test_schemaless_sqlite_is_corrupt(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE other (x)")
    _assert_refused(runner, db, "not a fleetctl state database")


def test_db_path_is_a_directory(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.mkdir()
    _assert_refused(runner, db, "is a directory")


def test_bad_row_is_corrupt(runner: CliRunner, tmp_path: Path) -> None:
    db = _frozen_db(runner, tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE docs SET doc = '{not json'")
    code, err = _run(runner, db, "freeze", "status", "--env", "staging")
    assert code == 3 and "corrupt" in err and str(db) in err


def test_reads_never_create_missing_state(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "nested" / "state.db"
    for cmd in STATE_COMMANDS:
        if cmd[:2] in (["freeze", "on"], ["freeze", "off"]):
            continue
        code, err = _run(runner, db, *cmd)
        assert code in (0, 2), (cmd, err)  # `rollout why r-1`: no such rollout
        assert not db.exists() and not db.parent.exists(), cmd
    code, err = _run(runner, db, "freeze", "status", "--env", "staging")
    assert code == 0 and f"no state yet at {db}" in err
    code, err = _run(runner, db, "freeze", "on", "--env", "staging", "-r", "x")
    assert code == 0 and db.exists()  # a write creates it
    code, err = _run(runner, db, "freeze", "status", "--env", "staging")
    assert code == 0 and "FROZEN" in err and "no state yet" not in err


def test_busy_db_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    SqliteStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OutsideError, match="busy") as info:
            SqliteStore(db, busy_timeout_s=0.2)
        assert str(db) in info.value.message
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_store_opened_for_reading_does_not_create(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = open_store(str(db), create=False)
    assert store.get("freeze", "prod") is None
    store.close()
    assert not db.exists()


# -- S3 backend -------------------------------------------------------------------------

URL = "s3://team-fleet-state/p?table=fleet-locks"


def test_s3_undecodable_object_exit_3(
    runner: CliRunner,
    aws: MotoServer,
) -> None:
    from fleetctl.adapters.state.s3 import S3Store

    S3Store.from_url(URL).ensure()
    code, err = _run(runner, URL, "freeze", "on", "--env", "staging", "-r", "x")
    assert code == 0, err
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="team-fleet-state")["Contents"]]
    for key in [k for k in keys if "/docs/" in k or "/events/" in k]:
        s3.put_object(Bucket="team-fleet-state", Key=key, Body=b"\xff\x00 not json")
    for cmd in (["freeze", "status", "--env", "staging"], ["history", "--env", "staging"]):
        code, err = _run(runner, URL, *cmd)
        assert code == 3, (cmd, err)
        assert "corrupt" in err and "s3://team-fleet-state/p/" in err


def test_preview_runs_without_a_writable_cache(runner: CliRunner, tmp_path: Path) -> None:
    import shutil

    for d in ("stacks", "policies"):
        shutil.copytree(REPO / d, tmp_path / d, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / ".fleetctl").write_text("")  # not a directory: nothing can be cached
    result = runner.invoke(
        app,
        ["--root", str(tmp_path), "preview", "--stack", "staging-us-east-2", "--format", "json"],
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exit_code == 0, result.stderr
    assert "not writable" in result.stderr and "without the cache" in result.stderr
    assert '"create"' in result.stdout


def test_unreadable_db_is_a_clear_error(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root here, where chmod 000 does not stop a read: make the
    # permission check itself see a file it may not read.
    import os

    db = _frozen_db(runner, tmp_path)
    real_access = os.access
    monkeypatch.setattr(
        # Ansible asks too, with bytes paths (reading the inventory in-process)
        os,
        "access",
        lambda p, mode, **kw: False if Path(os.fsdecode(p)) == db else real_access(p, mode, **kw),
    )
    for cmd in STATE_COMMANDS:
        code, err = _run(runner, db, *cmd)
        assert code == 3, (cmd, err)
        assert str(db) in err and "permission denied" in err
