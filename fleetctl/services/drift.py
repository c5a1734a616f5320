"""`fleetctl drift`: compare what the spec says should exist in AWS with what does.

Expected state comes from the spec (`core.drift.expected_resources`, names and
tags from `spec.naming`); actual state from boto3 (`adapters.aws_read`), one
stack's region at a time, stacks read in parallel threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from fleetctl.adapters import aws_read
from fleetctl.core.drift import DriftReport, Resource, compare, expected_resources
from fleetctl.errors import BadInput
from fleetctl.services.workspace import Workspace
from fleetctl.spec import Stack, load_fleet, naming


def select_stacks(ws: Workspace, env: str | None, names: Sequence[str]) -> list[Stack]:
    fleet = load_fleet(ws.stacks_dir)
    if env is not None and env not in fleet.envs():
        raise BadInput(f"unknown env {env!r}", hint=f"known envs: {', '.join(fleet.envs())}")
    for name in names:
        fleet.stack(name)  # unknown names are a SpecError listing the known ones
    stacks = fleet.select(env, names)
    if not stacks:
        raise BadInput(
            f"no stack matches --env {env} and --stack {', '.join(names)}",
            hint="`fleetctl stacks list` shows the stacks",
        )
    return sorted(stacks, key=lambda s: s.name)


def actual_resources(stack: Stack) -> list[Resource]:
    prefix = naming.prefix(stack.env, stack.region) + "-"
    return [
        Resource(r["kind"], r["name"], stack.name, r["region"], r["props"])
        for r in aws_read.read_stack_resources(stack.region, prefix)
    ]


def check(
    ws: Workspace, env: str | None = None, names: Sequence[str] = (), *, workers: int = 8
) -> DriftReport:
    """Drift of the selected stacks; `workers` stacks are read from AWS at a time."""
    stacks = select_stacks(ws, env, names)
    expected = [r for s in stacks for r in expected_resources(s)]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(stacks)))) as pool:
        actual = [r for rs in pool.map(actual_resources, stacks) for r in rs]
    return compare(expected, actual, [s.name for s in stacks])
