"""Traffic weights of region drains: redistribution, exact restore, composition,
rounding, and the capacity refusal numbers."""

from __future__ import annotations

import itertools

import pytest

from fleetctl.core import traffic as t

pytestmark = pytest.mark.unit

LAB = {"lab-small": 0.1, "lab-mid": 0.3, "lab-big": 0.6}
PROD = {
    "us-east-1": 0.3,
    "us-west-2": 0.15,
    "eu-west-1": 0.2,
    "eu-central-1": 0.1,
    "ap-northeast-1": 0.1,
    "ap-southeast-1": 0.07,
    "ap-south-1": 0.05,
    "sa-east-1": 0.03,
}


def test_drain_moves_the_share_proportionally() -> None:
    after = t.effective_weights(LAB, ["lab-small"])
    assert after["lab-small"] == 0.0
    assert after["lab-mid"] == pytest.approx(0.3 / 0.9)
    assert after["lab-big"] == pytest.approx(0.6 / 0.9)
    assert sum(after.values()) == pytest.approx(1.0)
    # the remaining regions keep their ratio
    assert after["lab-big"] / after["lab-mid"] == pytest.approx(2.0)


def test_undrain_restores_exactly() -> None:
    assert t.effective_weights(PROD, []) == PROD
    assert t.effective_weights(PROD, []) is not PROD  # a copy, equal bit for bit


def test_drains_compose_in_any_order() -> None:
    both = t.effective_weights(PROD, ["eu-west-1", "us-east-1"])
    assert both == t.effective_weights(PROD, ["us-east-1", "eu-west-1"])
    assert both["eu-west-1"] == both["us-east-1"] == 0.0
    assert sum(both.values()) == pytest.approx(1.0)
    assert both["us-west-2"] == pytest.approx(0.15 / 0.5)
    # undrain one of two: exactly the weights of draining the other alone
    assert t.effective_weights(PROD, ["us-east-1"]) == t.effective_weights(
        PROD, {"eu-west-1", "us-east-1"} - {"eu-west-1"}
    )


def test_sequential_redistribution_equals_set_drain() -> None:
    """Draining A, then B from the already-redistributed weights, is the same
    split as draining {A, B} from the base (to float precision)."""
    for a, b in itertools.permutations(["us-east-1", "ap-south-1", "sa-east-1"], 2):
        step = t.effective_weights(t.effective_weights(PROD, [a]), [b])
        direct = t.effective_weights(PROD, [a, b])
        assert step == pytest.approx(direct)


def test_draining_everything_is_refused() -> None:
    with pytest.raises(t.TrafficError, match="no region serving"):
        t.effective_weights(LAB, list(LAB))
    with pytest.raises(t.TrafficError, match="unknown region"):
        t.effective_weights(LAB, ["mars-1"])
    # a region without traffic can be drained (nothing moves)
    assert t.effective_weights({**LAB, "lab-core": 0.0}, ["lab-core"]) == {**LAB, "lab-core": 0.0}


def test_integer_weights_rounding_rule() -> None:
    ints = t.integer_weights(PROD)
    assert ints["us-east-1"] == 255  # heaviest gets the top
    assert ints["us-west-2"] == 128  # 127.5 rounds half up
    assert ints["sa-east-1"] == 26  # 25.5 rounds half up
    assert all(0 <= w <= t.ROUTE53_MAX_WEIGHT for w in ints.values())
    assert t.integer_weights({"a": 1e-6, "b": 1.0, "c": 0.0}) == {"a": 1, "b": 255, "c": 0}
    assert t.integer_weights(LAB, top=60) == {"lab-small": 10, "lab-mid": 30, "lab-big": 60}
    assert t.integer_weights({"a": 0.0}) == {"a": 0}


def test_integer_drain_keeps_the_rest_and_restores_exactly() -> None:
    base = t.integer_weights(PROD)
    one = t.drained_integer_weights(base, ["eu-west-1"])
    assert one["eu-west-1"] == 0
    assert {r: w for r, w in one.items() if r != "eu-west-1"} == {
        r: w for r, w in base.items() if r != "eu-west-1"
    }
    two = t.drained_integer_weights(base, ["eu-west-1", "us-east-1"])
    assert t.drained_integer_weights(base, ["us-east-1"]) == {**two, "eu-west-1": base["eu-west-1"]}
    assert t.drained_integer_weights(base, []) == base
    # the integer shares after a drain follow the float redistribution
    after = t.shares(one)
    exact = t.effective_weights(PROD, ["eu-west-1"])
    for region, share in after.items():
        assert share == pytest.approx(exact[region], abs=0.003)
    with pytest.raises(t.TrafficError):
        t.drained_integer_weights(base, list(base))


def test_absorb_check_numbers() -> None:
    pools = [
        t.RegionPool("lab-small", 1, 1.0),
        t.RegionPool("lab-mid", 1, 1.0),
        t.RegionPool("lab-big", 2, 1.0),
    ]
    after = t.effective_weights(LAB, ["lab-big"])
    rows = t.absorb_check(pools, LAB, after, peak_gbps=3.0, utilisation=0.5)
    assert [r.region for r in rows] == ["lab-mid", "lab-small"]  # tightest first
    mid = rows[0]
    assert mid.share_before == pytest.approx(0.3)
    assert mid.share_after == pytest.approx(0.75)
    assert mid.needed_gbps == pytest.approx(2.25)
    assert mid.available_gbps == pytest.approx(0.5)
    assert not mid.ok and mid.short_gbps == pytest.approx(1.75)
    assert rows[1].needed_gbps == pytest.approx(0.75) and not rows[1].ok
    assert [r.region for r in t.refused(rows)] == ["lab-mid", "lab-small"]

    small_peak = t.absorb_check(pools, LAB, after, peak_gbps=0.5, utilisation=0.8)
    assert t.refused(small_peak) == []
    with pytest.raises(t.TrafficError):
        t.absorb_check(pools, LAB, after, peak_gbps=0)


def test_server_weights_keep_region_shares_exact() -> None:
    servers = {"lab-small": ["s1"], "lab-mid": ["m1"], "lab-big": ["b1", "b2", "b3"]}
    w = t.server_weights({"lab-small": 10, "lab-mid": 30, "lab-big": 60}, servers)
    assert w == {"s1": 30, "m1": 90, "b1": 60, "b2": 60, "b3": 60}
    region_total = {r: sum(w[s] for s in names) for r, names in servers.items()}
    assert t.shares(region_total) == pytest.approx(
        {"lab-small": 0.1, "lab-mid": 0.3, "lab-big": 0.6}
    )
    drained = t.server_weights({"lab-small": 10, "lab-mid": 30, "lab-big": 0}, servers)
    assert drained == {"s1": 10, "m1": 30, "b1": 0, "b2": 0, "b3": 0}
