"""The cost model: a hand-built stack (the inputs the fleet program really
registers) priced against the shipped table equals the figure worked out by
hand below; deltas, unknown prices and rendering."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError
from rich.console import Console

from fleetctl.cli import cost_render
from fleetctl.cli.preview_render import render_json, render_markdown, render_table
from fleetctl.core import cost
from fleetctl.core.preview_model import (
    UNKNOWN,
    PreviewResult,
    Resource,
    ResourceGraph,
    StackPreview,
    StackStatus,
)
from fleetctl.core.preview_report import PreviewReport
from fleetctl.spec.models import Bucket, BucketUsage
from fleetctl.spec.prices import PriceMissing, load_prices

pytestmark = pytest.mark.unit

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "preview-schema.json").read_text()
)
STACK = "prod-eu-west-1"
BUCKET = "fleet-prod-eu-west-1-media"


def _urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::fleet::{type_}::{name}"


def _r(type_: str, name: str, **kw: object) -> Resource:
    return Resource(urn=_urn(type_, name), type=type_, name=name, **kw)  # type: ignore[arg-type]


def graph(edge_per_zone: int = 3, *, edge_type: str = "c6in.2xlarge") -> ResourceGraph:
    """What stacks/ registers for one region (inputs as the worker records them:
    camelCase, the launch template id unknown, the template found through the
    `launchTemplate` property dependency)."""
    edge_pool = _r("fleet:index:EdgePool", "edge", custom=False)
    subnets = [
        _r(cost.SUBNET, f"net-{z}", inputs={"mapPublicIpOnLaunch": True}) for z in ("a", "b")
    ]
    edge_lt = _r(
        cost.LAUNCH_TEMPLATE,
        "edge-template",
        parent=edge_pool.urn,
        inputs={
            "instanceType": edge_type,
            "blockDeviceMappings": [
                {"deviceName": "/dev/xvdb", "ebs": {"volumeSize": 1800, "volumeType": "gp3"}}
            ],
        },
    )
    edges = [
        _r(
            cost.ASG,
            f"edge-{s.name[-1]}",
            parent=edge_pool.urn,
            inputs={
                "desiredCapacity": edge_per_zone,
                "minSize": edge_per_zone,
                "maxSize": edge_per_zone,
                "launchTemplate": {"id": UNKNOWN, "version": "$Latest"},
                "vpcZoneIdentifiers": [UNKNOWN],
                "tags": [{"key": "role", "value": "edge", "propagateAtLaunch": True}],
            },
            deps=(edge_lt.urn, s.urn),
            property_deps={"launchTemplate": (edge_lt.urn,), "vpcZoneIdentifiers": (s.urn,)},
        )
        for s in subnets
    ]
    tc_lt = _r(cost.LAUNCH_TEMPLATE, "transcode-template", inputs={"instanceType": "c6i.4xlarge"})
    transcode = _r(
        cost.ASG,
        "transcode-workers",
        inputs={
            "minSize": 2,
            "maxSize": 10,
            "launchTemplate": {"id": UNKNOWN},
            "tags": [{"key": "role", "value": "transcode", "propagateAtLaunch": True}],
        },
        ignore_changes=("desiredCapacity",),
        property_deps={
            "launchTemplate": (tc_lt.urn,),
            "vpcZoneIdentifiers": tuple(s.urn for s in subnets),
        },
    )
    bucket = _r(
        "aws:s3/bucket:Bucket",
        "media",
        inputs={"bucket": BUCKET, "tags": {"storage-class": "STANDARD"}},
    )
    replication = _r(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "media-replication",
        parent=bucket.urn,
        inputs={"rules": [{"id": "to-us-east-1", "status": "Enabled"}]},
    )
    return ResourceGraph(
        STACK,
        "fleet",
        (
            _r("pulumi:pulumi:Stack", "fleet-prod", custom=False),
            edge_pool,
            _r("aws:ec2/vpc:Vpc", "vpc"),
            *subnets,
            edge_lt,
            *edges,
            tc_lt,
            transcode,
            bucket,
            replication,
            _r("aws:sqs/queue:Queue", "jobs"),
            _r("aws:ec2/natGateway:NatGateway", "nat"),
        ),
    )


USAGE = {
    BUCKET: BucketUsage(
        stored_gb={"STANDARD": 1000, "STANDARD_IA": 4000},  # type: ignore[dict-item]
        put_requests_per_month=2_000_000,
        get_requests_per_month=10_000_000,
        replicated_gb_per_month=500,
    )
}

# Worked out by hand from fleetctl/data/prices.yaml (eu-west-1: compute factor 1.073,
# EBS gp3 0.088/GB-month, S3 STANDARD 0.023, STANDARD_IA 0.0125, PUT 0.005/1k,
# GET 0.0004/1k, inter-region 0.02/GB; public IPv4 0.005/h; 730 h/month):
EDGE_HOUR = round(0.4536 * 1.073, 6)  # c6in.2xlarge: 0.486713 $/h
EDGE_NODE = EDGE_HOUR * 730  # 355.30049 $/month
EDGE_EBS = 1800 * 0.088  # 158.40 per node
IPV4 = 0.005 * 730  # 3.65 per address
EDGE = 6 * (EDGE_NODE + EDGE_EBS + IPV4)  # 2 zones x 3 nodes = 3,104.10294
TRANSCODE_NODE = 0.68 * 1.073 * 730  # c6i.4xlarge: 532.6372
TRANSCODE = 2 * (TRANSCODE_NODE + IPV4)  # min size 2: 1,072.5744
TRANSCODE_MAX = 10 * (TRANSCODE_NODE + IPV4)  # max size 10: 5,362.872
ORIGIN = 1000 * 0.023 + 4000 * 0.0125 + 2000 * 0.005 + 10_000 * 0.0004 + 500 * 1 * 0.02  # 97.00


def test_a_known_stack_costs_what_the_hand_calculation_says() -> None:
    c = cost.stack_cost(graph(), "eu-west-1", load_prices(), USAGE)
    assert pytest.approx(3104.10294) == EDGE
    assert c.monthly == pytest.approx(EDGE + TRANSCODE + ORIGIN)
    assert round(c.monthly, 2) == 4273.68
    assert c.monthly_max == pytest.approx(EDGE + TRANSCODE_MAX + ORIGIN)
    assert c.by_role() == pytest.approx(
        {"origin": ORIGIN, "edge": EDGE, "transcode": TRANSCODE, "network": 0.0}
    )
    lines = {(line.resource, line.item): line for line in c.lines}
    node = lines[("edge-a", "c6in.2xlarge on-demand")]
    assert (node.quantity, node.unit, node.monthly) == (3, "instance-month", 3 * EDGE_NODE)
    assert lines[("edge-b", "EBS gp3")].quantity == 3 * 1800
    workers = lines[("transcode-workers", "c6i.4xlarge on-demand")]
    assert (workers.quantity, workers.quantity_max) == (2, 10)
    assert lines[("media", "replication to 1 region(s)")].monthly == pytest.approx(10.0)
    # Nothing is silently zero: the NAT gateway has no rule and says so.
    assert c.unpriced == ("aws:ec2/natGateway:NatGateway nat",)
    assert c.free["aws:sqs/queue:Queue"] == 1 and "aws:ec2/vpc:Vpc" in c.free


def test_a_bucket_without_usage_is_noted_not_priced() -> None:
    c = cost.stack_cost(graph(), "eu-west-1", load_prices(), {})
    assert c.by_role()["origin"] == 0
    assert any(BUCKET in n and "no usage estimate" in n for n in c.notes)


def test_doubling_the_edge_pool_adds_exactly_the_edge_cost() -> None:
    table = load_prices()
    before = cost.stack_cost(graph(3), "eu-west-1", table, USAGE)
    after = cost.stack_cost(graph(6), "eu-west-1", table, USAGE)
    d = cost.cost_delta(before, after)
    assert d.delta == pytest.approx(EDGE)
    assert d.by_role["edge"] == pytest.approx((EDGE, 2 * EDGE))
    assert d.by_role["transcode"][0] == d.by_role["transcode"][1]
    # Only the edge lines changed: 2 groups x (instances, EBS, IPv4).
    assert {(x.resource, x.item) for x in d.lines} == {
        (g, i)
        for g in ("edge-a", "edge-b")
        for i in ("c6in.2xlarge on-demand", "EBS gp3", "public IPv4")
    }
    node = next(x for x in d.lines if x.resource == "edge-a" and x.unit == "instance-month")
    assert (node.quantity_before, node.quantity_after) == (3, 6)
    # A new stack costs 0 before; a removed one 0 after.
    assert cost.cost_delta(None, after).before == 0 and cost.cost_delta(before, None).after == 0


def test_a_missing_price_names_what_to_add() -> None:
    with pytest.raises(PriceMissing, match=r"c9x\.2xlarge"):
        cost.stack_cost(graph(edge_type="c9x.2xlarge"), "eu-west-1", load_prices(), USAGE)


def test_usage_estimates_are_validated() -> None:
    ok = Bucket(name="media", usage={"stored_gb": 10, "get_requests_per_month": 5})  # type: ignore[arg-type]
    assert ok.usage is not None and ok.usage.stored_by_class(ok.storage_class) == {"STANDARD": 10}
    for bad in ({"stored_gb": -1}, {"stored": 10}, {"stored_gb": {"HOT": 1}}):
        with pytest.raises(ValidationError):
            Bucket(name="media", usage=bad)  # type: ignore[arg-type]


def test_usd() -> None:
    assert cost.usd(3311.284) == "$3,311.28"
    assert cost.usd(3311.284, sign=True) == "+$3,311.28"
    assert cost.usd(-0.5, sign=True) == "-$0.50"
    assert cost.usd(-0.001, sign=True) == "+$0.00"


def _result() -> PreviewReport:
    table = load_prices()
    before = cost.stack_cost(graph(3), "eu-west-1", table, USAGE)
    after = cost.stack_cost(graph(6), "eu-west-1", table, USAGE)
    result = PreviewResult(
        (
            StackPreview(STACK, StackStatus.changed, resources=12),
            StackPreview("prod-us-east-1", StackStatus.skipped),
            StackPreview("prod-sa-east-1", StackStatus.unchanged),
        ),
        base="origin/main",
    )
    costs = {
        STACK: cost.cost_delta(before, after),
        "prod-us-east-1": cost.unchanged(before),
        "prod-sa-east-1": cost.CostDelta(error="no price for x"),
    }
    return PreviewReport(result, costs, prices=cost.prices_used(table))


def test_preview_json_carries_cost_per_stack_and_in_total() -> None:
    data = json.loads(render_json(_result()))
    jsonschema.validate(data, SCHEMA)
    stack = data["stacks"][0]["cost"]
    assert stack["delta"] == round(EDGE, 2) == 3104.1
    assert stack["by_role"]["edge"]["delta"] == 3104.1
    assert data["stacks"][1]["cost"]["delta"] == 0
    assert data["stacks"][2]["cost"]["error"] == "no price for x"
    total = data["cost"]
    assert total["delta"] == 3104.1 and total["unknown"] == ["prod-sa-east-1"]
    assert total["complete"] is False
    assert total["prices"]["as_of"] == load_prices().as_of


def test_markdown_shows_the_total_delta_at_the_top() -> None:
    text = render_markdown(_result())
    # one stack's cost is unknown, so the change's cost is: say that first
    top = text.index(
        "**Monthly cost:** unknown (1 stack(s) not priced: no price for x) · +$3,104.10 "
        "(+36.3%) for the 2 estimated stack(s) ($8,547.35 → $11,651.46)"
    )
    assert top < text.index("| stack | status |")
    assert "Monthly cost by stack" in text
    assert "edge-a: c6in.2xlarge on-demand 3 → 6 instance-month" in text
    assert "unknown for prod-sa-east-1" in text
    assert "| 1 other stack(s) | $4,273.68 | $4,273.68 | +$0.00 | no change |" in text


def test_table_has_the_cost_section() -> None:
    buf = io.StringIO()
    render_table(_result(), Console(file=buf, width=200, no_color=True))
    out = buf.getvalue()
    assert "monthly cost (USD" in out and "+$3,104.10" in out
    assert "no price for x" in out


def test_headline_when_everything_is_known() -> None:
    table = load_prices()
    c = cost.stack_cost(graph(3), "eu-west-1", table, USAGE)
    result = PreviewReport(
        PreviewResult((StackPreview(STACK, StackStatus.unchanged),)),
        {STACK: cost.unchanged(c)},
        prices=cost.prices_used(table),
    )
    line = cost_render.headline(result)
    assert line is not None
    assert line.startswith("💰 **Monthly cost:** +$0.00 (+0.0%) → $4,273.68")


def test_headline_says_unknown_when_the_changed_stacks_cost_is_unknown() -> None:
    """A changed stack whose family has no price: not "+$0.00" from the others."""
    table = load_prices()
    c = cost.stack_cost(graph(3), "eu-west-1", table, USAGE)
    result = PreviewReport(
        PreviewResult(
            (
                StackPreview(STACK, StackStatus.changed),
                StackPreview("prod-us-east-1", StackStatus.unchanged),
            )
        ),
        {STACK: cost.CostDelta(error="no price for c6a.2x"), "prod-us-east-1": cost.unchanged(c)},
        prices=cost.prices_used(table),
    )
    line = cost_render.headline(result)
    assert line is not None and "+$0.00" not in line.partition(" · ")[0]
    assert line.startswith("💰 **Monthly cost:** unknown (1 stack(s) not priced: no price for c6a")
