"""The rollout journal's events: one typed record per kind.

Every event the engine writes is one of these classes; `parse` reads a
stored event back (events written by older versions load too: missing
fields take their defaults, and a kind this version does not know loads as
`UnknownEvent` instead of failing). `to_dict` writes `{"type", "at", ...}`
as the journal has always stored it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from fleetctl.core.gate_samples import GateSamples

_OMIT = {"omit": True}  # not written while at its default (older journals lack it)


@dataclass(frozen=True, kw_only=True)
class Event:
    TYPE: ClassVar[str] = ""  # its "type" in the journal
    at: float = 0.0
    recovered: bool = field(
        default=False, metadata=_OMIT
    )  # added later by `resume` (the run died before writing it)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # a newer version's keys

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.TYPE, "at": self.at}
        for f in fields(self):
            if f.name in ("at", "extra"):
                continue
            v = getattr(self, f.name)
            if f.metadata.get("omit") and v == f.default:
                continue
            d[f.name] = v
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        names = {f.name for f in fields(cls)} - {"extra"}
        kwargs: dict[str, Any] = {k: d[k] for k in names if k in d}
        kwargs["extra"] = {k: v for k, v in d.items() if k not in names and k != "type"}
        return cls(**kwargs)


KINDS: dict[str, type[Event]] = {}


def _kind(name: str) -> Any:
    def register(cls: type[Event]) -> type[Event]:
        cls.TYPE = name
        KINDS[name] = cls
        return cls

    return register


def parse(d: dict[str, Any]) -> Event:
    """A stored event as its typed record (an unknown kind as `UnknownEvent`)."""
    kind = str(d.get("type", "?"))
    cls = KINDS.get(kind)
    if cls is None:
        return UnknownEvent(
            type=kind,
            at=float(d.get("at") or 0.0),
            data={k: v for k, v in d.items() if k not in ("type", "at")},
        )
    return cls.from_dict(d)


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(Event):
    """A kind written by a newer version: shown as it is, never a crash."""

    type: str = "?"
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "at": self.at, **self.data}


# -- the start ---------------------------------------------------------------------------


@_kind("created")
@dataclass(frozen=True, kw_only=True)
class Created(Event):
    env: str = ""
    playbook: str = ""
    release: str = ""  # the release id
    git_sha: str | None = None
    git_dirty: bool = False
    extravars: dict[str, Any] = field(default_factory=dict)
    secret_vars: dict[str, str] = field(default_factory=dict)  # name -> fingerprint
    steps: int = 0
    hosts: int = 0
    plan_digest: str = ""
    policy_file: str | None = None
    rollback_to: str | None = None  # the last known-good release id
    by: str = ""
    skipped_drained: list[str] = field(default_factory=list)


# -- the env lock --------------------------------------------------------------------------


@_kind("lock_acquired")
@dataclass(frozen=True, kw_only=True)
class LockAcquired(Event):
    lock: str = ""
    ttl_s: float = 0.0
    previous_generation: int | None = field(default=None, metadata=_OMIT)
    generation: int | None = None


@_kind("lock_taken_over")
@dataclass(frozen=True, kw_only=True)
class LockTakenOver(Event):
    lock: str = ""
    previous_holder: str = ""
    previous_status: str | None = None
    previous_generation: int | None = None
    generation: int | None = None
    held_for_s: float = 0.0
    renewed_s_ago: float = 0.0
    expired: bool = False
    forced: bool | str = False  # "live" with --force-live
    by: str = ""


@_kind("superseded")
@dataclass(frozen=True, kw_only=True)
class Superseded(Event):
    by_rollout: str = ""
    by: str = ""
    previous_status: str = ""
    expired: bool = False
    forced: bool | str = False
    generation: int | None = None


@_kind("lock_released")
@dataclass(frozen=True, kw_only=True)
class LockReleased(Event):
    lock: str = ""
    taken_over_by: str | None = field(default=None, metadata=_OMIT)


@_kind("orphans_killed")
@dataclass(frozen=True, kw_only=True)
class OrphansKilled(Event):
    pids: list[int] = field(default_factory=list)
    why: str = ""


@_kind("bookkeeping_finished")
@dataclass(frozen=True, kw_only=True)
class BookkeepingFinished(Event):
    added: list[str] = field(default_factory=list)
    swept_dirs: list[str] = field(default_factory=list)
    by: str = ""


# -- people ------------------------------------------------------------------------------


@_kind("resumed")
@dataclass(frozen=True, kw_only=True)
class Resumed(Event):
    previous_status: str = ""
    next_step: int = 0
    pause: dict[str, Any] | None = None
    by: str = ""


@_kind("promoted")
@dataclass(frozen=True, kw_only=True)
class Promoted(Event):
    step: int = 0
    label: str = ""
    pause_kind: str = ""
    pause_reason: str = ""
    by: str = ""
    reason: str = ""


@_kind("abort_requested")
@dataclass(frozen=True, kw_only=True)
class AbortRequested(Event):
    by: str = ""
    reason: str = ""


# -- a step ------------------------------------------------------------------------------


@_kind("step_started")
@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    step: int = 0
    label: str = ""
    region: str = ""
    hosts: list[str] = field(default_factory=list)


@_kind("step_applied")
@dataclass(frozen=True, kw_only=True)
class StepApplied(Event):
    step: int = 0
    label: str = ""
    status: str = ""
    error: str = ""
    duration_s: float = 0.0
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> outcome
    failed: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    total_failed: int = 0
    max_failed_hosts: int = 0
    total_unreachable: int = 0
    max_unreachable_hosts: int = 0


@_kind("bake")
@dataclass(frozen=True, kw_only=True)
class Bake(Event):
    step: int = 0
    seconds: float = 0.0


@_kind("gate")
@dataclass(frozen=True, kw_only=True)
class Gate(Event):
    phase: str = "step"  # or "rollback" (the rollback's proof)
    gate: str = ""
    verdict: str = ""
    reason: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    # the raw observations behind `numbers` (bounded, numbers only); older
    # journals have none, and their report falls back to the numbers
    samples: GateSamples | None = field(default=None, metadata=_OMIT)

    def __post_init__(self) -> None:
        # a gate report crosses process (and Temporal) boundaries as a dict:
        # `Gate(**GateResult.to_dict())` hands the samples in as one
        if isinstance(self.samples, dict):
            object.__setattr__(self, "samples", GateSamples.from_dict(self.samples))

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if self.samples is not None:
            d["samples"] = self.samples.to_dict()
        return d


@_kind("step_verdict")
@dataclass(frozen=True, kw_only=True)
class StepVerdict(Event):
    step: int = 0
    label: str = ""
    verdict: str = ""
    gates: dict[str, str] = field(default_factory=dict)


@_kind("step_finished")
@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    step: int = 0
    label: str = ""
    promoted: bool = False


@_kind("paused")
@dataclass(frozen=True, kw_only=True)
class Paused(Event):
    step: int = 0
    label: str = ""
    kind: str = ""  # the PauseKind
    reason: str = ""


@_kind("window_wait")
@dataclass(frozen=True, kw_only=True)
class WindowWait(Event):
    """The next step waits, in its runner's process (lease held and renewed), for its
    region's deploy window; it goes on by itself when it opens (`window_opened`)."""

    step: int = 0
    label: str = ""
    region: str = ""
    window: str = ""  # Window.describe()
    opens_at: float = 0.0  # epoch seconds, computed from the policy when written
    opens: str = ""  # the opening in the region's local time and in UTC


@_kind("window_opened")
@dataclass(frozen=True, kw_only=True)
class WindowOpened(Event):
    step: int = 0
    label: str = ""
    region: str = ""
    waited_s: float = 0.0


@_kind("completed")
@dataclass(frozen=True, kw_only=True)
class Completed(Event):
    release: str = ""
    hosts: int = 0
    last_known_good: bool = True


# -- failing and rolling back ------------------------------------------------------------


@_kind("failed")
@dataclass(frozen=True, kw_only=True)
class Failed(Event):
    step: int = 0
    label: str = ""
    reason: str = ""


@_kind("rollback_started")
@dataclass(frozen=True, kw_only=True)
class RollbackStarted(Event):
    reason: str = ""
    to: str | None = None  # the last known-good release id
    hosts: list[str] = field(default_factory=list)


@_kind("rollback_impossible")
@dataclass(frozen=True, kw_only=True)
class RollbackImpossible(Event):
    reason: str = ""


@_kind("rollback_applied")
@dataclass(frozen=True, kw_only=True)
class RollbackApplied(Event):
    release: str = ""
    status: str = ""
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)


@_kind("rollback_check")
@dataclass(frozen=True, kw_only=True)
class RollbackCheck(Event):
    release: str = ""
    status: str = ""
    changed: dict[str, int] = field(default_factory=dict)
    total_changed: int = 0
    failed_or_unreachable: list[str] = field(default_factory=list)


@_kind("rollback_proof")
@dataclass(frozen=True, kw_only=True)
class RollbackProofEvent(Event):
    """The proof (see record.RollbackProof): its fields, flat."""

    ok: bool = False
    release: str | None = field(default=None, metadata=_OMIT)
    hosts: int | None = field(default=None, metadata=_OMIT)
    apply_status: str | None = field(default=None, metadata=_OMIT)
    check_changed: int | None = field(default=None, metadata=_OMIT)
    check_hosts: int | None = field(default=None, metadata=_OMIT)
    gates: dict[str, str] | None = field(default=None, metadata=_OMIT)
    gate_verdict: str | None = field(default=None, metadata=_OMIT)
    error: str | None = field(default=None, metadata=_OMIT)


@_kind("rolled_back")
@dataclass(frozen=True, kw_only=True)
class RolledBack(Event):
    message: str = ""


@_kind("rollback_failed")
@dataclass(frozen=True, kw_only=True)
class RollbackFailed(Event):
    message: str = ""


# -- notifications and approvals (services.notify, services.approvals) -------------------


@_kind("notify_targets")
@dataclass(frozen=True, kw_only=True)
class NotifyTargets(Event):
    """Where this run's notifications go: names and keyed fingerprints, never URLs."""

    targets: list[dict[str, str]] = field(default_factory=list)  # target, fingerprint, format


@_kind("notify_failed")
@dataclass(frozen=True, kw_only=True)
class NotifyFailed(Event):
    """A notification that could not be delivered (it never fails the rollout)."""

    error: str = ""
    kind: str | None = field(default=None, metadata=_OMIT)  # the notification's event
    attempts: int | None = field(default=None, metadata=_OMIT)
    target: str | None = field(default=None, metadata=_OMIT)
    fingerprint: str | None = field(default=None, metadata=_OMIT)


@_kind("approval_received")
@dataclass(frozen=True, kw_only=True)
class ApprovalReceived(Event):
    """A signed approval accepted by `fleetctl approvals serve` (then promoted)."""

    by: str = ""
    reason: str = ""
    step: int = 0
    nonce: str = ""
    expires: float = 0.0
    key: str = ""  # the shared key's fingerprint
