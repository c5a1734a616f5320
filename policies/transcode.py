"""The transcode cluster can scale: sane bounds and a scaling policy."""

from __future__ import annotations

from collections.abc import Iterator

from fleetctl.core.guardrails import Finding, Level, StackContext, number, rule, tags_of
from fleetctl.core.preview_model import Resource

GROUP = "aws:autoscaling/group:Group"
SCALING_POLICY = "aws:autoscaling/policy:Policy"
TRANSCODE_COMPONENT = "fleet:index:TranscodeCluster"


def is_transcode(ctx: StackContext, group: Resource) -> bool:
    if (tags_of(group) or {}).get("role") == "transcode":
        return True
    return any(a.type == TRANSCODE_COMPONENT for a in ctx.ancestors(group))


@rule(
    id="transcode.max-ge-min",
    level=Level.mandatory,
    description="The transcode group's max_size is at least its min_size (and its desired "
    "capacity, when set, lies between them): otherwise AWS rejects the group.",
)
def max_ge_min(ctx: StackContext) -> Iterator[Finding]:
    for group in ctx.resources(GROUP):
        if not is_transcode(ctx, group):
            continue
        lo, hi = number(group.inputs.get("minSize")), number(group.inputs.get("maxSize"))
        desired = number(group.inputs.get("desiredCapacity"))
        if lo is not None and hi is not None and hi < lo:
            yield Finding(
                group,
                f"transcode group {group.name} has max_size {hi:g} < min_size {lo:g}",
                f"set `transcode.max_size` >= `transcode.min_size` in {ctx.config_file()}",
            )
        elif desired is not None and lo is not None and hi is not None and not lo <= desired <= hi:
            yield Finding(
                group,
                f"transcode group {group.name} has desired capacity {desired:g} outside "
                f"[{lo:g}, {hi:g}]",
                "let the scaling policy own desired capacity (do not set it in the program)",
            )


@rule(
    id="transcode.scaling-policy",
    level=Level.advisory,
    description="A transcode group that may grow (max_size > min_size) has a scaling "
    "policy; without one it stays at min_size whatever the queue holds.",
)
def scaling_policy(ctx: StackContext) -> Iterator[Finding]:
    policies = ctx.resources(SCALING_POLICY)
    for group in ctx.resources(GROUP):
        if not is_transcode(ctx, group):
            continue
        lo, hi = number(group.inputs.get("minSize")), number(group.inputs.get("maxSize"))
        if lo is None or hi is None or hi <= lo:
            continue
        scaled = any(
            group.urn in p.property_deps.get("autoscalingGroupName", ()) or p.parent == group.urn
            for p in policies
        )
        if not scaled:
            yield Finding(
                group,
                f"transcode group {group.name} may grow to {hi:g} but has no scaling policy",
                "add an aws.autoscaling.Policy (target tracking) for the group "
                "(stacks/components/transcode.py)",
            )
