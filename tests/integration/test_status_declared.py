"""`status` / `metrics` on an env whose inventory comes from the spec (names like
edge-iad-1a-01, no addresses): the hosts are shown as declared and never probed;
no name is handed to the resolver."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def resolver_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host this process tries to connect to (each probe connects by name or
    address; none gets through). Ansible forbids patching getaddrinfo itself."""
    calls: list[str] = []

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(address[0]))
        raise socket.gaierror(socket.EAI_NONAME, "connecting is forbidden in this test")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return calls


def test_status_on_spec_hosts_probes_nothing(resolver_calls: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            *("--root", str(REPO), "--state", str(tmp_path / "s.db"), "status", "--env", "prod"),
            *("--format", "json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert resolver_calls == []
    doc = json.loads(result.stdout)
    assert doc["hosts_total"] > 100
    assert doc["health"]["declared"] == doc["hosts_total"]
    assert doc["health"]["unreachable"] == 0
    hosts = [h for r in doc["regions"] for h in r["hosts"]]
    assert {h["health"] for h in hosts} == {"declared"}
    assert {h["address"] for h in hosts} == {""}
    # no region is called down for hosts nobody looked at; one warning says why
    assert [p["severity"] for p in doc["problems"]] == ["warning"]
    assert "--source aws" in doc["problems"][0]["message"]
    assert "not reachable" in doc["problems"][0]["message"]


def test_status_table_says_declared_and_points_to_aws(
    resolver_calls: list[str], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["--root", str(REPO), "--state", str(tmp_path / "s.db"), "status", "--env", "staging"]
    )
    assert result.exit_code == 0, result.output
    assert resolver_calls == []
    out = " ".join(result.output.split())
    assert "declared" in out and "--source aws" in out


def test_metrics_dump_on_spec_hosts_probes_nothing(
    resolver_calls: list[str], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        [
            *("--root", str(REPO), "--state", str(tmp_path / "s.db"), "metrics", "dump"),
            *("--env", "staging"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert resolver_calls == []
    assert 'health="declared"' in result.stdout


def test_status_in_a_namespace_without_network(tmp_path: Path) -> None:
    """The real command, with no network at all (`unshare -n`: only a downed lo)."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    cmd = [sys.executable, "-m", "fleetctl", "--root", str(REPO), "--state", str(tmp_path / "s")]
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("unshare -n not permitted here")
    proc = subprocess.run(
        ["unshare", "-n", *cmd, "status", "--env", "staging", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["health"]["declared"] == doc["hosts_total"] > 0
    assert doc["health"]["unreachable"] == 0
