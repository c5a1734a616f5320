"""Peak events (`fleetctl event plan`): size every event region for the peak
with N+1 per zone, preview the spec change that pre-scales it (with its cost
for the event's duration), say which freeze to set, and report readiness.

Changes nothing. The sizing is the capacity model (`fleetctl.core.capacity`,
the same throughput model as `capacity` and `drain`); the preview is the real
`preview` (offline Pulumi program under mocks, cost and policy) run on a
scratch copy of the project whose stack configs carry the pre-scale, against
the same copy as it is. The plan is recorded (`event_lifecycle`) so that
`fleetctl event start NAME` can set its freeze and give its pre-scale patch.
"""

from __future__ import annotations

import ipaddress
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.core.capacity import Params, Provision
from fleetctl.core.capacity.event import EventWindow, RegionEvent, event_shares, plan_event
from fleetctl.errors import BadInput
from fleetctl.services import capacity as capacity_service
from fleetctl.services.workspace import Workspace

if TYPE_CHECKING:
    from fleetctl.core.preview_report import PreviewReport
    from fleetctl.services.status import Target

# A certificate must outlive the event by this much: a rotation is a rollout, and
# nobody rotates during the freeze or the morning after the match.
CERT_MARGIN_DAYS = 7.0

# What the preview's scratch copy needs: the program, the pure layers it imports,
# the stack configs and the policy pack (`preview` checks it).
_COPY = ("stacks", "fleetctl/core", "fleetctl/spec", "policies")
_COPY_FILES = ("fleetctl/__init__.py", "fleetctl/errors.py")


@dataclass(frozen=True)
class EventRequest:
    env: str
    window: EventWindow
    peak_gbps: float  # the event's global peak egress
    regions: tuple[str, ...] = ()  # the regions serving it; () = every viewer region
    demand_path: Path | None = None  # model parameters and upload hours per region
    preview: bool = True
    cert_margin_days: float = CERT_MARGIN_DAYS  # certificates must last past the end by this
    lab_dir: Path | None = None  # the running lab (env `lab`)
    cert_timeout_s: float = 3.0


@dataclass(frozen=True)
class StackPatch:
    """The pre-scale of one stack, as keys of its `fleet:spec`."""

    stack: str
    file: str  # relative to the project root
    region: RegionEvent

    @property
    def changes(self) -> list[dict[str, Any]]:
        return [
            {"key": f"fleet:spec.{c.key}", "before": c.before, "after": c.after}
            for c in self.region.changes
        ]


@dataclass(frozen=True)
class EventCost:
    """The pre-scale's cost: monthly figures from the preview, and for the event."""

    month_before: float
    month_after: float
    hours: float
    hours_per_month: float

    @property
    def month_delta(self) -> float:
        return self.month_after - self.month_before

    @property
    def event_usd(self) -> float:
        """The monthly delta for the event's duration only."""
        return self.month_delta * self.hours / self.hours_per_month


@dataclass(frozen=True)
class FreezePlan:
    start: datetime  # the event's start minus the margin
    end: datetime  # the event's end
    on: str  # the command to run at `start`
    off: str  # the command to run after `end`


@dataclass(frozen=True)
class RunningRollout:
    id: str
    status: str
    playbook: str


class CertState:
    ok = "ok"  # verified, and valid past the event's end + margin
    expiring = "expiring"  # verified, but expires before the event's end + margin
    invalid = "invalid"  # presented, but does not verify (expired, wrong CA or name)
    unknown = "unknown"  # not read: no address, not a lab address, unreachable


@dataclass(frozen=True)
class CertCheck:
    """One edge's certificate against the event: `why` says what was found or not."""

    host: str
    region: str
    state: str  # CertState
    why: str
    not_after: str = ""  # ISO 8601 UTC, when read

    @property
    def problem(self) -> bool:
        return self.state in (CertState.expiring, CertState.invalid)


@dataclass(frozen=True)
class CertReadiness:
    deadline: datetime  # the event's end + margin: a certificate must last past it
    margin_days: float
    checks: list[CertCheck]

    def region(self, region: str) -> list[CertCheck]:
        return [c for c in self.checks if c.region == region]

    def summary(self, region: str) -> str:
        """'1 ok, 1 expiring before the end + 7d (edge-2: until 2026-12-21T18:00:00+00:00),
        8 unknown (declared only (no address): edge-1a-01, edge-1a-02, ... +5)'."""
        cs = self.region(region)
        if not cs:
            return "no edges"
        parts = []
        for state in (CertState.ok, CertState.expiring, CertState.invalid, CertState.unknown):
            these = [c for c in cs if c.state == state]
            if not these:
                continue
            label = {
                CertState.expiring: f"expiring before the end + {self.margin_days:g}d",
                CertState.invalid: "not verifying",
            }.get(state, state)
            if state == CertState.ok:
                parts.append(f"{len(these)} {label}")
                continue
            if state == CertState.expiring:
                detail = "; ".join(f"{c.host}: {c.why}" for c in these)
            else:  # the same reason for many hosts: say it once
                by_why: dict[str, list[str]] = {}
                for c in these:
                    by_why.setdefault(c.why, []).append(c.host)
                detail = "; ".join(f"{why}: {_names(hosts)}" for why, hosts in by_why.items())
            parts.append(f"{len(these)} {label} ({detail})")
        return ", ".join(parts)


def _names(hosts: list[str], limit: int = 3) -> str:
    more = f", ... +{len(hosts) - limit}" if len(hosts) > limit else ""
    return ", ".join(hosts[:limit]) + more


@dataclass(frozen=True)
class Readiness:
    capacity: dict[str, str]  # region -> verdict of the spec today at the event's peak
    certificates: CertReadiness
    rollouts_running: list[RunningRollout]
    drained_regions: list[str]
    drained_hosts: list[str]

    @property
    def ready(self) -> bool:
        """Nothing stands in the way once the pre-scale is applied (a certificate not
        read is reported as unknown, not counted: nothing says it is bad)."""
        certs = any(c.problem for c in self.certificates.checks)
        return not (self.rollouts_running or self.drained_regions or self.drained_hosts or certs)


@dataclass(frozen=True)
class EventPlan:
    request: EventRequest
    params: Params
    regions: list[RegionEvent]
    patches: list[StackPatch]
    preview: PreviewReport | None  # None: --no-preview, or nothing to pre-scale
    cost: EventCost | None
    freeze: FreezePlan
    readiness: Readiness
    notes: list[str]


def _iso(t: datetime) -> str:
    return t.isoformat()


def freeze_plan(env: str, window: EventWindow) -> FreezePlan:
    reason = f"event {window.name}: {_iso(window.start)} to {_iso(window.end)}"
    return FreezePlan(
        start=window.freeze_from,
        end=window.freeze_to,
        on=f"fleetctl freeze on --env {shlex.quote(env)} --reason {shlex.quote(reason)}",
        off=f"fleetctl freeze off --env {shlex.quote(env)}",
    )


def _lab_address(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def cert_checks(
    targets: list[Target], regions: list[str], deadline: datetime, timeout_s: float = 3.0
) -> list[CertCheck]:
    """The edges of `regions` and their certificates against `deadline`. Only lab
    (loopback) addresses are read, by a verified handshake (`certs status`'s);
    a declared-only host, another address or an edge with no https_port is
    reported unknown with why, never probed."""
    from fleetctl.services.status import read_certs

    out: list[CertCheck] = []
    probe: list[Target] = []
    for t in sorted(targets, key=lambda t: (t.region, t.name)):
        if t.region not in regions or t.role != "edge":
            continue
        if not t.address:
            out.append(CertCheck(t.name, t.region, CertState.unknown, "declared only (no address)"))
        elif not t.https_port:
            why = "no https_port host var: where it serves TLS is not known"
            out.append(CertCheck(t.name, t.region, CertState.unknown, why))
        elif not _lab_address(t.address):
            why = (
                f"not probed: {t.address} is not a lab address (event plan reads only "
                "127.0.0.0/8); check it with `fleetctl certs status`"
            )
            out.append(CertCheck(t.name, t.region, CertState.unknown, why))
        else:
            probe.append(t)
    for r in read_certs(probe, timeout_s):
        if r.error.startswith("does not verify"):
            out.append(CertCheck(r.host, r.region, CertState.invalid, r.error))
        elif r.error or not r.not_after:
            why = f"unreachable: {r.error or 'no certificate'}"
            out.append(CertCheck(r.host, r.region, CertState.unknown, why))
        elif datetime.fromisoformat(r.not_after) < deadline:
            out.append(
                CertCheck(r.host, r.region, CertState.expiring, f"until {r.not_after}", r.not_after)
            )
        else:
            out.append(
                CertCheck(r.host, r.region, CertState.ok, f"until {r.not_after}", r.not_after)
            )
    return sorted(out, key=lambda c: (c.region, c.host))


def cert_readiness(ws: Workspace, req: EventRequest, regions: list[str]) -> CertReadiness:
    from fleetctl.errors import FleetctlError
    from fleetctl.services import status as status_service

    deadline = req.window.end + timedelta(days=req.cert_margin_days)
    try:
        targets = status_service.targets(ws, req.env, req.lab_dir)
    except FleetctlError as exc:  # no inventory, the lab not up: say so, per region
        why = f"the hosts of {req.env} are not known: {exc.message}"
        checks = [CertCheck("*", r, CertState.unknown, why) for r in regions]
        return CertReadiness(deadline, req.cert_margin_days, checks)
    checks = cert_checks(targets, regions, deadline, req.cert_timeout_s)
    return CertReadiness(deadline, req.cert_margin_days, checks)


def readiness(
    ws: Workspace,
    store: StateStore | None,
    env: str,
    regions: list[RegionEvent],
    certificates: CertReadiness | None = None,
) -> Readiness:
    """The spec's verdict per region, certificates, running rollouts and drains."""
    from fleetctl.services import traffic as traffic_service

    capacity = {
        r.region: (
            "ok"
            if r.plan.verdict is not Provision.UNDER
            else f"under: needs the pre-scale (+{r.edge_nodes_to_add} edge nodes)"
            if r.edge_nodes_to_add
            else "under: needs the pre-scale (transcode)"
        )
        for r in regions
    }
    running: list[RunningRollout] = []
    drained_regions: list[str] = []
    drained_hosts: list[str] = []
    if store is not None:
        from fleetctl.services import host_drain
        from fleetctl.services import rollout as rollout_service

        running = sorted(
            (
                RunningRollout(r.id, r.status.value, r.playbook)
                for r in rollout_service.records(store, env)
                if not r.status.final
            ),
            key=lambda r: r.id,
        )
        drained_regions = [
            t.region for t in traffic_service.region_traffic(ws, store, env) if t.drained
        ]
        drained_hosts = [d.host for d in host_drain.drained(store, env)]
    certs = certificates or CertReadiness(datetime.now(UTC), CERT_MARGIN_DAYS, [])
    return Readiness(capacity, certs, running, drained_regions, drained_hosts)


def _patch_configs(root: Path, patches: list[StackPatch]) -> None:
    """Write the pre-scale into the scratch copy's stack configs (only those lines)."""
    from fleetctl.spec.config_edit import set_ints

    for p in patches:
        path = root / p.file
        text = path.read_text(encoding="utf-8")
        values = {c.key: c.after for c in p.region.changes}
        path.write_text(set_ints(text, values, p.file), encoding="utf-8")


def preview_prescale(ws: Workspace, env: str, patches: list[StackPatch]) -> PreviewReport:
    """`preview` of the pre-scale: a scratch copy of the project committed as it is,
    the patches written on top, previewed against that commit (cost and policy
    included), the copy removed."""
    from fleetctl.adapters import git
    from fleetctl.services import preview as preview_service

    with tempfile.TemporaryDirectory(prefix="fleetctl-event-") as tmp:
        root = Path(tmp)
        for rel in _COPY:
            if (ws.root / rel).is_dir():
                shutil.copytree(
                    ws.root / rel, root / rel, ignore=shutil.ignore_patterns("__pycache__")
                )
        for rel in _COPY_FILES:
            if (ws.root / rel).is_file():
                shutil.copy2(ws.root / rel, root / rel)
        base = git.commit_all(root, "the spec as it is")
        _patch_configs(root, patches)
        run = preview_service.run_preview(
            Workspace(root),
            preview_service.PreviewOptions(
                env=env, stacks=tuple(p.stack for p in patches), base=base, use_cache=False
            ),
        )
    return run.report


def _check_limits(planned: list[RegionEvent], peak_gbps: float) -> None:
    """BadInput when the pre-scale needs more than the spec's schema allows: a
    patch past a limit would be one `fleetctl validate` (and the preview) rejects."""
    from fleetctl.spec.models import int_upper_bound

    over = [
        f"{r.region} {c.key} {c.after} (limit {limit})"
        for r in planned
        for c in r.changes
        if (limit := int_upper_bound(c.key)) is not None and c.after > limit
    ]
    if over:
        raise BadInput(
            f"--peak-gbps {peak_gbps:g} needs more than the spec allows: {'; '.join(over)}",
            hint="check the peak (Gbit/s, the whole event), spread it over more --regions, "
            "or plan the extra capacity (new regions, larger instances) first",
        )


def plan(
    ws: Workspace, store: StateStore | None, req: EventRequest, now: datetime | None = None
) -> EventPlan:
    """Everything `fleetctl event plan` shows; changes nothing."""
    from fleetctl.spec import load_fleet
    from fleetctl.spec.demand import CapacityParameters, load_demand, load_measured

    fleet = load_fleet(ws.stacks_dir)
    if req.env not in fleet.envs():
        raise BadInput(f"unknown env {req.env!r}", hint=f"known envs: {', '.join(fleet.envs())}")
    stacks = {s.region: s for s in fleet.select(req.env) if s.spec.edge is not None}
    regions = req.regions or tuple(sorted(stacks))
    unknown = sorted(set(regions) - set(stacks))
    if unknown:
        raise BadInput(
            f"--regions: {', '.join(unknown)} is not a viewer region of {req.env}",
            hint=f"regions of {req.env}: {', '.join(sorted(stacks))}",
        )
    parameters, uploads, notes = CapacityParameters(), {}, []
    if req.demand_path is not None:
        demand = load_demand(req.demand_path)
        parameters = demand.parameters
        uploads = {r: d.upload_hours_per_hour for r, d in demand.regions.items()}
    else:
        notes.append(
            "no --demand file: transcode sized for no uploads (the spec's pools kept); "
            "pass --demand FILE for upload hours per region and the model's parameters"
        )
    params = capacity_service.model_params(parameters, load_measured())
    prices = capacity_service.load_prices()
    weights = {r: stacks[r].spec.edge.traffic_weight for r in regions}  # type: ignore[union-attr]
    try:
        shares = event_shares(weights, regions)
        supplies = [capacity_service.supply_of(stacks[r], prices) for r in regions]
        planned = plan_event(req.peak_gbps, shares, supplies, params, uploads)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    _check_limits(planned, req.peak_gbps)
    patches = [
        StackPatch(r.stack, f"stacks/{Path(stacks[r.region].source).name}", r)
        for r in planned
        if r.changes
    ]
    result: PreviewReport | None = None
    cost: EventCost | None = None
    if patches and req.preview:
        result = preview_prescale(ws, req.env, patches)
        total = result.cost_total()
        if total is not None and total.complete:
            cost = EventCost(
                month_before=total.before,
                month_after=total.after,
                hours=req.window.hours,
                hours_per_month=prices.hours_per_month,
            )
        else:
            notes.append("the preview could not price every stack: no event cost")
    certs = cert_readiness(ws, req, [r.region for r in planned])
    ready = readiness(ws, store, req.env, planned, certs)
    notes += [
        f"{r} serves the event but is drained now: its viewers go to the other regions "
        f"until `fleetctl undrain {r} --env {req.env}`; undrain before the event or re-plan"
        for r in ready.drained_regions
        if r in regions
    ]
    w = req.window
    now = now or datetime.now(UTC)
    if w.end <= now:
        notes.append(f"the event ended at {_iso(w.end)}: check --start/--end")
    elif w.freeze_from <= now:
        notes.append(f"the freeze should be on since {_iso(w.freeze_from)}: run the freeze now")
    return EventPlan(
        request=req,
        params=params,
        regions=planned,
        patches=sorted(patches, key=lambda p: p.stack),
        preview=result,
        cost=cost,
        freeze=freeze_plan(req.env, w),
        readiness=ready,
        notes=notes,
    )


def plan_json(p: EventPlan) -> dict[str, Any]:
    """The stable JSON document of `fleetctl event plan --format json`."""
    from fleetctl.core.preview_report import preview_to_json

    w = p.request.window
    return {
        "name": w.name,
        "env": p.request.env,
        "start": _iso(w.start),
        "end": _iso(w.end),
        "hours": round(w.hours, 3),
        "peak_gbps": p.request.peak_gbps,
        "edge_utilisation": p.params.edge_utilisation,
        "regions": [
            {
                "stack": r.stack,
                "region": r.region,
                "share": round(r.share, 4),
                "egress_gbps": r.plan.egress_gbps,
                "verdict": r.plan.verdict.value,
                "edge": {
                    "instance_type": r.plan.edge.instance_type,
                    "node_gbps": r.plan.edge.node_gbps,
                    "node_limit": r.plan.edge.node_limit,
                    "zones": r.plan.edge.zones,
                    "nodes_per_zone": r.plan.edge.nodes_per_zone,
                    "nodes_per_zone_needed": r.plan.edge.nodes_per_zone_needed,
                },
                "transcode": None
                if r.plan.transcode is None
                else {
                    "upload_hours_per_hour": r.plan.transcode.upload_hours_per_hour,
                    "needed_n1": r.plan.transcode.needed_n1,
                    "min_size": r.plan.transcode.min_size,
                    "max_size": r.plan.transcode.max_size,
                },
                "changes": [
                    {"key": f"fleet:spec.{c.key}", "before": c.before, "after": c.after}
                    for c in r.changes
                ],
            }
            for r in p.regions
        ],
        "spec_changes": [
            {"stack": s.stack, "file": s.file, "changes": s.changes} for s in p.patches
        ],
        "preview": None if p.preview is None else preview_to_json(p.preview),
        "cost": None
        if p.cost is None
        else {
            "month_before_usd": round(p.cost.month_before, 2),
            "month_after_usd": round(p.cost.month_after, 2),
            "month_delta_usd": round(p.cost.month_delta, 2),
            "hours": round(p.cost.hours, 3),
            "hours_per_month": p.cost.hours_per_month,
            "event_usd": round(p.cost.event_usd, 2),
        },
        "freeze": {
            "start": _iso(p.freeze.start),
            "end": _iso(p.freeze.end),
            "scheduled": False,
            "on": p.freeze.on,
            "off": p.freeze.off,
        },
        "readiness": {
            "ready": p.readiness.ready,
            "capacity": p.readiness.capacity,
            "certificates": {
                "deadline": _iso(p.readiness.certificates.deadline),
                "margin_days": p.readiness.certificates.margin_days,
                "by_region": {
                    r.region: p.readiness.certificates.summary(r.region) for r in p.regions
                },
                "problems": sum(c.problem for c in p.readiness.certificates.checks),
                "unknown": sum(
                    c.state == CertState.unknown for c in p.readiness.certificates.checks
                ),
                "checks": [
                    {
                        "host": c.host,
                        "region": c.region,
                        "state": c.state,
                        "why": c.why,
                        "not_after": c.not_after or None,
                    }
                    for c in p.readiness.certificates.checks
                ],
            },
            "rollouts_running": [
                {"id": r.id, "status": r.status, "playbook": r.playbook}
                for r in p.readiness.rollouts_running
            ],
            "drained_regions": p.readiness.drained_regions,
            "drained_hosts": p.readiness.drained_hosts,
        },
        "notes": p.notes,
    }
