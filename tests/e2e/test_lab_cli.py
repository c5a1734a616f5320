"""The lab through the CLI: up, status, apply, fault injection, down leaves nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fleetctl.adapters import procs
from fleetctl.adapters.supervisor import Supervisor
from tests.lab_fixture import free_subnet

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
FLEETCTL = str(Path(sys.executable).parent / "fleetctl")


def fleetctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [FLEETCTL, "--root", str(REPO), *args], capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"fleetctl {' '.join(args)} rc={proc.returncode}\n{proc.stderr}")
    return proc


def test_lab_lifecycle_leaves_nothing_behind(tmp_path_factory: pytest.TempPathFactory) -> None:
    lab_dir = tmp_path_factory.mktemp("e2e") / "lab"
    d = ("--dir", str(lab_dir))
    tree: list[procs.Proc] = []
    try:
        subnet = free_subnet(first=79)
        fleetctl("lab", "up", "--hosts", "4", "--subnet", subnet, *d)
        again = fleetctl("lab", "up", "--hosts", "4", "--subnet", subnet, *d)  # idempotent
        assert "lab up: 4 hosts" in again.stderr
        other = fleetctl("lab", "up", "--hosts", "4", "--subnet", "127.0.0", *d, check=False)
        assert other.returncode == 2 and "subnet" in other.stderr
        status = json.loads(fleetctl("lab", "status", "--format", "json", *d).stdout)
        # 4 fleet hosts + the traffic router in front of the edges
        assert [h["health"] for h in status["hosts"]] == ["ok"] * 5
        assert status["hosts"][-1]["role"] == "router" and status["hosts"][-1]["segment"] == "ok"
        assert Path(status["inventory"]).is_relative_to(lab_dir)  # not inventories/lab

        applied = fleetctl(
            *("apply", "origin", "--env", "lab", "--lab-dir", str(lab_dir), "--format", "json")
        )
        result = json.loads(applied.stdout)
        assert result["status"] == "successful"
        assert result["summary"] == {"hosts": 1, "changed": 0, "failed": 0, "unreachable": 0}

        edge = next(h["host"] for h in status["hosts"] if h["role"] == "edge")
        fleetctl("lab", "stop", edge, "sshd", *d)
        unreachable = fleetctl(
            "apply",
            "edge",
            "--env",
            "lab",
            "--lab-dir",
            str(lab_dir),
            "--format",
            "json",
            check=False,
        )
        assert unreachable.returncode == 1
        assert json.loads(unreachable.stdout)["hosts"][edge]["state"] == "unreachable"
        assert "unreachable" in unreachable.stderr

        fleetctl("lab", "stop", edge, "nginx", *d)
        status = json.loads(fleetctl("lab", "status", "--format", "json", *d).stdout)
        row = next(h for h in status["hosts"] if h["host"] == edge)
        assert row["processes"] == {"sshd": "STOPPED", "nginx": "STOPPED"}
        assert row["health"].startswith("fail")

        pid = Supervisor(lab_dir).pid()
        assert pid is not None
        tree = [procs.Proc(pid, 1, 0), *procs.descendants(pid)]
        tree = [p for p in procs.all_procs() if p.pid in {t.pid for t in tree}]
        assert len(tree) > 4
    finally:
        down = fleetctl("lab", "down", *d, check=False)
    assert down.returncode == 0, down.stderr
    assert not lab_dir.exists()
    assert [p for p in tree if procs.alive(p)] == []
    assert procs.with_cmdline_containing(str(lab_dir)) == []
    again = fleetctl("lab", "down", *d)
    assert "no lab" in again.stderr
