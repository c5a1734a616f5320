"""`fleetctl up` / `fleetctl destroy`: apply a stack with the real Pulumi engine.

The stack must exist in the spec (and the spec must be valid) before Pulumi is
touched; then the Automation API runs on `stacks/` (see
`fleetctl.adapters.pulumi_deploy`). Confirmation is the CLI's job: this module
only previews and applies.
"""

from __future__ import annotations

from fleetctl.adapters.pulumi_deploy import Outcome, PulumiStack, Step
from fleetctl.services.workspace import Workspace
from fleetctl.spec import load_fleet

__all__ = ["Outcome", "PulumiStack", "Step", "open_stack"]


def open_stack(
    ws: Workspace, stack: str, *, create: bool, backend: str | None = None
) -> PulumiStack:
    """Validate the spec, then select (or, for `up`, create) the Pulumi stack."""
    load_fleet(ws.stacks_dir).stack(stack)  # SpecError (exit 2) for a bad spec or name
    env = {"PULUMI_BACKEND_URL": backend} if backend else {}
    return PulumiStack(ws.stacks_dir, stack, create=create, env_vars=env)
