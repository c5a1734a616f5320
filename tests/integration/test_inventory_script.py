"""The env inventory scripts find the fleetctl that runs them, wherever it is
installed; an inventory source that fails is an error with its cause (exit 3),
never an empty inventory ("no target hosts")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project without ./.venv, and no fleetctl on PATH: fleetctl is
    installed somewhere else (UV_PROJECT_ENVIRONMENT, pipx)."""
    root = tmp_path / "project"
    for sub in ("stacks", "playbooks", "inventories"):
        shutil.copytree(REPO / sub, root / sub, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("FLEETCTL_PYTHON", raising=False)
    assert shutil.which("fleetctl") is None
    return root


def test_rollout_plan_finds_hosts_with_fleetctl_installed_elsewhere(elsewhere: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["--root", str(elsewhere), "rollout", "plan", "edge.yml", "--env", "prod"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "no target hosts" not in result.output
    assert "Could not match" not in result.output
    assert "edge-iad-1a-01" in result.output


@pytest.mark.parametrize("command", [["rollout", "plan", "edge.yml"], ["status"]])
def test_a_failing_inventory_script_is_an_error_with_its_cause(
    elsewhere: Path, command: list[str]
) -> None:
    script = elsewhere / "inventories" / "prod" / "fleetctl-inventory"
    script.write_text("#!/bin/sh\necho 'spec store unreachable: connection refused' >&2\nexit 1\n")
    result = CliRunner().invoke(
        app, ["--root", str(elsewhere), *command, "--env", "prod"], catch_exceptions=False
    )
    out = " ".join(result.output.split())
    assert result.exit_code == 3, out
    assert "spec store unreachable: connection refused" in out
    assert "no target hosts" not in out
    assert "could not be read" in out


def test_apply_with_a_failing_inventory_fails(elsewhere: Path) -> None:
    """ansible-playbook itself: an unparsable inventory fails the run, not 'no hosts matched'."""
    script = elsewhere / "inventories" / "prod" / "fleetctl-inventory"
    script.write_text("#!/bin/sh\necho 'inventory backend down' >&2\nexit 1\n")
    result = CliRunner().invoke(
        app,
        ["--root", str(elsewhere), "apply", "edge.yml", "--env", "prod", "--check"],
        catch_exceptions=False,
    )
    out = " ".join(result.output.split())
    assert result.exit_code == 3, out
    assert "inventory backend down" in out
