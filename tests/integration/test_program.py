"""The Pulumi program, run for real under the SDK's mock runtime.

Each stack runs in its own process (the SDK keeps module state), so a broken
program or component fails here, not in a user's preview.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def run_program(root: Path, stack: str) -> list[dict[str, Any]]:
    """The stack's resource graph from the real program under the mock runtime
    (the offline preview engine: one fresh process per stack)."""
    from fleetctl.services.preview import PreviewOptions, run_preview
    from fleetctl.services.workspace import Workspace

    run = run_preview(Workspace(root), PreviewOptions(stacks=(stack,), use_cache=False, jobs=1))
    graph = run.head_graphs.get(stack)
    assert graph is not None, run.result
    by_urn = graph.by_urn()
    return [
        {
            "type": r.type,
            "name": r.name,
            "inputs": dict(r.inputs),
            "parent_type": by_urn[r.parent].type if r.parent in by_urn else None,
        }
        for r in graph.resources
    ]


@pytest.fixture(scope="module")
def repo_root_module() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def us_east(
    repo_root_module: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    return run_program(repo_root_module, "prod-us-east-1")


def of_type(resources: list[dict[str, Any]], typ: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["type"] == typ]


def test_resource_graph_counts(us_east: list[dict[str, Any]]) -> None:
    counts = Counter(r["type"] for r in us_east)
    # 3 zones, 2 buckets (one replicated), 12 edge nodes per zone in 3 groups
    assert counts["fleet:index:RegionNetwork"] == 1
    assert counts["fleet:index:OriginStorage"] == 1
    assert counts["fleet:index:EdgePool"] == 1
    assert counts["fleet:index:TranscodeCluster"] == 1
    assert counts["aws:ec2/subnet:Subnet"] == 3
    assert counts["aws:s3/bucket:Bucket"] == 2
    assert counts["aws:s3/bucketReplicationConfig:BucketReplicationConfig"] == 1
    assert counts["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"] == 2
    assert counts["aws:autoscaling/group:Group"] == 4  # 3 edge zones + transcode
    assert counts["aws:sqs/queue:Queue"] == 2  # jobs + dead letters
    # no deprecated V2 resources
    assert not [t for t in counts if "V2" in t.split(":")[-1]]


def test_key_properties_follow_the_spec(us_east: list[dict[str, Any]]) -> None:
    buckets = {r["inputs"]["bucket"]: r for r in of_type(us_east, "aws:s3/bucket:Bucket")}
    assert set(buckets) == {
        "fleet-prod-us-east-1-media-origin",
        "fleet-prod-us-east-1-transcode-scratch",
    }
    assert buckets["fleet-prod-us-east-1-media-origin"]["inputs"]["tags"]["env"] == "prod"
    versioning = {
        r["name"]: r["inputs"]["versioningConfiguration"]["status"]
        for r in of_type(us_east, "aws:s3/bucketVersioning:BucketVersioning")
    }
    assert versioning == {
        "fleet-prod-us-east-1-origin-media-origin-versioning": "Enabled",
        "fleet-prod-us-east-1-origin-transcode-scratch-versioning": "Suspended",
    }
    (replication,) = of_type(us_east, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    (rule,) = replication["inputs"]["rules"]
    assert rule["destination"]["bucket"] == "arn:aws:s3:::fleet-prod-eu-west-1-media-origin"

    edge_groups = [
        g for g in of_type(us_east, "aws:autoscaling/group:Group") if "-edge-" in g["name"]
    ]
    assert {g["inputs"]["desiredCapacity"] for g in edge_groups} == {12}
    tags = {t["key"]: t["value"] for t in edge_groups[0]["inputs"]["tags"]}
    assert tags["role"] == "edge" and tags["pop"] == "iad" and tags["region"] == "us-east-1"
    (workers,) = [
        g for g in of_type(us_east, "aws:autoscaling/group:Group") if "-edge-" not in g["name"]
    ]
    assert (workers["inputs"]["minSize"], workers["inputs"]["maxSize"]) == (8, 80)
    (policy,) = of_type(us_east, "aws:autoscaling/policy:Policy")
    assert policy["inputs"]["targetTrackingConfiguration"]["targetValue"] == 60


def test_children_are_parented_to_their_component(us_east: list[dict[str, Any]]) -> None:
    parent_type = {r["name"]: r.get("parent_type") for r in us_east}
    for r in us_east:
        if r["type"] == "pulumi:pulumi:Stack":
            continue
        if r["type"].startswith("fleet:index:"):
            assert r["parent_type"] in (None, "pulumi:pulumi:Stack"), r["name"]
        else:
            assert r["parent_type"] is not None, r["name"]
            assert r["parent_type"] != "pulumi:pulumi:Stack", r["name"]
    assert parent_type["fleet-prod-us-east-1-vpc"] == "fleet:index:RegionNetwork"
    assert parent_type["fleet-prod-us-east-1-edge-template"] == "fleet:index:EdgePool"


def test_region_without_transcode_has_no_cluster(tmp_path: Path, repo_root_module: Path) -> None:
    import shutil

    shutil.copytree(repo_root_module / "stacks", tmp_path / "stacks")
    path = tmp_path / "stacks" / "Pulumi.prod-ap-south-1.yaml"
    text = path.read_text()
    start = text.index("    transcode:")
    end = text.index("    tags:")
    path.write_text(text[:start] + text[end:])
    resources = run_program(tmp_path, "prod-ap-south-1")
    types = {r["type"] for r in resources}
    assert "fleet:index:TranscodeCluster" not in types
    assert "aws:sqs/queue:Queue" not in types
    assert "fleet:index:EdgePool" in types
