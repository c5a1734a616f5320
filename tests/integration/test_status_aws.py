"""`status --source aws`: the env's running instances, probed by their addresses."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_fixture import MotoServer
from aws_world import AMI

from fleetctl.core import fleet_status as fs
from fleetctl.services import status as svc
from fleetctl.services.workspace import Workspace
from fleetctl.spec import load_fleet, naming

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_status_source_aws_probes_instance_addresses(
    aws: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = load_fleet(REPO / "stacks").stack("prod-eu-west-1")
    out = boto3.client("ec2", region_name="eu-west-1").run_instances(
        ImageId=AMI,
        InstanceType="c6in.2xlarge",
        MinCount=2,
        MaxCount=2,
        Placement={"AvailabilityZone": "eu-west-1a"},
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": k, "Value": v} for k, v in naming.tags(stack, naming.EDGE).items()
                ],
            }
        ],
    )
    ips = sorted(i["PrivateIpAddress"] for i in out["Instances"])
    source = svc.StatusSource(
        Workspace(REPO), "prod", state_url=str(tmp_path / "s.db"), source="aws", timeout_s=0.2
    )
    assert sorted(t.address for t in source.targets()) == ips

    # probe, but let nothing leave this process (the addresses are moto's, not ours)
    tried: list[str] = []

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        tried.append(str(address[0]))
        raise ConnectionRefusedError("not in this test")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    snap = source.snapshot()
    assert set(tried) == set(ips)
    hosts = [h for r in snap.regions for h in r.hosts]
    assert {h.health for h in hosts} == {fs.UNREACHABLE}
    assert not any("only declared" in p.message for p in snap.problems)


def test_unknown_status_source_is_bad_input() -> None:
    from fleetctl.errors import BadInput

    with pytest.raises(BadInput, match="unknown status source"):
        svc.targets(Workspace(REPO), "prod", source="gcp")
