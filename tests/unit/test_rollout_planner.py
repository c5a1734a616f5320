"""Planner: canary in the lowest-traffic region, cumulative waves per region,
regions by ascending traffic, deterministic, every host exactly once."""

from __future__ import annotations

import random

import pytest

from fleetctl.core.planner import Host, PlanError, make_plan
from fleetctl.core.policy import Policy

pytestmark = pytest.mark.unit


def fleet(spec: dict[str, tuple[float, int]], role: str = "edge") -> list[Host]:
    return [
        Host(f"{region}-{i:03d}", region, role, weight)
        for region, (weight, n) in spec.items()
        for i in range(n)
    ]


def test_canary_then_waves_in_ascending_traffic_order() -> None:
    hosts = fleet({"eu-west-1": (0.5, 10), "us-east-1": (0.3, 4), "sa-east-1": (0.2, 3)})
    plan = make_plan(hosts, Policy())
    assert plan.regions == ("sa-east-1", "us-east-1", "eu-west-1")
    first = plan.steps[0]
    assert first.kind == "canary" and first.region == "sa-east-1"
    assert first.hosts == ("sa-east-1-000",)
    sizes = [(s.region, len(s.hosts)) for s in plan.steps[1:]]
    # sa: canary counts as the "1" wave; 10% of 3 -> 1 (already done); 50% -> 2; 100% -> 3
    # us: 1, 10% -> 1 (nothing new), 50% -> 2, 100% -> 4
    # eu: 1, 10% -> 1, 50% -> 5, 100% -> 10
    assert sizes == [
        ("sa-east-1", 1),
        ("sa-east-1", 1),
        ("us-east-1", 1),
        ("us-east-1", 1),
        ("us-east-1", 2),
        ("eu-west-1", 1),
        ("eu-west-1", 4),
        ("eu-west-1", 5),
    ]
    names = [h for s in plan.steps for h in s.hosts]
    assert sorted(names) == sorted(h.name for h in hosts)
    assert len(names) == len(set(names))
    assert [s.index for s in plan.steps] == list(range(len(plan.steps)))


def test_counts_percentages_and_region_always_completes() -> None:
    hosts = fleet({"a": (0.1, 20), "b": (0.9, 7)})
    policy = Policy.model_validate({"canary": {"hosts": 2}, "waves": [5, "50%"]})
    plan = make_plan(hosts, policy)
    per = [(s.region, s.label, len(s.hosts)) for s in plan.steps]
    assert per[0] == ("a", "canary", 2)
    assert per[1:] == [
        ("a", "a wave 1 (5 host(s))", 3),
        ("a", "a wave 2 (50%)", 5),
        ("a", "a wave 3 (100%)", 10),  # implicit final wave
        ("b", "b wave 1 (5 host(s))", 5),
        ("b", "b wave 2 (100%)", 2),  # 50% of 7 = 4 < 5 already done
    ]


def test_explicit_canary_region_and_region_order() -> None:
    hosts = fleet({"a": (0.1, 2), "b": (0.5, 2), "c": (0.4, 2)})
    policy = Policy.model_validate({"region_order": ["b"], "canary": {"region": "c"}})
    plan = make_plan(hosts, policy)
    assert plan.steps[0].region == "c"
    assert plan.regions == ("c", "b", "a")
    with pytest.raises(PlanError, match="no target hosts: z"):
        make_plan(hosts, Policy.model_validate({"region_order": ["z"]}))


def test_canary_prefers_a_probed_role() -> None:
    hosts = [
        Host("a-origin", "a", "origin", 0.0),
        Host("b-edge-1", "b", "edge", 0.2),
        Host("b-aaa-origin", "b", "origin", 0.2),
    ]
    plan = make_plan(hosts, Policy.model_validate({"canary": {"region": "b"}}))
    assert plan.steps[0].hosts == ("b-edge-1",)
    # region "a" (weight 0) has no edge: the canary goes to the lowest-traffic
    # region that has one, and that region leads the rollout.
    plan = make_plan(hosts, Policy())
    assert plan.steps[0].hosts == ("b-edge-1",)
    assert plan.regions == ("b", "a")
    # no probed role anywhere: the lowest-traffic region, any host
    plan = make_plan([h for h in hosts if h.role == "origin"], Policy())
    assert plan.steps[0].hosts == ("a-origin",)


def test_per_step_settings_come_from_the_policy() -> None:
    hosts = fleet({"a": (0.1, 4)})
    policy = Policy.model_validate(
        {
            "bake_s": 7,
            "canary": {"bake_s": 3, "approval": True},
            "waves": [{"size": "100%", "bake_s": 0, "gates": ["http"]}],
        }
    )
    plan = make_plan(hosts, policy)
    canary, wave = plan.steps
    assert (canary.bake_s, canary.approval, canary.gates) == (3, True, ("http", "canary_analysis"))
    assert (wave.bake_s, wave.approval, wave.gates) == (0, False, ("http",))
    assert wave.deadline_s == 600


def test_deterministic_whatever_the_input_order() -> None:
    hosts = fleet({"a": (0.2, 13), "b": (0.2, 9), "c": (0.6, 30)})
    expected = make_plan(hosts, Policy())
    for seed in range(5):
        shuffled = hosts[:]
        random.Random(seed).shuffle(shuffled)
        plan = make_plan(shuffled, Policy())
        assert plan == expected
        assert plan.digest() == expected.digest()
    # equal weights tie-break by region name
    assert expected.regions[:2] == ("a", "b")


def test_plan_round_trips_through_json_dicts() -> None:
    plan = make_plan(fleet({"a": (0.1, 5), "b": (0.2, 5)}), Policy())
    from fleetctl.core.planner import Plan

    assert Plan.from_dict(plan.to_dict()) == plan


def test_bad_inputs() -> None:
    with pytest.raises(PlanError, match="no target hosts"):
        make_plan([], Policy())
    with pytest.raises(PlanError, match="duplicate"):
        make_plan([Host("x", "a"), Host("x", "b")], Policy())
    with pytest.raises(PlanError, match="canary region"):
        make_plan([Host("x", "a")], Policy.model_validate({"canary": {"region": "q"}}))


def test_hundred_thousand_hosts_thirty_regions() -> None:
    hosts = [
        Host(f"h{i:06d}", f"r{i % 30:02d}", "edge", round((i % 30 + 1) / 465, 4))
        for i in range(100_000)
    ]
    plan = make_plan(hosts, Policy())
    assert plan.host_count == 100_000
    assert plan.regions[0] == "r00" and plan.regions[-1] == "r29"
    assert len({h for s in plan.steps for h in s.hosts}) == 100_000
    # per region: 1, 10%, 50%, 100% -> 4 steps, the canary replaces r00's first
    assert len(plan.steps) == 1 + 30 * 4 - 1


def test_host_lookup_by_name() -> None:
    hosts = fleet({"a": (0.1, 3)})
    plan = make_plan(hosts, Policy())
    assert plan.host("a-001") == hosts[1]
    with pytest.raises(KeyError):
        plan.host("nope")
