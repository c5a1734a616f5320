"""How long a rollout paused for a deploy window has to wait (`rollout resume --wait`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fleetctl.core import windows
from fleetctl.core.policy import Policy


@dataclass(frozen=True)
class WindowWait:
    region: str
    opens: datetime | None  # None: the window never opens
    text: str  # "Sat 2026-12-05 02:00 GMT (02:00 UTC)"

    def seconds(self, now: datetime) -> float | None:
        return None if self.opens is None else max(0.0, (self.opens - now).total_seconds())


def window_wait(store: Any, rollout_id: str, now: datetime) -> WindowWait | None:
    """When the window the rollout is paused for opens; None when it is not paused for one."""
    doc = store.get("rollout", rollout_id)
    if doc is None or doc.get("status") != "paused":
        return None
    pause = doc.get("pause") or {}
    if pause.get("kind") != "window":
        return None
    plan = store.get("rollout_plan", doc["id"]) or {}
    steps = plan.get("steps") or []
    index = int(pause.get("step", -1))
    if not 0 <= index < len(steps):
        return None
    region = str(steps[index]["region"])
    w = Policy.model_validate(doc["policy"]).window_for(region)
    if w is None:  # the policy has no window for it any more: resume now
        return WindowWait(region, now.astimezone(UTC), "now")
    opens = windows.next_open(w, now)
    return WindowWait(region, opens, windows.local_text(w, opens) if opens else "never")
