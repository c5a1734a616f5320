"""The data that travels through Temporal: frozen dataclasses, JSON-friendly.

Workflow code imports this module inside the SDK's sandbox, so it imports
nothing but the standard library and does nothing at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COORDINATOR_WORKFLOW = "FleetctlRollout"
REGION_WORKFLOW = "FleetctlRegion"
HEARTBEAT_S = 10.0  # a batch whose worker stops heartbeating this long is retried
# A region child continues as new past this many history events (or when the server
# suggests it), far below Temporal's 51,200 per execution; a test sets it low.
REGION_HISTORY_EVENTS = 10_000


def coordinator_queue(env: str) -> str:
    return f"fleetctl-{env}"


def region_queue(region: str) -> str:
    return f"region-{region}"


def workflow_id(env: str) -> str:
    """The env's lock: one running coordinator per env, enforced by the server."""
    return f"env/{env}"


@dataclass(frozen=True)
class StepRef:
    index: int
    region: str
    label: str
    hosts: list[str]
    bake_s: float
    deadline_s: float
    approval: bool
    gates: list[str]


@dataclass(frozen=True)
class Limits:
    max_failed_hosts: int
    max_unreachable_hosts: int
    max_parallel_regions: int = 1
    region_history_events: int = REGION_HISTORY_EVENTS


@dataclass(frozen=True)
class StartInput:
    rollout_id: str
    env: str
    doc: dict[str, Any]  # the rollout document as the local engine writes it
    created: dict[str, Any]  # the `created` journal event
    steps: list[StepRef]
    limits: Limits


@dataclass(frozen=True)
class JournalWrite:
    rollout_id: str
    seq: int  # per workflow; a retried write with a seq already journaled is skipped
    events: list[dict[str, Any]]
    patch: dict[str, Any] = field(default_factory=dict)  # merged into the rollout document


@dataclass(frozen=True)
class Admission:
    frozen: str = ""  # "by: reason" when the env is frozen
    window_wait_s: float = 0.0  # > 0: outside the deploy window for this long
    window: str = ""


@dataclass(frozen=True)
class AdmissionRequest:
    rollout_id: str
    region: str  # its deploy window (policy deploy_windows) decides


@dataclass(frozen=True)
class BatchRequest:
    rollout_id: str
    step: StepRef


@dataclass(frozen=True)
class BatchResult:
    region: str
    step: int
    status: str
    error: str
    duration_s: float
    hosts: dict[str, dict[str, Any]]
    failed: list[str]
    unreachable: list[str]
    missing: list[str]
    attempt: int = 1


@dataclass(frozen=True)
class Order:
    """Coordinator -> region: `go` (apply step), `bake` (then judge it), `stop`."""

    step: int
    phase: str
    touched: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GatesRequest:
    rollout_id: str
    step: StepRef
    changed: list[str]
    touched: list[str]
    failed: list[str]
    unreachable: list[str]
    phase: str = "step"


@dataclass(frozen=True)
class GatesResult:
    region: str
    step: int
    verdict: str  # pass | fail | inconclusive | skipped
    gates: dict[str, str]
    reasons: dict[str, str]
    results: list[dict[str, Any]] = field(default_factory=list)  # GateResult.to_dict() each


@dataclass(frozen=True)
class RegionInput:
    rollout_id: str
    region: str
    steps: list[StepRef]  # still to run (after a continue-as-new: the rest)
    parent_id: str
    history_events: int = REGION_HISTORY_EVENTS  # continue as new past this many events
    judged: list[int] = field(default_factory=list)  # steps the earlier runs judged
    orders: list[Order] = field(default_factory=list)  # received, not yet carried out
    stop: bool = False


@dataclass(frozen=True)
class RollbackRequest:
    rollout_id: str
    region: str
    hosts: list[str]
    touched: list[str]
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RollbackResult:
    region: str
    ok: bool
    proof: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)  # journal events to write


@dataclass(frozen=True)
class Decision:
    """A person's signal: promote / approve / abort / resume, and who and why."""

    by: str
    reason: str


@dataclass(frozen=True)
class Ending:
    rollout_id: str
    status: str  # completed | rolled_back | rollback_failed | failed
    message: str
    patch: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    proof: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    rollout_id: str
    status: str
    message: str
