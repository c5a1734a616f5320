"""The edge (CDN) pool survives the loss of one availability zone."""

from __future__ import annotations

from collections.abc import Iterator

from fleetctl.core.guardrails import (
    Finding,
    Level,
    ResourceRef,
    StackContext,
    number,
    rule,
    tags_of,
)
from fleetctl.core.preview_model import Resource

GROUP = "aws:autoscaling/group:Group"
SUBNET = "aws:ec2/subnet:Subnet"
EDGE_COMPONENT = "fleet:index:EdgePool"
MIN_ZONES = 2


def is_edge(ctx: StackContext, group: Resource) -> bool:
    tags = tags_of(group) or {}
    if tags.get("role") == "edge":
        return True
    return any(a.type == EDGE_COMPONENT for a in ctx.ancestors(group))


def zones(ctx: StackContext, group: Resource) -> set[str]:
    """The zones a group launches into: its subnets' zones, else its tags/inputs."""
    out: set[str] = set()
    for urn in group.property_deps.get("vpcZoneIdentifiers", ()):
        subnet = ctx.get(urn)
        if subnet is not None and subnet.type == SUBNET:
            az = subnet.inputs.get("availabilityZone")
            if isinstance(az, str):
                out.add(az)
    if not out:
        azs = group.inputs.get("availabilityZones")
        if isinstance(azs, list):
            out.update(z for z in azs if isinstance(z, str))
    if not out:
        zone = (tags_of(group) or {}).get("zone")
        if isinstance(zone, str):
            out.add(zone)
    return out


def nodes(group: Resource) -> float:
    for key in ("desiredCapacity", "minSize"):
        n = number(group.inputs.get(key))
        if n is not None:
            return n
    return 0.0


@rule(
    id="edge.multi-zone",
    level=Level.mandatory,
    description=f"An edge pool with nodes spreads them over at least {MIN_ZONES} availability "
    "zones, so one zone going down does not take the region's edge with it.",
)
def multi_zone(ctx: StackContext) -> Iterator[Finding]:
    groups = [g for g in ctx.resources(GROUP) if is_edge(ctx, g)]
    serving = [g for g in groups if nodes(g) > 0]
    if not serving:
        return
    covered = set().union(*(zones(ctx, g) for g in serving))
    if len(covered) >= MIN_ZONES:
        return
    pool = next((a for a in ctx.ancestors(serving[0]) if a.type == EDGE_COMPONENT), serving[0])
    where = ", ".join(sorted(covered)) or "an unknown zone"
    yield Finding(
        ResourceRef.of(pool),
        f"edge pool {pool.name} has nodes in {len(covered)} zone(s) only ({where})",
        f"list at least {MIN_ZONES} zones in `edge.zones` (or `zones`) in {ctx.config_file()}",
    )
