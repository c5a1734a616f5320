"""Where the project lives: the repository root, `stacks/`, `playbooks/`, state."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from fleetctl.errors import BadInput

DEFAULT_STATE = ".fleetctl/state.db"
# The env of a stack config's name (fleetctl.spec.loader.STACK_FILE checks the
# whole name); here so `--env` checks do not import the spec package (~0.5 s).
_STACK_ENV = re.compile(r"^Pulumi\.([a-z][a-z0-9]*)-[a-z]{2}-[a-z]+-\d\.ya?ml$")


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def stacks_dir(self) -> Path:
        return self.root / "stacks"

    @property
    def playbooks_dir(self) -> Path:
        return self.root / "playbooks"

    @property
    def inventories_dir(self) -> Path:
        return self.root / "inventories"

    @property
    def state_dir(self) -> Path:
        return self.root / ".fleetctl"

    def stack_envs(self) -> set[str]:
        """Envs that have at least one stack config in stacks/."""
        names = (p.name for p in self.stacks_dir.glob("Pulumi.*.y*ml"))
        return {m[1] for m in map(_STACK_ENV.match, names) if m}

    def inventory_envs(self) -> set[str]:
        """Envs with an inventories/<env>/ directory (the lab's included)."""
        d = self.inventories_dir
        return {p.name for p in d.iterdir() if p.is_dir()} if d.is_dir() else set()

    def state_url(self, override: str | None = None) -> str:
        """`--state` wins, then FLEETCTL_STATE, then .fleetctl/state.db in the root."""
        return override or os.environ.get("FLEETCTL_STATE") or str(self.root / DEFAULT_STATE)


def find_workspace(start: Path | None = None, explicit: Path | None = None) -> Workspace:
    """The nearest directory at or above `start` holding `stacks/Pulumi.yaml`.

    `explicit` (from --root or FLEETCTL_ROOT) skips the search.
    """
    if explicit is not None:
        if not (explicit / "stacks" / "Pulumi.yaml").is_file():
            raise BadInput(
                f"{explicit} is not a fleetctl project (no stacks/Pulumi.yaml)",
                hint="point --root at the repository that holds stacks/",
            )
        return Workspace(explicit.resolve())
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "stacks" / "Pulumi.yaml").is_file():
            return Workspace(candidate)
    raise BadInput(
        f"no fleetctl project at or above {here} (looked for stacks/Pulumi.yaml)",
        hint="run fleetctl inside the repository, or pass --root / set FLEETCTL_ROOT",
    )
