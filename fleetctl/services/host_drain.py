"""Host drains: take edge nodes out of load balancing without stopping them.

(`fleetctl hosts drain`. Not region drains - `fleetctl drain REGION`, which
move a region's viewers elsewhere: `fleetctl.services.traffic`.)

A drain sets a flag file on each host that the edge's `/healthz` honours
(503 while drained, content still served), through `playbooks/drain.yml`.
Each drained host is also recorded (`drain/<env>/<host>`, plus the env's
drain journal), so rollouts skip drained hosts and anyone can see who
drained what and why. Only hosts Ansible actually changed or confirmed are
recorded: a host that was unreachable keeps its previous record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.core.ansible_result import PlaybookResult
from fleetctl.services import apply as apply_service
from fleetctl.services.freeze import who
from fleetctl.services.workspace import Workspace

PLAYBOOK = "drain.yml"


@dataclass(frozen=True)
class HostDrain:
    env: str
    host: str
    reason: str
    by: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "host": self.host,
            "reason": self.reason,
            "by": self.by,
            "at": self.at,
        }


def set_drain(
    ws: Workspace,
    store: StateStore,
    env: str,
    limit: str,
    on: bool,
    reason: str,
    *,
    lab_dir: Path | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> PlaybookResult:
    """Drain (on) or undrain (off) the edge hosts matching `limit` in `env`."""
    result = apply_service.apply(
        ws,
        PLAYBOOK,
        env,
        limit=limit,
        extravars={"edge_drain": on},
        lab_dir=lab_dir,
        on_event=on_event,
    )
    by = who()
    for host, outcome in sorted(result.hosts.items()):
        if outcome.failed or outcome.unreachable:
            continue
        d = HostDrain(env=env, host=host, reason=reason, by=by, at=time.time())
        if on:
            store.put("drain", f"{env}/{host}", d.to_dict())
        else:
            store.delete("drain", f"{env}/{host}")
        store.append_event(
            f"drain:{env}", {"type": "drain_on" if on else "drain_off", **d.to_dict()}
        )
    return result


def drained(store: StateStore, env: str) -> list[HostDrain]:
    """The hosts of `env` recorded as drained, by name."""
    out = [
        HostDrain(**{k: doc[k] for k in ("env", "host", "reason", "by", "at")})
        for doc in store.list("drain")
        if doc.get("env") == env
    ]
    return sorted(out, key=lambda d: d.host)


def drained_hosts(store: StateStore, env: str) -> frozenset[str]:
    return frozenset(d.host for d in drained(store, env))
