"""Capacity planning for the edge pools an env declares."""

from __future__ import annotations

from fleetctl.core import capacity
from fleetctl.errors import BadInput
from fleetctl.spec import Fleet


def edge_capacity(
    fleet: Fleet, env: str, peak_gbps: float, growth: float, utilisation: float
) -> list[capacity.RegionCapacity]:
    if env not in fleet.envs():
        raise BadInput(f"unknown env {env!r}", hint=f"known envs: {', '.join(fleet.envs())}")
    regions = [
        capacity.RegionInput(
            stack=s.name,
            instance_type=s.spec.edge.instance_type,
            nodes_per_zone=s.spec.edge.nodes_per_zone,
            zones=len(s.edge_zones),
            traffic_weight=s.spec.edge.traffic_weight,
        )
        for s in fleet.select(env)
        if s.spec.edge is not None
    ]
    try:
        return capacity.plan(regions, peak_gbps, growth, utilisation)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
