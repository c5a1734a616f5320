"""Load a rollout policy file, reporting every problem with file:line.

Uses the spec loader's round-trip YAML helpers so a bad key in a policy is
reported exactly like a bad key in a stack config.
"""

from __future__ import annotations

from pathlib import Path

from fleetctl.core.policy import DEFAULT_POLICY, Policy
from fleetctl.spec.yamlfile import load_model


def load_policy(path: Path | None) -> Policy:
    """The policy in `path`, or the defaults when no file is given."""
    if path is None:
        return DEFAULT_POLICY
    return load_model(
        path,
        Policy,
        what="the rollout policy",
        hint="fix the lines above; `docs/rollout.md` lists every setting",
    )
