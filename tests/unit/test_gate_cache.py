"""The `cache` gate's maths: hit ratio, origin requests, projected origin load."""

from __future__ import annotations

import pytest

from fleetctl.core.cache_gate import CacheRead, cache_gate, projected_origin_rps, stats
from fleetctl.core.gates import Verdict
from fleetctl.core.policy import CacheGate

pytestmark = pytest.mark.unit


def reads(host: str, hits: int, misses: int, *, other: str = "MISS") -> list[CacheRead]:
    return [CacheRead(host, 200, "HIT")] * hits + [CacheRead(host, 200, other)] * misses


def test_stats_classify_nginx_cache_statuses() -> None:
    rs = [
        CacheRead("e", 200, s)
        for s in ("HIT", "STALE", "UPDATING", "MISS", "EXPIRED", "BYPASS", "REVALIDATED", "", "hit")
    ]
    s = stats(rs)
    assert (s.requests, s.hits, s.origin_requests, s.uncached) == (9, 4, 4, 1)
    assert projected_origin_rps(10_000, 0.3, 0.5) == pytest.approx(1500)


def test_pass_fail_inconclusive() -> None:
    cfg = CacheGate(enabled=True, min_requests=20)
    r = cache_gate(reads("c", 45, 0), reads("b", 90, 0), cfg)
    assert r.verdict is Verdict.PASS and r.numbers["changed_hit_ratio"] == 1.0
    # a cache-busting change: every request goes to the origin
    r = cache_gate(reads("c", 0, 45), reads("b", 90, 0), cfg)
    assert r.verdict is Verdict.FAIL and "hit ratio 0.0% < 80.0%" in r.reason
    assert r.numbers["changed_origin_per_request"] == 1.0
    r = cache_gate(reads("c", 5, 5), reads("b", 90, 0), cfg)
    assert r.verdict is Verdict.INCONCLUSIVE and "too few cache reads" in r.reason


def test_relative_drop_fails_above_absolute_floor() -> None:
    cfg = CacheGate(enabled=True, min_hit_ratio=0.5, max_hit_ratio_drop=0.1)
    r = cache_gate(reads("c", 60, 40), reads("b", 190, 10), cfg)  # 60 % vs 95 %
    assert r.verdict is Verdict.FAIL and "vs 95.0% on baseline" in r.reason
    assert r.numbers["hit_ratio_drop"] == pytest.approx(0.35)
    r = cache_gate(reads("c", 92, 8), reads("b", 190, 10), cfg)  # 92 % vs 95 %: small
    assert r.verdict is Verdict.PASS


def test_projected_origin_load_against_capacity() -> None:
    cfg = CacheGate(enabled=True, fleet_peak_rps=100_000, origin_capacity_rps=5_000)
    weights = {"us-east-1": 0.3}
    r = cache_gate(reads("c", 95, 5), reads("b", 95, 5), cfg, region_weights=weights)
    assert r.verdict is Verdict.PASS
    assert r.numbers["projected_origin_rps"] == pytest.approx(1500)
    assert r.numbers["region_peak_rps"] == pytest.approx(30_000)
    cfg = CacheGate(
        enabled=True, min_hit_ratio=0.5, fleet_peak_rps=100_000, origin_capacity_rps=5_000
    )
    r = cache_gate(reads("c", 80, 20), reads("b", 80, 20), cfg, region_weights=weights)
    assert r.verdict is Verdict.FAIL and "6000 req/s > its capacity 5000" in r.reason


def test_fail_reason_puts_the_projected_load_beside_baseline_and_capacity() -> None:
    """`rollout why` shows the reason line: the projected load alone (e.g.
    "2000 req/s") does not say whether it is bad, so the baseline's hit ratio,
    the load the unchanged edges would cause and the origin's capacity sit
    beside it."""
    cfg = CacheGate(enabled=True, fleet_peak_rps=20_000, origin_capacity_rps=2_000)
    r = cache_gate(reads("c", 0, 45), reads("b", 90, 0), cfg, region_weights={"small": 0.1})
    assert r.verdict is Verdict.FAIL
    assert "hit ratio 0.0% < 80.0% (100.0% on baseline;" in r.reason
    assert "the origin would see 2000 req/s (0 req/s like the baseline; capacity 2000" in r.reason
    # without a baseline or capacity nothing is invented
    cfg = CacheGate(enabled=True, fleet_peak_rps=20_000)
    r = cache_gate(reads("c", 0, 45), [], cfg, region_weights={"small": 0.1})
    assert r.reason.endswith("the origin would see 2000 req/s")
    assert "baseline" not in r.reason
