"""One answer to "how many Gbit/s does an edge node carry?": the throughput
model that `capacity` (both modes) and the region drain check share."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from fleetctl.core import traffic
from fleetctl.core.capacity import (
    EDGE_UTILISATION,
    Limit,
    Params,
    RegionInput,
    Throughput,
    plan_region,
)
from fleetctl.services import traffic as traffic_service
from fleetctl.services.capacity import demand_capacity, edge_capacity, throughput_model
from fleetctl.services.workspace import Workspace
from fleetctl.spec import load_fleet

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]

# Every prod region, 500 Gbit/s in all, with edge nodes CPU-bound (see the file).
CPU_BOUND_DEMAND = REPO / "tests" / "fixtures" / "demand-cpu-bound.yaml"


def test_node_throughput_nic_cpu_measured() -> None:
    nic = Throughput(utilisation=0.8).node("c6in.2xlarge")
    assert (nic.raw_gbps, nic.limit, nic.gbps) == (12.5, Limit.NIC, 10.0)
    # 8 vCPUs x 1 Gbit/s = 8 < 12.5 NIC
    cpu = Throughput(utilisation=0.5, nginx_gbps_per_vcpu=1.0).node("c6in.2xlarge")
    assert (cpu.raw_gbps, cpu.limit, cpu.gbps) == (8.0, Limit.CPU, 4.0)
    # 8 vCPUs x 13 Gbit/s = 104 > 12.5: the NIC still limits
    assert Throughput(nginx_gbps_per_vcpu=13.0).node("c6in.2xlarge").limit is Limit.NIC
    measured = Throughput(nginx_gbps_per_vcpu=1.0, node_gbps={"c6in.2xlarge": 5.0})
    assert measured.node("c6in.2xlarge").limit is Limit.MEASURED
    assert measured.pool_gbps("c6in.2xlarge", 4) == pytest.approx(5.0 * EDGE_UTILISATION * 4)
    with pytest.raises(ValueError, match=r"no bandwidth figure for 'm5\.large'"):
        Throughput().node("m5.large")
    with pytest.raises(ValueError, match="utilisation"):
        Throughput(utilisation=1.5)


def test_one_utilisation_default_everywhere() -> None:
    """The drain check, both capacity modes and the demand model default to one figure."""
    absorb_default = inspect.signature(traffic.absorb_check).parameters["utilisation"].default
    assert absorb_default == Params(transcode_speed_per_vcpu={}).edge_utilisation
    assert absorb_default == Throughput().utilisation == EDGE_UTILISATION
    assert throughput_model().utilisation == EDGE_UTILISATION
    # the --peak-gbps shortcut sizes nodes with the same model as --demand
    r = plan_region(RegionInput("x", "c6in.2xlarge", 1, 2, 1.0), 10, 0)
    assert r.capacity_gbps == round(2 * Throughput().node("c6in.2xlarge").gbps, 1)


def test_drain_check_agrees_with_capacity_where_the_old_models_disagreed() -> None:
    """capacity --demand calls eu-central-1's nodes CPU-bound at 8 x 0.7 = 5.6
    Gbit/s; the old drain check took the NIC (12.5 x 0.7 = 8.75) and accepted
    draining ap-south-1 on it. Now both give every region the same Gbit/s."""
    demand = CPU_BOUND_DEMAND
    ws = Workspace(REPO)
    report = demand_capacity(load_fleet(ws.stacks_dir), "prod", demand)
    capacity_gbps = {r.region: r.edge.capacity_gbps for r in report.regions}
    central = next(r for r in report.regions if r.region == "eu-central-1")
    assert (central.edge.node_limit, central.edge.node_gbps) == ("cpu", 5.6)
    assert capacity_gbps["eu-central-1"] == 44.8  # 4 per zone x 2 zones x 5.6

    basis = traffic_service.basis_from_demand(ws, "prod", demand)
    assert basis.peak_gbps == 500
    pools = traffic_service.edge_pools(ws, "prod", basis.model)
    weights = traffic_service.spec_weights(ws, "prod")
    after = traffic.effective_weights(weights, ["ap-south-1"])
    rows = traffic.absorb_check(pools, weights, after, basis.peak_gbps, basis.model.utilisation)
    # the drain check's Gbit/s per region is `capacity`'s, region by region
    assert {r.region: round(r.available_gbps, 1) for r in rows} == {
        region: gbps for region, gbps in capacity_gbps.items() if region != "ap-south-1"
    }
    # eu-central-1 must take 500 x 0.10 / 0.96 = 52.08 Gbit/s: refused (44.8),
    # where the NIC figure (8 x 12.5 x 0.7 = 70) accepted it
    assert [r.region for r in traffic.refused(rows)] == ["eu-central-1"]
    assert rows[0].needed_gbps == pytest.approx(52.083, abs=1e-3)


def test_peak_shortcut_uses_the_measured_model() -> None:
    """--peak-gbps sizes nodes with the measured nginx figure too (13 Gbit/s per
    vCPU on the lab: the NIC binds for every type we know, so figures are the
    NIC's x 0.7, as before)."""
    fleet = load_fleet(REPO / "stacks")
    rows = {r.stack: r for r in edge_capacity(fleet, "prod", 500, 0.0)}
    assert rows["prod-eu-central-1"].capacity_gbps == 70.0
    cpu = edge_capacity(fleet, "prod", 500, 0.0, model=Throughput(nginx_gbps_per_vcpu=1.0))
    assert {r.stack: r for r in cpu}["prod-eu-central-1"].capacity_gbps == 44.8
