"""Edge capacity planning: known inputs, known verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app
from fleetctl.core.capacity import CapacityVerdict as Verdict
from fleetctl.core.capacity import RegionInput, plan, plan_region

pytestmark = pytest.mark.unit


def region(nodes: int, zones: int = 3, weight: float = 0.5) -> RegionInput:
    return RegionInput("prod-x", "c6in.2xlarge", nodes, zones, weight)


def test_zone_loss_decides_between_ok_and_at_risk() -> None:
    # 12.5 Gbit/s * 0.8 = 10 per node. Demand = 100 * 0.5 = 50.
    ok = plan_region(region(nodes=3), peak_gbps=100, growth=0, utilisation=0.8)
    assert (ok.capacity_gbps, ok.zone_loss_gbps, ok.verdict) == (90, 60, Verdict.OK)
    risky = plan_region(region(nodes=2), peak_gbps=100, growth=0, utilisation=0.8)
    assert (risky.capacity_gbps, risky.zone_loss_gbps) == (60, 40)
    assert risky.verdict is Verdict.AT_RISK and risky.nodes_per_zone_needed == 3
    short = plan_region(region(nodes=1), peak_gbps=100, growth=0, utilisation=0.8)
    assert short.verdict is Verdict.SHORT and short.headroom == pytest.approx(-0.4)


def test_growth_raises_demand() -> None:
    grown = plan_region(region(nodes=3), peak_gbps=100, growth=0.5, utilisation=0.8)
    assert grown.demand_gbps == 75 and grown.verdict is Verdict.AT_RISK


def test_single_zone_region_can_never_survive_a_zone_loss() -> None:
    one = plan_region(region(nodes=50, zones=1), peak_gbps=100, growth=0, utilisation=0.8)
    assert one.verdict is Verdict.AT_RISK and one.nodes_per_zone_needed == -1


def test_plan_sorts_tightest_first_and_validates_inputs() -> None:
    rows = plan([region(3), RegionInput("prod-y", "c6in.2xlarge", 1, 3, 0.5)], peak_gbps=100)
    assert [r.stack for r in rows] == ["prod-y", "prod-x"]
    with pytest.raises(ValueError, match=r"no bandwidth figure for 'm5\.large'"):
        plan([RegionInput("prod-z", "m5.large", 1, 3, 1.0)], peak_gbps=100)
    with pytest.raises(ValueError, match="peak"):
        plan([], peak_gbps=0)


def test_cli_capacity_json_and_exit_code(repo_root: Path) -> None:
    runner = CliRunner()
    args = ["--root", str(repo_root), "capacity", "--peak-gbps", "400", "--format", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 8 and all(r["verdict"] in ("ok", "at-risk") for r in rows)
    assert runner.invoke(app, [*args, "--fail-on", "at-risk"]).exit_code == 1
    assert runner.invoke(app, [*args[:-2], "--peak-gbps", "100000"]).exit_code == 1
