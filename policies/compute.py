"""Instances come from the families the team has qualified."""

from __future__ import annotations

from collections.abc import Iterator

from fleetctl.core.guardrails import Finding, Level, StackContext, rule

# x86_64 families qualified for edge (network-heavy) and transcode (CPU/GPU) work.
# The image is Debian amd64 (stacks/components/edge.py): Graviton (c7g, ...) would
# need an arm64 image first.
ALLOWED_FAMILIES = frozenset({"c6i", "c6in", "c6a", "c7i", "c7a", "m6i", "m7i", "g4dn"})

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"


@rule(
    id="compute.allowed-instance-families",
    level=Level.mandatory,
    description="Launch templates and instances use an allowed instance family: "
    + ", ".join(sorted(ALLOWED_FAMILIES))
    + ".",
)
def allowed_families(ctx: StackContext) -> Iterator[Finding]:
    for r in ctx.resources(LAUNCH_TEMPLATE, INSTANCE):
        itype = r.inputs.get("instanceType")
        if not isinstance(itype, str):
            continue  # unknown until apply, or not set
        family = itype.split(".", 1)[0]
        if family not in ALLOWED_FAMILIES:
            yield Finding(
                r,
                f"{r.name} uses {itype}: family {family!r} is not allowed",
                f"pick an instance type from {', '.join(sorted(ALLOWED_FAMILIES))} "
                f"(`instance_type` in {ctx.config_file()}), or qualify the family and add it "
                "to ALLOWED_FAMILIES in policies/compute.py",
            )
