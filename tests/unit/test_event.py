"""Peak events: the pure sizing maths (hand-calculated) and `fleetctl event plan`
(exit codes, JSON, readiness from the state store). The preview of the
pre-scale is in tests/integration/test_event_preview.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.core.capacity import Params, Supply
from fleetctl.core.capacity.event import (
    EventWindow,
    SpecChange,
    event_shares,
    plan_event,
)
from fleetctl.services.event import freeze_plan

pytestmark = pytest.mark.unit

PARAMS = Params(
    transcode_speed_per_vcpu={"1080p": 2.0, "720p": 4.0},
    edge_utilisation=0.8,  # c6in.2xlarge: 12.5 x 0.8 = 10 Gbit/s a node
)


def supply(region: str = "us-east-1", nodes_per_zone: int = 5) -> Supply:
    return Supply(
        stack=f"prod-{region}",
        region=region,
        edge_type="c6in.2xlarge",
        edge_zones=3,
        nodes_per_zone=nodes_per_zone,
        edge_month_usd=300.0,
        transcode_type="c6i.4xlarge",  # 16 vCPUs
        transcode_zones=3,
        min_size=2,
        max_size=10,
        scaling_target=50.0,
        ladder=("1080p", "720p"),
        transcode_month_usd=500.0,
    )


T0 = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)


def test_window_hours_freeze_and_bad_times() -> None:
    w = EventWindow("final", T0, T0 + timedelta(hours=3), timedelta(hours=2))
    assert w.hours == 3.0
    assert (w.freeze_from, w.freeze_to) == (T0 - timedelta(hours=2), T0 + timedelta(hours=3))
    with pytest.raises(ValueError, match="end after it starts"):
        EventWindow("x", T0, T0, timedelta(0))
    with pytest.raises(ValueError, match="zone"):
        EventWindow("x", T0.replace(tzinfo=None), T0 + timedelta(hours=1), timedelta(0))
    # a zone other than UTC is kept (and compared correctly)
    cet = timezone(timedelta(hours=1))
    assert EventWindow("x", T0, datetime(2026, 12, 20, 20, 0, tzinfo=cet), timedelta(0)).hours == 1


def test_shares_are_the_weights_over_the_chosen_regions() -> None:
    weights = {"a": 0.3, "b": 0.1, "c": 0.6}
    assert event_shares(weights, ["a", "b"]) == pytest.approx({"a": 0.75, "b": 0.25})
    assert event_shares(weights, ["c"]) == {"c": 1.0}
    with pytest.raises(ValueError, match="unknown region"):
        event_shares(weights, ["mars"])
    with pytest.raises(ValueError, match="no traffic"):
        event_shares({"a": 0.0}, ["a"])


def test_event_sizing_matches_the_hand_calculation() -> None:
    # 300 Gbit/s, us-east-1 has half the event: 150 Gbit/s. N+1 with 3 zones:
    # two zones carry it: ceil(150 / (10 x 2)) = 8 per zone; the spec has 5.
    # Transcode: 100 upload h/h x (1/(2x16) + 1/(4x16)) = 4.6875 instances busy
    # at 50 % target -> ceil(9.375) = 10; N+1: ceil(10 / 2) x 3 = 15 > max 10.
    shares = {"us-east-1": 0.5, "eu-west-1": 0.5}
    out = plan_event(
        300,
        shares,
        [supply("us-east-1"), supply("eu-west-1", nodes_per_zone=9)],
        PARAMS,
        uploads={"us-east-1": 100},
    )
    by = {r.region: r for r in out}
    east = by["us-east-1"]
    assert east.plan.egress_gbps == 150
    assert east.changes == (
        SpecChange("edge.nodes_per_zone", 5, 8),
        SpecChange("transcode.min_size", 2, 15),
        SpecChange("transcode.max_size", 10, 15),
    )
    assert east.edge_nodes_to_add == 9 and not east.ready
    # eu-west-1 has 9 per zone (>= 8) and no uploads: nothing to change, never shrunk
    assert by["eu-west-1"].changes == () and by["eu-west-1"].ready
    assert [r.region for r in out] == ["us-east-1", "eu-west-1"]  # needing work first
    with pytest.raises(ValueError, match="peak"):
        plan_event(0, shares, [supply()], PARAMS)


def test_freeze_commands_quote_the_reason() -> None:
    w = EventWindow("cup final", T0, T0 + timedelta(hours=3), timedelta(minutes=90))
    f = freeze_plan("prod", w)
    assert f.start == datetime(2026, 12, 20, 16, 30, tzinfo=UTC)
    assert f.on == (
        "fleetctl freeze on --env prod --reason "
        "'event cup final: 2026-12-20T18:00:00+00:00 to 2026-12-20T21:00:00+00:00'"
    )
    assert f.off == "fleetctl freeze off --env prod"


# -- the command ------------------------------------------------------------------------

BASE = [
    "event",
    "plan",
    "--env",
    "prod",
    "--name",
    "cup-final",
    "--start",
    "2026-12-20T18:00:00Z",
    "--end",
    "2026-12-20T21:00:00+00:00",
]


def invoke(repo_root: Path, tmp_path: Path, *args: str) -> object:
    return CliRunner().invoke(
        app, ["--root", str(repo_root), "--state", str(tmp_path / "state.db"), *BASE, *args]
    )


def test_cli_json_sizes_one_region_and_prints_the_freeze(repo_root: Path, tmp_path: Path) -> None:
    r = invoke(
        repo_root, tmp_path, "--peak-gbps", "100", "--regions", "eu-central-1",
        "--no-preview", "--format", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["start"], doc["end"], doc["hours"]) == (
        "2026-12-20T18:00:00+00:00",
        "2026-12-20T21:00:00+00:00",
        3.0,
    )
    (region,) = doc["regions"]
    # all 100 Gbit/s in eu-central-1; 8.75 Gbit/s a node (12.5 NIC x 0.7); two
    # zones, so one zone carries it all: ceil(100 / 8.75) = 12 per zone, has 4
    assert (region["share"], region["egress_gbps"], region["edge"]["node_gbps"]) == (1.0, 100, 8.75)
    assert region["changes"] == [
        {"key": "fleet:spec.edge.nodes_per_zone", "before": 4, "after": 12}
    ]
    assert doc["spec_changes"] == [
        {
            "stack": "prod-eu-central-1",
            "file": "stacks/Pulumi.prod-eu-central-1.yaml",
            "changes": region["changes"],
        }
    ]
    assert doc["preview"] is None and doc["cost"] is None  # --no-preview
    assert doc["freeze"]["start"] == "2026-12-20T16:00:00+00:00"  # 2h margin by default
    assert doc["freeze"]["on"].startswith("fleetctl freeze on --env prod --reason ")
    rd = doc["readiness"]
    certs = rd["certificates"]  # prod's edges are declared only: unknown, never probed
    assert (certs["problems"], certs["unknown"], certs["margin_days"]) == (0, 8, 7.0)
    assert certs["deadline"] == "2026-12-27T21:00:00+00:00"  # the end + 7 days
    assert {c["why"] for c in certs["checks"]} == {"declared only (no address)"}
    assert certs["by_region"]["eu-central-1"].startswith(
        "8 unknown (declared only (no address): edge-fra-1a-01, "
    )
    assert rd["capacity"] == {"eu-central-1": "under: needs the pre-scale (+16 edge nodes)"}
    assert (rd["rollouts_running"], rd["drained_regions"], rd["ready"]) == ([], [], True)


def test_cli_readiness_lists_running_rollouts_and_drains(repo_root: Path, tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    store.put("rollout", "r-1", {"id": "r-1", "env": "prod", "status": "running",
                                 "playbook": "edge.yml", "created_at": 1.0})  # fmt: skip
    store.put("rollout", "r-0", {"id": "r-0", "env": "prod", "status": "completed",
                                 "playbook": "edge.yml", "created_at": 0.5})  # fmt: skip
    base = {"eu-west-1": 0.5, "us-east-1": 0.5}
    store.put(
        "traffic",
        "prod",
        {"env": "prod", "base": base, "base_int": {"eu-west-1": 255, "us-east-1": 255},
         "drained": {"eu-west-1": {"reason": "loss", "by": "me", "at": 1.0, "force": False}}},
    )  # fmt: skip
    store.put("drain", "prod/edge-1", {"env": "prod", "host": "edge-1", "reason": "nic",
                                       "by": "me", "at": 1.0})  # fmt: skip
    store.close()
    r = invoke(repo_root, tmp_path, "--peak-gbps", "10", "--no-preview", "--format", "json")
    assert r.exit_code == 0, r.output
    rd = json.loads(r.stdout)["readiness"]
    assert rd["rollouts_running"] == [{"id": "r-1", "status": "running", "playbook": "edge.yml"}]
    assert rd["drained_regions"] == ["eu-west-1"]
    assert rd["drained_hosts"] == ["edge-1"]
    assert rd["ready"] is False
    notes = json.loads(r.stdout)["notes"]
    assert any(n.startswith("eu-west-1 serves the event but is drained now") for n in notes)
    # 10 Gbit/s over the whole fleet needs nothing more than the spec has
    assert json.loads(r.stdout)["spec_changes"] == []


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--start", "2026-12-20T18:00:00"], "--start"),  # no zone
        (["--start", "tomorrow"], "--start"),
        (["--end", "2026-12-20T17:00:00Z"], "--end"),  # before the start
        (["--end", "2026-12-20T18:00:00Z"], "--end"),  # zero length
        (["--regions", "eu-west-1,mars-1"], "--regions"),
        (["--peak-gbps", "0"], "--peak-gbps"),
        (["--freeze-margin", "soon"], "--freeze-margin"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_flag(
    repo_root: Path, tmp_path: Path, args: list[str], flag: str
) -> None:
    defaults = {"--peak-gbps": "100"}
    extra = [x for k, v in defaults.items() if k not in args for x in (k, v)]
    r = invoke(repo_root, tmp_path, *args, *extra, "--no-preview")
    assert r.exit_code == 2, r.output
    assert flag in r.output


def test_cli_help_has_an_example(repo_root: Path) -> None:
    r = CliRunner().invoke(app, ["event", "plan", "--help"])
    assert r.exit_code == 0 and "Example:" in r.output and "--peak-gbps" in r.output


def test_plan_notes_a_freeze_that_should_already_be_on(repo_root: Path) -> None:
    from fleetctl.services import event as svc
    from fleetctl.services.workspace import Workspace

    w = EventWindow("final", T0, T0 + timedelta(hours=3), timedelta(hours=2))
    req = svc.EventRequest("prod", w, 10.0, ("eu-west-1",), preview=False)
    ws = Workspace(repo_root)
    early = svc.plan(ws, None, req, now=T0 - timedelta(hours=3))
    assert not any("freeze should be on" in n for n in early.notes)
    late = svc.plan(ws, None, req, now=T0 - timedelta(hours=1))
    assert "the freeze should be on since 2026-12-20T16:00:00+00:00: run the freeze now" in (
        late.notes
    )
    over = svc.plan(ws, None, req, now=T0 + timedelta(hours=4))
    assert any(n.startswith("the event ended at") for n in over.notes)
