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

import functools
import json
import os
import re
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar, cast

from fleetctl.adapters.state.base import LockHeld, LockInfo, LockLost, StateCorrupt, decode_doc
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
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    renewed_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    generation INTEGER NOT NULL
);
INSERT OR IGNORE INTO leases (name, holder, acquired_at, renewed_at, expires_at, generation)
    SELECT name, holder, acquired_at, acquired_at, expires_at, 1 FROM locks;
DELETE FROM locks;
"""
# `leases` replaced `locks` (which had no fencing token); a lock held in the old
# table is carried over once. A released lease keeps its row (holder '') so its
# generation never goes back.
_LEASE = "SELECT name, holder, acquired_at, expires_at, generation, renewed_at FROM leases"
_F = TypeVar("_F", bound=Callable[..., Any])
_BLOB_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


_TABLES = ("docs", "events", "locks")


def _guarded(method: _F) -> _F:
    """SQLite failures after opening (busy, I/O, corruption found late) become
    a clear OutsideError naming the file, never a traceback."""

    @functools.wraps(method)
    def wrapper(self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise _explain(self.path, exc) from exc

    return cast(_F, wrapper)


def _explain(path: Path, exc: sqlite3.DatabaseError) -> FleetctlError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return OutsideError(
            f"the state database {path} is busy: {text}",
            hint="another fleetctl (or sqlite3 shell) holds it; wait and retry",
        )
    if "readonly" in text or "unable to open" in text or "permission" in text.lower():
        return OutsideError(
            f"cannot use the state database {path}: {text}",
            hint="check the permissions of the file and its directory (or point "
            "--state / FLEETCTL_STATE elsewhere)",
        )
    if isinstance(exc, sqlite3.OperationalError) and "disk I/O" not in text:
        return OutsideError(f"the state database {path} failed: {text}")
    return StateCorrupt(str(path), text)


class SqliteStore:
    """A `StateStore` in one SQLite file (plus blob files beside it).

    Opening checks the file before anything trusts it: a zero-length file,
    a file that is not SQLite, failed `PRAGMA quick_check` or missing tables
    is corrupt (exit 3), never "empty". A missing file is created only when
    `create` is true (commands that write); otherwise the store is an empty
    in-memory one with `exists` false, and nothing is created on disk.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_s: float = 30.0,
        create: bool = True,
    ) -> None:
        self.path = Path(path)
        self.blob_dir = self.path.parent
        self.exists = _check_file(self.path)
        try:
            if not self.exists and not create:
                self._db = sqlite3.connect(":memory:", isolation_level=None)
                self._create_schema()
                return
            if not self.exists:
                _create_database(self.path, busy_timeout_s)
                self.exists = True
            _make_private(self.path)
            self._db = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            tables = self._check_integrity()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if "leases" not in tables:  # a file from before fencing tokens
                self._create_schema()
        except sqlite3.DatabaseError as exc:
            raise _explain(self.path, exc) from exc
        except OSError as exc:
            raise OutsideError(
                f"cannot open the state database {self.path}: {exc.strerror or exc}",
                hint="check the --state path (or FLEETCTL_STATE) and its permissions",
            ) from exc

    def _create_schema(self) -> None:
        with self._tx():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._db.execute(stmt)

    def _check_integrity(self) -> set[str]:
        """The tables of a sound fleetctl database; refuses anything else."""
        rows = self._db.execute("PRAGMA quick_check").fetchall()
        problems = [str(r[0]) for r in rows if r and r[0] != "ok"]
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise StateCorrupt(str(self.path), f"quick_check: {problems[0]}{more}")
        names = {
            r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        missing = [t for t in _TABLES if t not in names]
        if missing:
            raise StateCorrupt(
                str(self.path), f"not a fleetctl state database (no table {', '.join(missing)})"
            )
        return names

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

    @_guarded
    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT doc FROM docs WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else decode_doc(row[0], str(self.path))

    @_guarded
    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        data = json.dumps(doc, sort_keys=True, default=str)
        self._db.execute(
            "INSERT INTO docs (kind, key, doc, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc, "
            "updated_at = excluded.updated_at",
            (kind, key, data, time.time()),
        )

    @_guarded
    def list(self, kind: str) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT doc FROM docs WHERE kind = ? ORDER BY key", (kind,))
        return [decode_doc(r[0], str(self.path)) for r in rows]

    @_guarded
    def delete(self, kind: str, key: str) -> None:
        self._db.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (kind, key))

    # -- journal --------------------------------------------------------------

    @_guarded
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

    @_guarded
    def events(self, rollout_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT event FROM events WHERE rollout_id = ? ORDER BY seq", (rollout_id,)
        )
        return [decode_doc(r[0], str(self.path)) for r in rows]

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

    def _lease(self, db: sqlite3.Connection, name: str) -> LockInfo | None:
        return _row_info(db.execute(f"{_LEASE} WHERE name = ?", (name,)).fetchone())

    @_guarded
    def acquire_lock(
        self, name: str, holder: str, ttl_s: float, *, force: bool = False
    ) -> LockInfo:
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT generation FROM leases WHERE name = ?", (name,)).fetchone()
            current = self._lease(db, name)
            free = current is None or current.expires_at < now or current.holder == holder
            if not (free or force):
                assert current is not None
                raise LockHeld(current, now)
            info = LockInfo(
                name=name,
                holder=holder,
                acquired_at=now,
                expires_at=now + ttl_s,
                generation=(int(row[0]) if row else 0) + 1,
                renewed_at=now,
                taken_from=current,
            )
            db.execute(
                "INSERT INTO leases (name, holder, acquired_at, renewed_at, expires_at, "
                "generation) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at, "
                "expires_at = excluded.expires_at, generation = excluded.generation",
                (name, holder, now, now, info.expires_at, info.generation),
            )
        return info

    @_guarded
    def renew_lock(
        self, name: str, holder: str, ttl_s: float, *, generation: int | None = None
    ) -> LockInfo:
        now = time.time()
        with self._tx() as db:
            current = self._lease(db, name)
            if current is None:
                if generation is not None:
                    raise LockLost(name, holder, generation, None)
                raise FleetctlError(
                    f"{name} is not locked by {holder} any more (the lock was released)",
                    hint="take the lock again before continuing",
                )
            if current.holder != holder or generation not in (None, current.generation):
                if generation is not None:
                    raise LockLost(name, holder, generation, current)
                raise LockHeld(current, now)
            db.execute(
                "UPDATE leases SET expires_at = ?, renewed_at = ? WHERE name = ?",
                (now + ttl_s, now, name),
            )
        return LockInfo(name, holder, current.acquired_at, now + ttl_s, current.generation, now)

    @_guarded
    def release_lock(self, name: str, holder: str, *, generation: int | None = None) -> None:
        self._db.execute(
            "UPDATE leases SET holder = '', expires_at = 0 "
            "WHERE name = ? AND holder = ? AND (? IS NULL OR generation = ?)",
            (name, holder, generation, generation),
        )

    @_guarded
    def lock_info(self, name: str) -> LockInfo | None:
        return self._lease(self._db, name)

    def close(self) -> None:
        self._db.close()


def _check_file(path: Path) -> bool:
    """Whether a state file exists; refuses what can never be a state database."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise OutsideError(
            f"cannot open the state database {path}: {exc.strerror or exc}",
            hint="check the permissions of its directory",
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise OutsideError(
            f"the state database {path} is a directory",
            hint="point --state (or FLEETCTL_STATE) at a file, e.g. .fleetctl/state.db",
        )
    if not os.access(path, os.R_OK):
        raise OutsideError(
            f"cannot read the state database {path}: permission denied",
            hint="check the file's owner and permissions (or point --state elsewhere)",
        )
    if st.st_size == 0:
        raise StateCorrupt(str(path), "the file is empty (zero bytes), not an empty state")
    return True


def _create_database(db: Path, busy_timeout_s: float) -> None:
    """Make a complete, empty state database at `db` in one step.

    Built under a temp name (0600, like mkstemp makes it) and hard-linked into
    place: another fleetctl starting at the same moment sees no file or a whole
    one, never a zero-length or table-less file it must call corrupt. When two
    race, the first link wins and the other's copy is dropped.
    """
    try:
        # One level only (`.fleetctl/` of the default path): a mistyped --state
        # must not leave a tree of new directories behind.
        db.parent.mkdir(mode=0o700)
    except FileExistsError:
        pass  # ours from before, or another fleetctl's just now
    except FileNotFoundError:
        raise BadInput(
            f"cannot create the state database {db}: {db.parent.parent} does not exist",
            hint="check the --state path (or FLEETCTL_STATE), or create its directory first",
        ) from None
    else:
        db.parent.chmod(0o700)  # mkdir's mode is masked by the umask
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db.name}.", suffix=".new", dir=db.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        fresh = sqlite3.connect(tmp_name, timeout=busy_timeout_s, isolation_level=None)
        try:
            fresh.execute("PRAGMA journal_mode=WAL")  # kept in the file's header
            fresh.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
        finally:
            fresh.close()  # checkpoints and removes the temp -wal/-shm
        with suppress(FileExistsError):
            os.link(tmp, db)
    finally:
        tmp.unlink(missing_ok=True)


def _make_private(db: Path) -> None:
    """Tighten an existing database (and its blob dirs) that others could read.

    It never opens the file: closing any descriptor of it drops every POSIX lock
    this process holds on it, so opening a second store in a process that has
    one (approvals serve: a promote thread) let another process checkpoint and
    delete the WAL under it, and its writes went unseen.
    """
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
    if row is None or not row[1]:  # no row, or released (holder '')
        return None
    return LockInfo(
        str(row[0]), str(row[1]), float(row[2]), float(row[3]), int(row[4]), float(row[5])
    )
