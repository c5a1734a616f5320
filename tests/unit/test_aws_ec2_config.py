"""The shipped aws_ec2 inventory config is the one docs/aws.md shows, and it
repeats the prod stacks' regions and traffic weights exactly."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from fleetctl.spec import load_fleet

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "inventories" / "prod-aws" / "aws_ec2.yml"


def test_docs_show_the_shipped_file_whole() -> None:
    docs = (REPO / "docs" / "aws.md").read_text()
    assert f"```yaml\n{CONFIG.read_text()}```" in docs
    for cited in (
        "examples/inventories/prod-aws/aws_ec2.yml",
        "examples/inventories/prod-aws/aws-inventory",
    ):
        assert cited in docs and (REPO / cited).is_file()


def test_regions_and_traffic_weights_are_the_prod_stacks() -> None:
    cfg = YAML(typ="safe").load(CONFIG.read_text())
    prod = load_fleet(REPO / "stacks").select("prod")
    assert sorted(cfg["regions"]) == sorted(s.region for s in prod)
    expr = cfg["compose"]["traffic_weight"]
    literal, sep, rest = expr.partition("}[")
    assert sep and rest == "tags['region']]", expr
    assert ast.literal_eval(literal + "}") == {s.region: s.traffic_weight for s in prod}
