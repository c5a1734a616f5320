"""How many Gbit/s an edge node carries at peak: the one answer.

`fleetctl capacity` (both modes), the region drain check (`fleetctl drain`)
and the event planner all size edge pools with this model, so a drain is
never accepted on a figure that `capacity` would not give.

    raw    = measured figure for the type (production), else
             min(NIC baseline, nginx Gbit/s per vCPU x vCPUs)   (no nginx figure: the NIC)
    usable = raw x utilisation                                    (the target at peak)

Bandwidths are the instance types' *baseline* network bandwidth (not the
"up to" burst figure), which is what a node sustains through a peak. Pure;
no I/O: the service fills nginx Gbit/s per vCPU from the measurement file
and a demand file's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

# The share of a node's Gbit/s used at the weekly peak: judgement, not
# measurement (docs/capacity.md). The only place this figure is written.
EDGE_UTILISATION: Final = 0.7

# Baseline network bandwidth in Gbit/s (AWS EC2 instance network specs).
BASELINE_GBPS: Final[dict[str, float]] = {
    "c6in.large": 3.125,
    "c6in.xlarge": 6.25,
    "c6in.2xlarge": 12.5,
    "c6in.4xlarge": 25.0,
    "c6in.8xlarge": 50.0,
    "c6in.16xlarge": 100.0,
    "c6gn.xlarge": 6.3,
    "c6gn.2xlarge": 12.5,
    "c6gn.4xlarge": 25.0,
    "c6gn.8xlarge": 50.0,
    "c5n.xlarge": 5.0,
    "c5n.2xlarge": 10.0,
    "c5n.4xlarge": 15.0,
    "c5n.9xlarge": 50.0,
    "c7gn.xlarge": 12.5,
    "c7gn.2xlarge": 25.0,
    "c7gn.4xlarge": 50.0,
}

_SIZE_VCPUS: Final[dict[str, int]] = {
    "medium": 2,
    "large": 2,
    "xlarge": 4,
    "metal": 64,
}


def vcpus(instance_type: str) -> int:
    """vCPUs of an EC2 type from its size: large 2, xlarge 4, Nxlarge 4N."""
    size = instance_type.rpartition(".")[2]
    if size in _SIZE_VCPUS:
        return _SIZE_VCPUS[size]
    head = size.removesuffix("xlarge")
    if head != size and head.isdigit():
        return 4 * int(head)
    raise ValueError(f"cannot tell the vCPUs of {instance_type!r} from its size {size!r}")


class Limit(StrEnum):
    """What limits one node's Gbit/s."""

    NIC = "nic"  # the instance type's baseline network bandwidth
    CPU = "cpu"  # nginx Gbit/s per vCPU x vCPUs, below the NIC
    MEASURED = "measured"  # a per-type figure measured in production (or declared: the lab)


@dataclass(frozen=True)
class NodeThroughput:
    instance_type: str
    raw_gbps: float  # what the node sustains flat out
    limit: Limit
    utilisation: float

    @property
    def gbps(self) -> float:
        """Usable Gbit/s at peak: raw x the utilisation target."""
        return self.raw_gbps * self.utilisation


@dataclass(frozen=True)
class Throughput:
    """The model's parameters (docs/capacity.md gives their sources)."""

    utilisation: float = EDGE_UTILISATION
    nginx_gbps_per_vcpu: float | None = None  # None: the NIC alone limits a node
    node_gbps: Mapping[str, float] = field(default_factory=dict)  # per type, raw, overrides

    def __post_init__(self) -> None:
        if not 0 < self.utilisation <= 1:
            raise ValueError("utilisation must be in (0, 1]")
        if self.nginx_gbps_per_vcpu is not None and self.nginx_gbps_per_vcpu <= 0:
            raise ValueError("nginx Gbit/s per vCPU must be > 0")

    def node(self, instance_type: str) -> NodeThroughput:
        """One node of `instance_type`; ValueError when the model has no figure for it."""
        if instance_type in self.node_gbps:
            raw, limit = self.node_gbps[instance_type], Limit.MEASURED
        elif instance_type in BASELINE_GBPS:
            raw, limit = BASELINE_GBPS[instance_type], Limit.NIC
            if self.nginx_gbps_per_vcpu is not None:
                cpu = self.nginx_gbps_per_vcpu * vcpus(instance_type)
                if cpu < raw:
                    raw, limit = cpu, Limit.CPU
        else:
            known = ", ".join(sorted(BASELINE_GBPS))
            raise ValueError(
                f"no bandwidth figure for {instance_type!r} (known: {known}; "
                "or give parameters.node_gbps)"
            )
        return NodeThroughput(instance_type, raw, limit, self.utilisation)

    def pool_gbps(self, instance_type: str, nodes: int) -> float:
        """Usable Gbit/s of `nodes` nodes of `instance_type` at peak."""
        return self.node(instance_type).gbps * nodes
