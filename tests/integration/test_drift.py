"""`fleetctl drift` against moto server: build what the spec says, then break it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from aws_fixture import MotoServer, free_port, start_moto
from aws_world import build_stack
from typer.testing import CliRunner

from fleetctl.cli.main import app
from fleetctl.spec import load_fleet

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

QA_EAST = """\
config:
  aws:region: us-east-1
  fleet:spec:
    zones: [us-east-1a, us-east-1b]
    network: {cidr: 10.70.0.0/16}
    storage:
      buckets:
        - name: media-origin
          versioning: true
          lifecycle:
            transitions:
              - {days: 30, storage_class: STANDARD_IA}
              - {days: 180, storage_class: GLACIER_IR}
            noncurrent_expiration_days: 30
          replication_targets: [eu-west-1]
        - name: transcode-scratch
          storage_class: INTELLIGENT_TIERING
          versioning: false
          lifecycle: {expiration_days: 14}
    edge: {traffic_weight: 0.6, pop: iad, nodes_per_zone: 1}
    transcode: {min_size: 1, max_size: 3}
    tags: {cost-center: cdn-qa}
"""
QA_WEST = """\
config:
  aws:region: eu-west-1
  fleet:spec:
    zones: [eu-west-1a]
    network: {cidr: 10.71.0.0/16}
    storage:
      buckets:
        - name: media-origin
          versioning: true
    edge: {traffic_weight: 0.4, pop: dub, nodes_per_zone: 1}
    tags: {cost-center: cdn-qa}
"""


@pytest.fixture
def qa_project(tmp_path: Path) -> Path:
    """A project with a small two-region `qa` env (one replicating bucket, no transcode in eu)."""
    (tmp_path / "stacks").mkdir()
    shutil.copy(REPO / "stacks" / "Pulumi.yaml", tmp_path / "stacks" / "Pulumi.yaml")
    (tmp_path / "stacks" / "Pulumi.qa-us-east-1.yaml").write_text(QA_EAST)
    (tmp_path / "stacks" / "Pulumi.qa-eu-west-1.yaml").write_text(QA_WEST)
    return tmp_path


@pytest.fixture
def built(aws: MotoServer, qa_project: Path) -> Path:
    for stack in load_fleet(qa_project / "stacks").select("qa"):
        build_stack(stack)
    return qa_project


def drift(root: Path, *args: str) -> tuple[int, dict | None, str]:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, ["--root", str(root), "drift", *args])
    data = json.loads(result.stdout) if "json" in args and result.stdout.strip() else None
    return result.exit_code, data, result.stdout + result.stderr


def test_matching_resources_mean_no_drift(built: Path) -> None:
    code, data, _ = drift(built, "--env", "qa", "--format", "json")
    assert code == 0, data
    assert data is not None
    assert data["drift"] is False and data["items"] == []
    # 3 buckets, 3 launch templates... every kind was looked at
    assert data["checked"] == 3 + 3 + 4 + 2
    assert data["stacks"] == ["qa-eu-west-1", "qa-us-east-1"]
    code, _, text = drift(built, "--stack", "qa-us-east-1")
    assert code == 0
    assert "no drift in qa-us-east-1" in text


def test_changes_show_exactly_as_missing_extra_changed(built: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_versioning(
        Bucket="fleet-qa-us-east-1-media-origin", VersioningConfiguration={"Status": "Suspended"}
    )
    boto3.client("s3", region_name="eu-west-1").delete_bucket(
        Bucket="fleet-qa-eu-west-1-media-origin"
    )
    s3.create_bucket(Bucket="fleet-qa-us-east-1-leftovers")
    boto3.client("autoscaling", region_name="us-east-1").update_auto_scaling_group(
        AutoScalingGroupName="fleet-qa-us-east-1-edge-us-east-1a", MaxSize=3, DesiredCapacity=3
    )
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.create_launch_template_version(
        LaunchTemplateName="fleet-qa-us-east-1-transcode",
        SourceVersion="$Latest",
        LaunchTemplateData={"InstanceType": "c6i.8xlarge"},
    )

    code, data, _ = drift(built, "--env", "qa", "--format", "json")
    assert code == 2
    assert data is not None and data["drift"] is True
    got = {
        (i["status"], i["name"]): {c["key"]: (c["expected"], c["actual"]) for c in i["changes"]}
        for i in data["items"]
    }
    assert got == {
        ("changed", "fleet-qa-us-east-1-media-origin"): {"versioning": (True, False)},
        ("missing", "fleet-qa-eu-west-1-media-origin"): {},
        ("extra", "fleet-qa-us-east-1-leftovers"): {},
        ("changed", "fleet-qa-us-east-1-edge-us-east-1a"): {
            "max": (1, 3),
            "desired": (1, 3),
            "instances_per_zone": ({"us-east-1a": 1}, {"us-east-1a": 3}),
        },
        ("changed", "fleet-qa-us-east-1-transcode"): {
            "instance_type": ("c6i.4xlarge", "c6i.8xlarge")
        },
    }
    assert data["summary"] == {"missing": 1, "extra": 1, "changed": 3}

    code, _, text = drift(built, "--env", "qa")
    assert code == 2
    assert "fleet-qa-eu-west-1-media-origin" in text and "missing" in text
    assert "1 missing, 1 extra, 3 changed" in text


def test_lifecycle_tags_replication_and_public_access(built: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    name = "fleet-qa-us-east-1-media-origin"
    s3.delete_bucket_replication(Bucket=name)
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "tiering",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Transitions": [{"Days": 60, "StorageClass": "STANDARD_IA"}],
                }
            ]
        },
    )
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]})
    code, data, _ = drift(built, "--stack", "qa-us-east-1", "--format", "json")
    assert code == 2 and data is not None
    [item] = data["items"]
    changes = {c["key"]: (c["expected"], c["actual"]) for c in item["changes"]}
    assert changes["replication"] == (["fleet-qa-eu-west-1-media-origin"], [])
    assert changes["public_access_blocked"] == (True, False)
    assert changes["lifecycle"][1] == {
        "transitions": [[60, "STANDARD_IA"]],
        "expiration_days": None,
        "noncurrent_expiration_days": None,
    }
    assert changes["tags.env"] == ("qa", "prod")
    assert changes["tags.fleet:stack"] == ("qa-us-east-1", None)


def test_unknown_stack_is_bad_input(qa_project: Path) -> None:
    code, _, text = drift(qa_project, "--stack", "qa-mars-1")
    assert code == 2
    assert "unknown stack" in text


# -- AWS failures become exit 3 with a readable message -------------------------


def test_endpoint_down_is_exit_3(qa_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_fixture import aws_env

    for k, v in aws_env(f"http://127.0.0.1:{free_port()}", qa_project).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, _, text = drift(qa_project, "--env", "qa")
    assert code == 3
    assert "cannot reach AWS at http://127.0.0.1:" in text
    assert "Traceback" not in text


def test_missing_credentials_is_exit_3(aws: MotoServer, qa_project: Path, monkeypatch) -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k)
    code, _, text = drift(qa_project, "--env", "qa")
    assert code == 3
    assert "no AWS credentials found" in text


def test_access_denied_is_exit_3(qa_project: Path, tmp_path: Path, monkeypatch) -> None:
    """A second moto server that enforces IAM: a user without policies is denied."""
    from aws_fixture import aws_env

    server = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "2"})
    try:
        for k, v in aws_env(server.url, tmp_path).items():
            monkeypatch.setenv(k, v)
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="reader")  # unauthenticated action 1
        key = iam.create_access_key(UserName="reader")["AccessKey"]  # action 2
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        monkeypatch.delenv("AWS_SESSION_TOKEN")
        code, _, text = drift(qa_project, "--stack", "qa-eu-west-1")
        assert code == 3
        assert "AWS denied" in text
        assert "Traceback" not in text
    finally:
        server.stop()


def test_extra_groups_beyond_the_first_page_are_found(built: Path) -> None:
    """describe_auto_scaling_groups returns 50 groups a page: 60 leftovers need two."""
    asg = boto3.client("autoscaling", region_name="us-east-1")
    for i in range(60):
        asg.create_auto_scaling_group(
            AutoScalingGroupName=f"fleet-qa-us-east-1-old-{i:02d}",
            LaunchTemplate={"LaunchTemplateName": "fleet-qa-us-east-1-edge"},
            MinSize=0,
            MaxSize=0,
            AvailabilityZones=["us-east-1a"],
        )
    code, data, _ = drift(built, "--stack", "qa-us-east-1", "--format", "json")
    assert code == 2 and data is not None
    extra = sorted(i["name"] for i in data["items"] if i["status"] == "extra")
    assert extra == [f"fleet-qa-us-east-1-old-{i:02d}" for i in range(60)]
    assert data["summary"] == {"missing": 0, "extra": 60, "changed": 0}
