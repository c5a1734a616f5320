"""Demand-based planning (`fleetctl capacity --demand FILE`): demand turned
into N+1 edge and transcode pools, compared with the spec.

Pure arithmetic over the spec; no I/O. One edge node's Gbit/s comes from the
throughput model (`fleetctl.core.capacity.throughput`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from fleetctl.core.capacity.growth import months_until
from fleetctl.core.capacity.throughput import EDGE_UTILISATION, Throughput, vcpus


@dataclass(frozen=True)
class Profile:
    """One rung of the ABR ladder: frame size and video bitrate."""

    width: int
    height: int
    video_kbps: int


# The ladder rungs fleetctl knows (`LadderProfile` in the spec). Bitrates are
# H.264 figures in the range of Apple's HLS authoring spec table and common
# per-title ladders at 25-30 fps; the transcode benchmark encodes at exactly
# these sizes and bitrates.
PROFILES: Final[dict[str, Profile]] = {
    "2160p": Profile(3840, 2160, 16000),
    "1440p": Profile(2560, 1440, 9000),
    "1080p": Profile(1920, 1080, 5000),
    "720p": Profile(1280, 720, 3000),
    "480p": Profile(854, 480, 1200),
    "360p": Profile(640, 360, 700),
    "240p": Profile(426, 240, 400),
}

# Everything below is documented in docs/capacity.md; in short:
#
#   egress      = peak_egress_gbps, or concurrent_viewers x mean bitrate when not given
#   node Gbit/s = the throughput model (throughput.py): min(NIC baseline, nginx Gbit/s
#                 per vCPU x vCPUs), or a per-type measured figure, x edge_utilisation
#   N+1 edge    = nodes per zone so that zones-1 zones carry the peak:
#                 ceil(egress / (node Gbit/s x (zones - 1)))   (one zone: N + 1 nodes)
#   transcode   = ceil(upload_hours_per_hour x sum over ladder of 1/speed(profile) / util)
#                 speed(profile) = media s per wall s per vCPU x vCPUs of the type
#   N+1 transc. = ceil(needed / (zones - 1)) x zones           (one zone: needed + 1)
#   verdict     = under  when the pool has fewer than N+1 needs (edge nodes, transcode max)
#                 over   when the spare beyond N+1 is more than over_margin x the N+1 need
#                        (edge nodes per zone; transcode: min_size, the always-on floor)
#   growth      = demand x (1 + g) ** (months / 12); months until N+1 needs more than there is


class Provision(StrEnum):
    UNDER = "under"  # fewer than N+1 needs
    OK = "ok"
    OVER = "over"  # more spare than over_margin beyond N+1


@dataclass(frozen=True)
class Params:
    """The model's parameters; the service fills the defaults from the measurement."""

    transcode_speed_per_vcpu: Mapping[str, float]  # media s per wall s per vCPU, per profile
    nginx_gbps_per_vcpu: float | None = None  # None: the NIC alone limits a node
    node_gbps: Mapping[str, float] = field(default_factory=dict)  # per type, overrides
    edge_utilisation: float = EDGE_UTILISATION
    cache_hit_ratio: float = 0.95
    mean_bitrate_mbps: float = 3.0
    over_margin: float = 0.5
    transcode_utilisation: float | None = None  # None: the spec's scaling_target / 100
    growth_per_year: float = 0.0
    horizon_months: int = 60

    def __post_init__(self) -> None:
        if not 0 < self.edge_utilisation <= 1:
            raise ValueError("edge_utilisation must be in (0, 1]")
        if not 0 <= self.cache_hit_ratio <= 1:
            raise ValueError("cache_hit_ratio must be in [0, 1]")
        if self.mean_bitrate_mbps <= 0:
            raise ValueError("mean_bitrate_mbps must be > 0")
        if self.over_margin < 0:
            raise ValueError("over_margin must be >= 0")
        if self.transcode_utilisation is not None and not 0 < self.transcode_utilisation <= 1:
            raise ValueError("transcode_utilisation must be in (0, 1]")
        if self.growth_per_year < 0:
            raise ValueError("growth must be >= 0")
        if self.horizon_months < 1:
            raise ValueError("horizon_months must be >= 1")

    @property
    def throughput(self) -> Throughput:
        """The edge throughput model these parameters describe."""
        return Throughput(
            utilisation=self.edge_utilisation,
            nginx_gbps_per_vcpu=self.nginx_gbps_per_vcpu,
            node_gbps=self.node_gbps,
        )


@dataclass(frozen=True)
class Supply:
    """What the spec declares for one region, with the monthly price of one instance."""

    stack: str
    region: str
    edge_type: str
    edge_zones: int
    nodes_per_zone: int
    edge_month_usd: float
    transcode_type: str | None = None
    transcode_zones: int = 0
    min_size: int = 0
    max_size: int = 0
    scaling_target: float = 60.0  # % CPU
    ladder: tuple[str, ...] = ()
    transcode_month_usd: float = 0.0


@dataclass(frozen=True)
class Demand:
    """Peak demand of one region (a demand file's entry)."""

    region: str
    peak_egress_gbps: float | None = None
    concurrent_viewers: int | None = None
    mean_bitrate_mbps: float | None = None  # None: Params.mean_bitrate_mbps
    upload_hours_per_hour: float = 0.0
    ladder: tuple[str, ...] | None = None  # None: the stack's ladder
    cache_hit_ratio: float | None = None  # None: Params.cache_hit_ratio


@dataclass(frozen=True)
class EdgePlan:
    instance_type: str
    node_gbps: float  # usable Gbit/s of one node (after utilisation)
    node_limit: str  # what limits a node: "nic", "cpu" or "measured"
    zones: int
    nodes_per_zone: int
    nodes_per_zone_needed: int  # N+1
    nodes_needed: int  # without a zone loss
    capacity_gbps: float  # all zones
    n1_capacity_gbps: float  # with one zone lost (one node lost for a one-zone pool)
    verdict: Provision
    fix_nodes: int  # + add, - remove (whole pool)
    fix_month_usd: float  # + cost, - savings
    months_left: int | None  # until N+1 needs more nodes; None: not within the horizon


@dataclass(frozen=True)
class TranscodePlan:
    instance_type: str
    ladder: tuple[str, ...]
    upload_hours_per_hour: float
    instance_seconds_per_media_second: float  # sum over the ladder of 1 / speed
    utilisation: float
    zones: int
    needed: int  # at the target utilisation
    needed_n1: int
    min_size: int
    max_size: int
    verdict: Provision
    fix_instances: int  # + raise max_size by, - lower min_size by
    fix_month_usd: float  # + upper bound (added instances running all month), - savings
    months_left: int | None


@dataclass(frozen=True)
class RegionPlan:
    stack: str
    region: str
    egress_gbps: float
    egress_source: str  # "given" or "viewers"
    viewers_gbps: float | None  # viewers x mean bitrate (the cross-check)
    origin_gbps: float  # cache misses fetched from the origin
    edge: EdgePlan
    transcode: TranscodePlan | None
    notes: tuple[str, ...]

    @property
    def verdict(self) -> Provision:
        verdicts = {self.edge.verdict} | ({self.transcode.verdict} if self.transcode else set())
        for v in (Provision.UNDER, Provision.OVER):
            if v in verdicts:
                return v
        return Provision.OK

    @property
    def months_left(self) -> int | None:
        months = [self.edge.months_left] + ([self.transcode.months_left] if self.transcode else [])
        known = [m for m in months if m is not None]
        return min(known) if known else None

    @property
    def fix_month_usd(self) -> float:
        return round(
            self.edge.fix_month_usd + (self.transcode.fix_month_usd if self.transcode else 0), 2
        )


def node_gbps(instance_type: str, params: Params) -> tuple[float, str]:
    """Usable Gbit/s of one edge node and what limits it ("nic", "cpu", "measured")."""
    node = params.throughput.node(instance_type)
    return node.gbps, node.limit.value


def n1_per_zone(needed_units: float, zones: int) -> int:
    """Units per zone so that `zones - 1` zones carry `needed_units` (one zone: +1 spare)."""
    if needed_units <= 0:
        return 0
    if zones <= 1:
        return math.ceil(needed_units) + 1
    return math.ceil(needed_units / (zones - 1))


def _edge_per_zone_needed(egress: float, per_node: float, zones: int) -> int:
    return n1_per_zone(egress / per_node, zones)


def _transcode_n1(needed: int, zones: int) -> int:
    if needed <= 0:
        return 0
    if zones <= 1:
        return needed + 1
    return n1_per_zone(needed, zones) * zones


def transcode_speed(profile: str, instance_type: str, params: Params) -> float:
    """Media seconds one instance encodes per wall second at `profile`."""
    if profile not in params.transcode_speed_per_vcpu:
        raise ValueError(f"no transcode speed for profile {profile!r}")
    return params.transcode_speed_per_vcpu[profile] * vcpus(instance_type)


def plan_edge(egress: float, s: Supply, params: Params) -> EdgePlan:
    per_node, limit = node_gbps(s.edge_type, params)
    zones = s.edge_zones
    need_pz = _edge_per_zone_needed(egress, per_node, zones)
    have = s.nodes_per_zone
    if have < need_pz:
        verdict = Provision.UNDER
    elif have - need_pz > params.over_margin * need_pz:
        verdict = Provision.OVER
    else:
        verdict = Provision.OK
    fix = 0 if verdict is Provision.OK else (need_pz - have) * zones
    # with one zone lost (a one-zone pool: with one node lost)
    n1_capacity = per_node * (have * (zones - 1) if zones > 1 else max(have - 1, 0))
    months = months_until(
        lambda f: _edge_per_zone_needed(egress * f, per_node, zones) > have,
        params.growth_per_year,
        params.horizon_months,
    )
    return EdgePlan(
        instance_type=s.edge_type,
        node_gbps=round(per_node, 3),
        node_limit=limit,
        zones=zones,
        nodes_per_zone=have,
        nodes_per_zone_needed=need_pz,
        nodes_needed=math.ceil(egress / per_node) if egress > 0 else 0,
        capacity_gbps=round(per_node * have * zones, 1),
        n1_capacity_gbps=round(n1_capacity, 1),
        verdict=verdict,
        fix_nodes=fix,
        fix_month_usd=round(fix * s.edge_month_usd, 2),
        months_left=months,
    )


def plan_transcode(d: Demand, s: Supply, params: Params) -> TranscodePlan | None:
    if s.transcode_type is None:
        return None
    ladder = d.ladder or s.ladder
    cost_per_media_s = sum(1.0 / transcode_speed(p, s.transcode_type, params) for p in ladder)
    util = (
        params.transcode_utilisation
        if params.transcode_utilisation is not None
        else s.scaling_target / 100.0
    )
    upload = d.upload_hours_per_hour

    def needed_at(factor: float) -> int:
        # round first: 2.0000000001 busy instances is 2, not 3
        return math.ceil(round(upload * factor * cost_per_media_s / util, 9))

    needed = needed_at(1.0)
    n1 = _transcode_n1(needed, s.transcode_zones)
    if s.max_size < n1:
        verdict, fix = Provision.UNDER, n1 - s.max_size
    elif s.min_size - n1 > params.over_margin * n1:
        verdict, fix = Provision.OVER, n1 - s.min_size
    else:
        verdict, fix = Provision.OK, 0
    months = months_until(
        lambda f: _transcode_n1(needed_at(f), s.transcode_zones) > s.max_size,
        params.growth_per_year,
        params.horizon_months,
    )
    return TranscodePlan(
        instance_type=s.transcode_type,
        ladder=tuple(ladder),
        upload_hours_per_hour=upload,
        instance_seconds_per_media_second=round(cost_per_media_s, 4),
        utilisation=util,
        zones=s.transcode_zones,
        needed=needed,
        needed_n1=n1,
        min_size=s.min_size,
        max_size=s.max_size,
        verdict=verdict,
        fix_instances=fix,
        fix_month_usd=round(fix * s.transcode_month_usd, 2),
        months_left=months,
    )


def plan_demand(d: Demand, s: Supply, params: Params) -> RegionPlan:
    """The plan of one region: demand turned into N+1 pools, compared with the spec."""
    notes: list[str] = []
    bitrate = d.mean_bitrate_mbps or params.mean_bitrate_mbps
    viewers_gbps = (
        d.concurrent_viewers * bitrate / 1000.0 if d.concurrent_viewers is not None else None
    )
    if d.peak_egress_gbps is not None:
        egress, source = d.peak_egress_gbps, "given"
        if viewers_gbps:
            ratio = egress / viewers_gbps
            if not 0.75 <= ratio <= 1.0 / 0.75:
                notes.append(
                    f"peak egress {egress:g} Gbit/s is {ratio:.0%} of viewers x "
                    f"{bitrate:g} Mbit/s = {viewers_gbps:.1f} Gbit/s: check either figure"
                )
    elif viewers_gbps is not None:
        egress, source = viewers_gbps, "viewers"
    else:
        raise ValueError(f"{d.region}: give peak_egress_gbps or concurrent_viewers")
    if s.edge_zones <= 1:
        notes.append("edge pool in one zone: N+1 is one spare node, not a zone")
    hit = d.cache_hit_ratio if d.cache_hit_ratio is not None else params.cache_hit_ratio
    return RegionPlan(
        stack=s.stack,
        region=s.region,
        egress_gbps=round(egress, 3),
        egress_source=source,
        viewers_gbps=None if viewers_gbps is None else round(viewers_gbps, 3),
        origin_gbps=round((1.0 - hit) * egress, 3),
        edge=plan_edge(egress, s, params),
        transcode=plan_transcode(d, s, params),
        notes=tuple(notes),
    )


_ORDER: Final = {Provision.UNDER: 0, Provision.OK: 1, Provision.OVER: 2}


def plan_fleet(
    demands: Sequence[Demand], supplies: Sequence[Supply], params: Params
) -> list[RegionPlan]:
    """Every region with demand: under-provisioned first, then soonest to run out."""
    by_region = {s.region: s for s in supplies}
    missing = [d.region for d in demands if d.region not in by_region]
    if missing:
        raise ValueError(f"no stack for region(s) {', '.join(missing)}")
    out = [plan_demand(d, by_region[d.region], params) for d in demands]
    horizon = params.horizon_months + 1
    return sorted(
        out,
        key=lambda p: (
            _ORDER[p.verdict],
            p.months_left if p.months_left is not None else horizon,
            p.stack,
        ),
    )
