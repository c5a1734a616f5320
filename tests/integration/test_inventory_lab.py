"""`fleetctl inventory --env lab`: the lab's inventory in the dynamic inventory
contract, equal (as Ansible reads it) to the lab's generated hosts.yml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app
from fleetctl.services import lab as lab_service

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    """A lab's state and hosts.yml as `lab up` writes them (no process started)."""
    d = tmp_path / "lab"
    d.mkdir()
    hosts = lab_service.plan_hosts(6, "127.0.10", d)
    lab = lab_service.Lab(
        dir=str(d),
        subnet="127.0.10",
        user="fleet",
        hosts=tuple(hosts),
        key_file=str(d / "ssh/id_ed25519"),
        known_hosts=str(d / "ssh/known_hosts"),
        inventory=str(d / "hosts.yml"),
        python=sys.executable,
    )
    (d / "lab.json").write_text(json.dumps(lab.to_json()))
    lab_service._write_inventory(lab)
    return d


def _ansible_inventory(source: Path, *args: str) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(source), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


def test_inventory_env_lab_is_the_labs_inventory(lab_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--root", str(REPO), "inventory", "--env", "lab", "--lab-dir", str(lab_dir), "--list"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["lab"]["hosts"]) == set(data["_meta"]["hostvars"])
    assert {"edge", "origin", "router", "lab_small", "lab_big"} <= set(data)
    assert data["all"]["vars"]["ansible_user"] == "fleet"

    # as a dynamic inventory script, Ansible sees exactly what hosts.yml gives it
    script = tmp_path / "lab-inventory"
    script.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m fleetctl --root "{REPO}" inventory'
        f' --env lab --lab-dir "{lab_dir}" "$@"\n'
    )
    script.chmod(0o755)
    assert _ansible_inventory(script, "--list") == _ansible_inventory(
        lab_dir / "hosts.yml", "--list"
    )


def test_inventory_env_lab_host_and_table(lab_dir: Path) -> None:
    base = ["--root", str(REPO), "inventory", "--env", "lab", "--lab-dir", str(lab_dir)]
    one = CliRunner().invoke(app, [*base, "--host", "lab-edge-small-01"])
    assert one.exit_code == 0, one.output
    hv = json.loads(one.stdout)
    assert hv["ansible_host"] == "127.0.10.13" and hv["fleet_role"] == "edge"
    assert json.loads(CliRunner().invoke(app, [*base, "--host", "nope"]).stdout) == {}
    table = CliRunner().invoke(app, [*base, "--role", "edge"])
    assert table.exit_code == 0, table.output
    assert "lab-edge-big-01" in table.output and "lab-origin-01" not in table.output


def test_inventory_env_lab_without_a_lab_says_how(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["--root", str(REPO), "inventory", "--env", "lab", "--lab-dir", str(tmp_path / "none")],
    )
    assert result.exit_code == 2
    assert "unknown env" not in result.output
    assert "fleetctl lab up" in result.output
