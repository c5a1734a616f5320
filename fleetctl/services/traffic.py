"""Region drains: move a region's share of viewer traffic to the other regions.

State (the source of truth for fleetctl) is one document per env,
`traffic/<env>`, present only while at least one region is drained:

    {"env": "prod",
     "base": {"us-east-1": 0.3, ...},        # weights before the first drain
     "base_int": {"us-east-1": 255, ...},    # integer weights before it (Route 53 / nginx)
     "drained": {"eu-west-1": {"reason": ..., "by": ..., "at": ..., "force": false}}}

The effective weights are always computed from `base` and the drained set
(`fleetctl.core.traffic`), so drains compose and an undrain restores the
weights from before the drain exactly. Every drain and undrain is also an
event in the env's journal `traffic:<env>` (who, why, when, weights before
and after, force, the capacity numbers).

Where weights are applied:
- lab: a traffic-router host (nginx load balancer over the lab edges) reads
  its per-region weights from the lab inventory, which the lab renders from
  `<lab dir>/traffic.json`; a drain rewrites that file and the inventory,
  applies `playbooks/router.yml` and gates on viewer requests through the
  router (`fleetctl.services.traffic_lab`).
- other envs: Route 53 weighted records, one per region
  (`fleetctl.services.traffic_aws`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.core import traffic as core
from fleetctl.errors import BadInput
from fleetctl.services.workspace import Workspace

KIND = "traffic"
LAB_ENV = "lab"


def journal(env: str) -> str:
    return f"traffic:{env}"


@dataclass(frozen=True)
class RegionTraffic:
    """One region's viewer traffic in an env (stable shape: `fleetctl status` uses it)."""

    region: str
    spec_weight: float  # the weight the spec declares
    weight: float  # the weight in force now (0 when drained)
    drained: bool
    reason: str  # why it was drained ("" when not drained)
    by: str  # who drained it ("" when not drained)
    at: float | None  # when (epoch seconds), None when not drained

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def spec_weights(ws: Workspace, env: str) -> dict[str, float]:
    """Region -> traffic weight the spec declares for `env` (lab: the lab's regions)."""
    if env == LAB_ENV:
        from fleetctl.services.lab import LAB_REGIONS

        return {region: weight for region, _pop, weight in LAB_REGIONS}
    from fleetctl.spec import load_fleet

    fleet = load_fleet(ws.stacks_dir)
    if env not in fleet.envs():
        raise BadInput(f"unknown env {env!r}", hint=f"known envs: lab, {', '.join(fleet.envs())}")
    return {s.region: s.traffic_weight for s in fleet.select(env) if s.spec.edge is not None}


def state_doc(store: StateStore, env: str) -> dict[str, Any] | None:
    return store.get(KIND, env)


def base_weights(doc: dict[str, Any] | None, spec: dict[str, float]) -> dict[str, float]:
    """The weights drains are computed from: stored before the first drain, else the spec."""
    if doc is None:
        return dict(spec)
    return {str(r): float(w) for r, w in doc["base"].items()}


def region_traffic(ws: Workspace, store: StateStore, env: str) -> list[RegionTraffic]:
    """Every region of `env` with its spec weight, weight now and drain record, by region."""
    spec = spec_weights(ws, env)
    doc = state_doc(store, env)
    base = base_weights(doc, spec)
    drained: dict[str, dict[str, Any]] = dict(doc["drained"]) if doc else {}
    now = core.effective_weights(base, [r for r in drained if r in base])
    out = []
    for region in sorted(set(spec) | set(base)):
        rec = drained.get(region)
        out.append(
            RegionTraffic(
                region=region,
                spec_weight=spec.get(region, 0.0),
                weight=now.get(region, spec.get(region, 0.0)),
                drained=rec is not None,
                reason=str(rec.get("reason", "")) if rec else "",
                by=str(rec.get("by", "")) if rec else "",
                at=float(rec["at"]) if rec and rec.get("at") is not None else None,
            )
        )
    return out


def events(store: StateStore, env: str) -> list[dict[str, Any]]:
    """The env's drain/undrain journal, oldest first."""
    return store.events(journal(env))


def _now() -> float:
    return time.time()
