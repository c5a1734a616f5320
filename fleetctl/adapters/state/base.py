"""The contract every state backend implements.

Deliberately small and document-shaped so SQLite and S3/DynamoDB can both
honour it exactly: JSON documents by (kind, key), an append-only event log
per rollout, opaque blobs for release snapshots, and leased locks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from fleetctl.errors import FleetctlError, OutsideError

RESTORE_HINT = (
    "restore it from a backup or the S3 state backend (--state s3://BUCKET/PREFIX); "
    "do not just delete it: an active freeze, drain or rollout lock would be lost"
)


class StateCorrupt(OutsideError):
    """The state store exists but cannot be trusted (exit 3)."""

    def __init__(self, where: str, problem: str, hint: str = RESTORE_HINT) -> None:
        super().__init__(f"the state store {where} is corrupt: {problem}", hint=hint)
        self.where = where


def decode_doc(raw: str | bytes, where: str) -> dict[str, Any]:
    """One stored JSON document; anything else is corruption, not a crash."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise StateCorrupt(where, "a stored record is not valid JSON") from None
    if not isinstance(doc, dict):
        raise StateCorrupt(where, f"a stored record is a {type(doc).__name__}, not an object")
    return doc


@dataclass(frozen=True)
class LockInfo:
    name: str  # e.g. "env/prod"
    holder: str  # e.g. the rollout id
    acquired_at: float  # epoch seconds
    expires_at: float  # epoch seconds; a lease past this is stale


class LockHeld(FleetctlError):
    """Someone else holds the lock (and its lease has not expired)."""

    exit_code = 1

    def __init__(self, info: LockInfo, now: float) -> None:
        age = max(0.0, now - info.acquired_at)
        super().__init__(
            f"{info.name} is locked by {info.holder} (held for {age:.0f}s)",
            hint="wait for it to finish, or `fleetctl rollout abort` it; a stale lock "
            "can be taken over with --force",
        )
        self.info = info


class StateStore(Protocol):
    # Documents: rollouts, releases' metadata, freezes, last-known-good records.
    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...
    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None: ...
    def list(self, kind: str) -> list[dict[str, Any]]: ...
    def delete(self, kind: str, key: str) -> None: ...

    # Journal: append-only, ordered per rollout; returns the new sequence number.
    def append_event(self, rollout_id: str, event: dict[str, Any]) -> int: ...
    def events(self, rollout_id: str) -> list[dict[str, Any]]: ...

    # Release snapshots (tar archives of playbooks/ + inventory vars).
    def put_blob(self, key: str, data: bytes) -> None: ...
    def get_blob(self, key: str) -> bytes | None: ...

    # Leased locks. acquire raises LockHeld unless free, expired, or force=True
    # (a forced takeover must be recorded by the caller in the journal).
    def acquire_lock(
        self, name: str, holder: str, ttl_s: float, *, force: bool = False
    ) -> LockInfo: ...
    def renew_lock(self, name: str, holder: str, ttl_s: float) -> LockInfo: ...
    def release_lock(self, name: str, holder: str) -> None: ...
    def lock_info(self, name: str) -> LockInfo | None: ...

    def close(self) -> None: ...
