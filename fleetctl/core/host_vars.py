"""One host's inventory vars, both ways: the one mapping between a host and
the Ansible vars that describe it (`fleet_env`, `fleet_role`, `region`, `pop`,
`traffic_weight`, `zone`, `ansible_host`, `ansible_port`, `http_port`).

Every inventory fleetctl writes (the spec's dynamic inventory, EC2's, the
lab's hosts.yml) goes through `HostVars.to_vars`; every reader of inventory
vars (status, rollouts, the lab) goes through `HostVars.from_vars`, so the
defaults for a missing or odd var are decided here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REGION = "default"  # a host without `region` (a hand-written inventory)


@dataclass(frozen=True)
class HostVars:
    name: str
    env: str = ""
    region: str = DEFAULT_REGION
    role: str = ""  # edge | origin | transcode | router | ... ("" when not said)
    pop: str = ""
    zone: str = ""
    traffic_weight: float = 0.0
    address: str = ""  # ansible_host; "" when only declared (the spec's hosts)
    ssh_port: int | None = None  # ansible_port; None: Ansible's default
    http_port: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # every other var, kept as is

    def to_vars(self) -> dict[str, Any]:
        """The Ansible host vars (what an inventory writes for this host)."""
        hv: dict[str, Any] = {
            "fleet_env": self.env,
            "fleet_role": self.role,
            "region": self.region,
            "pop": self.pop,
            "traffic_weight": self.traffic_weight,
        }
        if self.zone:
            hv["zone"] = self.zone
        if self.address:
            hv["ansible_host"] = self.address
        if self.ssh_port is not None:
            hv["ansible_port"] = self.ssh_port
        if self.http_port is not None:
            hv["http_port"] = self.http_port
        hv.update(self.extra)
        return hv

    @classmethod
    def from_vars(cls, name: str, v: Mapping[str, Any]) -> HostVars:
        """A host from its (merged) inventory vars; odd values get the defaults."""
        known = {
            "fleet_env",
            "fleet_role",
            "role",
            "region",
            "pop",
            "zone",
            "traffic_weight",
            "ansible_host",
            "ansible_port",
            "http_port",
        }
        return cls(
            name=name,
            env=str(v.get("fleet_env") or ""),
            region=str(v.get("region") or DEFAULT_REGION),
            role=str(v.get("fleet_role") or v.get("role") or ""),
            pop=str(v.get("pop") or ""),
            zone=str(v.get("zone") or ""),
            traffic_weight=_float(v.get("traffic_weight")),
            address=str(v.get("ansible_host") or ""),
            ssh_port=int_var(v, "ansible_port"),
            http_port=int_var(v, "http_port"),
            extra={k: x for k, x in v.items() if k not in known},
        )


def int_var(v: Mapping[str, Any], key: str | None) -> int | None:
    """An integer var (a port) given as an int or digits; None when absent or odd."""
    if not key:
        return None
    x = v.get(key)
    return int(x) if isinstance(x, int | str) and str(x).isdigit() else None


def _float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return 0.0
