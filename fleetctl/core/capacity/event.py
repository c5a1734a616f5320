"""Peak events (`fleetctl event plan`): what each region needs for an event's
peak with N+1 per zone, and the spec change that pre-scales it.

Pure; no I/O. The event's global peak is split over the event's regions by
their traffic weights; each region's share goes through the demand model
(`demand.plan_demand`, edge nodes sized by the throughput model). Pre-scaling
only ever grows a pool: edge `nodes_per_zone` to the N+1 need, transcode
`min_size` (the always-on floor, so autoscaling does not lag at kick-off) to
the N+1 need, and `max_size` to at least that floor.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleetctl.core.capacity.demand import (
    Demand,
    Params,
    Provision,
    RegionPlan,
    Supply,
    plan_demand,
)


@dataclass(frozen=True)
class EventWindow:
    """When the event runs, and the freeze around it (from start - margin to end)."""

    name: str
    start: datetime
    end: datetime
    freeze_margin: timedelta

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("event times need a zone (e.g. 2026-12-20T18:00:00+00:00)")
        if self.end <= self.start:
            raise ValueError("the event must end after it starts")
        if self.freeze_margin < timedelta(0):
            raise ValueError("the freeze margin must be >= 0")

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0

    @property
    def freeze_from(self) -> datetime:
        return self.start - self.freeze_margin

    @property
    def freeze_to(self) -> datetime:
        return self.end


def event_shares(weights: Mapping[str, float], regions: Collection[str]) -> dict[str, float]:
    """Each chosen region's share of the event's viewers: its traffic weight over
    the chosen regions' total (the other regions do not serve the event)."""
    unknown = sorted(set(regions) - set(weights))
    if unknown:
        raise ValueError(f"unknown region(s) {', '.join(unknown)}")
    total = sum(weights[r] for r in regions)
    if total <= 0:
        raise ValueError("the chosen regions carry no traffic (all weights are 0)")
    return {r: weights[r] / total for r in sorted(regions)}


@dataclass(frozen=True)
class SpecChange:
    """One key of a stack's `fleet:spec` the pre-scale changes."""

    key: str  # e.g. "edge.nodes_per_zone"
    before: int
    after: int


@dataclass(frozen=True)
class RegionEvent:
    stack: str
    region: str
    share: float  # of the event's viewers
    plan: RegionPlan  # the demand model at the event's peak, against the spec today
    changes: tuple[SpecChange, ...]  # the pre-scale (empty: the spec carries it)

    @property
    def ready(self) -> bool:
        """The spec as it is carries the event's peak with N+1 (over is fine)."""
        return self.plan.verdict is not Provision.UNDER

    @property
    def edge_nodes_to_add(self) -> int:
        return sum(
            (c.after - c.before) * self.plan.edge.zones
            for c in self.changes
            if c.key == "edge.nodes_per_zone"
        )


def prescale(plan: RegionPlan) -> tuple[SpecChange, ...]:
    """The spec changes that make `plan`'s region carry its peak with N+1 (grow only)."""
    out: list[SpecChange] = []
    edge = plan.edge
    if edge.nodes_per_zone_needed > edge.nodes_per_zone:
        out.append(
            SpecChange("edge.nodes_per_zone", edge.nodes_per_zone, edge.nodes_per_zone_needed)
        )
    tc = plan.transcode
    if tc is not None:
        floor = max(tc.min_size, tc.needed_n1)
        if floor > tc.min_size:
            out.append(SpecChange("transcode.min_size", tc.min_size, floor))
        if floor > tc.max_size:
            out.append(SpecChange("transcode.max_size", tc.max_size, floor))
    return tuple(out)


def plan_event(
    peak_gbps: float,
    shares: Mapping[str, float],
    supplies: Sequence[Supply],
    params: Params,
    uploads: Mapping[str, float] | None = None,
) -> list[RegionEvent]:
    """Every event region at its share of `peak_gbps` (and its upload hours per
    hour, for transcode): needs, verdict against the spec, the pre-scale.
    Regions needing a pre-scale first, then by region."""
    if peak_gbps <= 0:
        raise ValueError("the event's peak must be > 0 Gbit/s")
    by_region = {s.region: s for s in supplies}
    missing = sorted(set(shares) - set(by_region))
    if missing:
        raise ValueError(f"no stack with an edge pool for region(s) {', '.join(missing)}")
    out = []
    for region, share in shares.items():
        demand = Demand(
            region=region,
            peak_egress_gbps=peak_gbps * share,
            upload_hours_per_hour=(uploads or {}).get(region, 0.0),
        )
        plan = plan_demand(demand, by_region[region], params)
        out.append(RegionEvent(plan.stack, region, share, plan, prescale(plan)))
    return sorted(out, key=lambda e: (e.ready, e.region))
