"""Physical names and tags of the fleet's AWS resources: the one place they are decided.

The Pulumi program creates resources with these names and tags; `fleetctl drift`
computes what should exist from the spec with the same functions, and the EC2
inventory filters instances by these tags. Change a rule here and all three move
together. Pure functions, no I/O.

Names (`<project>-<env>-<region>-...`, project = "fleet"):

- bucket           fleet-<env>-<region>-<logical name>
- edge ASG         fleet-<env>-<region>-edge-<zone>   (one per zone)
- transcode ASG    fleet-<env>-<region>-transcode
- launch template  fleet-<env>-<region>-<role>
- transcode queue  fleet-<env>-<region>-transcode-jobs (dead letters: ...-jobs-dlq)

Tags: the spec's `tags`, then fleetctl's own (which win): `env`, `region`,
`fleet:stack`, plus `role` (edge|transcode) when given and `pop` when the
stack has an edge pool.
"""

from __future__ import annotations

from typing import Final, Literal

from fleetctl.spec.models import Stack

PROJECT: Final = "fleet"
EDGE: Final = "edge"
TRANSCODE: Final = "transcode"
ROLES: Final = (EDGE, TRANSCODE)
Role = Literal["edge", "transcode"]

# Tag keys fleetctl owns (inventory and drift rely on them).
TAG_ENV: Final = "env"
TAG_REGION: Final = "region"
TAG_ROLE: Final = "role"
TAG_POP: Final = "pop"
TAG_STACK: Final = "fleet:stack"
OWNED_TAGS: Final = (TAG_ENV, TAG_REGION, TAG_ROLE, TAG_POP, TAG_STACK)


def prefix(env: str, region: str) -> str:
    """`fleet-<env>-<region>`, the start of every physical name of a stack."""
    return f"{PROJECT}-{env}-{region}"


def stack_name(env: str, region: str) -> str:
    """The Pulumi stack name: `<env>-<region>`."""
    return f"{env}-{region}"


def bucket_name(env: str, region: str, logical: str) -> str:
    return f"{prefix(env, region)}-{logical}"


def edge_asg_name(env: str, region: str, zone: str) -> str:
    return f"{prefix(env, region)}-{EDGE}-{zone}"


def transcode_asg_name(env: str, region: str) -> str:
    return f"{prefix(env, region)}-{TRANSCODE}"


def launch_template_name(env: str, region: str, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    return f"{prefix(env, region)}-{role}"


def queue_name(env: str, region: str) -> str:
    return f"{prefix(env, region)}-{TRANSCODE}-jobs"


def dead_letter_queue_name(env: str, region: str) -> str:
    return f"{queue_name(env, region)}-dlq"


def tags(stack: Stack, role: str | None = None) -> dict[str, str]:
    """Tags for a resource of `stack` (role = edge|transcode for instances, groups, templates)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    out = dict(stack.spec.tags)
    out[TAG_ENV] = stack.env
    out[TAG_REGION] = stack.region
    out[TAG_STACK] = stack_name(stack.env, stack.region)
    if role is not None:
        out[TAG_ROLE] = role
    if stack.spec.edge is not None:
        out[TAG_POP] = stack.spec.edge.pop
    return out
