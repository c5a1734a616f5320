"""The drain / undrain / hosts / history commands' input checks (no lab, no AWS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"FLEETCTL_ROOT": str(REPO), "FLEETCTL_STATE": str(tmp_path / "state.db")}


def test_region_drain_input_errors(env: dict[str, str]) -> None:
    runner = CliRunner()
    no_reason = runner.invoke(app, ["drain", "lab-big", "--env", "lab", "--yes"], env=env)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    unknown = runner.invoke(
        app, ["drain", "mars-1", "--env", "prod", "--reason", "x", "--yes"], env=env
    )
    assert unknown.exit_code == 2 and "not a viewer region of prod" in unknown.output
    assert "us-east-1" in unknown.output  # the hint lists the regions
    not_drained = runner.invoke(app, ["undrain", "eu-west-1", "--env", "prod", "--yes"], env=env)
    assert not_drained.exit_code == 0 and "not drained" in not_drained.output


def test_hosts_and_history_on_an_empty_journal(env: dict[str, str]) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["hosts", "list", "--env", "lab", "--format", "json"], env=env)
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    missing = runner.invoke(app, ["hosts", "drain", "--env", "lab", "--reason", "x"], env=env)
    assert missing.exit_code == 2 and "--limit" in missing.output
    hist = runner.invoke(app, ["history", "--env", "prod", "--format", "json"], env=env)
    assert hist.exit_code == 0 and json.loads(hist.stdout) == []
    bad = runner.invoke(app, ["history", "--env", "prod", "--since", "soon"], env=env)
    assert bad.exit_code == 2
