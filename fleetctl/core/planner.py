"""Order the target hosts of a rollout into steps: a canary, then growing waves
region by region. Pure and deterministic: the same hosts and policy always
give the same plan (hosts are sorted by name inside a region, regions by
traffic weight then name), so `rollout plan` shows exactly what `start` runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from fleetctl.core.policy import GateName, Policy


@dataclass(frozen=True)
class Host:
    name: str
    region: str
    role: str = ""
    traffic_weight: float = 0.0
    address: str = ""  # where probes go (ansible_host), empty when unknown
    port: int | None = None  # HTTP port for probes, from the policy's port_var
    # how probes reach it: "http" / "https" ("" in plans stored before: the policy's)
    scheme: str = ""
    ca_file: str = ""  # the CA its https is verified against ("": the policy's / system store)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    index: int
    kind: str  # "canary" | "wave"
    region: str
    wave: int  # 0 for the canary, then 1.. per region
    label: str
    hosts: tuple[str, ...]
    bake_s: float
    deadline_s: float
    approval: bool
    gates: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hosts"] = list(self.hosts)
        d["gates"] = list(self.gates)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        return cls(
            index=int(d["index"]),
            kind=str(d["kind"]),
            region=str(d["region"]),
            wave=int(d["wave"]),
            label=str(d["label"]),
            hosts=tuple(d["hosts"]),
            bake_s=float(d["bake_s"]),
            deadline_s=float(d["deadline_s"]),
            approval=bool(d["approval"]),
            gates=tuple(d["gates"]),
        )


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    regions: tuple[str, ...]  # in rollout order
    hosts: tuple[Host, ...] = field(default=())  # every target host, sorted by name

    @property
    def host_count(self) -> int:
        return sum(len(s.hosts) for s in self.steps)

    @cached_property
    def _by_name(self) -> dict[str, Host]:
        return {h.name: h for h in self.hosts}

    def host(self, name: str) -> Host:
        return self._by_name[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "regions": list(self.regions),
            "host_count": self.host_count,
            "steps": [s.to_dict() for s in self.steps],
            "hosts": [h.to_dict() for h in self.hosts],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(
            steps=tuple(Step.from_dict(s) for s in d["steps"]),
            regions=tuple(d["regions"]),
            hosts=tuple(Host(**h) for h in d.get("hosts", [])),
        )

    def digest(self) -> str:
        """A short fingerprint of the plan (same inputs -> same digest)."""
        body = json.dumps(
            {"regions": list(self.regions), "steps": [s.to_dict() for s in self.steps]},
            sort_keys=True,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:12]


class PlanError(ValueError):
    """The policy cannot be applied to these hosts (unknown region, no hosts)."""


def region_weights(hosts: Iterable[Host]) -> dict[str, float]:
    """A region's weight is the largest weight any of its hosts carries
    (hosts without one, such as an origin, count as 0)."""
    weights: dict[str, float] = {}
    for h in hosts:
        weights[h.region] = max(weights.get(h.region, 0.0), h.traffic_weight)
    return weights


def order_regions(weights: dict[str, float], policy: Policy) -> list[str]:
    by_traffic = sorted(weights, key=lambda r: (weights[r], r))
    if policy.region_order == "traffic":
        return by_traffic
    unknown = [r for r in policy.region_order if r not in weights]
    if unknown:
        raise PlanError(f"region_order names region(s) with no target hosts: {', '.join(unknown)}")
    listed = list(policy.region_order)
    return listed + [r for r in by_traffic if r not in set(listed)]


def _pick_canary(
    members: Sequence[Host], policy: Policy, prefer_roles: Sequence[str]
) -> list[Host]:
    want = policy.canary.hosts
    if policy.canary.role is not None:
        pool = [h for h in members if h.role == policy.canary.role]
        if not pool:
            raise PlanError(f"no target host with role {policy.canary.role!r} in the canary region")
    else:
        pool = []
        for role in prefer_roles:
            pool = [h for h in members if h.role == role]
            if pool:
                break
        if not pool:
            pool = list(members)
    return list(pool[:want])


def _canary_region(
    order: Sequence[str], by_region: dict[str, list[Host]], policy: Policy, roles: Sequence[str]
) -> str:
    """The first region in rollout order (lowest traffic) holding a host the
    canary can be judged on (its role, or a probed role); else the first."""
    wanted = [policy.canary.role] if policy.canary.role else list(roles)
    for region in order:
        if any(h.role in wanted for h in by_region[region]):
            return region
    return order[0]


def make_plan(
    hosts: Sequence[Host], policy: Policy, *, prefer_roles: Sequence[str] | None = None
) -> Plan:
    """The steps of a rollout over `hosts` under `policy`.

    - canary: `policy.canary.hosts` hosts of the canary region (default: the
      lowest-traffic region with a host of a probed role, so the canary can
      be judged), preferring hosts of that role;
    - then each region in order gets its waves; sizes are cumulative per
      region, counting hosts already done by the canary; a wave that adds no
      host is dropped, and a region always ends at 100 %.
    """
    if not hosts:
        raise PlanError("no target hosts")
    names = [h.name for h in hosts]
    if len(set(names)) != len(names):
        raise PlanError("duplicate host names in the target hosts")
    roles = list(prefer_roles if prefer_roles is not None else policy.gates.http.roles)
    by_region: dict[str, list[Host]] = {}
    for h in sorted(hosts, key=lambda h: h.name):
        by_region.setdefault(h.region, []).append(h)
    order = order_regions(region_weights(hosts), policy)
    canary_region = policy.canary.region or _canary_region(order, by_region, policy, roles)
    if canary_region not in by_region:
        raise PlanError(f"canary region {canary_region!r} has no target hosts")
    order = [canary_region] + [r for r in order if r != canary_region]

    gates_on = tuple(str(g) for g in policy.gates.enabled())
    steps: list[Step] = []

    def add(kind: str, region: str, wave: int, label: str, chosen: list[str], **kw: Any) -> None:
        steps.append(
            Step(
                index=len(steps),
                kind=kind,
                region=region,
                wave=wave,
                label=label,
                hosts=tuple(chosen),
                bake_s=kw["bake_s"],
                deadline_s=policy.progress_deadline_s,
                approval=kw["approval"],
                gates=kw["gates"],
            )
        )

    canary = _pick_canary(by_region[canary_region], policy, roles)
    add(
        "canary",
        canary_region,
        0,
        "canary",
        [h.name for h in canary],
        bake_s=policy.bake_s if policy.canary.bake_s is None else policy.canary.bake_s,
        approval=policy.canary.approval,
        gates=gates_on,
    )
    canary_names = {h.name for h in canary}
    for region in order:
        members = by_region[region]
        # Canary hosts count as done; the rest keep their name order.
        queue = [h.name for h in members if h.name not in canary_names]
        done = len(members) - len(queue)
        waves = list(policy.waves)
        if waves[-1].hosts_of(len(members)) < len(members):
            waves.append(waves[-1].model_copy(update={"size": "100%", "approval": False}))
        n = 0
        for w in waves:
            target = max(w.hosts_of(len(members)), done)
            take = target - done
            if take <= 0:
                continue
            chosen, queue = queue[:take], queue[take:]
            done = target
            n += 1
            size = f"{w.size}" if isinstance(w.size, str) else f"{w.size} host(s)"
            add(
                "wave",
                region,
                n,
                f"{region} wave {n} ({size})",
                chosen,
                bake_s=policy.bake_s if w.bake_s is None else w.bake_s,
                approval=w.approval,
                gates=gates_on if w.gates is None else tuple(str(g) for g in w.gates),
            )
    return Plan(
        steps=tuple(steps), regions=tuple(order), hosts=tuple(sorted(hosts, key=lambda h: h.name))
    )


ALL_GATES = tuple(str(g) for g in GateName)
