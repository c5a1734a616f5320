"""Cost through the real fleet program: a preview that doubles an edge pool shows
the hand-computed delta in its JSON; a missing price leaves the changes intact;
`fleetctl cost` and `fleetctl cost prices` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from gitrepo import git
from typer.testing import CliRunner

from fleetctl.cli.main import app
from fleetctl.cli.preview_render import render_markdown
from fleetctl.core.preview_model import StackStatus
from fleetctl.core.preview_report import preview_to_json
from fleetctl.services.preview import PreviewOptions, run_preview
from fleetctl.services.workspace import Workspace
from fleetctl.spec.prices import DEFAULT_PRICES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "preview-schema.json").read_text())
STACK = "staging-us-east-2"  # us-east-2: compute factor 1.0; edge c6in.2xlarge, 2 zones

# One more edge node in us-east-2, worked out by hand from fleetctl/data/prices.yaml:
NODE = 0.4536 * 730  # c6in.2xlarge on-demand: 331.128 $/month
CACHE = 1800 * 0.08  # its 1,800 GB gp3 cache volume: 144.00
IPV4 = 0.005 * 730  # its public IPv4 address: 3.65
DOUBLED = 2 * (NODE + CACHE + IPV4)  # nodes_per_zone 1 -> 2 in 2 zones: 957.556


def test_doubling_an_edge_pool_shows_the_right_delta(project_copy: Path, tmp_path: Path) -> None:
    (project_copy / ".gitignore").write_text(".fleetctl/\n")
    git(project_copy, "init", "-q", "-b", "main")
    git(project_copy, "add", "-A")
    git(project_copy, "commit", "-qm", "base")
    ws = Workspace(project_copy)
    cfg = project_copy / "stacks" / f"Pulumi.{STACK}.yaml"
    text = cfg.read_text()
    assert "nodes_per_zone: 1\n" in text
    cfg.write_text(text.replace("nodes_per_zone: 1\n", "nodes_per_zone: 2\n"))

    run = run_preview(ws, PreviewOptions(stacks=(STACK,), base="HEAD", jobs=2))
    data = preview_to_json(run.report)
    jsonschema.validate(data, SCHEMA)
    stack = data["stacks"][0]
    assert stack["status"] == "changed"
    c = stack["cost"]
    assert c["error"] is None
    assert pytest.approx(957.556) == DOUBLED
    assert c["delta"] == round(DOUBLED, 2) == 957.56
    assert c["after"] == pytest.approx(c["before"] + DOUBLED, abs=0.01)
    assert c["by_role"]["edge"]["delta"] == 957.56
    assert c["by_role"]["transcode"]["delta"] == 0 and c["by_role"]["origin"]["delta"] == 0
    items = {(x["resource"][-10:], x["item"]): x for x in c["changes"]}
    assert set(items) == {
        (z, i)
        for z in ("us-east-2a", "us-east-2b")
        for i in ("c6in.2xlarge on-demand", "EBS gp3", "public IPv4")
    }
    node = items[("us-east-2a", "c6in.2xlarge on-demand")]
    assert (node["quantity_before"], node["quantity_after"]) == (1, 2)
    assert data["cost"]["delta"] == 957.56 and data["cost"]["complete"] is True

    # Only a usage estimate changes: no resource changes, and the base side is priced
    # with the base's estimate (read from git), so the delta is that estimate's cost.
    assert "STANDARD: 2000," in text
    cfg.write_text(text.replace("STANDARD: 2000,", "STANDARD: 4000,"))
    run = run_preview(ws, PreviewOptions(stacks=(STACK,), base="HEAD", jobs=2))
    (s,) = run.result.stacks
    cost = run.report.cost_of(s.stack)
    assert s.status is StackStatus.unchanged and cost is not None
    assert cost.delta == pytest.approx(2000 * 0.023)  # 2,000 GB more S3 STANDARD in us-east-2
    assert [(d.item, d.quantity_before, d.quantity_after) for d in cost.lines] == [
        ("S3 STANDARD storage", 2000, 4000)
    ]
    cfg.write_text(text.replace("nodes_per_zone: 1\n", "nodes_per_zone: 2\n"))

    # A table without the edge type: the changes still show, the cost is unknown and says why.
    pruned = tmp_path / "prices.yaml"
    pruned.write_text(DEFAULT_PRICES.read_text().replace("  c6in.2xlarge: 0.4536\n", ""))
    run = run_preview(ws, PreviewOptions(stacks=(STACK,), base="HEAD", jobs=2, prices=pruned))
    assert run.ran == []  # both sides from the cache: cost needs no program run
    (s,) = run.result.stacks
    cost = run.report.cost_of(s.stack)
    assert s.status is StackStatus.changed and s.changes
    assert cost is not None and cost.error is not None and "c6in.2xlarge" in cost.error
    total = run.report.cost_total()
    assert total is not None and total.unknown == (STACK,)
    # Named from the repo root, never by the runner's absolute path: it lands in a PR comment.
    assert "no price for instance type 'c6in.2xlarge' in prices.yaml" in cost.error
    md = render_markdown(run.report)
    assert "**Monthly cost:** unknown" in md
    assert "no price for instance type 'c6in.2xlarge' in prices.yaml" in md
    assert str(tmp_path) not in md and str(DEFAULT_PRICES.parent) not in md
    broken = tmp_path / "broken-prices.yaml"
    broken.write_text("source: s\nas_of: '2026'\ninstances: {c6i.large: -1}\n")
    run = run_preview(ws, PreviewOptions(stacks=(STACK,), base="HEAD", jobs=2, prices=broken))
    md = render_markdown(run.report)
    assert "broken-prices.yaml:3" in md and str(tmp_path) not in md


def test_cost_cli_json_and_prices(project_copy: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["--root", str(project_copy), "cost", "--stack", STACK, "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    (stack,) = data["stacks"]
    assert stack["region"] == "us-east-2"
    edge = [x for x in stack["lines"] if x["role"] == "edge"]
    assert sum(x["monthly"] for x in edge) == pytest.approx(2 * (NODE + CACHE + IPV4), abs=0.02)
    transcode = [x for x in stack["lines"] if x["role"] == "transcode"]
    node = next(x for x in transcode if x["unit"] == "instance-month")
    assert (node["quantity"], node["quantity_max"]) == (1, 4)  # min 1, max 4
    assert node["monthly"] == round(0.68 * 730, 2)  # c6i.4xlarge
    assert data["monthly"] == stack["monthly"]
    assert data["by_role"]["edge"]["monthly"] == stack["by_role"]["edge"]
    assert data["prices"]["as_of"]

    res = runner.invoke(
        app, ["--root", str(project_copy), "cost", "--stack", STACK, "--by", "role", "--detail"]
    )
    assert res.exit_code == 0, res.output
    assert "transcode" in res.stdout and "c6in.2xlarge on-demand" in res.stdout
    assert "Not included: internet egress" in res.stdout

    res = runner.invoke(app, ["cost", "prices", "--region", "sa-east-1", "--format", "json"])
    assert res.exit_code == 0, res.output
    prices = json.loads(res.stdout)
    assert prices["source"] and prices["as_of"]
    assert prices["instances_per_hour"]["c6i.4xlarge"] == pytest.approx(0.68 * 1.572)
    assert prices["s3_gb_month"]["STANDARD"] == 0.0405

    res = runner.invoke(app, ["cost", "prices", "--region", "mars-1"])
    assert res.exit_code == 2 and "mars-1" in res.stderr


def test_the_parsed_price_table_is_cached_by_content(tmp_path: Path) -> None:
    from fleetctl.services import cost as svc

    cache_dir = tmp_path / "cache"
    table = tmp_path / "prices.yaml"
    table.write_text(DEFAULT_PRICES.read_text())
    load = svc._load.__wrapped__  # without the per-process memo
    first = load(table, cache_dir)
    (cached,) = cache_dir.glob("*.json")
    assert load(table, cache_dir) == first  # from the JSON
    cached.write_text(cached.read_text().replace('"c6i.large":0.085', '"c6i.large":0.5'))
    assert load(table, cache_dir).instances["c6i.large"] == 0.5  # proof it came from the cache
    table.write_text(table.read_text().replace("c6i.large: 0.085", "c6i.large: 0.09"))
    assert load(table, cache_dir).instances["c6i.large"] == 0.09  # a changed file is re-read


def test_fleet_cost_prices_each_stack_once(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fleetctl cost` reads the head estimates the preview made: no second pricing."""
    from fleetctl.core import cost as model
    from fleetctl.services.fleet_cost import fleet_cost

    priced: list[str] = []
    real = model.stack_cost

    def counting(graph, *args, **kwargs):  # type: ignore[no-untyped-def]
        priced.append(graph.stack)
        return real(graph, *args, **kwargs)

    monkeypatch.setattr(model, "stack_cost", counting)
    fc = fleet_cost(Workspace(project_copy), stacks=(STACK,))
    assert [s.stack for s in fc.stacks] == [STACK]
    assert priced == [STACK]
