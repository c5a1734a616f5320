"""Capacity: how many Gbit/s an edge node carries (`throughput`, the one model
that capacity, drain and event planning share), the `--peak-gbps` shortcut
(`peak`), demand-based N+1 planning (`demand`) and growth (`growth`)."""

from fleetctl.core.capacity.demand import (
    PROFILES,
    Demand,
    EdgePlan,
    Params,
    Profile,
    Provision,
    RegionPlan,
    Supply,
    TranscodePlan,
    n1_per_zone,
    node_gbps,
    plan_demand,
    plan_edge,
    plan_fleet,
    plan_transcode,
    transcode_speed,
)
from fleetctl.core.capacity.growth import grown, months_until
from fleetctl.core.capacity.peak import (
    CapacityVerdict,
    RegionCapacity,
    RegionInput,
    plan,
    plan_region,
)
from fleetctl.core.capacity.throughput import (
    BASELINE_GBPS,
    EDGE_UTILISATION,
    Limit,
    NodeThroughput,
    Throughput,
    vcpus,
)

__all__ = [
    "BASELINE_GBPS",
    "EDGE_UTILISATION",
    "PROFILES",
    "CapacityVerdict",
    "Demand",
    "EdgePlan",
    "Limit",
    "NodeThroughput",
    "Params",
    "Profile",
    "Provision",
    "RegionCapacity",
    "RegionInput",
    "RegionPlan",
    "Supply",
    "Throughput",
    "TranscodePlan",
    "grown",
    "months_until",
    "n1_per_zone",
    "node_gbps",
    "plan",
    "plan_demand",
    "plan_edge",
    "plan_fleet",
    "plan_region",
    "plan_transcode",
    "transcode_speed",
    "vcpus",
]
