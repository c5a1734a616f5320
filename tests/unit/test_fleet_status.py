"""The fleet-status aggregation: health counts, release mix, problems first,
rollout state from the engine's documents and events."""

from __future__ import annotations

import pytest

from fleetctl.core import fleet_status as fs
from fleetctl.core.fleet_status import HostObservation, TrafficRow, build_status, rollout_state

pytestmark = pytest.mark.unit


def host(
    name: str, region: str, health: str = fs.HEALTHY, release: str | None = "r1", role: str = "edge"
) -> HostObservation:
    return HostObservation(
        name, region, role, health, release, 1.0 if health == fs.HEALTHY else None
    )


TRAFFIC = [TrafficRow("small", 0.1, 0.1), TrafficRow("mid", 0.3, 0.3), TrafficRow("big", 0.6, 0.6)]


def test_healthy_fleet_has_no_problems_and_sorts_by_weight() -> None:
    st = build_status(
        "lab",
        [host("s1", "small"), host("m1", "mid"), host("b1", "big"), host("b2", "big")],
        TRAFFIC,
    )
    assert [r.region for r in st.regions] == ["big", "mid", "small"]
    assert st.problems == () and st.severity == "ok"
    assert st.health == {"healthy": 4, "drained": 0, "unhealthy": 0, "unreachable": 0}
    assert st.releases == {"r1": 4}
    assert st.to_dict()["ok"] is True


def test_problems_first_critical_before_warning() -> None:
    st = build_status(
        "lab",
        [
            host("s1", "small", fs.UNREACHABLE, None),  # the only edge of a region: critical
            host("m1", "mid"),
            host("m2", "mid", fs.UNHEALTHY, "r1"),  # one of two: a warning
            host("b1", "big"),
        ],
        TRAFFIC,
    )
    assert [r.region for r in st.regions] == ["small", "mid", "big"]
    small, mid, big = st.regions
    assert small.severity == fs.CRITICAL and mid.severity == fs.WARNING and big.severity == "ok"
    assert small.problems[0].severity == fs.CRITICAL  # critical first inside a region too
    assert "no healthy edge" in small.problems[0].message
    assert [p.host for p in mid.problems] == ["m2"]
    assert mid.health == {"healthy": 1, "drained": 0, "unhealthy": 1, "unreachable": 0}
    assert st.severity == fs.CRITICAL and len(st.problems) == 3


def test_drained_is_not_a_problem_and_a_drained_region_needs_no_edge() -> None:
    traffic = [
        TrafficRow("small", 0.1, 0.0, drained=True, reason="fibre cut", by="ana", at=1.0),
        TrafficRow("big", 0.6, 0.7),
    ]
    st = build_status(
        "lab",
        [
            host("s1", "small", fs.UNREACHABLE, None),
            host("b1", "big", fs.DRAINED),
            host("b2", "big"),
        ],
        traffic,
    )
    small = next(r for r in st.regions if r.region == "small")
    big = next(r for r in st.regions if r.region == "big")
    assert small.drained and small.drain_reason == "fibre cut" and small.weight == 0.0
    assert [p.severity for p in small.problems] == [fs.WARNING]  # host down, not "no edge"
    assert big.problems == () and big.health["drained"] == 1 and big.spec_weight == 0.6


def test_release_mix_is_a_problem_only_without_an_active_rollout() -> None:
    hosts = [
        host("b1", "big", release="r1"),
        host("b2", "big", release="r2"),
        host("o1", "core", role="origin", release=None),
    ]
    idle = build_status("lab", hosts, TRAFFIC)
    big = next(r for r in idle.regions if r.region == "big")
    assert big.releases == {"r1": 1, "r2": 1}
    assert big.releases_by_role() == {("edge", "r1"): 1, ("edge", "r2"): 1}
    assert any("2 releases" in p.message for p in big.problems)
    doc = {"id": "r-1", "status": "running", "next_step": 1, "plan_steps": 3}
    rolling = build_status("lab", hosts, TRAFFIC, rollout=rollout_state(doc, [], []))
    assert next(r for r in rolling.regions if r.region == "big").problems == ()
    assert "core" in {r.region for r in rolling.regions}  # hosts outside the traffic rows


def test_region_with_traffic_but_no_hosts_is_critical() -> None:
    st = build_status("prod", [host("b1", "big")], TRAFFIC)
    assert {r.region for r in st.regions if r.severity == fs.CRITICAL} == {"small", "mid"}


PLAN = [
    {"index": 0, "label": "canary", "wave": 0, "region": "small"},
    {"index": 1, "label": "mid wave 1 (50%)", "wave": 1, "region": "mid"},
]
EVENTS = [
    {"type": "step_started", "step": 0, "at": 10.0},
    {"type": "gate", "gate": "http", "verdict": "pass", "reason": "ok", "at": 11.0},
    {"type": "step_verdict", "step": 0, "verdict": "pass", "at": 11.5},
    {"type": "step_started", "step": 1, "at": 12.0},
    {"type": "gate", "gate": "http", "verdict": "pass", "reason": "ok", "at": 13.0},
    {
        "type": "gate",
        "gate": "canary_analysis",
        "verdict": "inconclusive",
        "reason": "few",
        "at": 13.1,
    },
    {"type": "step_verdict", "step": 1, "verdict": "inconclusive", "at": 13.2},
]


def test_rollout_state_of_a_paused_rollout() -> None:
    doc = {
        "id": "r-2",
        "status": "paused",
        "next_step": 1,
        "plan_steps": 2,
        "playbook": "edge.yml",
        "release": "f" * 64,
        "release_id": "abc123",
        "by": "ana",
        "updated_at": 14.0,
        "pause": {"kind": "gate", "reason": "inconclusive at mid", "step": 1, "at": 13.3},
    }
    ro = rollout_state(doc, PLAN, EVENTS, {"release_id": "old999"})
    assert ro.active and ro.status == "paused" and ro.release == "abc123"
    assert (ro.step, ro.steps, ro.wave, ro.region) == (1, 2, 1, "mid")
    assert ro.step_label == "mid wave 1 (50%)" and ro.pause_reason == "inconclusive at mid"
    assert [(g.gate, g.verdict, g.step) for g in ro.gates] == [
        ("canary_analysis", "inconclusive", 1),
        ("http", "pass", 1),
    ]
    assert ro.last_gate_pass_at == 11.5 and ro.last_known_good == "old999"
    st = build_status("lab", [], [], rollout=ro)
    assert [p.severity for p in st.env_problems] == [fs.WARNING]


def test_rollout_state_of_finished_rollouts() -> None:
    done = rollout_state({"id": "r-3", "status": "completed", "next_step": 2}, PLAN, EVENTS)
    assert not done.active and done.step is None and done.wave is None
    assert build_status("lab", [], [], rollout=done).env_problems == ()
    bad = rollout_state({"id": "r-4", "status": "rollback_failed", "next_step": 1}, PLAN, [])
    assert build_status("lab", [], [], rollout=bad).env_problems[0].severity == fs.CRITICAL


def test_unknown_health_is_refused() -> None:
    with pytest.raises(ValueError):
        host("x", "big", "sleepy")


def test_a_rolled_back_rollout_keeps_the_verdict_that_failed_it() -> None:
    """The rollback's own gates pass; the step gate that failed must still show."""
    events = [
        {"type": "step_started", "step": 0, "at": 10.0},
        {"type": "gate", "gate": "http", "verdict": "pass", "reason": "ok", "at": 11.0},
        {"type": "gate", "gate": "canary_analysis", "verdict": "fail", "reason": "+81 ms"},
        {"type": "gate", "gate": "http", "verdict": "pass", "phase": "rollback", "at": 12.0},
        {"type": "gate", "gate": "canary_analysis", "verdict": "pass", "phase": "rollback"},
    ]
    ro = rollout_state({"id": "r-5", "status": "rolled_back", "next_step": 0}, PLAN, events)
    assert [(g.phase, g.gate, g.verdict) for g in ro.gates] == [
        ("step", "canary_analysis", "fail"),
        ("step", "http", "pass"),
        ("rollback", "canary_analysis", "pass"),
        ("rollback", "http", "pass"),
    ]
