"""The rollout journal: every event and every record write goes through here.

One typed call (`write`) per event: the event gets its time, the secret
values of this command are scrubbed out of it (what Ansible says back may
quote a secret var), the fencing check runs first (a superseded runner
writes nothing more), then it is appended and shown (`on_event`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.core.rollout import events
from fleetctl.core.rollout.record import RolloutRecord
from fleetctl.services import secrets as secrets_service


class Journal:
    def __init__(
        self,
        store: StateStore,
        *,
        clock: Callable[[], float],
        fence: Callable[[RolloutRecord], None],
        secret_values: Callable[[], Iterable[str]] = lambda: (),
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self._fence = fence
        self._secret_values = secret_values
        self.on_event = on_event

    def scrub(self, value: Any) -> Any:
        """`value` with this command's secret values replaced by `[secret]`."""
        return secrets_service.scrub(value, self._secret_values())

    def write(self, rec: RolloutRecord, event: events.Event, *, fenced: bool = True) -> None:
        """Append `event` to `rec`'s journal (fenced: only while holding its lock)."""
        if fenced:
            self._fence(rec)
        ev = self.scrub(dataclasses.replace(event, at=self.clock()).to_dict())
        self.store.append_event(rec.id, ev)
        if self.on_event is not None:
            self.on_event(ev)

    def note(self, rollout_id: str, event: events.Event) -> None:
        """Append to a journal this runner does not hold (another rollout's, or
        a request to the runner): no fence, not shown."""
        self.store.append_event(rollout_id, dataclasses.replace(event, at=self.clock()).to_dict())

    def save(self, rec: RolloutRecord) -> None:
        """Rewrite the rollout record (fenced)."""
        self._fence(rec)
        rec.updated_at = self.clock()
        self.store.put("rollout", rec.id, self.scrub(rec.to_dict()))
