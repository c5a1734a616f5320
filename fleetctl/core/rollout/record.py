"""What a rollout record is: every field of `rollout/<id>` in the state store.

`RolloutRecord` is the document the engine rewrites at every step; `Status`
and `PauseKind` are the only spellings of its states; `Pause` says why and
where it waits, `RollbackProof` what proved (or did not prove) a rollback,
and `LkgRecord` is the last known-good release of a group (`lkg/<group>`).
Each has `to_dict` / `from_dict`; `to_dict` writes exactly the keys earlier
versions wrote, and `from_dict` reads records those versions stored (keys
it does not know are kept in `extra` and written back unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    running = "running"
    paused = "paused"
    completed = "completed"
    rolling_back = "rolling_back"
    rolled_back = "rolled_back"  # failed, rolled back, rollback proven
    rollback_failed = "rollback_failed"  # the proof did not hold: needs a person
    failed = "failed"  # failed and could not roll back (no last known-good)
    superseded = "superseded"  # another rollout took the env lock over; never runs again

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def active(self) -> bool:
        """A process is (or should be) running it right now."""
        return self in (Status.running, Status.rolling_back)


FINAL = frozenset(
    {
        Status.completed,
        Status.rolled_back,
        Status.rollback_failed,
        Status.failed,
        Status.superseded,
    }
)


class PauseKind(StrEnum):
    gate = "gate"  # a gate was inconclusive
    approval = "approval"  # the step asks a person
    unreachable = "unreachable"  # too many hosts unreachable
    freeze = "freeze"  # the env is frozen
    window = "window"  # outside the deploy window

    @property
    def hint(self) -> str:
        return _PAUSE_HINTS[self]

    @property
    def promotable(self) -> bool:
        """`promote` answers it (a freeze or a window is waited out, not approved)."""
        return self not in (PauseKind.freeze, PauseKind.window)


_PAUSE_HINTS = {
    PauseKind.gate: "promote (accept this step) or abort (roll back)",
    PauseKind.approval: "promote to continue, or abort",
    PauseKind.unreachable: "fix the hosts and resume, promote to go on without them, or abort",
    PauseKind.freeze: "resume after `fleetctl freeze off`, or abort",
    PauseKind.window: "resume inside the deploy window, or abort",
}


@dataclass(frozen=True)
class Pause:
    kind: PauseKind
    reason: str
    step: int
    at: float
    # A window wait of a running rollout (its runner waits in-process): when the
    # window opens, from the policy when written (`resume` recomputes it, never trusts it).
    until: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind.value, "reason": self.reason, "step": self.step, "at": self.at}
        if self.until is not None:  # older records never had it
            d["until"] = self.until
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pause:
        until = d.get("until")
        return cls(
            PauseKind(d["kind"]),
            d["reason"],
            d["step"],
            d["at"],
            float(until) if until is not None else None,
        )


@dataclass(frozen=True)
class RollbackProof:
    """Why a rollback counts as done: the last known-good re-applied, a
    `--check --diff` run of it changing nothing, and the gates passing.
    `ok` alone (with `hosts=0`) when no host had been changed; `error` when
    the rollback could not even be attempted."""

    ok: bool
    release: str | None = None
    hosts: int | None = None
    apply_status: str | None = None
    check_changed: int | None = None
    check_hosts: int | None = None
    gates: dict[str, str] | None = None
    gate_verdict: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RollbackProof:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class LkgRecord:
    """The last known-good release of a group (`lkg/<group>`)."""

    group: str
    release: str  # the release's hash (its key in the store)
    release_id: str
    rollout: str  # the rollout that made it good (or restored it)
    at: float
    restored_by_rollback: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "group": self.group,
            "release": self.release,
            "release_id": self.release_id,
            "rollout": self.rollout,
            "at": self.at,
        }
        if self.restored_by_rollback:
            d["restored_by_rollback"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LkgRecord:
        return cls(
            group=d.get("group") or "",
            release=d.get("release") or "",
            release_id=d.get("release_id") or "",
            rollout=d["rollout"],
            at=d["at"],
            restored_by_rollback=bool(d.get("restored_by_rollback", False)),
        )


@dataclass
class RolloutRecord:
    """`rollout/<id>`: where a rollout is and where it continues."""

    id: str
    env: str
    playbook: str  # relative to playbooks/
    group: str  # env/playbook name: the unit of last known-good
    release: str  # the release's hash
    release_id: str
    git_sha: str | None
    rollback_to: str | None  # the last known-good release's hash when it started
    rollback_to_id: str | None
    policy: dict[str, Any]  # the rollout policy, as validated (Policy.model_dump)
    policy_file: str | None
    plan_digest: str
    plan_steps: int
    status: Status
    next_step: int
    pause: Pause | None
    touched: list[str]
    failed_hosts: list[str]
    unreachable_hosts: list[str]
    created_at: float
    updated_at: float
    finished_at: float | None
    by: str
    pid: int
    hostname: str
    lock_generation: int | None  # the env lock's fencing token its runner holds
    message: str
    # set along the way (absent from the stored document until then)
    accepted_unreachable: list[str] | None = None  # promoted past an unreachable pause
    superseded_by: str | None = None  # the rollout that took the env lock over
    rollback_proof: RollbackProof | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys of a newer version

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k in _BASE_KEYS:
            v = getattr(self, k)
            if k == "status":
                v = self.status.value
            elif k == "pause":
                v = self.pause.to_dict() if self.pause is not None else None
            elif isinstance(v, list):
                v = list(v)
            d[k] = v
        if self.accepted_unreachable is not None:
            d["accepted_unreachable"] = list(self.accepted_unreachable)
        if self.superseded_by is not None:
            d["superseded_by"] = self.superseded_by
        if self.rollback_proof is not None:
            d["rollback_proof"] = self.rollback_proof.to_dict()
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RolloutRecord:
        pause = d.get("pause")
        proof = d.get("rollback_proof")
        gen = d.get("lock_generation")
        acc = d.get("accepted_unreachable")
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(
            id=d["id"],
            env=d.get("env") or "",
            playbook=d.get("playbook") or "",
            group=d.get("group") or "",
            release=d.get("release") or "",
            release_id=d.get("release_id") or "",
            git_sha=d.get("git_sha"),
            rollback_to=d.get("rollback_to"),
            rollback_to_id=d.get("rollback_to_id"),
            policy=dict(d.get("policy") or {}),
            policy_file=d.get("policy_file"),
            plan_digest=d.get("plan_digest", ""),
            plan_steps=int(d.get("plan_steps") or 0),
            status=Status(d.get("status") or Status.running),  # every stored one has it
            next_step=int(d.get("next_step") or 0),
            pause=Pause.from_dict(pause) if pause else None,
            touched=list(d.get("touched") or []),
            failed_hosts=list(d.get("failed_hosts") or []),
            unreachable_hosts=list(d.get("unreachable_hosts") or []),
            created_at=float(d.get("created_at") or 0.0),
            updated_at=float(d.get("updated_at") or 0.0),
            finished_at=d.get("finished_at"),
            by=d.get("by") or "",
            pid=int(d.get("pid") or 0),
            hostname=d.get("hostname") or "",
            lock_generation=int(gen) if gen is not None else None,
            message=d.get("message") or "",
            accepted_unreachable=list(acc) if acc is not None else None,
            superseded_by=d.get("superseded_by"),
            rollback_proof=RollbackProof.from_dict(proof) if proof is not None else None,
            extra={k: v for k, v in d.items() if k not in known},
        )

    @property
    def counted_unreachable(self) -> list[str]:
        """Unreachable hosts that count against max_unreachable_hosts."""
        return sorted(set(self.unreachable_hosts) - set(self.accepted_unreachable or ()))


# The keys every stored record has, in the order they are written (the
# fields up to `message`; the later ones are written only once set).
_BASE_KEYS = tuple(f.name for f in fields(RolloutRecord))[:27]
assert _BASE_KEYS[-1] == "message"
