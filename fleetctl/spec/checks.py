"""Checks that a single pydantic model cannot express.

Pure functions over validated stacks; each problem is (key path, message) and
the loader maps the path back to a file and line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from fleetctl.spec.models import Stack
from fleetctl.spec.regions import zones_of

Loc = tuple[str | int, ...]
WEIGHT_TOLERANCE = 0.01


def stack_problems(stack: Stack) -> list[tuple[Loc, str]]:
    """Problems inside one stack that need its region: zones must exist there."""
    out: list[tuple[Loc, str]] = []
    known = zones_of(stack.region)
    for i, zone in enumerate(stack.spec.zones):
        if zone not in known:
            out.append(
                (("zones", i), f"{zone!r} is not a zone of {stack.region} ({', '.join(known)})")
            )
    if len(set(stack.spec.zones)) != len(stack.spec.zones):
        out.append((("zones",), "zones must be unique"))
    edge = stack.spec.edge
    if edge is not None and edge.zones:
        for i, zone in enumerate(edge.zones):
            if zone not in stack.spec.zones:
                out.append((("edge", "zones", i), f"{zone!r} is not one of the stack's zones"))
    for b, bucket in enumerate(stack.spec.storage.buckets):
        if stack.region in bucket.replication_targets:
            idx = bucket.replication_targets.index(stack.region)
            out.append(
                (
                    ("storage", "buckets", b, "replication_targets", idx),
                    "a bucket cannot replicate to its own region",
                )
            )
    return out


def cross_stack_problems(
    stacks: Sequence[Stack], declared: Mapping[str, set[str]] | None = None
) -> list[tuple[str, Loc, str]]:
    """Problems across the stacks of an env: (stack name, key path, message).

    `declared` maps env -> regions that have a stack file, valid or not, so a
    broken neighbour is not reported as missing; env-wide sums are skipped
    while any stack of the env failed to load.
    """
    out: list[tuple[str, Loc, str]] = []
    by_env: dict[str, list[Stack]] = defaultdict(list)
    for s in stacks:
        by_env[s.env].append(s)
    for env, members in sorted(by_env.items()):
        loaded = {s.region for s in members}
        regions = set(declared.get(env, loaded)) if declared else loaded
        complete = regions == loaded
        for s in members:
            for b, bucket in enumerate(s.spec.storage.buckets):
                for t, target in enumerate(bucket.replication_targets):
                    if target != s.region and target not in regions:
                        out.append(
                            (
                                s.name,
                                ("storage", "buckets", b, "replication_targets", t),
                                f"{target!r} has no {env} stack "
                                f"(known {env} regions: {', '.join(sorted(regions))})",
                            )
                        )
        cidrs: dict[str, str] = {}
        for s in sorted(members, key=lambda m: m.region):
            other = cidrs.setdefault(s.spec.network.cidr, s.region)
            if other != s.region:
                out.append((s.name, ("network", "cidr"), f"overlaps the network of {env}-{other}"))
        weighted = sorted((s for s in members if s.spec.edge), key=lambda m: m.region)
        if weighted and complete:
            total = sum(s.traffic_weight for s in weighted)
            if abs(total - 1.0) > WEIGHT_TOLERANCE:
                parts = ", ".join(f"{s.region}={s.traffic_weight:g}" for s in weighted)
                heaviest = max(weighted, key=lambda m: (m.traffic_weight, m.region))
                out.append(
                    (
                        heaviest.name,
                        ("edge", "traffic_weight"),
                        f"traffic weights of env {env} sum to {total:.3f}, expected 1.0 "
                        f"(± {WEIGHT_TOLERANCE}): {parts}",
                    )
                )
    return out
