"""Naming rules shared by the Pulumi program, drift and the EC2 inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.spec import load_fleet, naming

pytestmark = pytest.mark.unit


def test_physical_names() -> None:
    assert naming.bucket_name("prod", "us-east-1", "media-origin") == (
        "fleet-prod-us-east-1-media-origin"
    )
    assert naming.edge_asg_name("prod", "us-east-1", "us-east-1a") == (
        "fleet-prod-us-east-1-edge-us-east-1a"
    )
    assert naming.transcode_asg_name("prod", "eu-west-1") == "fleet-prod-eu-west-1-transcode"
    assert naming.launch_template_name("staging", "us-east-2", "edge") == (
        "fleet-staging-us-east-2-edge"
    )
    assert naming.queue_name("prod", "us-east-1") == "fleet-prod-us-east-1-transcode-jobs"
    with pytest.raises(ValueError, match="unknown role"):
        naming.launch_template_name("prod", "us-east-1", "origin")


def test_tags_owned_keys_win_over_spec_tags(repo_root: Path) -> None:
    stack = load_fleet(repo_root / "stacks").stack("prod-us-east-1")
    t = naming.tags(stack, "edge")
    assert t["env"] == "prod"
    assert t["region"] == "us-east-1"
    assert t["role"] == "edge"
    assert t["pop"] == "iad"
    assert t["fleet:stack"] == "prod-us-east-1"
    assert t["cost-center"] == "cdn-prod"  # from the spec
    assert "role" not in naming.tags(stack)


def test_every_sample_bucket_name_is_a_valid_s3_name(repo_root: Path) -> None:
    for stack in load_fleet(repo_root / "stacks").stacks:
        for b in stack.spec.storage.buckets:
            name = naming.bucket_name(stack.env, stack.region, b.name)
            assert 3 <= len(name) <= 63 and name == name.lower()
