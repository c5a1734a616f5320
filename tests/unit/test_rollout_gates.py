"""Gate statistics on known samples: Mann-Whitney U, difference of proportions,
and the Pass / Fail / Inconclusive rules with their numbers."""

from __future__ import annotations

import math
import random

import pytest

from fleetctl.core.gates import (
    GateResult,
    PromReading,
    Sample,
    Verdict,
    canary_analysis,
    combine,
    http_gate,
    longest_error_streak,
    mann_whitney_greater,
    percentile,
    prometheus_gate,
    proportions_greater,
)
from fleetctl.core.policy import CanaryAnalysis, HttpGate, PromQuery

pytestmark = pytest.mark.unit
SEG = "/seg.ts"


def samples(host: str, latencies: list[float], *, path: str = SEG, errors: int = 0) -> list[Sample]:
    out = [Sample(host, path, ms, 200, None, at=i) for i, ms in enumerate(latencies)]
    out += [Sample(host, path, None, None, "conn", at=100 + i) for i in range(errors)]
    return out


def noisy(rng: random.Random, centre: float, n: int) -> list[float]:
    return [max(0.1, rng.gauss(centre, centre * 0.1)) for _ in range(n)]


def test_mann_whitney_exact_small_sample() -> None:
    # Fully separated 3 vs 3: U = 9 and the exact one-sided p is 1 / C(6, 3) = 0.05.
    u, p = mann_whitney_greater([4, 5, 6], [1, 2, 3])
    assert u == 9
    assert p == pytest.approx(0.05)
    u, p = mann_whitney_greater([1, 2, 3], [4, 5, 6])
    assert u == 0
    assert p == pytest.approx(1.0)


def test_difference_of_proportions_known_values() -> None:
    # 10/100 vs 2/100: pooled 0.06, se = sqrt(0.06*0.94*0.02), z = 0.08 / se
    z, p = proportions_greater(10, 100, 2, 100)
    se = math.sqrt(0.06 * 0.94 * 0.02)
    assert z == pytest.approx(0.08 / se)
    assert p == pytest.approx(0.5 * math.erfc((0.08 / se) / math.sqrt(2)))
    assert p == pytest.approx(0.0086, abs=0.0005)
    assert proportions_greater(0, 50, 0, 50) == (0.0, 1.0)
    assert proportions_greater(3, 0, 0, 10) == (0.0, 1.0)


def test_percentile_nearest_rank() -> None:
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([5.0], 95) == 5.0
    assert math.isnan(percentile([], 50))


def test_http_gate_pass_fail_inconclusive() -> None:
    cfg = HttpGate(max_p95_ms=50, max_error_rate=0.0, min_samples=10)
    good = samples("e1", [5.0] * 20)
    r = http_gate(good, cfg)
    assert r.verdict is Verdict.PASS and r.numbers["p95_ms"] == 5.0
    r = http_gate(samples("e1", [5.0] * 19, errors=1), cfg)
    assert r.verdict is Verdict.FAIL and "error rate 5.0%" in r.reason
    assert r.numbers["errors_by_host"] == {"e1": 1}
    r = http_gate(samples("e1", [80.0] * 20), cfg)
    assert r.verdict is Verdict.FAIL and "p95 latency 80.0 ms > 50.0 ms" in r.reason
    r = http_gate(samples("e1", [5.0] * 3), cfg)
    assert r.verdict is Verdict.INCONCLUSIVE and "too few samples: 3 < 10" in r.reason


def test_latency_regression_under_the_absolute_threshold_is_caught() -> None:
    rng = random.Random(7)
    cfg = CanaryAnalysis()
    changed = samples("canary", noisy(rng, 60, 40))
    baseline = samples("b1", noisy(rng, 20, 40)) + samples("b2", noisy(rng, 20, 40))
    # The absolute gate is happy: p95 well under 1 s ...
    assert http_gate(changed, HttpGate()).verdict is Verdict.PASS
    # ... but canary analysis sees it.
    r = canary_analysis(changed, baseline, cfg, latency_path=SEG, consecutive_error_limit=4)
    assert r.verdict is Verdict.FAIL, r
    assert "latency regression" in r.reason
    assert r.numbers["latency_p"] < 0.01
    assert r.numbers["median_delta_ms"] > 30
    assert r.numbers["changed_latency_n"] == 40 and r.numbers["baseline_latency_n"] == 80


def test_same_distribution_passes() -> None:
    rng = random.Random(11)
    changed = samples("canary", noisy(rng, 2, 40))
    baseline = samples("b1", noisy(rng, 2, 40))
    r = canary_analysis(
        changed, baseline, CanaryAnalysis(), latency_path=SEG, consecutive_error_limit=4
    )
    assert r.verdict is Verdict.PASS, r
    assert r.numbers["latency_p"] > 0.01


def test_significant_but_tiny_difference_is_not_a_regression() -> None:
    # 2.0 ms vs 1.5 ms: Mann-Whitney is sure, but +0.5 ms is loopback noise (< min_effect_ms).
    changed = samples("canary", [2.0 + i * 0.001 for i in range(40)])
    baseline = samples("b1", [1.5 + i * 0.001 for i in range(40)])
    r = canary_analysis(
        changed, baseline, CanaryAnalysis(), latency_path=SEG, consecutive_error_limit=4
    )
    assert r.numbers["latency_p"] < 0.01
    assert r.verdict is Verdict.PASS


def test_error_rate_difference_fails() -> None:
    changed = samples("canary", [2.0] * 10) + [
        Sample("canary", SEG, 1.0, 404, "status", at=50 + i) for i in range(20)
    ]
    baseline = samples("b1", [2.0] * 30)
    r = canary_analysis(
        changed, baseline, CanaryAnalysis(), latency_path=SEG, consecutive_error_limit=4
    )
    assert r.verdict is Verdict.FAIL
    assert r.numbers["errors"] == "20/30 vs 0/30"
    assert r.numbers["error_p"] < 0.001


def test_inconclusive_rules() -> None:
    cfg = CanaryAnalysis(min_samples=20)
    # too few latency samples on a side
    r = canary_analysis(
        samples("c", [2.0] * 5),
        samples("b", [2.0] * 40),
        cfg,
        latency_path=SEG,
        consecutive_error_limit=4,
    )
    assert r.verdict is Verdict.INCONCLUSIVE and "too few latency samples" in r.reason
    # baseline probes failing 4 times in a row: the probe path is broken
    r = canary_analysis(
        samples("c", [2.0] * 30),
        samples("b", [2.0] * 30, errors=4),
        cfg,
        latency_path=SEG,
        consecutive_error_limit=4,
    )
    assert r.verdict is Verdict.INCONCLUSIVE and "4 times in a row" in r.reason
    # three in a row is under the limit
    r = canary_analysis(
        samples("c", [2.0] * 30),
        samples("b", [2.0] * 30, errors=3),
        cfg,
        latency_path=SEG,
        consecutive_error_limit=4,
    )
    assert r.verdict is Verdict.PASS
    # nothing left unchanged: skipped, not passed on made-up numbers
    r = canary_analysis(
        samples("c", [2.0] * 30), [], cfg, latency_path=SEG, consecutive_error_limit=4
    )
    assert r.verdict is Verdict.SKIPPED


def test_error_streak_is_per_host_and_in_time_order() -> None:
    s = [
        Sample("a", SEG, None, None, "conn", at=1),
        Sample("b", SEG, None, None, "conn", at=2),
        Sample("a", SEG, None, None, "conn", at=3),
        Sample("a", SEG, 1.0, 200, None, at=4),
        Sample("a", SEG, None, None, "conn", at=5),
    ]
    assert longest_error_streak(s) == 2


def test_prometheus_gate() -> None:
    q = PromQuery(name="5xx", query="sum(rate(x[1m]))", max=0.01)
    assert prometheus_gate([PromReading(q, 0.001)], 4).verdict is Verdict.PASS
    r = prometheus_gate([PromReading(q, 0.5)], 4)
    assert r.verdict is Verdict.FAIL and "5xx=0.5 > 0.01" in r.reason
    r = prometheus_gate([PromReading(q, None, ("refused",) * 4)], 4)
    assert r.verdict is Verdict.INCONCLUSIVE and "4 consecutive query errors" in r.reason


def test_combine_never_passes_an_inconclusive() -> None:
    p = GateResult("a", Verdict.PASS, "")
    i = GateResult("b", Verdict.INCONCLUSIVE, "")
    f = GateResult("c", Verdict.FAIL, "")
    s = GateResult("d", Verdict.SKIPPED, "")
    assert combine([p, s]) is Verdict.PASS
    assert combine([p, i]) is Verdict.INCONCLUSIVE
    assert combine([i, f, p]) is Verdict.FAIL
    assert GateResult.from_dict(f.to_dict()) == f
