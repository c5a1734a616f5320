"""Read models of stored rollouts: one by id (or prefix), the latest, all of
them, a rollout's plan and journal, a group's last known-good. Read-only."""

from __future__ import annotations

from typing import Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.core.rollout import events
from fleetctl.core.rollout.record import LkgRecord, RolloutRecord
from fleetctl.errors import BadInput, FleetctlError


def load_record(store: StateStore, rollout_id: str) -> RolloutRecord:
    """A rollout by id or unique id prefix."""
    doc = store.get("rollout", rollout_id)
    if doc is None:
        ids = [d["id"] for d in store.list("rollout") if str(d["id"]).startswith(rollout_id)]
        if len(ids) == 1:
            doc = store.get("rollout", ids[0])
        elif len(ids) > 1:
            raise BadInput(
                f"{rollout_id!r} matches {len(ids)} rollouts", hint=f"one of: {', '.join(ids)}"
            )
    if doc is None:
        raise BadInput(f"no rollout {rollout_id!r}", hint="`fleetctl rollout list` shows them")
    return RolloutRecord.from_dict(doc)


def load(store: StateStore, rollout_id: str) -> dict[str, Any]:
    """The stored document of a rollout (see load_record for the typed one)."""
    return load_record(store, rollout_id).to_dict()


def records(store: StateStore, env: str | None = None) -> list[RolloutRecord]:
    recs = [RolloutRecord.from_dict(d) for d in store.list("rollout")]
    return [r for r in recs if env is None or r.env == env]


def latest_record(store: StateStore, env: str | None = None) -> RolloutRecord | None:
    return max(records(store, env), key=lambda r: r.created_at, default=None)


def latest(store: StateStore, env: str | None = None) -> dict[str, Any] | None:
    rec = latest_record(store, env)
    return rec.to_dict() if rec is not None else None


def plan_of(store: StateStore, doc: RolloutRecord | dict[str, Any]) -> dict[str, Any]:
    """The stored plan (steps and hosts) of a rollout."""
    rid = doc.id if isinstance(doc, RolloutRecord) else doc["id"]
    plan = store.get("rollout_plan", rid)
    if plan is None:
        raise FleetctlError(f"the plan of rollout {rid} is missing from the state store")
    return plan


def journal(store: StateStore, rollout_id: str) -> list[events.Event]:
    """A rollout's events, typed (older and newer kinds load too)."""
    return [events.parse(e) for e in store.events(rollout_id)]


def last_known_good_record(store: StateStore, group: str) -> LkgRecord | None:
    doc = store.get("lkg", group)
    return LkgRecord.from_dict(doc) if doc is not None else None


def last_known_good(store: StateStore, group: str) -> dict[str, Any] | None:
    rec = last_known_good_record(store, group)
    return rec.to_dict() if rec is not None else None
