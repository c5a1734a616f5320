"""The Ansible inventory from what runs in EC2 (`fleetctl inventory --source aws`).

Instances are found by the tags the Pulumi program puts on them (names and
keys in `fleetctl.spec.naming`): `env` selects the environment, `role`
(edge|transcode), `region`, `pop` and `fleet:stack` describe the host. Every
region of the env's stacks is read (in parallel, each paginated). The output
is the spec-derived inventory's (`fleetctl.services.inventory`: the same
`HostRecord`s and `ansible_inventory`): `--list` JSON with `_meta.hostvars`,
groups by env, region and role.

Inventory hostname = instance id (unique and stable); `ansible_host` = the
private IP (`address="public"` for the public one, when there is one).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from fleetctl.adapters import aws_ec2
from fleetctl.errors import BadInput
from fleetctl.services.inventory import HostRecord, ansible_inventory, host_vars
from fleetctl.services.workspace import Workspace
from fleetctl.spec import Stack, load_fleet, naming

__all__ = ["HostRecord", "host_vars", "hosts_from_aws", "inventory"]


def host_from_instance(inst: dict[str, Any], stacks: dict[str, Stack], address: str) -> HostRecord:
    tags: dict[str, str] = inst["tags"]
    region = tags.get(naming.TAG_REGION, inst["region"])
    env = tags.get(naming.TAG_ENV, "")
    stack = stacks.get(naming.stack_name(env, region))
    ip = inst["public_ip"] if address == "public" and inst["public_ip"] else inst["private_ip"]
    return HostRecord(
        name=inst["id"],
        address=ip or inst["private_dns"] or inst["id"],
        env=env,
        region=region,
        role=tags.get(naming.TAG_ROLE, ""),
        pop=tags.get(naming.TAG_POP, ""),
        zone=inst["zone"],
        traffic_weight=stack.traffic_weight if stack is not None else 0.0,
        extra={
            "stack": tags.get(naming.TAG_STACK, ""),
            "instance_type": inst["type"],
            "ec2_instance_id": inst["id"],
        },
    )


def hosts_from_aws(
    ws: Workspace,
    env: str,
    *,
    regions: Sequence[str] = (),
    role: str | None = None,
    address: Literal["private", "public"] = "private",
    page_size: int | None = None,
) -> list[HostRecord]:
    """Running and pending instances of `env`, in the env's regions (or `regions`)."""
    fleet = load_fleet(ws.stacks_dir)
    if env not in fleet.envs():
        raise BadInput(f"unknown env {env!r}", hint=f"known envs: {', '.join(fleet.envs())}")
    if role is not None and role not in naming.ROLES:
        raise BadInput(f"unknown role {role!r}", hint=f"roles: {', '.join(naming.ROLES)}")
    stacks = {s.name: s for s in fleet.select(env)}
    wanted = sorted(regions) if regions else sorted({s.region for s in stacks.values()})
    unknown = [r for r in wanted if naming.stack_name(env, r) not in stacks]
    if unknown:
        raise BadInput(
            f"env {env} has no stack in {', '.join(unknown)}",
            hint=f"its regions: {', '.join(sorted(s.region for s in stacks.values()))}",
        )
    tags: dict[str, str | list[str]] = {naming.TAG_ENV: env}
    tags[naming.TAG_ROLE] = role if role else list(naming.ROLES)

    def read(region: str) -> list[dict[str, Any]]:
        return aws_ec2.describe_instances(region, tags, page_size=page_size)

    with ThreadPoolExecutor(max_workers=min(8, len(wanted) or 1)) as pool:
        instances = [i for batch in pool.map(read, wanted) for i in batch]
    return [host_from_instance(i, stacks, address) for i in instances]


def inventory(
    ws: Workspace,
    env: str,
    *,
    regions: Sequence[str] = (),
    role: str | None = None,
    address: Literal["private", "public"] = "private",
) -> dict[str, Any]:
    """The `--list` JSON for `env` from EC2 (the spec-derived inventory's contract)."""
    return ansible_inventory(hosts_from_aws(ws, env, regions=regions, role=role, address=address))
