"""The EC2-sourced Ansible inventory against instances created in moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from aws_fixture import MotoServer
from aws_world import AMI, build_stack

from fleetctl.services import inventory_aws
from fleetctl.services.inventory import ansible_inventory
from fleetctl.services.workspace import Workspace
from fleetctl.spec import load_fleet, naming

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def run_tagged(region: str, count: int, tags: dict[str, str], zone: str) -> list[str]:
    ec2 = boto3.client("ec2", region_name=region)
    out = ec2.run_instances(
        ImageId=AMI,
        InstanceType="c6in.2xlarge",
        MinCount=count,
        MaxCount=count,
        Placement={"AvailabilityZone": zone},
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    return [i["InstanceId"] for i in out["Instances"]]


def test_instances_of_the_env_by_tag_across_pages(aws: MotoServer) -> None:
    fleet = load_fleet(REPO / "stacks")
    stack = fleet.stack("prod-eu-west-1")
    edge_tags = naming.tags(stack, naming.EDGE)
    # 120 edge nodes in 30 launches (EC2 pages by reservation), read 5 reservations
    # per page: nothing may be cut off at the first page
    edges = [i for _ in range(30) for i in run_tagged("eu-west-1", 4, edge_tags, "eu-west-1a")]
    tc = run_tagged("eu-west-1", 2, naming.tags(stack, naming.TRANSCODE), "eu-west-1b")
    east = fleet.stack("prod-us-east-1")
    east_ids = run_tagged("us-east-1", 3, naming.tags(east, naming.EDGE), "us-east-1c")
    # not ours: another env, no role tag, a stopped node
    run_tagged("eu-west-1", 1, {**edge_tags, "env": "staging"}, "eu-west-1a")
    run_tagged("eu-west-1", 1, {"env": "prod", "region": "eu-west-1"}, "eu-west-1a")
    stopped = run_tagged("eu-west-1", 1, edge_tags, "eu-west-1a")
    boto3.client("ec2", region_name="eu-west-1").stop_instances(InstanceIds=stopped)

    ws = Workspace(REPO)
    pages = boto3.client("ec2", region_name="eu-west-1").get_paginator("describe_instances")
    assert len(list(pages.paginate(PaginationConfig={"PageSize": 5}))) > 5  # really paged
    hosts = inventory_aws.hosts_from_aws(ws, "prod", page_size=5)
    assert sorted(h.name for h in hosts) == sorted(edges + tc + east_ids)
    inv = ansible_inventory(hosts)
    assert sorted(inv["edge"]["hosts"]) == sorted(edges + east_ids)
    assert sorted(inv["transcode"]["hosts"]) == sorted(tc)
    assert sorted(inv["eu_west_1"]["hosts"]) == sorted(edges + tc)
    assert sorted(inv["prod"]["hosts"]) == sorted(edges + tc + east_ids)
    hv = inv["_meta"]["hostvars"][edges[0]]
    assert hv["fleet_role"] == "edge" and hv["fleet_env"] == "prod"
    assert hv["region"] == "eu-west-1" and hv["stack"] == "prod-eu-west-1"
    assert hv["instance_type"] == "c6in.2xlarge" and hv["ec2_instance_id"] == edges[0]
    assert hv["pop"] == stack.spec.edge.pop  # type: ignore[union-attr]
    assert hv["zone"] == "eu-west-1a"
    assert hv["traffic_weight"] == stack.traffic_weight
    assert hv["ansible_host"].count(".") == 3  # the private IP
    # a region or role filter narrows the reads
    only = inventory_aws.hosts_from_aws(ws, "prod", regions=["us-east-1"], role="edge")
    assert sorted(h.name for h in only) == sorted(east_ids)


def test_instances_launched_by_groups_carry_the_tags(aws: MotoServer, tmp_path: Path) -> None:
    """The staging stack built as the program builds it: ASG instances land in the inventory."""
    stack = load_fleet(REPO / "stacks").stack("staging-us-east-2")
    build_stack(stack)
    inv = inventory_aws.inventory(Workspace(REPO), "staging")
    assert len(inv["edge"]["hosts"]) == stack.edge_nodes
    assert len(inv["transcode"]["hosts"]) == stack.spec.transcode.min_size  # type: ignore[union-attr]
    zones = sorted(inv["_meta"]["hostvars"][h]["zone"] for h in inv["edge"]["hosts"])
    assert zones == sorted(stack.edge_zones)


def test_ansible_inventory_accepts_the_output(aws: MotoServer, tmp_path: Path) -> None:
    stack = load_fleet(REPO / "stacks").stack("prod-eu-west-1")
    ids = run_tagged("eu-west-1", 2, naming.tags(stack, naming.EDGE), "eu-west-1b")
    script = REPO / "examples" / "inventories" / "prod-aws" / "aws-inventory"  # the documented one
    bin_dir = Path(sys.executable).parent
    out = subprocess.run(
        [str(bin_dir / "ansible-inventory"), "-i", str(script), "--list"],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"},
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert sorted(data["edge"]["hosts"]) == sorted(ids)
    assert data["_meta"]["hostvars"][ids[0]]["pop"] == stack.spec.edge.pop  # type: ignore[union-attr]
    host = subprocess.run(
        [str(script), "--host", ids[1]], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(host.stdout)["zone"] == "eu-west-1b"


def test_unknown_env_and_role_are_bad_input(aws: MotoServer) -> None:
    from fleetctl.errors import BadInput

    with pytest.raises(BadInput, match="unknown env"):
        inventory_aws.hosts_from_aws(Workspace(REPO), "qa")
    with pytest.raises(BadInput, match="unknown role"):
        inventory_aws.hosts_from_aws(Workspace(REPO), "prod", role="origin")


def test_cli_source_aws(aws: MotoServer) -> None:
    from typer.testing import CliRunner

    from fleetctl.cli.main import app

    stack = load_fleet(REPO / "stacks").stack("prod-sa-east-1")
    ids = run_tagged("sa-east-1", 2, naming.tags(stack, naming.TRANSCODE), "sa-east-1a")
    runner = CliRunner()
    base = ["--root", str(REPO), "inventory", "--source", "aws"]
    result = runner.invoke(app, [*base, "--env", "prod", "--list"])
    assert result.exit_code == 0, result.stderr
    assert sorted(json.loads(result.stdout)["transcode"]["hosts"]) == sorted(ids)
    result = runner.invoke(app, [*base, "--env", "prod", "--region", "sa-east-1"])
    assert result.exit_code == 0
    assert ids[0] in result.stdout and "2 hosts" in result.stderr
    result = runner.invoke(app, [*base, "--list"])
    assert result.exit_code == 2 and "--source aws needs --env" in result.stderr


AWS_EC2_CONFIG = REPO / "examples" / "inventories" / "prod-aws" / "aws_ec2.yml"


def test_ansibles_aws_ec2_plugin_with_the_shipped_config_matches_fleetctl(
    aws: MotoServer,
) -> None:
    """The real amazon.aws.aws_ec2 plugin, given the documented config, sees what we see."""
    fleet = load_fleet(REPO / "stacks")
    west, east = fleet.stack("prod-eu-west-1"), fleet.stack("prod-us-east-1")
    run_tagged("eu-west-1", 3, naming.tags(west, naming.EDGE), "eu-west-1a")
    run_tagged("eu-west-1", 2, naming.tags(west, naming.TRANSCODE), "eu-west-1b")
    run_tagged("us-east-1", 2, naming.tags(east, naming.EDGE), "us-east-1c")
    # not ours: another env, no role tag, a stopped node
    run_tagged("eu-west-1", 1, {**naming.tags(west, naming.EDGE), "env": "staging"}, "eu-west-1a")
    run_tagged("eu-west-1", 1, {"env": "prod", "region": "eu-west-1"}, "eu-west-1a")
    stopped = run_tagged("eu-west-1", 1, naming.tags(west, naming.EDGE), "eu-west-1a")
    boto3.client("ec2", region_name="eu-west-1").stop_instances(InstanceIds=stopped)

    ours = inventory_aws.inventory(Workspace(REPO), "prod")
    inventory_cli = str(Path(sys.executable).parent / "ansible-inventory")
    out = subprocess.run(
        [inventory_cli, "-i", str(AWS_EC2_CONFIG), "--list"],
        capture_output=True,
        text=True,
        # an unparsable config must fail, not print an empty inventory with rc 0
        env={**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"},
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    theirs = json.loads(out.stdout)
    groups = sorted(g for g in ours if g not in ("_meta", "all", "ungrouped"))
    assert groups == ["edge", "eu_west_1", "prod", "transcode", "us_east_1"]
    for g in groups:
        assert sorted(theirs[g]["hosts"]) == ours[g]["hosts"], g
    hosts = set(ours["_meta"]["hostvars"])
    assert len(hosts) == 7 and hosts == set(theirs["_meta"]["hostvars"])
    for host, want in ours["_meta"]["hostvars"].items():
        got = theirs["_meta"]["hostvars"][host]
        assert {k: _plain(got.get(k)) for k in want} == want, host


def _plain(value: object) -> object:
    """ansible-inventory 2.19 prints values from the plugin as {"__ansible_unsafe": v}."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value
