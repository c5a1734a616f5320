"""`fleetctl event plan` previews its pre-scale with the real preview (the
Pulumi program under mocks) on a scratch copy, and prices it for the event."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app

pytestmark = pytest.mark.integration


def _digest(stacks: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(stacks.glob("Pulumi.*.yaml")):
        h.update(p.read_bytes())
    return h.hexdigest()


def test_event_plan_previews_the_prescale_and_prices_the_event(
    repo_root: Path, tmp_path: Path
) -> None:
    before = _digest(repo_root / "stacks")
    args = [
        "--root", str(repo_root), "--state", str(tmp_path / "state.db"),
        "event", "plan", "--env", "prod", "--name", "cup-final",
        "--start", "2026-12-20T18:00:00Z", "--end", "2026-12-20T21:00:00Z",
        "--peak-gbps", "100", "--regions", "eu-central-1", "--format", "json",
    ]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    # the spec change: eu-central-1's edge 4 -> 12 per zone (unit test: hand calculation)
    preview = doc["preview"]
    (stack,) = preview["stacks"]
    assert (stack["stack"], stack["status"]) == ("prod-eu-central-1", "changed")
    groups = {c["name"]: c for c in stack["changes"]}
    assert set(groups) == {
        "fleet-prod-eu-central-1-edge-eu-central-1a",
        "fleet-prod-eu-central-1-edge-eu-central-1b",
    }
    for change in groups.values():
        assert change["op"] == "update"
        sizes = {d["path"]: (d["old"], d["new"]) for d in change["diffs"]}
        assert sizes["desiredCapacity"] == (4, 12)
    assert preview["policy"]["checked"] == ["prod-eu-central-1"]  # the policy pack ran too
    # the cost: the preview's monthly delta, for 3 of the price table's 730 hours
    cost = doc["cost"]
    assert cost["month_delta_usd"] == pytest.approx(preview["cost"]["delta"], abs=0.01)
    assert cost["month_delta_usd"] > 0
    assert cost["event_usd"] == pytest.approx(cost["month_delta_usd"] * 3 / 730, abs=0.01)
    # the working tree is untouched: the patch went to a scratch copy
    assert _digest(repo_root / "stacks") == before
