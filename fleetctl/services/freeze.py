"""Change freezes: while an env is frozen no new rollout step starts.

A freeze is a document (`freeze/<env>`) plus an entry in the env's freeze
journal (`freeze:<env>`), so who froze what, when and why stays on record.
"""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass
from typing import Any

from fleetctl.adapters.state.base import StateStore


@dataclass(frozen=True)
class Freeze:
    env: str
    on: bool
    reason: str
    by: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "on": self.on, "reason": self.reason, "by": self.by, "at": self.at}


def who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def set_freeze(store: StateStore, env: str, on: bool, reason: str, by: str | None = None) -> Freeze:
    f = Freeze(env=env, on=on, reason=reason, by=by or who(), at=time.time())
    store.put("freeze", env, f.to_dict())
    store.append_event(
        f"freeze:{env}", {"type": "freeze_on" if on else "freeze_off", **f.to_dict()}
    )
    return f


def current(store: StateStore, env: str) -> Freeze | None:
    """The active freeze of `env`, or None."""
    doc = store.get("freeze", env)
    if doc is None or not doc.get("on"):
        return None
    return Freeze(**{k: doc[k] for k in ("env", "on", "reason", "by", "at")})


def history(store: StateStore, env: str) -> list[dict[str, Any]]:
    return store.events(f"freeze:{env}")
