"""The `cache` gate: does the change keep the edge's cache working?

A change that makes every request miss looks healthy on a canary (a
loopback origin answers fast) and melts the origin when it reaches the
region. So the gate reads each response's `X-Cache-Status` (nginx
`$upstream_cache_status`) after a warm-up pass and judges the hit ratio and
the origin requests per viewer request, changed vs baseline edges, and shows
the origin load the change would cause at the region's peak.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from fleetctl.core.gate_samples import Distribution, GateSamples
from fleetctl.core.gates import GateResult, Verdict, _p, _r, proportions_greater
from fleetctl.core.policy import CacheGate

GATE = "cache"

# nginx $upstream_cache_status values. Served from cache without going to
# the origin: HIT, STALE, UPDATING. Went to the origin: MISS, EXPIRED,
# BYPASS, REVALIDATED (a conditional request is still an origin request).
HIT = frozenset({"HIT", "STALE", "UPDATING"})
ORIGIN = frozenset({"MISS", "EXPIRED", "BYPASS", "REVALIDATED"})


@dataclass(frozen=True)
class CacheRead:
    """One measured viewer request: the edge, its HTTP status and the
    X-Cache-Status it answered with ("" when absent: not served by the cache)."""

    host: str
    status: int | None
    cache_status: str = ""

    @property
    def hit(self) -> bool:
        return self.cache_status.upper() in HIT

    @property
    def to_origin(self) -> bool:
        return self.cache_status.upper() in ORIGIN


@dataclass(frozen=True)
class CacheStats:
    requests: int
    hits: int
    origin_requests: int
    uncached: int  # no cache status (e.g. an error answered by the edge itself)

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else math.nan

    @property
    def origin_per_request(self) -> float:
        return self.origin_requests / self.requests if self.requests else math.nan


def stats(reads: Sequence[CacheRead]) -> CacheStats:
    hits = sum(1 for r in reads if r.hit)
    origin = sum(1 for r in reads if r.to_origin)
    return CacheStats(len(reads), hits, origin, len(reads) - hits - origin)


def projected_origin_rps(
    fleet_peak_rps: float, region_weight: float, origin_per_request: float
) -> float:
    """Origin requests/s if every edge of the region behaved like the changed
    ones at the region's peak (fleet peak x the region's traffic weight)."""
    return fleet_peak_rps * region_weight * origin_per_request


def per_edge(reads: Sequence[CacheRead]) -> dict[str, CacheStats]:
    by_host: dict[str, list[CacheRead]] = {}
    for r in reads:
        by_host.setdefault(r.host, []).append(r)
    return {h: stats(rs) for h, rs in sorted(by_host.items())}


def observed(
    changed: Sequence[CacheRead], baseline: Sequence[CacheRead], cfg: CacheGate
) -> GateSamples:
    """Each edge's hit ratio and origin requests per viewer request, both sides."""

    def ratios(reads: Sequence[CacheRead], attr: str) -> list[float]:
        return [float(getattr(st, attr)) for st in per_edge(reads).values() if st.requests]

    base = baseline if baseline else None
    return GateSamples(
        (
            Distribution.of(
                "hit_ratio",
                "",
                "edge",
                ratios(changed, "hit_ratio"),
                None if base is None else ratios(base, "hit_ratio"),
                limit=cfg.min_hit_ratio,
                bound="min",
                limit_of="all reads",
            ),
            Distribution.of(
                "origin_per_request",
                "",
                "edge",
                ratios(changed, "origin_per_request"),
                None if base is None else ratios(base, "origin_per_request"),
            ),
        )
    )


def cache_gate(
    changed: Sequence[CacheRead],
    baseline: Sequence[CacheRead],
    cfg: CacheGate,
    *,
    region_weights: Mapping[str, float] | None = None,
) -> GateResult:
    """The verdict (see `_judge`) with each edge's ratios."""
    result = _judge(changed, baseline, cfg, region_weights=region_weights)
    return replace(result, samples=observed(changed, baseline, cfg))


def _judge(
    changed: Sequence[CacheRead],
    baseline: Sequence[CacheRead],
    cfg: CacheGate,
    *,
    region_weights: Mapping[str, float] | None = None,
) -> GateResult:
    """Order of decisions (each recorded in the numbers):
    1. fewer than `min_requests` measured on the changed edges -> Inconclusive;
    2. hit ratio below `min_hit_ratio` -> Fail;
    3. with a baseline: the hit ratio dropped by more than
       `max_hit_ratio_drop` and the extra origin requests are significant
       (proportions, p < alpha) -> Fail;
    4. projected origin load at the region's peak above
       `origin_capacity_rps` -> Fail;
    5. otherwise Pass.
    `region_weights` (region -> traffic weight of the regions the changed
    edges are in) feeds the projection when `fleet_peak_rps` is set.
    """
    ch, base = stats(changed), stats(baseline)
    numbers: dict[str, object] = {
        "changed_requests": ch.requests,
        "changed_hit_ratio": _r(ch.hit_ratio, 4),
        "changed_origin_per_request": _r(ch.origin_per_request, 4),
        "changed_uncached": ch.uncached,
        "changed_hosts": len({r.host for r in changed}),
        "min_hit_ratio": cfg.min_hit_ratio,
        "max_hit_ratio_drop": cfg.max_hit_ratio_drop,
    }
    if baseline:
        numbers.update(
            {
                "baseline_requests": base.requests,
                "baseline_hit_ratio": _r(base.hit_ratio, 4),
                "baseline_origin_per_request": _r(base.origin_per_request, 4),
                "baseline_hosts": len({r.host for r in baseline}),
            }
        )
    projected: float | None = None
    base_projected: float | None = None
    if cfg.fleet_peak_rps is not None and region_weights and ch.requests:
        weight = sum(region_weights.values())
        projected = projected_origin_rps(cfg.fleet_peak_rps, weight, ch.origin_per_request)
        numbers.update(
            {
                "fleet_peak_rps": cfg.fleet_peak_rps,
                "region_weight": _r(weight, 4),
                "region_peak_rps": _r(cfg.fleet_peak_rps * weight, 1),
                "projected_origin_rps": _r(projected, 1),
                "origin_capacity_rps": cfg.origin_capacity_rps,
            }
        )
        if base.requests:
            base_projected = projected_origin_rps(
                cfg.fleet_peak_rps, weight, base.origin_per_request
            )
            numbers["baseline_origin_rps"] = _r(base_projected, 1)
    load = ""
    if projected is not None:
        # the number alone does not say whether it is bad: put it next to
        # what the unchanged edges would cause and what the origin can carry
        beside = []
        if base_projected is not None:
            beside.append(f"{base_projected:.0f} req/s like the baseline")
        if cfg.origin_capacity_rps is not None:
            beside.append(f"capacity {cfg.origin_capacity_rps:.0f} req/s")
        more = f" ({'; '.join(beside)})" if beside else ""
        load = f"; at the region's peak the origin would see {projected:.0f} req/s{more}"
    versus = f" vs {base.hit_ratio:.1%} on baseline" if base.requests else ""
    on_base = f"{base.hit_ratio:.1%} on baseline; " if base.requests else ""
    if ch.requests < cfg.min_requests:
        return GateResult(
            GATE,
            Verdict.INCONCLUSIVE,
            f"too few cache reads on changed edges: {ch.requests} < {cfg.min_requests}",
            numbers,
        )
    if ch.hit_ratio < cfg.min_hit_ratio:
        return GateResult(
            GATE,
            Verdict.FAIL,
            f"hit ratio {ch.hit_ratio:.1%} < {cfg.min_hit_ratio:.1%} ({on_base}"
            f"{ch.origin_per_request:.2f} origin requests per viewer request){load}",
            numbers,
        )
    if base.requests:
        misses_ch = ch.requests - ch.hits
        misses_base = base.requests - base.hits
        z, p = proportions_greater(misses_ch, ch.requests, misses_base, base.requests)
        drop = base.hit_ratio - ch.hit_ratio
        numbers.update(
            {"hit_ratio_drop": _r(drop, 4), "alpha": cfg.alpha, "miss_z": _r(z), "miss_p": _p(p)}
        )
        if drop > cfg.max_hit_ratio_drop and p < cfg.alpha:
            return GateResult(
                GATE,
                Verdict.FAIL,
                f"hit ratio {ch.hit_ratio:.1%} vs {base.hit_ratio:.1%} on baseline "
                f"(-{drop:.1%} > {cfg.max_hit_ratio_drop:.1%}, p={p:.2g}){load}",
                numbers,
            )
    if (
        projected is not None
        and cfg.origin_capacity_rps is not None
        and projected > cfg.origin_capacity_rps
    ):
        return GateResult(
            GATE,
            Verdict.FAIL,
            f"at the region's peak the origin would see {projected:.0f} req/s "
            f"> its capacity {cfg.origin_capacity_rps:.0f} req/s",
            numbers,
        )
    return GateResult(
        GATE,
        Verdict.PASS,
        f"hit ratio {ch.hit_ratio:.1%}{versus}, "
        f"{ch.origin_per_request:.2f} origin requests per viewer request{load}",
        numbers,
    )
