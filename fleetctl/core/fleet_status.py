"""The fleet at a glance: pure aggregation of what the status service observed.

Inputs are plain observations (one `HostObservation` per inventory host, the
env's traffic rows, the latest rollout's documents and events, the freeze);
the output is one `FleetStatus`: a row per region (hosts by health, release
mix, traffic weight, drained state, problems) sorted problems first, plus the
env's rollout and freeze. `fleetctl status` (table and JSON) and the
Prometheus endpoint all render the same `FleetStatus`, so their numbers agree
by construction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetctl.core.rollout import events
from fleetctl.core.rollout.record import LkgRecord, RolloutRecord, Status

# Host health, worst last. `drained` is deliberate (out of load balancing on
# purpose), so it is not a problem; `unhealthy` answered but badly;
# `unreachable` did not answer at all. `declared` is not a health: the
# inventory gives the host no address (e.g. the spec's fictional names), so it
# was not probed and nothing is known about it.
HEALTHY = "healthy"
DRAINED = "drained"
UNHEALTHY = "unhealthy"
UNREACHABLE = "unreachable"
DECLARED = "declared"
HEALTH_STATES: tuple[str, ...] = (HEALTHY, DRAINED, UNHEALTHY, UNREACHABLE, DECLARED)
PROBED_STATES: tuple[str, ...] = HEALTH_STATES[:-1]  # always counted, zeros included


def _by_health(c: Mapping[str, int]) -> dict[str, int]:
    """Every probed state (zeros included); `declared` only when there are any."""
    return {s: c.get(s, 0) for s in HEALTH_STATES if s in PROBED_STATES or c.get(s, 0)}


CRITICAL = "critical"
WARNING = "warning"
_SEVERITY_RANK = {CRITICAL: 2, WARNING: 1}

# Roles that serve viewers: a region with traffic needs at least one healthy one.
SERVING_ROLES = frozenset({"edge"})

UNKNOWN_RELEASE = "unknown"


@dataclass(frozen=True)
class HostObservation:
    name: str
    region: str
    role: str
    health: str  # one of HEALTH_STATES
    release: str | None = None  # what the host says it serves (None: it did not say)
    latency_ms: float | None = None  # of the probe; None without an answer
    check: str = ""  # how it was judged, e.g. "http /healthz" or "tcp :22"
    detail: str = ""  # why it is not healthy, e.g. "HTTP 500", "ConnectionRefusedError"
    address: str = ""

    def __post_init__(self) -> None:
        if self.health not in HEALTH_STATES:
            raise ValueError(f"unknown health {self.health!r} (one of {HEALTH_STATES})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.name,
            "region": self.region,
            "role": self.role,
            "address": self.address,
            "health": self.health,
            "release": self.release,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 2),
            "check": self.check,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class TrafficRow:
    """A region's share of viewer traffic (from the traffic service or the spec)."""

    region: str
    spec_weight: float
    weight: float
    drained: bool = False
    reason: str = ""
    by: str = ""
    at: float | None = None


@dataclass(frozen=True)
class Problem:
    severity: str  # critical | warning
    message: str
    region: str = ""  # "" for env-wide problems
    host: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "region": self.region,
            "host": self.host,
            "message": self.message,
        }


@dataclass(frozen=True)
class GateVerdict:
    gate: str
    verdict: str  # pass | fail | inconclusive | skipped
    reason: str
    at: float | None
    step: int | None = None
    phase: str = "step"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "verdict": self.verdict,
            "reason": self.reason,
            "at": self.at,
            "step": self.step,
            "phase": self.phase,
        }


@dataclass(frozen=True)
class RolloutState:
    id: str
    status: Status
    active: bool
    playbook: str
    release: str  # the release id being rolled out (what hosts report)
    step: int | None  # 0-based index of the current (or paused) step; None when finished
    steps: int
    step_label: str
    wave: int | None
    region: str
    pause_reason: str
    by: str
    updated_at: float | None
    last_known_good: str | None  # release id
    gates: tuple[GateVerdict, ...] = ()
    last_gate_pass_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "active": self.active,
            "playbook": self.playbook,
            "release": self.release,
            "step": self.step,
            "steps": self.steps,
            "step_label": self.step_label,
            "wave": self.wave,
            "region": self.region,
            "pause_reason": self.pause_reason,
            "by": self.by,
            "updated_at": self.updated_at,
            "last_known_good": self.last_known_good,
            "gates": [g.to_dict() for g in self.gates],
            "last_gate_pass_at": self.last_gate_pass_at,
        }


@dataclass(frozen=True)
class FreezeState:
    reason: str
    by: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "by": self.by, "at": self.at}


@dataclass(frozen=True)
class RegionStatus:
    region: str
    hosts: tuple[HostObservation, ...]
    spec_weight: float
    weight: float
    drained: bool
    drain_reason: str
    problems: tuple[Problem, ...]

    @property
    def health(self) -> dict[str, int]:
        """Hosts by health; every probed state present (zeros included)."""
        return _by_health(Counter(h.health for h in self.hosts))

    def health_by_role(self) -> dict[tuple[str, str], int]:
        """(role, health) -> hosts; every probed state of every role present."""
        c = Counter((h.role, h.health) for h in self.hosts)
        return {
            (r, s): n
            for r in self.roles
            for s, n in _by_health({s: c.get((r, s), 0) for s in HEALTH_STATES}).items()
        }

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(sorted({h.role for h in self.hosts}))

    @property
    def releases(self) -> dict[str, int]:
        """Release -> hosts reporting it (hosts that report no release are left out)."""
        return dict(sorted(Counter(h.release for h in self.hosts if h.release).items()))

    def releases_by_role(self) -> dict[tuple[str, str], int]:
        c = Counter((h.role, h.release) for h in self.hosts if h.release)
        return {k: c[k] for k in sorted(c)}

    @property
    def severity(self) -> str:
        return _worst(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "hosts_total": len(self.hosts),
            "health": self.health,
            "releases": self.releases,
            "spec_weight": self.spec_weight,
            "weight": self.weight,
            "drained": self.drained,
            "drain_reason": self.drain_reason,
            "severity": self.severity,
            "problems": [p.to_dict() for p in self.problems],
            "hosts": [h.to_dict() for h in self.hosts],
        }


@dataclass(frozen=True)
class FleetStatus:
    env: str
    at: float  # when the snapshot was taken (epoch seconds)
    took_s: float  # how long gathering it took
    regions: tuple[RegionStatus, ...]  # problems first
    rollout: RolloutState | None  # the env's latest rollout (active or not)
    freeze: FreezeState | None
    env_problems: tuple[Problem, ...] = field(default=())

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every problem: env-wide first, then per region in display order."""
        return self.env_problems + tuple(p for r in self.regions for p in r.problems)

    @property
    def health(self) -> dict[str, int]:
        c: Counter[str] = Counter()
        for r in self.regions:
            c.update(r.health)
        return _by_health(c)

    @property
    def releases(self) -> dict[str, int]:
        c: Counter[str] = Counter()
        for r in self.regions:
            c.update(r.releases)
        return dict(sorted(c.items()))

    @property
    def severity(self) -> str:
        return _worst(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "at": self.at,
            "took_s": round(self.took_s, 3),
            "ok": not self.problems,
            "severity": self.severity,
            "hosts_total": sum(len(r.hosts) for r in self.regions),
            "health": self.health,
            "releases": self.releases,
            "problems": [p.to_dict() for p in self.problems],
            "rollout": self.rollout.to_dict() if self.rollout else None,
            "freeze": self.freeze.to_dict() if self.freeze else None,
            "regions": [r.to_dict() for r in self.regions],
        }


def _worst(problems: Iterable[Problem]) -> str:
    rank = max((_SEVERITY_RANK.get(p.severity, 0) for p in problems), default=0)
    return {2: CRITICAL, 1: WARNING}.get(rank, "ok")


# -- rollout ------------------------------------------------------------------------


def rollout_state(
    doc: RolloutRecord | Mapping[str, Any],
    plan_steps: Sequence[Mapping[str, Any]],
    journal: Sequence[events.Event | Mapping[str, Any]],
    last_known_good: LkgRecord | Mapping[str, Any] | None = None,
) -> RolloutState:
    """The rollout's state from its record, plan steps and journal events
    (stored dicts are read through the record and event schema)."""
    rec = doc if isinstance(doc, RolloutRecord) else RolloutRecord.from_dict(dict(doc))
    evs = [e if isinstance(e, events.Event) else events.parse(dict(e)) for e in journal]
    active = not rec.status.final
    step: int | None = None
    if active:
        paused = rec.status is Status.paused and rec.pause is not None
        step = rec.pause.step if paused and rec.pause is not None else rec.next_step
    current = next((s for s in plan_steps if s.get("index") == step), None)
    # Per phase: a rolled-back rollout keeps the step verdict that failed it
    # next to the verdicts of the rollback's own gates.
    latest: dict[tuple[str, str], GateVerdict] = {}
    last_pass: float | None = None
    step_of_gate: int | None = None
    for ev in evs:
        if isinstance(ev, events.StepStarted):
            step_of_gate = ev.step
        elif isinstance(ev, events.Gate):
            g = GateVerdict(ev.gate, ev.verdict, ev.reason, ev.at or None, step_of_gate, ev.phase)
            latest[(g.phase, g.gate)] = g
        elif isinstance(ev, events.StepVerdict) and ev.verdict == "pass":
            last_pass = ev.at or None
    lkg = (
        last_known_good.get("release_id")
        if isinstance(last_known_good, Mapping)
        else last_known_good.release_id
        if last_known_good is not None
        else None
    )
    return RolloutState(
        id=rec.id,
        status=rec.status,
        active=active,
        playbook=rec.playbook,
        release=rec.release_id or rec.release,
        step=step,
        steps=rec.plan_steps or len(plan_steps),
        step_label=current.get("label", "") if current else "",
        wave=current.get("wave") if current else None,
        region=current.get("region", "") if current else "",
        pause_reason=rec.pause.reason if rec.status is Status.paused and rec.pause else "",
        by=rec.by,
        updated_at=rec.updated_at or None,
        last_known_good=lkg or None,
        gates=tuple(latest[k] for k in sorted(latest, key=lambda k: (k[0] != "step", k))),
        last_gate_pass_at=last_pass,
    )


# -- the snapshot -------------------------------------------------------------------


def build_status(
    env: str,
    hosts: Sequence[HostObservation],
    traffic: Sequence[TrafficRow],
    *,
    rollout: RolloutState | None = None,
    freeze: FreezeState | None = None,
    at: float = 0.0,
    took_s: float = 0.0,
) -> FleetStatus:
    """Aggregate observations into per-region rows, problems first."""
    by_region: dict[str, list[HostObservation]] = {}
    for h in hosts:
        by_region.setdefault(h.region, []).append(h)
    rows = {t.region: t for t in traffic}
    rolling = rollout is not None and rollout.active
    regions: list[RegionStatus] = []
    for name in sorted(set(by_region) | set(rows)):
        members = tuple(sorted(by_region.get(name, []), key=lambda h: (h.role, h.name)))
        t = rows.get(name)
        weight = t.weight if t else 0.0
        drained = bool(t and t.drained)
        problems = _region_problems(name, members, weight, drained, rolling)
        regions.append(
            RegionStatus(
                region=name,
                hosts=members,
                spec_weight=t.spec_weight if t else 0.0,
                weight=weight,
                drained=drained,
                drain_reason=t.reason if t and t.drained else "",
                problems=problems,
            )
        )
    regions.sort(
        key=lambda r: (
            -_SEVERITY_RANK.get(r.severity, 0),
            -len(r.problems),
            -r.weight,
            r.region,
        )
    )
    return FleetStatus(
        env=env,
        at=at,
        took_s=took_s,
        regions=tuple(regions),
        rollout=rollout,
        freeze=freeze,
        env_problems=_env_problems(rollout) + _declared_problems(hosts),
    )


def _region_problems(
    region: str,
    hosts: Sequence[HostObservation],
    weight: float,
    drained: bool,
    rolling: bool,
) -> tuple[Problem, ...]:
    out: list[Problem] = []
    serving = [h for h in hosts if h.role in SERVING_ROLES]
    healthy_serving = [h for h in serving if h.health == HEALTHY]
    unknown = bool(serving) and all(h.health == DECLARED for h in serving)
    if weight > 0 and not drained and not healthy_serving and not unknown:
        out.append(
            Problem(
                CRITICAL,
                f"takes {weight:.0%} of viewer traffic but has no healthy edge "
                f"({len(serving)} edge host(s))",
                region=region,
            )
        )
    for h in hosts:
        if h.health in (UNHEALTHY, UNREACHABLE):
            why = f": {h.detail}" if h.detail else ""
            out.append(Problem(WARNING, f"{h.name} ({h.role}) {h.health}{why}", region, h.name))
    releases = sorted({h.release for h in serving if h.release})
    if len(releases) > 1 and not rolling:
        out.append(
            Problem(
                WARNING,
                f"edges run {len(releases)} releases ({', '.join(releases)}) "
                "and no rollout is active",
                region=region,
            )
        )
    out.sort(key=lambda p: (-_SEVERITY_RANK.get(p.severity, 0), p.host, p.message))
    return tuple(out)


def _declared_problems(hosts: Sequence[HostObservation]) -> tuple[Problem, ...]:
    declared = [h for h in hosts if h.health == DECLARED]
    if not declared:
        return ()
    return (
        Problem(
            WARNING,
            f"{len(declared)} of {len(hosts)} host(s) are only declared (the inventory gives "
            "them no address): not reachable from here, so not probed; for the running "
            "instances use `--source aws`, or set ansible_host in the inventory",
        ),
    )


def _env_problems(rollout: RolloutState | None) -> tuple[Problem, ...]:
    if rollout is None:
        return ()
    if rollout.status is Status.paused:
        return (
            Problem(
                WARNING,
                f"rollout {rollout.id} paused at {rollout.step_label or 'a step'}: "
                f"{rollout.pause_reason}",
            ),
        )
    if rollout.status in (Status.rollback_failed, Status.failed):
        return (
            Problem(
                CRITICAL,
                f"rollout {rollout.id} ended {rollout.status}: a person must look "
                "(`fleetctl rollout why " + rollout.id + "`)",
            ),
        )
    return ()
