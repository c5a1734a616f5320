"""The contract every state backend implements.

Deliberately small and document-shaped so SQLite and S3/DynamoDB can both
honour it exactly: JSON documents by (kind, key), an append-only event log
per rollout, opaque blobs for release snapshots, and leased locks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    # The fencing token: +1 at every acquire (never at a renewal), kept across
    # releases, so a process that lost the lock (even one acting for the same
    # holder id) can tell before its next side effect.
    generation: int = 0
    renewed_at: float = 0.0  # epoch seconds of the last acquire or renewal
    # On acquire: the lease this one replaced (expired, forced, or our own
    # unreleased one), read in the same atomic step; None when it was free.
    taken_from: LockInfo | None = field(default=None, compare=False)


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


class LockLost(LockHeld):
    """We took the lock, but it has since been taken over or released: the
    fencing token (generation) we hold is no longer the lock's."""

    def __init__(self, name: str, holder: str, generation: int, current: LockInfo | None) -> None:
        now_held = (
            f"now held by {current.holder} (generation {current.generation})"
            if current is not None
            else "now released"
        )
        FleetctlError.__init__(
            self,
            f"{name} was taken over: {holder} held it at generation {generation}, it is {now_held}",
            hint="this process stopped before its next change; "
            "`fleetctl rollout why` shows who took over",
        )
        self.info = current  # type: ignore[assignment]
        self.lost_generation = generation


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

    # Leased locks. acquire raises LockHeld unless free, expired, already
    # ours, or force=True (a forced takeover must be recorded by the caller in
    # the journal); every acquire bumps the generation (the fencing token) and
    # reports the lease it replaced in `taken_from`. With `generation`, renew
    # and release act only if the lock still has that generation (renew raises
    # LockLost otherwise; release does nothing).
    def acquire_lock(
        self, name: str, holder: str, ttl_s: float, *, force: bool = False
    ) -> LockInfo: ...
    def renew_lock(
        self, name: str, holder: str, ttl_s: float, *, generation: int | None = None
    ) -> LockInfo: ...
    def release_lock(self, name: str, holder: str, *, generation: int | None = None) -> None: ...
    def lock_info(self, name: str) -> LockInfo | None: ...

    def close(self) -> None: ...
