"""Edge capacity planning: can each region serve its share of peak traffic,
and still serve it with one zone down?

Pure arithmetic over the spec; no I/O. Bandwidths are the instance types'
*baseline* network bandwidth (not the "up to" burst figure), which is what an
edge node can sustain through a peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# Baseline network bandwidth in Gbit/s (AWS EC2 instance network specs).
BASELINE_GBPS: Final[dict[str, float]] = {
    "c6in.large": 3.125,
    "c6in.xlarge": 6.25,
    "c6in.2xlarge": 12.5,
    "c6in.4xlarge": 25.0,
    "c6in.8xlarge": 50.0,
    "c6in.16xlarge": 100.0,
    "c6gn.xlarge": 6.3,
    "c6gn.2xlarge": 12.5,
    "c6gn.4xlarge": 25.0,
    "c6gn.8xlarge": 50.0,
    "c5n.xlarge": 5.0,
    "c5n.2xlarge": 10.0,
    "c5n.4xlarge": 15.0,
    "c5n.9xlarge": 50.0,
    "c7gn.xlarge": 12.5,
    "c7gn.2xlarge": 25.0,
    "c7gn.4xlarge": 50.0,
}


class Verdict(StrEnum):
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
    verdict: Verdict
    nodes_per_zone: int
    nodes_per_zone_needed: int  # to survive a zone loss at peak


def plan_region(
    region: RegionInput, peak_gbps: float, growth: float, utilisation: float
) -> RegionCapacity:
    """Capacity verdict for one region at `peak_gbps` global peak grown by `growth`."""
    if region.instance_type not in BASELINE_GBPS:
        known = ", ".join(sorted(BASELINE_GBPS))
        raise ValueError(f"no bandwidth figure for {region.instance_type!r} (known: {known})")
    per_node = BASELINE_GBPS[region.instance_type] * utilisation
    demand = peak_gbps * region.traffic_weight * (1.0 + growth)
    capacity = per_node * region.nodes_per_zone * region.zones
    surviving_zones = max(region.zones - 1, 0)
    zone_loss = per_node * region.nodes_per_zone * surviving_zones
    if capacity < demand:
        verdict = Verdict.SHORT
    elif zone_loss < demand:
        verdict = Verdict.AT_RISK
    else:
        verdict = Verdict.OK
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
    regions: list[RegionInput], peak_gbps: float, growth: float = 0.0, utilisation: float = 0.7
) -> list[RegionCapacity]:
    """Every region, tightest first (lowest headroom), so the risk is on top."""
    if peak_gbps <= 0:
        raise ValueError("peak must be > 0 Gbit/s")
    if not 0 < utilisation <= 1:
        raise ValueError("utilisation must be in (0, 1]")
    if growth < 0:
        raise ValueError("growth must be >= 0")
    out = [plan_region(r, peak_gbps, growth, utilisation) for r in regions]
    return sorted(out, key=lambda c: (c.headroom, c.stack))
