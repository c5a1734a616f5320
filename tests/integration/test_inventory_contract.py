"""`fleetctl inventory` is a working Ansible dynamic inventory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _ansible_inventory(*args: str) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run(
        [str(BIN / "ansible-inventory"), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(proc.stdout)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_ansible_inventory_reads_the_script(env: str) -> None:
    data = _ansible_inventory(
        "-i", str(REPO / "inventories" / env / "fleetctl-inventory"), "--list"
    )
    hostvars = data["_meta"]["hostvars"]
    assert hostvars, "no hosts"
    assert set(data[env]["hosts"]) == set(hostvars)
    assert {hv["fleet_env"] for hv in hostvars.values()} == {env}
    assert {"edge", "transcode"} <= set(data)
    edge = data["edge"]["hosts"][0]
    assert {"region", "pop", "fleet_role", "traffic_weight"} <= set(hostvars[edge])
    region_group = hostvars[edge]["region"].replace("-", "_")
    assert edge in data[region_group]["hosts"]


def test_host_contract() -> None:
    script = str(REPO / "inventories" / "prod" / "fleetctl-inventory")
    data = _ansible_inventory("-i", script, "--host", "edge-dub-1b-01")
    assert data["region"] == "eu-west-1"
    assert data["fleet_role"] == "edge"


def test_cli_filters() -> None:
    proc = subprocess.run(
        [
            *(str(BIN / "fleetctl"), "--root", str(REPO), "inventory", "--env", "prod"),
            *("--region", "eu-west-1", "--role", "edge", "--list"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(proc.stdout)
    assert data["_meta"]["hostvars"]
    assert all(hv["region"] == "eu-west-1" for hv in data["_meta"]["hostvars"].values())
    assert "transcode" not in data
