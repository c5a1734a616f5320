"""The shipped Grafana dashboard and Prometheus config are valid and only use
metrics `fleetctl metrics` really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from fleetctl.core import fleet_status as fs
from fleetctl.core.fleet_status import HostObservation, TrafficRow, build_status
from fleetctl.services.metrics import exposition

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[2] / "docs" / "monitoring"


def exported_names() -> set[str]:
    plan = [{"index": 0, "label": "canary", "wave": 0, "region": "a"}]
    events = [
        {"type": "step_started", "step": 0},
        {"type": "gate", "gate": "http", "verdict": "pass", "reason": "", "at": 2.0},
        {"type": "step_verdict", "verdict": "pass", "at": 2.0},
    ]
    ro = fs.rollout_state(
        {"id": "r-1", "status": "running", "next_step": 0, "plan_steps": 1}, plan, events
    )
    st = build_status(
        "prod",
        [HostObservation("e1", "a", "edge", fs.HEALTHY, "r1", 3.0)],
        [TrafficRow("a", 1.0, 1.0)],
        rollout=ro,
        freeze=fs.FreezeState("x", "me", 1.0),
        at=5.0,
        took_s=0.1,
    )
    return {s.name for fam in text_string_to_metric_families(exposition(st)) for s in fam.samples}


def test_dashboard_is_importable_json_using_exported_metrics() -> None:
    dash = json.loads((DOCS / "grafana-dashboard.json").read_text())
    assert dash["uid"] and dash["title"] and dash["panels"]
    assert dash["__inputs"][0]["pluginId"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    names = exported_names()
    used = set()
    for p in dash["panels"]:
        assert p["targets"], p["title"]
        for t in p["targets"]:
            used |= set(re.findall(r"\bfleet_[a-z_]+\b", t["expr"]))
    assert used and used <= names, used - names
    var = dash["templating"]["list"][0]
    assert re.findall(r"fleet_[a-z_]+", var["definition"])[0] in names


def test_prometheus_scrape_config_targets_the_default_port() -> None:
    cfg = YAML(typ="safe").load((DOCS / "prometheus.yml").read_text())
    job = cfg["scrape_configs"][0]
    assert job["job_name"] == "fleetctl" and job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:9464"]
