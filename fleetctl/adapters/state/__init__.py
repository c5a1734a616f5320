"""Where rollout state lives: the journal, release snapshots and env locks.

Two backends implement the same `StateStore` protocol:
- SQLite (the default, `.fleetctl/state.db`): `fleetctl.adapters.state.sqlite`
- S3 + DynamoDB for teams (`s3://BUCKET/PREFIX`): `fleetctl.adapters.state.s3`

Switching is a URL (`--state` / FLEETCTL_STATE), never a code change.
"""

from __future__ import annotations

from fleetctl.adapters.state.base import LockHeld, LockInfo, LockLost, StateCorrupt, StateStore


def open_store(url: str, *, create: bool = True) -> StateStore:
    """Open the store a `--state` value names: `s3://bucket/prefix` or a SQLite path.

    The store's integrity is checked on opening (a corrupt one is refused,
    exit 3). `create=False` (commands that only read) never creates a missing
    SQLite file: the store is then empty and `state_missing(store)` is true.
    """
    if url.startswith("s3://"):
        from fleetctl.adapters.state.s3 import S3Store  # boto3 only when asked for

        return S3Store.from_url(url)
    from fleetctl.adapters.state.sqlite import SqliteStore

    scheme = url.partition("://")[0]
    if "://" in url and scheme != "sqlite" and scheme.isalnum():
        # http://, file://, gs://...: a typo or an unsupported backend, not a
        # relative SQLite path named "http:" to create in the working directory.
        from fleetctl.errors import BadInput

        raise BadInput(
            f"--state {scheme}://...: not a state backend",
            hint="give a SQLite path (e.g. .fleetctl/state.db) or s3://BUCKET/PREFIX",
        )
    return SqliteStore(url.removeprefix("sqlite://"), create=create)


def state_missing(store: StateStore) -> bool:
    """True for a store opened with create=False whose file does not exist yet."""
    return getattr(store, "exists", True) is False


__all__ = [
    "LockHeld",
    "LockInfo",
    "LockLost",
    "StateCorrupt",
    "StateStore",
    "open_store",
    "state_missing",
]
