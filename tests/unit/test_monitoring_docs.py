"""The shipped Grafana dashboard and Prometheus config are valid and only use
metrics `fleetctl metrics` really exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
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


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus; .ci/run does)"
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False
    )


@needs_promtool
def test_promtool_accepts_the_config_and_its_rule_file() -> None:
    out = _promtool("check", "config", str(DOCS / "prometheus.yml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "alerts.yml" in out.stdout and "5 rules found" in out.stdout


def _target(env: str, port: int, up: str, status: str | None) -> list[dict[str, str]]:
    labels = f'job="fleetctl", instance="127.0.0.1:{port}", fleetctl_env="{env}"'
    series = [{"series": f"up{{{labels}}}", "values": up}]
    if status is not None:  # a dead endpoint exports nothing
        series.append({"series": f'fleet_status_up{{{labels}, env="{env}"}}', "values": status})
    return series


def _down(env: str, port: int, metric_env: bool = False) -> dict[str, object]:
    labels = {"job": "fleetctl", "instance": f"127.0.0.1:{port}", "fleetctl_env": env}
    if metric_env:
        labels["env"] = env
    return {
        "exp_labels": labels,
        "exp_annotations": {
            "summary": f"fleetctl metrics for env {env} (127.0.0.1:{port}) are down"
        },
    }


@needs_promtool
def test_status_down_alerts_per_env(tmp_path: Path) -> None:
    """Two envs scraped, one endpoint dead: that env alerts (absent() alone never did)."""

    def case(series: list[dict[str, str]], alerts: list[dict[str, object]]) -> dict[str, object]:
        return {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "FleetStatusDown", "exp_alerts": alerts}
            ],
        }

    tests = [
        # both up: quiet
        case(_target("prod", 9464, "1x15", "1x15") + _target("staging", 9465, "1x15", "1x15"), []),
        # staging's endpoint dead while prod is up
        case(
            _target("prod", 9464, "1x15", "1x15") + _target("staging", 9465, "0x15", None),
            [_down("staging", 9465)],
        ),
        # prod answers but cannot read its inventory
        case(
            _target("prod", 9464, "1x15", "0x15") + _target("staging", 9465, "1x15", "1x15"),
            [_down("prod", 9464, metric_env=True)],
        ),
        # no target at all: the other alert says so
        case([{"series": 'up{job="other"}', "values": "1x15"}], []),
    ]
    spec = tmp_path / "alerts_test.yml"
    # JSON is YAML: promtool reads it as its test file
    spec.write_text(
        json.dumps(
            {"rule_files": [str(DOCS / "alerts.yml")], "evaluation_interval": "1m", "tests": tests}
        )
    )
    tests.append(
        {
            "interval": "1m",
            "input_series": [{"series": 'up{job="other"}', "values": "1x15"}],
            "alert_rule_test": [
                {
                    "eval_time": "10m",
                    "alertname": "FleetStatusNotScraped",
                    "exp_alerts": [
                        {
                            "exp_labels": {"job": "fleetctl"},
                            "exp_annotations": {
                                "summary": "Prometheus scrapes no fleetctl metrics target "
                                "(job fleetctl)"
                            },
                        }
                    ],
                }
            ],
        }
    )
    out = _promtool("test", "rules", str(spec))
    assert out.returncode == 0, out.stdout + out.stderr
