"""The `--peak-gbps` shortcut: can each region serve its share of a global
peak, and still serve it with one zone down? Edge pools only."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from fleetctl.core.capacity.throughput import Throughput


class CapacityVerdict(StrEnum):
    OK = "ok"  # survives the loss of one zone at peak
    AT_RISK = "at-risk"  # serves the peak, but not with a zone down
    SHORT = "short"  # cannot serve the peak at all


@dataclass(frozen=True)
class RegionInput:
    stack: str
    instance_type: str
    nodes_per_zone: int
    zones: int
    traffic_weight: float


@dataclass(frozen=True)
class RegionCapacity:
    stack: str
    demand_gbps: float
    capacity_gbps: float  # all zones, at the target utilisation
    zone_loss_gbps: float  # the same with the largest zone down
    headroom: float  # capacity / demand - 1 (inf when there is no demand)
    verdict: CapacityVerdict
    nodes_per_zone: int
    nodes_per_zone_needed: int  # to survive a zone loss at peak


def _model(utilisation: float | None, model: Throughput | None) -> Throughput:
    """`model` (default: the NIC alone), with `utilisation` overriding its target."""
    base = model or Throughput()
    return base if utilisation is None else replace(base, utilisation=utilisation)


def plan_region(
    region: RegionInput,
    peak_gbps: float,
    growth: float,
    utilisation: float | None = None,
    *,
    model: Throughput | None = None,
) -> RegionCapacity:
    """Capacity verdict for one region at `peak_gbps` global peak grown by `growth`."""
    per_node = _model(utilisation, model).node(region.instance_type).gbps
    demand = peak_gbps * region.traffic_weight * (1.0 + growth)
    capacity = per_node * region.nodes_per_zone * region.zones
    surviving_zones = max(region.zones - 1, 0)
    zone_loss = per_node * region.nodes_per_zone * surviving_zones
    if capacity < demand:
        verdict = CapacityVerdict.SHORT
    elif zone_loss < demand:
        verdict = CapacityVerdict.AT_RISK
    else:
        verdict = CapacityVerdict.OK
    needed = math.ceil(demand / (per_node * surviving_zones)) if surviving_zones else -1
    return RegionCapacity(
        stack=region.stack,
        demand_gbps=round(demand, 1),
        capacity_gbps=round(capacity, 1),
        zone_loss_gbps=round(zone_loss, 1),
        headroom=round(capacity / demand - 1.0, 3) if demand > 0 else math.inf,
        verdict=verdict,
        nodes_per_zone=region.nodes_per_zone,
        nodes_per_zone_needed=needed,
    )


def plan(
    regions: list[RegionInput],
    peak_gbps: float,
    growth: float = 0.0,
    utilisation: float | None = None,
    *,
    model: Throughput | None = None,
) -> list[RegionCapacity]:
    """Every region, tightest first (lowest headroom), so the risk is on top."""
    if peak_gbps <= 0:
        raise ValueError("peak must be > 0 Gbit/s")
    if utilisation is not None and not 0 < utilisation <= 1:
        raise ValueError("utilisation must be in (0, 1]")
    if growth < 0:
        raise ValueError("growth must be >= 0")
    m = _model(utilisation, model)
    out = [plan_region(r, peak_gbps, growth, model=m) for r in regions]
    return sorted(out, key=lambda c: (c.headroom, c.stack))
