"""The SQLite state backend (the default, `.fleetctl/state.db`).

- WAL mode and `synchronous=FULL`: readers (`rollout status --watch`) never
  block the writer, and a committed write survives a `kill -9` (or a power cut).
- Autocommit: every write is its own transaction, committed before the call
  returns; read-modify-write steps (journal sequence numbers, locks) run in
  `BEGIN IMMEDIATE` so two processes never interleave them.
- Blobs (release snapshots) are files beside the database
  (`.fleetctl/releases/<hash>` for the key `releases/<hash>`), written to a
  temp file, fsynced and renamed, so a crash never leaves half a snapshot.
- Private: the database (and SQLite's -wal/-shm files, which take its mode)
  is created 0600 and the blob dir 0700 whatever the umask; an existing
  database or blob dir open to others is tightened when it is opened. The
  journal and the releases hold what was rolled out where, and extra vars.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fleetctl.adapters.state.base import LockHeld, LockInfo
from fleetctl.errors import BadInput, FleetctlError, OutsideError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    doc TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS events (
    rollout_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (rollout_id, seq)
);
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""
_BLOB_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class SqliteStore:
    """A `StateStore` in one SQLite file (plus blob files beside it)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.blob_dir = self.path.parent
        try:
            _make_private(self.path)
            self._db = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            with self._tx():
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
        except (sqlite3.Error, OSError) as exc:
            raise OutsideError(
                f"cannot open the state database {self.path}: {exc}",
                hint="check the --state path (or FLEETCTL_STATE) and its permissions",
            ) from exc

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front (no upgrade deadlocks)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- documents ------------------------------------------------------------

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT doc FROM docs WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        data = json.dumps(doc, sort_keys=True, default=str)
        self._db.execute(
            "INSERT INTO docs (kind, key, doc, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc, "
            "updated_at = excluded.updated_at",
            (kind, key, data, time.time()),
        )

    def list(self, kind: str) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT doc FROM docs WHERE kind = ? ORDER BY key", (kind,))
        return [dict(json.loads(r[0])) for r in rows]

    def delete(self, kind: str, key: str) -> None:
        self._db.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (kind, key))

    # -- journal --------------------------------------------------------------

    def append_event(self, rollout_id: str, event: dict[str, Any]) -> int:
        data = json.dumps(event, sort_keys=True, default=str)
        with self._tx() as db:
            (last,) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE rollout_id = ?", (rollout_id,)
            ).fetchone()
            seq = int(last) + 1
            db.execute(
                "INSERT INTO events (rollout_id, seq, at, event) VALUES (?, ?, ?, ?)",
                (rollout_id, seq, time.time(), data),
            )
        return seq

    def events(self, rollout_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT event FROM events WHERE rollout_id = ? ORDER BY seq", (rollout_id,)
        )
        return [dict(json.loads(r[0])) for r in rows]

    # -- blobs ----------------------------------------------------------------

    def _blob_path(self, key: str) -> Path:
        if not _BLOB_KEY.match(key) or ".." in key.split("/"):
            raise BadInput(f"invalid blob key {key!r}")
        return self.blob_dir / key

    def put_blob(self, key: str, data: bytes) -> None:
        path = self._blob_path(key)
        if not path.parent.is_dir():
            path.parent.mkdir(mode=0o700, parents=True)
            path.parent.chmod(0o700)  # mkdir's mode is masked by the umask
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_blob(self, key: str) -> bytes | None:
        path = self._blob_path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    # -- locks ----------------------------------------------------------------

    def acquire_lock(
        self, name: str, holder: str, ttl_s: float, *, force: bool = False
    ) -> LockInfo:
        now = time.time()
        info = LockInfo(name=name, holder=holder, acquired_at=now, expires_at=now + ttl_s)
        with self._tx() as db:
            current = _row_info(
                db.execute(
                    "SELECT name, holder, acquired_at, expires_at FROM locks WHERE name = ?",
                    (name,),
                ).fetchone()
            )
            free = current is None or current.expires_at < now or current.holder == holder
            if not (free or force):
                assert current is not None
                raise LockHeld(current, now)
            db.execute(
                "INSERT INTO locks (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
                (name, holder, info.acquired_at, info.expires_at),
            )
        return info

    def renew_lock(self, name: str, holder: str, ttl_s: float) -> LockInfo:
        now = time.time()
        with self._tx() as db:
            current = _row_info(
                db.execute(
                    "SELECT name, holder, acquired_at, expires_at FROM locks WHERE name = ?",
                    (name,),
                ).fetchone()
            )
            if current is None:
                raise FleetctlError(
                    f"{name} is not locked by {holder} any more (the lock was released)",
                    hint="take the lock again before continuing",
                )
            if current.holder != holder:
                raise LockHeld(current, now)
            db.execute("UPDATE locks SET expires_at = ? WHERE name = ?", (now + ttl_s, name))
        return LockInfo(name, holder, current.acquired_at, now + ttl_s)

    def release_lock(self, name: str, holder: str) -> None:
        self._db.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (name, holder))

    def lock_info(self, name: str) -> LockInfo | None:
        return _row_info(
            self._db.execute(
                "SELECT name, holder, acquired_at, expires_at FROM locks WHERE name = ?", (name,)
            ).fetchone()
        )

    def close(self) -> None:
        self._db.close()


def _make_private(db: Path) -> None:
    """Create the database file 0600 (its dir 0700 when we create it), or tighten
    an existing one (and its blob dirs) that others could read."""
    if not db.parent.is_dir():
        db.parent.mkdir(mode=0o700, parents=True)
        db.parent.chmod(0o700)  # mkdir's mode is masked by the umask
    os.close(os.open(db, os.O_RDWR | os.O_CREAT, 0o600))
    for path in (db, *(db.with_name(db.name + s) for s in ("-wal", "-shm"))):
        _tighten(path, 0o600)
    _tighten(db.parent / "releases", 0o700)


def _tighten(path: Path, mode: int) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        path.chmod(mode)


def _row_info(row: tuple[Any, ...] | None) -> LockInfo | None:
    if row is None:
        return None
    return LockInfo(str(row[0]), str(row[1]), float(row[2]), float(row[3]))
