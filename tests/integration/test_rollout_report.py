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


def test_a_report_with_every_video_gate_renders_in_chromium(tmp_path: Path) -> None:
    """The video gates' figures (startup / rebuffer / download-ratio
    distributions, hit ratios and the projected origin load, slo_burn's burn
    rates) in a real browser: drawn, no console error. The verdicts are the
    core gates' own, on recorded-like observations."""
    import random

    from PIL import Image

    from fleetctl.core.cache_gate import CacheRead, cache_gate
    from fleetctl.core.playback import hls_playback_gate
    from fleetctl.core.policy import BurnWindow, CacheGate, HlsPlaybackGate, SloBurnGate
    from fleetctl.core.slo_burn import PairReading, WindowReading, slo_burn_gate
    from fleetctl.services.report import render
    from tests.unit.test_gate_hls_playback import sessions

    rng = random.Random(7)
    hls = hls_playback_gate(
        sessions("c", 5, 0.1, rng, slow=4.0),
        sessions("b", 10, 0.1, rng),
        HlsPlaybackGate(enabled=True),
    )
    cache = cache_gate(
        [CacheRead("c", 200, "MISS")] * 30,
        [CacheRead("b1", 200, "HIT")] * 30 + [CacheRead("b2", 200, "HIT")] * 30,
        CacheGate(enabled=True, fleet_peak_rps=20_000, origin_capacity_rps=2_000),
        region_weights={"lab-small": 0.1},
    )
    slo_cfg = SloBurnGate(enabled=True, url="http://127.0.0.1:9", window_scale=1 / 60)
    fast = BurnWindow(name="fast", long_s=3600, short_s=300, factor=14.4)
    burn = slo_burn_gate(
        [PairReading(fast, WindowReading(3600, 40, 400), WindowReading(300, 9, 60))], slo_cfg
    )
    events = [
        {"type": "created", "at": 1.0, "env": "lab", "playbook": "edge.yml", "release": "r1"},
        {"type": "step_started", "at": 2.0, "step": 0, "label": "canary"},
        *({"type": "gate", "at": 9.0, "phase": "step", **g.to_dict()} for g in (hls, cache, burn)),
        {"type": "step_verdict", "at": 9.5, "step": 0, "label": "canary", "verdict": "fail"},
    ]
    page = render({"id": "r-video", "env": "lab", "status": "rolled_back"}, events)
    for words in (
        "startup time (s) per session distribution",
        "rebuffer ratio per edge distribution",
        "segment download ratio (x real time) per segment distribution",
        "cache hit ratio per edge distribution",
        "canary 2000 req/s vs baseline 0 req/s, capacity 2000 req/s",
        "burn rate per window",
    ):
        assert words in page, words
    out = tmp_path / "video.html"
    out.write_text(page)
    png = tmp_path / "video.png"
    log = screenshot(out, png, tmp_path / "chromium-profile")
    assert ":CONSOLE" not in log, [line for line in log.splitlines() if ":CONSOLE" in line]
    img = Image.open(png).convert("L")
    colours = img.getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 50, "the screenshot is blank"
