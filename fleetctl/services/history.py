"""`fleetctl history`: one timeline of an env's freezes, drains and rollouts.

Everything comes from journals already in the state store:
- `freeze:<env>`   freeze_on / freeze_off                     (services/freeze.py)
- `drain:<env>`    drain_on / drain_off of single hosts        (services/drain.py)
- `traffic:<env>`  region drains and undrains (started, done, refused, failed)
- each rollout's own journal (`rollout/<id>` of the env): created, paused,
  promoted, abort requested, failed, completed, rolled back
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.core.rollout import events as ev
from fleetctl.core.rollout.record import RolloutRecord
from fleetctl.services import rollout as rollout_service
from fleetctl.services import traffic as traffic_service


@dataclass(frozen=True)
class Entry:
    at: float
    kind: str  # freeze | host-drain | region-drain | rollout
    event: str  # e.g. freeze on, drained, refused, started, completed
    subject: str  # env, host, region or rollout id
    by: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The rollout events a timeline shows, and what it calls them.
_ROLLOUT_EVENTS: dict[type[ev.Event], str] = {
    ev.Created: "started",
    ev.Paused: "paused",
    ev.Promoted: "promoted",
    ev.Resumed: "resumed",
    ev.AbortRequested: "abort requested",
    ev.Failed: "failed",
    ev.RollbackStarted: "rolling back",
    ev.Completed: "completed",
    ev.RolledBack: "rolled back",
    ev.RollbackFailed: "rollback failed",
    ev.LockTakenOver: "lock taken over",
    ev.Superseded: "superseded",
}
_TRAFFIC_EVENTS = {
    "region_drained": "drained",
    "region_undrained": "undrained",
    "region_drain_refused": "drain refused",
    "region_drain_failed": "drain failed",
    "region_undrain_failed": "undrain failed",
}


def _pct(weights: dict[str, float] | None) -> str:
    if not weights:
        return ""
    return " ".join(f"{r}={w:.0%}" for r, w in sorted(weights.items(), key=lambda kv: -kv[1]))


def freeze_entries(events: list[dict[str, Any]]) -> list[Entry]:
    return [
        Entry(
            at=float(e["at"]),
            kind="freeze",
            event="freeze on" if e.get("type") == "freeze_on" else "freeze off",
            subject=str(e.get("env", "")),
            by=str(e.get("by", "")),
            detail=str(e.get("reason", "")),
        )
        for e in events
        if e.get("type") in ("freeze_on", "freeze_off")
    ]


def host_drain_entries(events: list[dict[str, Any]]) -> list[Entry]:
    return [
        Entry(
            at=float(e["at"]),
            kind="host-drain",
            event="drained" if e.get("type") == "drain_on" else "undrained",
            subject=str(e.get("host", "")),
            by=str(e.get("by", "")),
            detail=str(e.get("reason", "")),
        )
        for e in events
        if e.get("type") in ("drain_on", "drain_off")
    ]


def traffic_entries(events: list[dict[str, Any]]) -> list[Entry]:
    out = []
    for e in events:
        what = _TRAFFIC_EVENTS.get(str(e.get("type")))
        if what is None:
            continue
        parts = [str(e.get("reason", ""))] if e.get("reason") else []
        if e.get("force"):
            parts.append("FORCED past the capacity check")
        if e.get("type") in ("region_drained", "region_undrained"):
            parts.append(f"weights now {_pct(e.get('weights_after'))}")
        if e.get("type") == "region_drain_refused":
            short = [c for c in e.get("capacity", []) if "SHORT" in c]
            parts.append(f"peak {e.get('peak_gbps')} Gbit/s; " + "; ".join(short))
        if e.get("error"):
            parts.append(str(e["error"]))
        out.append(
            Entry(
                at=float(e["at"]),
                kind="region-drain",
                event=what,
                subject=str(e.get("region", "")),
                by=str(e.get("by", "")),
                detail="; ".join(p for p in parts if p),
            )
        )
    return out


def _rollout_detail(rec: RolloutRecord, e: ev.Event) -> str:
    match e:
        case ev.Created():
            return f"{rec.playbook} release {e.release}, {e.hosts} hosts"
        case ev.Paused() | ev.Failed() | ev.RollbackStarted() | ev.Promoted():
            return e.reason
        case ev.AbortRequested():
            return e.reason
        case ev.Completed():
            return f"release {e.release} on {e.hosts} hosts"
        case ev.RolledBack() | ev.RollbackFailed():
            return e.message
        case ev.Superseded():
            return f"by {e.by_rollout} (was {e.previous_status})"
        case ev.LockTakenOver():
            return f"from {e.previous_holder}"
    return ""


def rollout_entries(rec: RolloutRecord, journal: list[ev.Event]) -> list[Entry]:
    out = []
    for e in journal:
        what = _ROLLOUT_EVENTS.get(type(e))
        if what is None or not e.at:
            continue
        out.append(
            Entry(
                at=e.at,
                kind="rollout",
                event=what,
                subject=rec.id,
                by=getattr(e, "by", "") or rec.by,
                detail=_rollout_detail(rec, e),
            )
        )
    return out


def timeline(store: StateStore, env: str, since: float | None = None) -> list[Entry]:
    """Every recorded freeze, host drain, region drain and rollout event of `env`,
    oldest first (ties keep a stable order: freeze, drains, rollouts)."""
    entries = [
        *freeze_entries(store.events(f"freeze:{env}")),
        *host_drain_entries(store.events(f"drain:{env}")),
        *traffic_entries(traffic_service.events(store, env)),
    ]
    for rec in rollout_service.records(store, env):
        entries.extend(rollout_entries(rec, rollout_service.journal(store, rec.id)))
    if since is not None:
        entries = [e for e in entries if e.at >= since]
    return sorted(entries, key=lambda e: e.at)
