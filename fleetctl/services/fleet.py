"""Validate the fleet spec and summarise its stacks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fleetctl.errors import BadInput, SpecError
from fleetctl.services.workspace import Workspace
from fleetctl.spec import Fleet, Stack, load_fleet


@dataclass(frozen=True)
class StackSummary:
    env: str
    region: str
    stack: str
    edge_nodes: int
    transcode_min: int
    transcode_max: int
    buckets: int
    traffic_weight: float
    source: str

    @classmethod
    def of(cls, stack: Stack) -> StackSummary:
        t = stack.spec.transcode
        return cls(
            env=stack.env,
            region=stack.region,
            stack=stack.name,
            edge_nodes=stack.edge_nodes,
            transcode_min=t.min_size if t else 0,
            transcode_max=t.max_size if t else 0,
            buckets=len(stack.spec.storage.buckets),
            traffic_weight=stack.traffic_weight,
            source=stack.source,
        )


def workspace_fleet(ws: Workspace, paths: Sequence[Path] = ()) -> Fleet:
    """The validated fleet; problems name files relative to the cwd when inside it."""
    try:
        return load_fleet(ws.stacks_dir, paths)
    except SpecError as exc:
        rel = os.path.relpath(ws.stacks_dir)
        if not rel.startswith(".."):
            prefix = str(ws.stacks_dir) + os.sep
            exc.details = [
                os.path.join(rel, d[len(prefix) :]) if d.startswith(prefix) else d
                for d in exc.details
            ]
        raise


def summaries(fleet: Fleet, env: str | None = None) -> list[StackSummary]:
    if env is not None and env not in fleet.envs():
        raise BadInput(f"unknown env {env!r}", hint=f"known envs: {', '.join(fleet.envs())}")
    stacks = sorted(fleet.select(env), key=lambda s: (s.env, -s.traffic_weight, s.region))
    return [StackSummary.of(s) for s in stacks]
