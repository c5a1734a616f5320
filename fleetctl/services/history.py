"""`fleetctl history`: one timeline of an env's freezes, drains and rollouts.

Everything comes from journals already in the state store:
- `freeze:<env>`   freeze_on / freeze_off                     (services/freeze.py)
- `drain:<env>`    drain_on / drain_off of single hosts        (services/host_drain.py)
- `traffic:<env>`  region drains and undrains (started, done, refused, failed)
- each rollout's own journal (`rollout/<id>` of the env): created, paused,
  promoted, abort requested, failed, completed, rolled back
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fleetctl.adapters.state.base import StateStore
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


_ROLLOUT_EVENTS = {
    "created": "started",
    "paused": "paused",
    "promoted": "promoted",
    "resumed": "resumed",
    "abort_requested": "abort requested",
    "failed": "failed",
    "rollback_started": "rolling back",
    "completed": "completed",
    "rolled_back": "rolled back",
    "rollback_failed": "rollback failed",
    "lock_taken_over": "lock taken over",
    "superseded": "superseded",
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


def rollout_entries(doc: dict[str, Any], events: list[dict[str, Any]]) -> list[Entry]:
    out = []
    for e in events:
        what = _ROLLOUT_EVENTS.get(str(e.get("type")))
        if what is None or e.get("at") is None:
            continue
        t = e.get("type")
        if t == "created":
            release, hosts = e.get("release", ""), e.get("hosts", "?")
            detail = f"{doc.get('playbook', '')} release {release}, {hosts} hosts"
        elif t in ("paused", "failed", "rollback_started"):
            detail = str(e.get("reason", ""))
        elif t == "completed":
            detail = f"release {e.get('release', '')} on {e.get('hosts', '?')} hosts"
        elif t in ("rolled_back", "rollback_failed"):
            detail = str(e.get("message", ""))
        elif t == "superseded":
            detail = f"by {e.get('by_rollout', '')} (was {e.get('previous_status', '')})"
        elif t == "lock_taken_over":
            detail = f"from {e.get('previous_holder', '')}"
        else:
            detail = str(e.get("reason", ""))
        out.append(
            Entry(
                at=float(e["at"]),
                kind="rollout",
                event=what,
                subject=str(doc["id"]),
                by=str(e.get("by") or doc.get("by", "")),
                detail=detail,
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
    for doc in store.list("rollout"):
        if doc.get("env") == env:
            entries.extend(rollout_entries(doc, store.events(doc["id"])))
    if since is not None:
        entries = [e for e in entries if e.at >= since]
    return sorted(entries, key=lambda e: e.at)
