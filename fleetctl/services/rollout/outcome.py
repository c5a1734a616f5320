"""How a rollout command ended (`Outcome`), and that end as the CLI's error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleetctl.core.rollout.record import Status
from fleetctl.errors import FleetctlError, JobFailed


@dataclass
class Outcome:
    id: str
    status: Status
    message: str
    doc: dict[str, Any] = field(default_factory=dict)  # the rollout record, as stored


class RolloutPaused(FleetctlError):
    """The rollout stopped and waits for `promote`, `resume` or `abort`."""

    exit_code = 1


def raise_for(outcome: Outcome) -> Outcome:
    """Turn a non-completed outcome into the CLI's error (exit 1)."""
    if outcome.status is Status.completed:
        return outcome
    if outcome.status is Status.paused:
        raise RolloutPaused(
            f"rollout {outcome.id} {outcome.message}",
            hint=f"fleetctl rollout why {outcome.id}  |  fleetctl rollout promote {outcome.id} "
            f"--reason ...  |  fleetctl rollout abort {outcome.id}",
        )
    raise JobFailed(
        f"rollout {outcome.id} {outcome.status.value}: {outcome.message}",
        hint=f"fleetctl rollout why {outcome.id}",
    )
