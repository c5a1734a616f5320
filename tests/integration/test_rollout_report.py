"""`fleetctl rollout report`: one HTML file that a real browser renders.

A rollout on the loopback fleet (rollout_fleet.FakeFleet stands in for
Ansible only) fails its canary and rolls back; its report is opened in
headless Chromium (Debian `chromium`, in scripts/system-deps.sh) with the
network off for the page, and the screenshot must not be blank.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rollout_fleet import CANARY_ANALYSIS, HTTP_GATE, REGRESSION_DELAY_MS, FakeFleet
from typer.testing import CliRunner

from fleetctl.cli.main import app
from fleetctl.services import rollout as rollout_service

pytestmark = pytest.mark.integration

POLICY = {
    "bake_s": 0,
    "waves": ["100%"],
    "gates": {"http": HTTP_GATE, "canary_analysis": CANARY_ANALYSIS},
}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.2, 2), "b": (0.8, 1)})
    yield f
    f.close()


def screenshot(page: Path, png: Path, profile: Path) -> str:
    """Chromium's stderr; the screenshot in `png`."""
    assert CHROMIUM, "chromium is not installed: run scripts/system-deps.sh"
    p = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stderr


def test_report_of_a_rolled_back_rollout_renders_in_chromium(
    fleet: FakeFleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    monkeypatch.setattr(rollout_service.adapters, "ansible_executor", fleet.executor)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    base = ["--root", str(fleet.root), "--state", str(tmp_path / "state.db")]
    runner = CliRunner()
    start = [*base, "rollout", "start", "edge.yml", "--env", "lab", "--policy", str(policy)]
    good = runner.invoke(app, [*start, "--yes"])  # a last known-good to roll back to
    assert good.exit_code == 0, good.output
    r = runner.invoke(
        app,
        [
            *base,
            "rollout",
            "start",
            "edge.yml",
            "--env",
            "lab",
            "--policy",
            str(policy),
            "--yes",
            "--format",
            "json",
            "-x",
            f"edge_response_delay_ms={REGRESSION_DELAY_MS}",
        ],
    )
    assert r.exit_code == 1, r.output  # the canary's latency regression rolls it back
    rid = json.loads(r.stdout)["id"]
    out = tmp_path / "report.html"
    r = runner.invoke(app, [*base, "rollout", "report", rid, "--out", str(out)])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert rid in page and "canary_analysis" in page and "rollback proof" in page
    # the canary's latencies against the baseline's, as distributions with the limits
    assert "latency (ms) per request distribution: canary n=" in page
    assert "vs baseline n=" in page and "ECDF" in page
    assert "recorded numbers (no samples kept)" not in page
    png = tmp_path / "shot.png"
    log = screenshot(out, png, tmp_path / "chromium-profile")
    # Chromium logs every console message as ":CONSOLE:<line>]" (errors included)
    assert ":CONSOLE" not in log, [line for line in log.splitlines() if ":CONSOLE" in line]
    img = Image.open(png).convert("L")
    colours = img.getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 50, "the screenshot is blank"
    dark = sum(n for n, value in colours if value < 128)
    assert dark > 0.002 * img.width * img.height  # text and plots, not an empty page


def test_report_of_an_unknown_rollout_is_bad_input(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app, ["--state", str(tmp_path / "s.db"), "rollout", "report", "r-nope", "--out", "x.html"]
    )
    assert r.exit_code == 2 and "no rollout" in r.output
