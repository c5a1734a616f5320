"""Gate verdicts: pure maths over probe samples.

A gate answers Pass, Fail or Inconclusive and always carries the numbers it
decided on, so `rollout why` can show the evidence. Inconclusive means "we
could not measure well enough" (too few samples, the probe path itself
failing) and never counts as a pass.

scipy is imported inside the function that needs it (Mann-Whitney U), never
at import time.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fleetctl.core.gate_samples import Distribution, GateSamples
from fleetctl.core.policy import CanaryAnalysis, HttpGate, PromQuery


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Sample:
    """One probe request. `error` is None for a good answer, "status" for an
    unexpected HTTP status, "conn" for a refused/reset connection or timeout."""

    host: str
    path: str
    latency_ms: float | None
    status: int | None = None
    error: str | None = None
    at: float = 0.0  # epoch seconds, for ordering streaks
    detail: str | None = None  # what went wrong, e.g. why a certificate did not verify

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class GateResult:
    gate: str
    verdict: Verdict
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)
    # the raw observations behind the numbers, for the report's plots
    samples: GateSamples | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "gate": self.gate,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "numbers": copy.deepcopy(self.numbers),
        }
        if self.samples:  # absent rather than empty: the journal's older shape
            d["samples"] = self.samples.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateResult:
        return cls(
            d["gate"],
            Verdict(d["verdict"]),
            d["reason"],
            dict(d.get("numbers", {})),
            GateSamples.from_dict(d.get("samples")),
        )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def longest_error_streak(samples: Iterable[Sample], *, kind: str | None = "conn") -> int:
    """Longest run of consecutive errors (of `kind`, or any error) per host, in time order."""
    by_host: dict[str, list[Sample]] = {}
    for s in samples:
        by_host.setdefault(s.host, []).append(s)
    best = 0
    for items in by_host.values():
        run = 0
        for s in sorted(items, key=lambda s: s.at):
            bad = s.error is not None and (kind is None or s.error == kind)
            run = run + 1 if bad else 0
            best = max(best, run)
    return best


def _r(x: float, nd: int = 3) -> float | None:
    return None if math.isnan(x) else round(x, nd)


def _p(x: float) -> float:
    """A p-value kept readable at any size: 3 significant digits (1.4e-11, 0.0633)."""
    return float(f"{x:.3g}")


def error_details(samples: Iterable[Sample], limit: int = 3) -> list[str]:
    """The first few distinct error details (why a request failed), for `why`."""
    out: list[str] = []
    for s in samples:
        if s.detail and s.detail not in out:
            out.append(s.detail)
            if len(out) >= limit:
                break
    return out


def http_gate(samples: Sequence[Sample], cfg: HttpGate) -> GateResult:
    """Absolute thresholds on the changed hosts: error rate and p95 latency."""
    total = len(samples)
    errors = sum(1 for s in samples if not s.ok)
    lat = [s.latency_ms for s in samples if s.ok and s.latency_ms is not None]
    p95 = percentile(lat, 95)
    rate = errors / total if total else math.nan
    worst: dict[str, int] = {}
    for s in samples:
        if not s.ok:
            worst[s.host] = worst.get(s.host, 0) + 1
    numbers: dict[str, Any] = {
        "samples": total,
        "errors": errors,
        "error_rate": _r(rate, 4),
        "max_error_rate": cfg.max_error_rate,
        "p95_ms": _r(p95),
        "max_p95_ms": cfg.max_p95_ms,
        "hosts": len({s.host for s in samples}),
        "errors_by_host": dict(sorted(worst.items())),
    }
    observed = GateSamples(
        (
            Distribution.of(
                "latency_ms",
                "ms",
                "request",
                lat,
                limit=cfg.max_p95_ms,
                bound="max",
                limit_of="p95",
            ),
        )
    )

    def result(verdict: Verdict, reason: str) -> GateResult:
        return GateResult("http", verdict, reason, numbers, observed)

    if total < cfg.min_samples:
        return result(Verdict.INCONCLUSIVE, f"too few samples: {total} < {cfg.min_samples}")
    if rate > cfg.max_error_rate:
        kinds = sorted({f"{s.error}:{s.status}" if s.status else str(s.error) for s in samples})
        numbers["error_kinds"] = [k for k in kinds if k != "None"]
        details = error_details(samples)
        if details:
            numbers["error_details"] = details
        return result(
            Verdict.FAIL,
            f"error rate {rate:.1%} > {cfg.max_error_rate:.1%} ({errors}/{total} requests)"
            + (f": {details[0]}" if details else ""),
        )
    if not lat:
        return result(Verdict.INCONCLUSIVE, "no latency measured")
    if p95 > cfg.max_p95_ms:
        return result(Verdict.FAIL, f"p95 latency {p95:.1f} ms > {cfg.max_p95_ms:.1f} ms")
    return result(
        Verdict.PASS,
        f"error rate {rate:.1%} <= {cfg.max_error_rate:.1%}, "
        f"p95 {p95:.1f} ms <= {cfg.max_p95_ms:.1f} ms",
    )


def mann_whitney_greater(
    changed: Sequence[float], baseline: Sequence[float]
) -> tuple[float, float]:
    """One-sided Mann-Whitney U: is `changed` stochastically greater (slower)?
    Returns (U statistic of `changed`, p-value)."""
    from scipy.stats import mannwhitneyu

    res = mannwhitneyu(list(changed), list(baseline), alternative="greater", method="auto")
    return float(res.statistic), float(res.pvalue)


def proportions_greater(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """One-sided two-proportion z-test (pooled): is rate1 = x1/n1 greater than
    rate2 = x2/n2? Returns (z, p). No difference measurable -> (0.0, 1.0)."""
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 0.0, 1.0
    z = (p1 - p2) / math.sqrt(var)
    return z, 0.5 * math.erfc(z / math.sqrt(2))


def canary_analysis(
    changed: Sequence[Sample],
    baseline: Sequence[Sample],
    cfg: CanaryAnalysis,
    *,
    latency_path: str,
    consecutive_error_limit: int,
) -> GateResult:
    """Changed hosts against unchanged hosts of the same role, same time window.

    Order of decisions (each recorded in the numbers):
    1. no baseline -> Skipped (nothing unchanged left to compare with);
    2. baseline probes failing `consecutive_error_limit` times in a row ->
       Inconclusive (the probe path is broken, not necessarily the change);
    3. error rate significantly higher on the changed hosts -> Fail;
    4. fewer than `min_samples` latencies on either side -> Inconclusive;
    5. latency significantly higher (p < alpha) AND the median grew by at
       least `min_effect_ms` and `min_effect_ratio` -> Fail;
    6. otherwise Pass.
    """
    if not baseline:
        return GateResult(
            "canary_analysis",
            Verdict.SKIPPED,
            "no unchanged hosts of the same role left to compare with",
            {"changed_samples": len(changed), "baseline_samples": 0},
        )
    streak = longest_error_streak(baseline)
    x1 = sum(1 for s in changed if not s.ok)
    x2 = sum(1 for s in baseline if not s.ok)
    n1, n2 = len(changed), len(baseline)
    z, p_err = proportions_greater(x1, n1, x2, n2)
    lat1 = [
        s.latency_ms
        for s in changed
        if s.ok and s.latency_ms is not None and s.path == latency_path
    ]
    lat2 = [
        s.latency_ms
        for s in baseline
        if s.ok and s.latency_ms is not None and s.path == latency_path
    ]

    def observed(limit: float | None = None) -> GateSamples:
        # the latency path's latencies, both sides; the limit (when the
        # medians are known) is where the changed median starts to fail
        return GateSamples(
            (
                Distribution.of(
                    "latency_ms",
                    "ms",
                    "request",
                    lat1,
                    lat2,
                    limit=limit,
                    bound="max" if limit is not None else "",
                    limit_of="median",
                ),
            )
        )

    numbers: dict[str, Any] = {
        "latency_path": latency_path,
        "changed_hosts": len({s.host for s in changed}),
        "baseline_hosts": len({s.host for s in baseline}),
        "changed_error_rate": _r(x1 / n1 if n1 else math.nan, 4),
        "baseline_error_rate": _r(x2 / n2 if n2 else math.nan, 4),
        "errors": f"{x1}/{n1} vs {x2}/{n2}",
        "error_z": _r(z),
        "error_p": _p(p_err),
        "alpha": cfg.alpha,
        "changed_latency_n": len(lat1),
        "baseline_latency_n": len(lat2),
        "baseline_error_streak": streak,
        "consecutive_error_limit": consecutive_error_limit,
    }
    if streak >= consecutive_error_limit:
        return GateResult(
            "canary_analysis",
            Verdict.INCONCLUSIVE,
            f"baseline probes failed {streak} times in a row (limit {consecutive_error_limit}): "
            "cannot tell the change from a broken probe path",
            numbers,
            observed(),
        )
    if x1 > x2 * n1 / max(n2, 1) and p_err < cfg.alpha:
        details = error_details(changed)
        if details:
            numbers["error_details"] = details
        return GateResult(
            "canary_analysis",
            Verdict.FAIL,
            f"error rate {x1 / n1:.1%} on changed hosts vs {x2 / n2:.1%} on baseline "
            f"(p={p_err:.2g} < {cfg.alpha})" + (f": {details[0]}" if details else ""),
            numbers,
            observed(),
        )
    if len(lat1) < cfg.min_samples or len(lat2) < cfg.min_samples:
        return GateResult(
            "canary_analysis",
            Verdict.INCONCLUSIVE,
            f"too few latency samples: {len(lat1)} changed, {len(lat2)} baseline "
            f"(need {cfg.min_samples} each)",
            numbers,
            observed(),
        )
    m1, m2 = statistics.median(lat1), statistics.median(lat2)
    u, p_lat = mann_whitney_greater(lat1, lat2)
    delta = m1 - m2
    ratio = m1 / m2 if m2 > 0 else math.inf
    numbers.update(
        {
            "changed_median_ms": _r(m1),
            "baseline_median_ms": _r(m2),
            "median_delta_ms": _r(delta),
            "median_ratio": _r(ratio) if math.isfinite(ratio) else None,
            "mann_whitney_u": _r(u, 1),
            "latency_p": _p(p_lat),
            "min_effect_ms": cfg.min_effect_ms,
            "min_effect_ratio": cfg.min_effect_ratio,
        }
    )
    fails_above = observed(max(m2 + cfg.min_effect_ms, m2 * cfg.min_effect_ratio))
    slower = p_lat < cfg.alpha and delta >= cfg.min_effect_ms and ratio >= cfg.min_effect_ratio
    if slower:
        return GateResult(
            "canary_analysis",
            Verdict.FAIL,
            f"latency regression: median {m1:.1f} ms vs {m2:.1f} ms baseline "
            f"(+{delta:.1f} ms, x{ratio:.2f}; Mann-Whitney p={p_lat:.2g} < {cfg.alpha})",
            numbers,
            fails_above,
        )
    return GateResult(
        "canary_analysis",
        Verdict.PASS,
        f"no regression: median {m1:.1f} ms vs {m2:.1f} ms (p={p_lat:.2g}); "
        f"errors {x1}/{n1} vs {x2}/{n2}",
        numbers,
        fails_above,
    )


@dataclass(frozen=True)
class PromReading:
    """One query's outcome: a value, or the error of the attempt(s)."""

    query: PromQuery
    value: float | None
    errors: tuple[str, ...] = ()  # consecutive failed attempts before the value (or giving up)


def prometheus_gate(readings: Sequence[PromReading], consecutive_error_limit: int) -> GateResult:
    numbers: dict[str, Any] = {}
    failing: list[str] = []
    unknown: list[str] = []
    for r in readings:
        q = r.query
        numbers[q.name] = {
            "value": r.value,
            "max": q.max,
            "min": q.min,
            "consecutive_errors": len(r.errors),
            "last_error": r.errors[-1] if r.errors else None,
        }
        if r.value is None:
            if len(r.errors) >= consecutive_error_limit:
                unknown.append(f"{q.name}: {len(r.errors)} consecutive query errors")
            else:
                unknown.append(f"{q.name}: no value")
            continue
        if q.max is not None and r.value > q.max:
            failing.append(f"{q.name}={r.value:g} > {q.max:g}")
        if q.min is not None and r.value < q.min:
            failing.append(f"{q.name}={r.value:g} < {q.min:g}")
    if failing:
        return GateResult("prometheus", Verdict.FAIL, "; ".join(failing), numbers)
    if unknown:
        return GateResult("prometheus", Verdict.INCONCLUSIVE, "; ".join(unknown), numbers)
    return GateResult("prometheus", Verdict.PASS, f"{len(readings)} queries within bounds", numbers)


def combine(results: Iterable[GateResult]) -> Verdict:
    """Any Fail fails; otherwise any Inconclusive pauses; otherwise Pass."""
    verdicts = [r.verdict for r in results]
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.INCONCLUSIVE in verdicts:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS
