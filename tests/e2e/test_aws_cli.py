"""`fleetctl drift` as a real process against moto server: streams and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from aws_fixture import MotoServer
from aws_world import build_stack

from fleetctl.spec import load_fleet

pytestmark = pytest.mark.e2e
FLEETCTL = str(Path(sys.executable).with_name("fleetctl"))


def test_drift_process_exit_codes_and_streams(aws: MotoServer, repo_root: Path) -> None:
    build_stack(load_fleet(repo_root / "stacks").stack("staging-us-east-2"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCTL_")}
    argv = [FLEETCTL, "--root", str(repo_root), "drift", "--env", "staging", "--format", "json"]
    clean = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["drift"] is False

    boto3.client("sqs", region_name="us-east-2").delete_queue(
        QueueUrl=boto3.client("sqs", region_name="us-east-2").get_queue_url(
            QueueName="fleet-staging-us-east-2-transcode-jobs"
        )["QueueUrl"]
    )
    drifted = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert drifted.returncode == 2
    [item] = json.loads(drifted.stdout)["items"]  # machine output alone on stdout
    assert (item["status"], item["kind"], item["name"]) == (
        "missing",
        "queue",
        "fleet-staging-us-east-2-transcode-jobs",
    )
