"""Every taggable resource carries the tags cost allocation and ownership rely on."""

from __future__ import annotations

from collections.abc import Iterator

from fleetctl.core.guardrails import Finding, Level, StackContext, rule, tags_of
from fleetctl.core.preview_model import UNKNOWN, Resource

# Tag keys every taggable resource must carry (non-empty). `team` and `cost-center`
# come from the spec's `tags` (or fleet:defaults in stacks/Pulumi.yaml); `env` is
# added by the program (fleetctl.spec.naming.tags).
REQUIRED_TAGS = ("team", "cost-center", "env")

# The resource types that must be tagged (the ones that cost money or hold data).
TAGGED_TYPES = frozenset(
    {
        "aws:autoscaling/group:Group",
        "aws:dynamodb/table:Table",
        "aws:ebs/volume:Volume",
        "aws:ec2/instance:Instance",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpc:Vpc",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:iam/role:Role",
        "aws:s3/bucket:Bucket",
        "aws:sqs/queue:Queue",
        "aws:ssm/parameter:Parameter",
    }
)


def missing_tags(r: Resource) -> tuple[str, ...]:
    if r.inputs.get("tags") is UNKNOWN:
        return ()  # computed at apply time: nothing to judge
    tags = tags_of(r) or {}
    return tuple(k for k in REQUIRED_TAGS if not tags.get(k))


@rule(
    id="tags.required",
    level=Level.mandatory,
    description="Every taggable resource (instances, groups, buckets, queues, network, IAM) "
    "carries the tags " + ", ".join(REQUIRED_TAGS) + " (cost allocation and ownership).",
)
def required_tags(ctx: StackContext) -> Iterator[Finding]:
    by_missing: dict[tuple[str, ...], list[Resource]] = {}
    for r in ctx.resources(*sorted(TAGGED_TYPES)):
        gone = missing_tags(r)
        if gone:
            by_missing.setdefault(gone, []).append(r)
    for gone, resources in sorted(by_missing.items()):
        first = resources[0]
        more = f" and {len(resources) - 1} more resource(s)" if len(resources) > 1 else ""
        yield Finding(
            first,
            f"{first.name}{more} lack the tag(s) {', '.join(gone)}",
            f"add {', '.join(gone)} under `tags` in {ctx.config_file()} (or under "
            "fleet:defaults.tags in stacks/Pulumi.yaml for every stack)",
        )
