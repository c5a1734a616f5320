"""Region drains: move a region's share of viewer traffic to the other regions.

(`fleetctl drain REGION`. Not host drains - `fleetctl hosts drain`, which take
single edge nodes out of load balancing: `fleetctl.services.host_drain`.)

State (the source of truth for fleetctl) is one document per env,
`traffic/<env>`, present only while at least one region is drained:

    {"env": "prod",
     "base": {"us-east-1": 0.3, ...},        # weights before the first drain
     "base_int": {"us-east-1": 255, ...},    # integer weights before it (Route 53 / nginx)
     "drained": {"eu-west-1": {"reason": ..., "by": ..., "at": ..., "force": false}}}

The effective weights are always computed from `base` and the drained set
(`fleetctl.core.traffic`), so drains compose and an undrain restores the
weights from before the drain exactly. Every drain and undrain is also an
event in the env's journal `traffic:<env>` (who, why, when, weights before
and after, force, the capacity numbers).

Where weights are applied:
- lab: a traffic-router host (nginx load balancer over the lab edges) reads
  its per-region weights from the lab inventory; a drain records them
  (`<lab dir>/traffic.json`) and re-renders the inventory with them,
  applies `playbooks/router.yml` and gates on viewer requests through the
  router (`fleetctl.services.traffic_lab`).
- other envs: Route 53 weighted records, one per region
  (`fleetctl.services.traffic_aws`).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from fleetctl.adapters.state.base import StateStore
from fleetctl.core import traffic as core
from fleetctl.core.capacity.throughput import Throughput
from fleetctl.errors import BadInput, FleetctlError, JobFailed
from fleetctl.services import target as env_target
from fleetctl.services.freeze import who
from fleetctl.services.lab import LAB_REGIONS
from fleetctl.services.target import is_lab
from fleetctl.services.workspace import Workspace

KIND = "traffic"


def journal(env: str) -> str:
    return f"traffic:{env}"


@dataclass(frozen=True)
class RegionTraffic:
    """One region's viewer traffic in an env (stable shape: `fleetctl status` uses it)."""

    region: str
    spec_weight: float  # the weight the spec declares
    weight: float  # the weight in force now (0 when drained)
    drained: bool
    reason: str  # why it was drained ("" when not drained)
    by: str  # who drained it ("" when not drained)
    at: float | None  # when (epoch seconds), None when not drained

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def spec_weights(ws: Workspace, env: str) -> dict[str, float]:
    """Region -> traffic weight the spec declares for `env` (lab: the lab's regions)."""
    if is_lab(env):
        return {region: weight for region, _pop, weight in LAB_REGIONS}
    from fleetctl.spec import load_fleet

    fleet = load_fleet(ws.stacks_dir)
    if env not in fleet.envs():
        raise BadInput(f"unknown env {env!r}", hint=f"known envs: lab, {', '.join(fleet.envs())}")
    return {s.region: s.traffic_weight for s in fleet.select(env) if s.spec.edge is not None}


def state_doc(store: StateStore, env: str) -> dict[str, Any] | None:
    return store.get(KIND, env)


def base_weights(doc: dict[str, Any] | None, spec: dict[str, float]) -> dict[str, float]:
    """The weights drains are computed from: stored before the first drain, else the spec."""
    if doc is None:
        return dict(spec)
    return {str(r): float(w) for r, w in doc["base"].items()}


def region_traffic(ws: Workspace, store: StateStore, env: str) -> list[RegionTraffic]:
    """Every region of `env` with its spec weight, weight now and drain record, by region."""
    spec = spec_weights(ws, env)
    doc = state_doc(store, env)
    base = base_weights(doc, spec)
    drained: dict[str, dict[str, Any]] = dict(doc["drained"]) if doc else {}
    now = core.effective_weights(base, [r for r in drained if r in base])
    out = []
    for region in sorted(set(spec) | set(base)):
        rec = drained.get(region)
        out.append(
            RegionTraffic(
                region=region,
                spec_weight=spec.get(region, 0.0),
                weight=now.get(region, spec.get(region, 0.0)),
                drained=rec is not None,
                reason=str(rec.get("reason", "")) if rec else "",
                by=str(rec.get("by", "")) if rec else "",
                at=float(rec["at"]) if rec and rec.get("at") is not None else None,
            )
        )
    return out


def events(store: StateStore, env: str) -> list[dict[str, Any]]:
    """The env's drain/undrain journal, oldest first."""
    return store.events(journal(env))


# -- drain / undrain --------------------------------------------------------------------

LAB_EDGE_TYPE = "lab-edge"  # the lab's edges in the throughput model
LAB_EDGE_GBPS = 1.0  # what one lab edge node carries flat out (declared, documented)
LAB_PEAK_GBPS = 1.0  # the lab's default viewer peak for the drain check
LOCK_TTL_S = 600.0


class RegionDrainRefused(FleetctlError):
    """The remaining regions cannot carry the moved traffic (and no --force)."""

    exit_code = 1

    def __init__(self, message: str, plan: TrafficPlan, *, hint: str, details: list[str]) -> None:
        super().__init__(message, hint, details=details)
        self.plan = plan


@dataclass(frozen=True)
class TrafficPlan:
    """What a drain or undrain will change, computed before anything changes."""

    env: str
    region: str
    action: str  # drain | undrain
    backend: str  # lab-router | route53
    base: dict[str, float]  # weights before the first drain
    base_int: dict[str, int]  # integer weights before the first drain
    drained_before: list[str]
    drained_after: list[str]
    before: dict[str, float]  # effective weights now
    after: dict[str, float]  # effective weights after the change
    int_before: dict[str, int]
    int_after: dict[str, int]
    peak_gbps: float | None
    capacity: list[core.AbsorbRow]
    noop: bool  # already in the wanted state

    @property
    def short(self) -> list[core.AbsorbRow]:
        return core.refused(self.capacity)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["capacity"] = [
            {**asdict(r), "ok": r.ok, "short_gbps": round(r.short_gbps, 3)} for r in self.capacity
        ]
        d["refused"] = bool(self.short)
        return d


def capacity_table(rows: list[core.AbsorbRow]) -> list[str]:
    """needed vs available per region, one line each (for errors and journals)."""
    return [
        f"{r.region}: needs {r.needed_gbps:.2f} Gbit/s ({r.share_before:.1%} -> "
        f"{r.share_after:.1%} of peak), has {r.available_gbps:.2f} Gbit/s"
        + ("" if r.ok else f"  SHORT by {r.short_gbps:.2f}")
        for r in rows
    ]


def edge_pools(
    ws: Workspace, env: str, model: Throughput, lab_dir: Path | None = None
) -> list[core.RegionPool]:
    """Each viewer region's edge pool, its nodes sized by the throughput model
    `fleetctl capacity` uses: lab edges at LAB_EDGE_GBPS each, else the spec's
    nodes of the pool's instance type."""
    if is_lab(env):
        lab = env_target.resolve(ws, env, lab_dir).require_lab()
        counts: dict[str, int] = {}
        for h in lab.by_role("edge"):
            counts[h.region] = counts.get(h.region, 0) + 1
        lab_model = replace(model, node_gbps={**model.node_gbps, LAB_EDGE_TYPE: LAB_EDGE_GBPS})
        per_node = lab_model.node(LAB_EDGE_TYPE).raw_gbps
        return [core.RegionPool(r, n, per_node) for r, n in sorted(counts.items())]
    from fleetctl.spec import load_fleet

    pools = []
    for s in load_fleet(ws.stacks_dir).select(env):
        if s.spec.edge is None:
            continue
        try:
            node = model.node(s.spec.edge.instance_type)
        except ValueError:
            raise BadInput(
                f"no bandwidth figure for {s.spec.edge.instance_type} ({s.name})",
                hint="add it to fleetctl.core.capacity.BASELINE_GBPS, give "
                "parameters.node_gbps in a --demand file, or --force the drain",
            ) from None
        pools.append(core.RegionPool(s.region, s.edge_nodes, node.raw_gbps))
    return pools


@dataclass(frozen=True)
class DrainBasis:
    """What a region drain is checked against: the env-wide peak and the edge
    throughput model (both as `fleetctl capacity --demand` plans them)."""

    peak_gbps: float
    model: Throughput


def basis_from_demand(ws: Workspace, env: str, demand_path: Path) -> DrainBasis:
    """A demand file's basis: the sum of its regions' peak egress, and the model
    with the file's parameters (node_gbps, nginx_gbps_per_vcpu, edge_utilisation)."""
    from fleetctl.services.capacity import demand_capacity
    from fleetctl.spec import load_fleet

    report = demand_capacity(load_fleet(ws.stacks_dir), env, demand_path)
    if report.no_demand:
        raise BadInput(
            f"{demand_path} has no demand for {', '.join(report.no_demand)}",
            hint="every viewer region of the env needs an entry for the drain check",
        )
    return DrainBasis(
        peak_gbps=round(sum(r.egress_gbps for r in report.regions), 3),
        model=report.params.throughput,
    )


def default_peak(ws: Workspace, env: str) -> float | None:
    if is_lab(env):
        return LAB_PEAK_GBPS
    from fleetctl.spec.traffic import load_traffic

    cfg = load_traffic(ws.stacks_dir).get(env)
    return cfg.peak_gbps if cfg else None


def plan_change(
    ws: Workspace,
    store: StateStore,
    env: str,
    region: str,
    *,
    drain: bool,
    peak_gbps: float | None = None,
    lab_dir: Path | None = None,
    backend: Backend | None = None,
    check_capacity: bool = True,
    model: Throughput | None = None,
) -> TrafficPlan:
    """The weights before and after draining (or undraining) `region`, with the
    capacity check of a drain (`model`: the edge throughput model, default
    `services.capacity.throughput_model()`, as `fleetctl capacity`). Changes nothing."""
    spec = spec_weights(ws, env)
    if region not in spec:
        raise BadInput(
            f"{region!r} is not a viewer region of {env}",
            hint=f"regions of {env}: {', '.join(sorted(spec))}",
        )
    doc = state_doc(store, env)
    base = base_weights(doc, spec)
    drained_before = sorted(doc["drained"]) if doc else []
    if doc is not None:
        base_int = {str(r): int(w) for r, w in doc["base_int"].items()}
    elif not drain:
        base_int = core.integer_weights(spec)  # nothing drained: nothing to undrain
    else:
        # the integers in force before the first drain, unless they do not fit the
        # spec (other regions, or a region with traffic at 0: a stale drain nobody
        # recorded - restoring that 0 would never give the region its traffic back)
        be = backend or backend_for(ws, env, lab_dir)
        base_int = be.current() or {}
        if set(base_int) != set(spec) or any(base_int[r] <= 0 < w for r, w in spec.items()):
            base_int = core.integer_weights(spec)
    if drain:
        drained_after = sorted({*drained_before, region})
    else:
        drained_after = sorted(set(drained_before) - {region})
    noop = drained_after == drained_before
    try:
        before = core.effective_weights(base, drained_before)
        after = core.effective_weights(base, drained_after)
        int_before = core.drained_integer_weights(base_int, drained_before)
        int_after = core.drained_integer_weights(base_int, drained_after)
    except core.TrafficError as exc:
        raise BadInput(str(exc), hint="undrain another region first") from None
    rows: list[core.AbsorbRow] = []
    peak = peak_gbps if peak_gbps is not None else default_peak(ws, env)
    if drain and not noop and check_capacity:
        if peak is None:
            raise BadInput(
                f"no peak demand to check {env}'s remaining capacity against",
                hint=f"pass --peak-gbps N, or set fleet:traffic.{env}.peak_gbps in "
                "stacks/Pulumi.yaml",
            )
        if model is None:
            from fleetctl.services.capacity import throughput_model

            model = throughput_model()
        pools = edge_pools(ws, env, model, lab_dir)
        try:
            rows = core.absorb_check(pools, before, after, peak, model.utilisation)
        except core.TrafficError as exc:
            raise BadInput(str(exc)) from None
    return TrafficPlan(
        env=env,
        region=region,
        action="drain" if drain else "undrain",
        backend=env_target.traffic_backend(env),
        base=base,
        base_int=base_int,
        drained_before=drained_before,
        drained_after=drained_after,
        before=before,
        after=after,
        int_before=int_before,
        int_after=int_after,
        peak_gbps=peak,
        capacity=rows,
        noop=noop,
    )


class Backend(Protocol):
    """Where an env's weights are in force (the lab router, Route 53)."""

    name: str

    def current(self) -> dict[str, int] | None:
        """The integer weights in force now, by region (None: not set up yet)."""
        ...

    def apply(self, weights: dict[str, int], comment: str) -> dict[str, Any]:
        """Put `weights` in force, prove it, return the evidence. Raises on failure."""
        ...


def backend_for(ws: Workspace, env: str, lab_dir: Path | None = None) -> Backend:
    if is_lab(env):
        from fleetctl.services.traffic_lab import LabRouter

        return LabRouter(env_target.resolve(ws, env, lab_dir))
    from fleetctl.services.traffic_aws import Route53Weights
    from fleetctl.spec.traffic import load_traffic

    cfg = load_traffic(ws.stacks_dir).get(env)
    if cfg is None:
        raise BadInput(
            f"env {env} has no traffic config",
            hint=f"add fleet:traffic.{env} (zone, record, target) to stacks/Pulumi.yaml; "
            "see docs/traffic.md",
        )
    return Route53Weights(cfg)


@dataclass(frozen=True)
class TrafficResult:
    plan: TrafficPlan
    forced: bool
    evidence: dict[str, Any]
    at: float
    by: str


def change(
    ws: Workspace,
    store: StateStore,
    plan: TrafficPlan,
    *,
    reason: str,
    force: bool = False,
    lab_dir: Path | None = None,
    backend: Backend | None = None,
    by: str | None = None,
) -> TrafficResult:
    """Carry out a planned drain or undrain: refuse on capacity (unless force),
    put the new weights in force, record it. Serialised per env by a lock."""
    by = by or who()
    env = plan.env
    base_event = {
        "env": env,
        "region": plan.region,
        "reason": reason,
        "by": by,
        "backend": plan.backend,
        "peak_gbps": plan.peak_gbps,
        "capacity": capacity_table(plan.capacity),
    }
    if plan.short and not force:
        store.append_event(
            journal(env),
            {"type": "region_drain_refused", "at": time.time(), **base_event},
        )
        raise RegionDrainRefused(
            f"refusing to drain {plan.region}: the remaining regions cannot carry "
            f"{plan.peak_gbps:g} Gbit/s at peak",
            plan,
            hint="add edge capacity first, undrain another region, check --peak-gbps, "
            "or --force (recorded in the journal)",
            details=capacity_table(plan.capacity),
        )
    be = backend or backend_for(ws, env, lab_dir)
    holder = f"{plan.action}-{plan.region}-{os.getpid()}"
    lock = f"traffic/{env}"
    store.acquire_lock(lock, holder, LOCK_TTL_S)
    try:
        # re-plan under the lock: another drain may have finished meanwhile
        fresh = plan_change(
            ws,
            store,
            env,
            plan.region,
            drain=plan.action == "drain",
            peak_gbps=plan.peak_gbps,
            lab_dir=lab_dir,
            backend=be,
            check_capacity=False,
        )
        if fresh.drained_before != plan.drained_before:
            raise JobFailed(
                f"the drained regions of {env} changed while planning "
                f"({plan.drained_before} -> {fresh.drained_before})",
                hint="run the command again",
            )
        started = time.time()
        weights = {
            "weights_before": plan.before,
            "weights_after": plan.after,
            "int_before": plan.int_before,
            "int_after": plan.int_after,
            "drained_before": plan.drained_before,
            "drained_after": plan.drained_after,
        }
        store.append_event(
            journal(env),
            {
                "type": f"region_{plan.action}_started",
                "at": started,
                "force": force and bool(plan.short),
                **base_event,
                **weights,
            },
        )
        comment = f"fleetctl {plan.action} {plan.region} by {by}: {reason}"
        try:
            evidence = be.apply(plan.int_after, comment)
        except FleetctlError as exc:
            store.append_event(
                journal(env),
                {
                    "type": f"region_{plan.action}_failed",
                    "at": time.time(),
                    "error": exc.message,
                    "details": exc.details[:20],
                    **base_event,
                    **weights,
                },
            )
            raise
        at = time.time()
        forced = force and bool(plan.short)
        if plan.drained_after:
            drained = dict(state_doc(store, env)["drained"]) if state_doc(store, env) else {}
            if plan.action == "drain":
                drained[plan.region] = {"reason": reason, "by": by, "at": at, "force": forced}
            else:
                drained.pop(plan.region, None)
            store.put(
                KIND,
                env,
                {
                    "env": env,
                    "base": plan.base,
                    "base_int": plan.base_int,
                    "drained": drained,
                    "updated_at": at,
                },
            )
        else:
            store.delete(KIND, env)  # nothing drained: the spec's weights rule again
        store.append_event(
            journal(env),
            {
                "type": "region_drained" if plan.action == "drain" else "region_undrained",
                "at": at,
                "force": forced,
                "took_s": round(at - started, 2),
                "evidence": evidence,
                **base_event,
                **weights,
            },
        )
        return TrafficResult(plan=plan, forced=forced, evidence=evidence, at=at, by=by)
    finally:
        store.release_lock(lock, holder)
