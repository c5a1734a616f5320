"""Inventories from the fleet spec (and, later, from EC2): host records -> Ansible JSON.

`hosts_from_fleet` turns the spec into `HostVars`: one per edge node
(`edge-<pop>-<zone suffix>-NN`, e.g. edge-iad-1a-01) and `min_size` transcode
hosts per region (`transcode-<pop>-NN`); the origin is S3 (no host).
`ansible_inventory` turns any list of them (spec, EC2 instances, the lab)
into Ansible's dynamic inventory JSON: groups by env, region and role, host
vars under `_meta.hostvars`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from fleetctl.core.host_vars import HostVars
from fleetctl.errors import BadInput
from fleetctl.spec import Fleet, Stack

ROLES = ("edge", "transcode", "origin")


def group_name(text: str) -> str:
    """Ansible group names allow [A-Za-z0-9_]: us-east-1 -> us_east_1."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _zone_suffix(stack: Stack, zone: str) -> str:
    # us-east-1a -> 1a ; the region's last dash-part plus the zone letter
    return zone.removeprefix(stack.region.rsplit("-", 1)[0] + "-")


def hosts_of_stack(stack: Stack) -> list[HostVars]:
    out: list[HostVars] = []
    spec = stack.spec
    pop = spec.edge.pop if spec.edge else stack.region
    base = {"stack": stack.name}
    if spec.edge is not None:
        edge_vars = {
            **base,
            "instance_type": spec.edge.instance_type,
            "edge_cache_size_mb": spec.edge.cache_size_gb * 1024,
        }
        for zone in stack.edge_zones:
            for i in range(spec.edge.nodes_per_zone):
                out.append(
                    HostVars(
                        name=f"edge-{pop}-{_zone_suffix(stack, zone)}-{i + 1:02d}",
                        env=stack.env,
                        region=stack.region,
                        role="edge",
                        pop=pop,
                        zone=zone,
                        traffic_weight=spec.edge.traffic_weight,
                        extra=dict(edge_vars),
                    )
                )
    if spec.transcode is not None:
        zones = spec.zones
        for i in range(spec.transcode.min_size):
            out.append(
                HostVars(
                    name=f"transcode-{pop}-{i + 1:02d}",
                    env=stack.env,
                    region=stack.region,
                    role="transcode",
                    pop=pop,
                    zone=zones[i % len(zones)],
                    traffic_weight=stack.traffic_weight,
                    extra={
                        **base,
                        "instance_type": spec.transcode.instance_type,
                        "transcode_ladder_profiles": [str(p) for p in spec.transcode.ladder],
                    },
                )
            )
    return out


def hosts_from_fleet(
    fleet: Fleet,
    env: str | None = None,
    region: str | None = None,
    role: str | None = None,
) -> list[HostVars]:
    if env is not None and env not in fleet.envs():
        raise BadInput(f"unknown env {env!r}", hint=f"known envs: {', '.join(fleet.envs())}")
    if role is not None and role not in ROLES:
        raise BadInput(f"unknown role {role!r}", hint=f"roles: {', '.join(ROLES)}")
    stacks = fleet.select(env)
    if region is not None:
        stacks = [s for s in stacks if s.region == region]
        if not stacks:
            raise BadInput(f"no stack in region {region!r}" + (f" for env {env}" if env else ""))
    records = [h for s in stacks for h in hosts_of_stack(s)]
    return filter_records(records, role=role)


def filter_records(
    records: Iterable[HostVars], *, region: str | None = None, role: str | None = None
) -> list[HostVars]:
    return [
        r
        for r in records
        if (region is None or r.region == region) and (role is None or r.role == role)
    ]


def ansible_inventory(records: Sequence[HostVars]) -> dict[str, Any]:
    """Ansible's `--list` JSON: groups by env, region, role; `_meta.hostvars`."""
    names = [r.name for r in records]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInput(f"duplicate host name(s): {', '.join(dupes)}")
    groups: dict[str, list[str]] = {}
    for r in records:
        for g in (r.env, r.region, r.role):
            groups.setdefault(group_name(g), []).append(r.name)
    out: dict[str, Any] = {
        "_meta": {"hostvars": {r.name: r.to_vars() for r in records}},
        "all": {"children": sorted(["ungrouped", *groups])},
        "ungrouped": {"hosts": []},
    }
    for g in sorted(groups):
        out[g] = {"hosts": sorted(groups[g])}
    return out


def host_vars(records: Sequence[HostVars], name: str) -> dict[str, Any]:
    """`--host NAME`: that host's vars (an unknown host gets {}, as Ansible expects)."""
    for r in records:
        if r.name == name:
            return r.to_vars()
    return {}
