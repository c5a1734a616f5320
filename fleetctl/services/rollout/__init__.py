"""Rollouts: canary, waves, bake, gates, limits, pause, abort, rollback.

The public face the CLI and the other services use. Where things are:

- `commands.py`  start / resume / promote / abort / rollback (`Engine`)
- `engine.py`    the step loop: step, bake, pause, complete (`Runner`)
- `outcome.py`   how a command ended, and that end as the CLI's error
- `activities.py` the side effects, data in / data out (also run by Temporal)
- `gating.py`    run a step's gates and combine them (`video_gates.py`: the video ones)
- `rollback.py`  re-apply the last known-good and prove it
- `lease.py`     the env lock: acquire, takeover, renew, fence, orphans, superseded
- `journal.py`   every event and record write
- `queries.py`   stored rollouts: load, latest, plan, journal, last known-good
- `targets.py`   playbook, inventory hosts, plan
- `adapters.py`  the real Ansible executor and HTTP prober

The record and event schema: `fleetctl/core/rollout/record.py` and `events.py`.
"""

from fleetctl.core.rollout.record import FINAL, PauseKind, RolloutRecord, Status
from fleetctl.services.rollout.adapters import Executor, Prober, ansible_executor, http_prober
from fleetctl.services.rollout.commands import Engine, new_id
from fleetctl.services.rollout.lease import TAG, LiveHolder, lock_name
from fleetctl.services.rollout.outcome import Outcome, RolloutPaused, raise_for
from fleetctl.services.rollout.queries import (
    journal,
    last_known_good,
    last_known_good_record,
    latest,
    latest_record,
    load,
    load_record,
    plan_of,
    records,
)
from fleetctl.services.rollout.targets import group_of, hosts_from_vars, plan_for

__all__ = [
    "FINAL",
    "TAG",
    "Engine",
    "Executor",
    "LiveHolder",
    "Outcome",
    "PauseKind",
    "Prober",
    "RolloutPaused",
    "RolloutRecord",
    "Status",
    "ansible_executor",
    "group_of",
    "hosts_from_vars",
    "http_prober",
    "journal",
    "last_known_good",
    "last_known_good_record",
    "latest",
    "latest_record",
    "load",
    "load_record",
    "lock_name",
    "new_id",
    "plan_for",
    "plan_of",
    "raise_for",
    "records",
]
