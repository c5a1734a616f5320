"""Rollout policy: defaults from DESIGN.md, shorthand waves, file:line errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fleetctl.core.policy import DEFAULT_POLICY, DeployWindow, Policy, Wave
from fleetctl.errors import BadInput
from fleetctl.services.rollout_policy import load_policy

pytestmark = pytest.mark.unit
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "policies"


def test_defaults_match_the_design() -> None:
    p = load_policy(None)
    assert p is DEFAULT_POLICY
    assert p.bake_s == 60
    assert p.max_failed_hosts == 0
    assert p.gates.consecutive_error_limit == 4
    assert p.progress_deadline_s == 600
    assert p.canary.hosts == 1 and p.canary.region is None
    assert [w.size for w in p.waves] == [1, "10%", "50%", "100%"]
    assert p.region_order == "traffic"
    assert not p.gates.prometheus.enabled


def test_shorthand_waves_and_percent_sizes() -> None:
    p = Policy.model_validate({"waves": [2, "25%", {"size": "100%", "approval": True}]})
    assert [w.hosts_of(10) for w in p.waves] == [2, 3, 10]
    assert p.waves[2].approval
    assert Wave(size="10%").hosts_of(10) == 1
    assert Wave(size="10%").hosts_of(11) == 2  # ceil
    assert Wave(size="1%").hosts_of(3) == 1  # never 0
    assert Wave(size=50).hosts_of(3) == 3  # capped


def test_fixture_and_example_policies_load() -> None:
    paths = sorted(FIXTURES.glob("*.yml")) + sorted(
        (FIXTURES.parents[2] / "rollout-policies").glob("*.yml")
    )
    assert len(paths) >= 3  # fast.yml, lab.yml, prod.example.yml
    for path in paths:
        assert isinstance(load_policy(path), Policy), path


def test_every_problem_reported_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(
        "bake_s: 5\n"
        "waves:\n"
        "  - 1\n"
        '  - "150%"\n'
        "  - {size: 2, bakes: 3}\n"
        "gates:\n"
        "  http:\n"
        "    paths: [healthz]\n"
        "    samplez: 3\n"
        "  prometheus:\n"
        "    enabled: true\n"
        "max_failed_hosts: -1\n"
    )
    with pytest.raises(BadInput) as info:
        load_policy(path)
    assert info.value.exit_code == 2
    lines = [d.replace(str(tmp_path) + "/", "") for d in info.value.details]
    assert "bad.yml:4: waves[1].size: percentage '150%' must be in (0, 100]" in lines
    assert "bad.yml:5: waves[2].bakes: Extra inputs are not permitted" in lines
    assert "bad.yml:8: gates.http.paths: paths must start with '/': healthz" in lines
    assert "bad.yml:9: gates.http.samplez: Extra inputs are not permitted" in lines
    assert any(line.startswith("bad.yml:10: gates.prometheus: ") for line in lines)
    assert any(line.startswith("bad.yml:12: max_failed_hosts: ") for line in lines)
    assert len(lines) == 6


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("bake_s: 5\nwaves: [1, 2\n")
    with pytest.raises(BadInput) as info:
        load_policy(path)
    assert "YAML syntax error" in info.value.details[0]


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (datetime(2026, 11, 23, 10, 0), True),  # Monday 10:00
        (datetime(2026, 11, 23, 18, 0), False),  # Monday 18:00
        (datetime(2026, 11, 22, 10, 0), False),  # Sunday
    ],
)
def test_deploy_window(when: datetime, inside: bool) -> None:
    w = DeployWindow(days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00")
    assert w.contains(when) is inside


def test_deploy_window_across_midnight() -> None:
    w = DeployWindow(days=["mon"], start="22:00", end="02:00")
    assert w.contains(datetime(2026, 11, 23, 23, 0))  # Mon 23:00
    assert w.contains(datetime(2026, 11, 24, 1, 0))  # Tue 01:00, window began Monday
    assert not w.contains(datetime(2026, 11, 24, 23, 0))  # Tue 23:00


def test_a_canary_that_can_never_be_judged_is_rejected() -> None:
    with pytest.raises(ValueError, match="every canary would be Inconclusive"):
        Policy.model_validate({"gates": {"http": {"samples": 5}}})
    # two canary hosts give enough samples
    Policy.model_validate({"canary": {"hosts": 4}, "gates": {"http": {"samples": 5}}})
    # or canary analysis is off
    Policy.model_validate(
        {"gates": {"http": {"samples": 5}, "canary_analysis": {"enabled": False}}}
    )


def test_video_gates_defaults_and_file_line_errors(tmp_path: Path) -> None:
    gates = load_policy(None).gates
    assert not gates.hls_playback.enabled and not gates.cache.enabled
    assert gates.hls_playback.max_rebuffer_ratio == 0.005
    assert gates.hls_playback.max_startup_p95_s == 2.0
    assert [(w.name, w.long_s, w.short_s, w.factor) for w in gates.slo_burn.windows] == [
        ("fast", 3600, 300, 14.4),
        ("slow", 21600, 1800, 6.0),
    ]
    path = tmp_path / "video.yml"
    path.write_text(
        "gates:\n"
        "  hls_playback:\n"
        "    enabled: true\n"
        "    segmentz: 3\n"
        "    master_path: master.m3u8\n"
        "  cache:\n"
        "    min_hit_ratio: 1.5\n"
        "  slo_burn:\n"
        "    enabled: true\n"
        "    errors_query: sum(x)\n"
        "    windows:\n"
        "      - {name: fast, long_s: 60, short_s: 120, factor: 14.4}\n"
    )
    with pytest.raises(BadInput) as info:
        load_policy(path)
    lines = [d.replace(str(tmp_path) + "/", "") for d in info.value.details]
    assert "video.yml:4: gates.hls_playback.segmentz: Extra inputs are not permitted" in lines
    assert any(line.startswith("video.yml:5: gates.hls_playback.master_path: ") for line in lines)
    assert any(line.startswith("video.yml:7: gates.cache.min_hit_ratio: ") for line in lines)
    assert any(
        line.startswith("video.yml:10: gates.slo_burn.errors_query: ") and "{window}" in line
        for line in lines
    )
    assert any(line.startswith("video.yml:12: gates.slo_burn.windows[0]: ") for line in lines)
    path.write_text("gates:\n  slo_burn:\n    enabled: true\n")
    with pytest.raises(BadInput) as info:
        load_policy(path)
    assert any(
        d.endswith("video.yml:2: gates.slo_burn: the slo_burn gate is enabled but has no `url`")
        for d in info.value.details
    ), info.value.details
