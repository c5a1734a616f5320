"""Region drains on the real lab: viewers keep getting segments through the
traffic router while a region is drained (zero failed requests), undrain
restores the weights exactly, and a drain the rest cannot carry is refused."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.adapters import http_probe
from fleetctl.adapters.lab import traffic_state
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.services import history as history_service
from fleetctl.services import lab as lab_service
from fleetctl.services import traffic as svc
from fleetctl.services.workspace import Workspace
from tests.lab_fixture import REPO, LabHandle

pytestmark = pytest.mark.integration

SEGMENT = f"{lab_service.SAMPLE_PATH}/v2/seg_000.ts"
MIN_REQUESTS = 300
MAX_REQUESTS = 50_000  # the loop is bounded even if the drain hangs


def router_weights_served(lab: LabHandle) -> str:
    router = lab_service.router(lab.lab)
    assert router is not None
    return http_probe.get(router.url("/healthz")).headers.get("x-fleet-weights", "")


def test_drain_a_lab_region_with_zero_failed_viewer_requests(
    lab: LabHandle, tmp_path: Path
) -> None:
    router = lab_service.router(lab.lab)
    assert router is not None
    ws = Workspace(REPO)
    store = SqliteStore(str(tmp_path / "state.db"))
    small = {h.address for h in lab.edges() if h.region == "lab-small"}
    spec_served = router_weights_served(lab)
    assert spec_served == "lab-big=60,lab-mid=30,lab-small=10"
    inventory_before = lab.inventory.read_text()

    results: list[tuple[int | None, str, bool]] = []  # status, upstream, after the drain
    drained = threading.Event()
    stop = threading.Event()

    def viewers() -> None:
        while not stop.is_set() and len(results) < MAX_REQUESTS:
            after = drained.is_set()  # read before the request starts
            r = http_probe.get(router.url(SEGMENT), timeout_s=5)
            ok = r.status == 200 and r.body_bytes > 0
            results.append((r.status if ok else None, r.headers.get("x-fleet-upstream", ""), after))
            if (
                drained.is_set()
                and len(results) >= MIN_REQUESTS
                and sum(1 for *_, a in results if a) >= 50
            ):
                return

    loop = threading.Thread(target=viewers, daemon=True)
    try:
        loop.start()
        plan = svc.plan_change(ws, store, "lab", "lab-small", drain=True, lab_dir=lab.dir)
        assert not plan.short and plan.after["lab-small"] == 0.0
        result = svc.change(ws, store, plan, reason="test: packet loss", lab_dir=lab.dir)
        drained.set()
        loop.join(timeout=300)
    finally:
        stop.set()
        loop.join(timeout=30)
    assert not loop.is_alive()

    failures = [r for r in results if r[0] is None]
    assert len(results) >= MIN_REQUESTS
    assert failures == []  # not one viewer request failed during the drain
    before_drain = [up for _, up, after in results if not after]
    after_drain = [up for _, up, after in results if after]
    assert len(after_drain) >= 50
    assert not any(up.split(":")[0] in small for up in after_drain)  # nobody goes there now
    assert before_drain  # the loop really ran across the change
    assert result.evidence["gate"]["verdict"] == "pass"
    print(
        f"viewer requests through the router: {len(results)} "
        f"({len(before_drain)} before or during the drain, {len(after_drain)} after), "
        f"{len(failures)} failed"
    )
    assert router_weights_served(lab) == "lab-big=60,lab-mid=30,lab-small=0"

    # a plain re-apply of the router playbook keeps the drain
    again = lab.apply("router.yml")
    assert again.ok and not again.changed_hosts
    assert router_weights_served(lab) == "lab-big=60,lab-mid=30,lab-small=0"

    rows = {r.region: r for r in svc.region_traffic(ws, store, "lab")}
    assert rows["lab-small"].drained and rows["lab-small"].reason == "test: packet loss"
    assert rows["lab-small"].weight == 0.0
    assert rows["lab-big"].weight == pytest.approx(0.6 / 0.9)

    # undrain restores the weights exactly (served, rendered and recorded)
    back = svc.plan_change(ws, store, "lab", "lab-small", drain=False, lab_dir=lab.dir)
    svc.change(ws, store, back, reason="fixed", lab_dir=lab.dir)
    assert router_weights_served(lab) == spec_served
    assert lab.inventory.read_text() == inventory_before
    assert not (lab.dir / traffic_state.TRAFFIC_FILE).exists()
    assert store.get(svc.KIND, "lab") is None
    assert [(r.region, r.weight, r.drained) for r in svc.region_traffic(ws, store, "lab")] == [
        ("lab-big", 0.6, False),
        ("lab-mid", 0.3, False),
        ("lab-small", 0.1, False),
    ]
    events = [e["type"] for e in svc.events(store, "lab")]
    assert events == [
        "region_drain_started",
        "region_drained",
        "region_undrain_started",
        "region_undrained",
    ]
    drain_ev = svc.events(store, "lab")[1]
    assert drain_ev["by"] and drain_ev["reason"] == "test: packet loss" and drain_ev["at"] > 0
    assert drain_ev["int_before"] == {"lab-big": 60, "lab-mid": 30, "lab-small": 10}
    assert drain_ev["int_after"] == {"lab-big": 60, "lab-mid": 30, "lab-small": 0}
    timeline = history_service.timeline(store, "lab")
    assert [(e.kind, e.event, e.subject) for e in timeline] == [
        ("region-drain", "drained", "lab-small"),
        ("region-drain", "undrained", "lab-small"),
    ]
    store.close()


def test_cli_refuses_a_drain_the_rest_cannot_carry(lab: LabHandle, tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    env = {"FLEETCTL_ROOT": str(REPO), "FLEETCTL_STATE": state, "FLEETCTL_LAB_DIR": str(lab.dir)}
    runner = CliRunner()
    served = router_weights_served(lab)
    refused = runner.invoke(
        app,
        ["drain", "lab-big", "--env", "lab", "--reason", "test", "--peak-gbps", "100", "--yes"],
        env=env,
    )
    assert refused.exit_code == 1, refused.output
    out = refused.output
    assert "refusing to drain lab-big" in out
    # needed vs available per remaining region: 100 x 0.75 vs one lab edge x 1 x 0.7
    assert "lab-mid: needs 75.00 Gbit/s" in out and "has 0.70 Gbit/s" in out
    assert "lab-small: needs 25.00 Gbit/s" in out
    assert router_weights_served(lab) == served  # nothing changed
    store = SqliteStore(state)
    try:
        assert [e["type"] for e in svc.events(store, "lab")] == ["region_drain_refused"]
        assert store.get(svc.KIND, "lab") is None
    finally:
        store.close()

    # --force goes through, and says so in the journal and the history
    forced = runner.invoke(
        app,
        [
            "drain",
            "lab-big",
            "--env",
            "lab",
            "--reason",
            "test",
            "--peak-gbps",
            "100",
            "--force",
            "--yes",
            "--format",
            "json",
        ],
        env=env,
    )
    try:
        assert forced.exit_code == 0, forced.output
        assert router_weights_served(lab) == "lab-big=0,lab-mid=30,lab-small=10"
        hist = runner.invoke(app, ["history", "--env", "lab"], env=env)
        assert hist.exit_code == 0
        assert "drain refused" in hist.output and "FORCED" in hist.output
    finally:
        undone = runner.invoke(app, ["undrain", "lab-big", "--env", "lab", "--yes"], env=env)
    assert undone.exit_code == 0, undone.output
    assert router_weights_served(lab) == served
