"""Demand-based capacity planning: known demand, hand-calculated answers."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app
from fleetctl.core.capacity import (
    Demand,
    Params,
    Provision,
    Supply,
    grown,
    months_until,
    node_gbps,
    plan_demand,
    plan_fleet,
    vcpus,
)
from fleetctl.errors import BadInput
from fleetctl.services.capacity import supply_of
from fleetctl.spec import load_fleet
from fleetctl.spec.demand import load_demand, load_measured
from fleetctl.spec.prices import load_prices

pytestmark = pytest.mark.unit

PARAMS = Params(
    transcode_speed_per_vcpu={"1080p": 2.0, "720p": 4.0},
    edge_utilisation=0.8,
    cache_hit_ratio=0.9,
    mean_bitrate_mbps=3.0,
    over_margin=0.5,
)


def supply(nodes_per_zone: int = 5, zones: int = 3, max_size: int = 10) -> Supply:
    return Supply(
        stack="prod-us-east-1",
        region="us-east-1",
        edge_type="c6in.2xlarge",  # NIC baseline 12.5 Gbit/s, 8 vCPUs
        edge_zones=zones,
        nodes_per_zone=nodes_per_zone,
        edge_month_usd=300.0,
        transcode_type="c6i.4xlarge",  # 16 vCPUs
        transcode_zones=zones,
        min_size=2,
        max_size=max_size,
        scaling_target=50.0,
        ladder=("1080p", "720p"),
        transcode_month_usd=500.0,
    )


DEMAND = Demand(
    region="us-east-1", peak_egress_gbps=75.0, concurrent_viewers=25_000, upload_hours_per_hour=100
)


def test_known_demand_matches_the_hand_calculation() -> None:
    plan = plan_demand(DEMAND, supply(), PARAMS)
    # Edge: one node serves 12.5 Gbit/s (NIC) x 0.8 = 10 Gbit/s.
    #   without a zone loss: ceil(75 / 10) = 8 nodes
    #   N+1: two of three zones carry 75 -> ceil(75 / (10 x 2)) = ceil(3.75) = 4 per zone
    #   the spec has 5 per zone: spare 1 <= 0.5 x 4 -> ok
    e = plan.edge
    assert (e.node_gbps, e.node_limit) == (10.0, "nic")
    assert (e.nodes_needed, e.nodes_per_zone_needed) == (8, 4)
    assert (e.capacity_gbps, e.n1_capacity_gbps) == (150.0, 100.0)
    assert (e.verdict, e.fix_nodes, e.fix_month_usd) == (Provision.OK, 0, 0.0)
    # Origin: (1 - 0.9) x 75 = 7.5 Gbit/s of cache misses.
    assert plan.origin_gbps == pytest.approx(7.5)
    # Viewers cross-check: 25,000 x 3 Mbit/s = 75 Gbit/s, no note.
    assert plan.viewers_gbps == 75.0 and plan.notes == ()
    # Transcode: an instance encodes 1080p at 2 x 16 = 32 and 720p at 4 x 16 = 64
    # media s per wall s -> 1/32 + 1/64 = 3/64 instance-s per media second.
    #   busy: 100 media s/s x 3/64 = 4.6875 instances; at 50 % target: 9.375 -> 10
    #   N+1: ceil(10 / 2) = 5 per zone x 3 zones = 15 > max_size 10 -> under
    #   fix: +5 instances x $500 = +$2,500 a month
    t = plan.transcode
    assert t is not None
    assert t.instance_seconds_per_media_second == pytest.approx(3 / 64, abs=1e-4)
    assert (t.needed, t.needed_n1) == (10, 15)
    assert (t.verdict, t.fix_instances, t.fix_month_usd) == (Provision.UNDER, 5, 2500.0)
    assert plan.verdict is Provision.UNDER and plan.fix_month_usd == 2500.0


def test_n1_under_and_over_verdicts_and_their_cost() -> None:
    under = plan_demand(DEMAND, supply(nodes_per_zone=3, max_size=20), PARAMS).edge
    # needs 4 per zone, has 3: +1 per zone x 3 zones = +3 nodes x $300
    assert (under.verdict, under.fix_nodes, under.fix_month_usd) == (Provision.UNDER, 3, 900.0)
    # 3 x 3 nodes = 90 Gbit/s > 75: enough with all zones, not with one down (60)
    assert under.capacity_gbps > 75 > under.n1_capacity_gbps
    over = plan_demand(DEMAND, supply(nodes_per_zone=7, max_size=20), PARAMS).edge
    # spare 7 - 4 = 3 > 0.5 x 4: remove 3 per zone = -9 nodes x $300
    assert (over.verdict, over.fix_nodes, over.fix_month_usd) == (Provision.OVER, -9, -2700.0)
    edge = plan_demand(DEMAND, supply(nodes_per_zone=6, max_size=20), PARAMS).edge
    assert edge.verdict is Provision.OK  # spare 2 == 0.5 x 4 is still ok


def test_two_zones_means_one_zone_carries_everything_and_one_zone_means_a_spare_node() -> None:
    two = plan_demand(DEMAND, supply(nodes_per_zone=4, zones=2, max_size=30), PARAMS)
    assert two.edge.nodes_per_zone_needed == 8  # ceil(75 / (10 x 1))
    assert two.transcode is not None and two.transcode.needed_n1 == 20  # 10 per zone x 2
    one = plan_demand(DEMAND, supply(nodes_per_zone=9, zones=1, max_size=30), PARAMS)
    assert one.edge.nodes_per_zone_needed == 9  # ceil(75 / 10) + 1 spare
    assert one.edge.verdict is Provision.OK and "one zone" in one.notes[0]


def test_growth_months_until_a_region_runs_out() -> None:
    g = Params(**{**PARAMS.__dict__, "growth_per_year": 0.3})
    plan = plan_demand(DEMAND, supply(max_size=40), g)
    # 5 per zone stop sufficing when 75 x f / 20 > 5, i.e. f > 4/3:
    # 1.3 ** (m / 12) > 4/3  ->  m > 12 x ln(4/3) / ln(1.3) = 13.16  ->  month 14
    assert 12 * math.log(4 / 3) / math.log(1.3) == pytest.approx(13.16, abs=0.01)
    assert plan.edge.months_left == 14
    assert grown(75, 0.3, 12) == pytest.approx(97.5)
    # Transcode, max_size 40: needed = ceil(9.375 f); N+1 = ceil(needed / 2) x 3 > 40
    # from needed >= 27, i.e. 9.375 f > 26, f > 2.7733 -> m > 12 x ln(2.7733) / ln(1.3)
    # = 46.66 -> month 47; the region runs out with its first pool (the edge)
    assert plan.transcode is not None and plan.transcode.months_left == 47
    assert plan.months_left == 14
    assert plan_demand(DEMAND, supply(max_size=40), PARAMS).edge.months_left is None  # no growth
    assert months_until(lambda f: True, 0.3, 60) == 0
    assert months_until(lambda f: f > 100, 0.3, 60) is None  # not within 5 years


def test_viewers_alone_give_the_egress_and_a_mismatch_is_noted() -> None:
    viewers_only = Demand(region="us-east-1", concurrent_viewers=25_000, mean_bitrate_mbps=2.0)
    plan = plan_demand(viewers_only, supply(), PARAMS)
    assert (plan.egress_gbps, plan.egress_source) == (50.0, "viewers")  # 25,000 x 2 Mbit/s
    mismatch = Demand(region="us-east-1", peak_egress_gbps=150.0, concurrent_viewers=25_000)
    assert "200%" in plan_demand(mismatch, supply(), PARAMS).notes[0]


def test_node_throughput_is_the_lower_of_nic_and_measured_cpu() -> None:
    cpu_bound = Params(**{**PARAMS.__dict__, "nginx_gbps_per_vcpu": 1.0})
    # 8 vCPUs x 1 Gbit/s = 8 < 12.5 NIC -> 8 x 0.8 utilisation
    assert node_gbps("c6in.2xlarge", cpu_bound) == (pytest.approx(6.4), "cpu")
    measured = Params(**{**PARAMS.__dict__, "node_gbps": {"c6in.2xlarge": 5.0}})
    assert node_gbps("c6in.2xlarge", measured) == (4.0, "measured")
    assert (vcpus("c6i.4xlarge"), vcpus("c6in.large"), vcpus("c5n.9xlarge")) == (16, 2, 36)
    with pytest.raises(ValueError, match="no bandwidth figure"):
        node_gbps("m5.large", PARAMS)


def test_plan_fleet_puts_under_first_and_refuses_unknown_regions() -> None:
    ok = Demand(region="eu-west-1", peak_egress_gbps=30.0)  # 2 per zone, has 2
    eu = Supply("prod-eu-west-1", "eu-west-1", "c6in.2xlarge", 3, 2, 300.0)
    rows = plan_fleet([ok, DEMAND], [eu, supply()], PARAMS)
    assert [r.region for r in rows] == ["us-east-1", "eu-west-1"]
    assert rows[1].transcode is None and rows[1].verdict is Provision.OK
    with pytest.raises(ValueError, match="no stack for region"):
        plan_fleet([Demand(region="xx-1", peak_egress_gbps=1)], [eu], PARAMS)


def test_cost_of_a_node_comes_from_the_price_table(repo_root: Path) -> None:
    fleet = load_fleet(repo_root / "stacks")
    stack = next(s for s in fleet.select("prod") if s.region == "sa-east-1")
    s = supply_of(stack, load_prices())
    # c6in.2xlarge: $0.4536/h in us-east-1 x sa-east-1's compute factor 1.572, 730 h
    assert s.edge_month_usd == pytest.approx(round(0.4536 * 1.572, 6) * 730)
    assert (s.edge_zones, s.nodes_per_zone, s.max_size) == (2, 3, 10)


def test_demand_file_errors_have_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "demand.yaml"
    bad.write_text(
        "env: prod\n"
        "regions:\n"
        "  us-east-1:\n"
        "    peak_egres_gbps: 10\n"  # typo: line 4
        "  eu-west-1:\n"
        "    upload_hours_per_hour: -1\n"  # line 6, and no viewing demand at line 5
    )
    with pytest.raises(BadInput) as exc:
        load_demand(bad)
    details = "\n".join(exc.value.details)
    assert f"{bad}:4: regions.us-east-1.peak_egres_gbps:" in details
    assert f"{bad}:6: regions.eu-west-1.upload_hours_per_hour:" in details


def test_shipped_measurement_loads() -> None:
    m = load_measured()
    assert m.edge is not None and m.edge.gbps_per_vcpu > 0
    assert {"1080p", "720p", "480p", "360p"} <= {str(p) for p in m.transcode.profiles}


def _run(repo_root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--root", str(repo_root), "capacity", *args])
    return result.exit_code, result.stdout


def test_cli_example_demand_file_json(repo_root: Path) -> None:
    example = str(repo_root / "examples" / "demand-prod.yaml")
    code, out = _run(repo_root, "--env", "prod", "--demand", example, "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    # every prod region has demand, and every region of the file is a prod stack
    prod = {s.region for s in load_fleet(repo_root / "stacks").select("prod")}
    assert {r["region"] for r in doc["regions"]} == prod and doc["no_demand"] == []
    verdicts = {r["region"]: r["verdict"] for r in doc["regions"]}
    assert verdicts["eu-central-1"] == "under" and verdicts["ap-northeast-1"] == "over"
    assert list(verdicts.values()).count("ok") >= 3
    sa = next(r for r in doc["regions"] if r["region"] == "sa-east-1")
    # 30 Gbit/s over 2 zones at 8.75 Gbit/s a node: ceil(30 / 8.75) = 4 per zone, has 3
    assert (sa["edge"]["nodes_per_zone_needed"], sa["edge"]["fix_nodes"]) == (4, 2)
    assert sa["edge"]["fix_month_usd"] == round(2 * round(0.4536 * 1.572, 6) * 730, 2)
    code, _ = _run(repo_root, "--demand", example, "--fail-on", "under", "--format", "json")
    assert code == 1
    code, out = _run(repo_root, "--demand", example, "--growth", "30%", "--format", "json")
    doc = json.loads(out)
    assert doc["growth_per_year"] == 0.3
    assert all(r["months_left"] is not None for r in doc["regions"])


def test_cli_plot_writes_a_valid_png(repo_root: Path, tmp_path: Path) -> None:
    png = tmp_path / "cap.png"
    example = str(repo_root / "examples" / "demand-prod.yaml")
    code, _ = _run(repo_root, "--demand", example, "--plot", str(png))
    assert code == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert width > 600 and height > 600
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0.05  # not a blank canvas


def test_cli_refuses_bad_input(repo_root: Path, tmp_path: Path) -> None:
    example = str(repo_root / "examples" / "demand-prod.yaml")
    assert _run(repo_root)[0] == 2  # neither --demand nor --peak-gbps
    assert _run(repo_root, "--demand", example, "--peak-gbps", "10")[0] == 2
    assert _run(repo_root, "--demand", example, "--growth", "lots")[0] == 2
    assert _run(repo_root, "--demand", example, "--env", "staging")[0] == 2  # file says prod
    other = tmp_path / "d.yaml"
    other.write_text("regions:\n  mars-1: {peak_egress_gbps: 1}\n")
    assert _run(repo_root, "--demand", str(other))[0] == 2
