"""What the rollout report compares and draws (services.report, pure parts)."""

from __future__ import annotations

import pytest

from fleetctl.services.report import Comparison, comparisons, render

pytestmark = pytest.mark.unit


def test_changed_and_baseline_pairs_with_their_limits() -> None:
    numbers = {
        "changed_hit_ratio": 0.0,
        "baseline_hit_ratio": 1.0,
        "min_hit_ratio": 0.8,
        "changed_latency_n": 20,  # a count: not drawn
        "changed_hosts": 1,
        "p95_ms": 12.5,
        "max_p95_ms": 1000.0,
        "changed_failures": {"x": 1},  # not a number
    }
    assert comparisons(numbers) == [
        Comparison("hit_ratio", 0.0, 1.0, 0.8, "min"),
        Comparison("p95_ms", 12.5, None, 1000.0, "max"),
    ]


def test_the_page_is_self_contained_and_escapes_what_it_shows() -> None:
    doc = {"id": "r-1", "env": "lab", "status": "rolled_back", "message": "<b>bad</b>"}
    events = [
        {"type": "step_started", "at": 100.0, "step": 0, "label": "canary"},
        {
            "type": "gate",
            "at": 101.0,
            "phase": "step",
            "gate": "cache",
            "verdict": "fail",
            "reason": "hit ratio 0.0 < 0.8",
            "numbers": {"changed_hit_ratio": 0.0, "baseline_hit_ratio": 1.0, "min_hit_ratio": 0.8},
        },
        {"type": "step_finished", "at": 102.0, "step": 0, "label": "canary"},
    ]
    page = render(doc, events)
    assert "&lt;b&gt;bad&lt;/b&gt;" in page and "<b>bad</b>" not in page
    assert page.count("<svg") == 2  # the timeline and the cache gate's plot
    # nothing to fetch: no scripts, no links to elsewhere
    for needle in ("<script", 'src="http', 'href="http', "@import", "url(http"):
        assert needle not in page


def _gate_event(samples: dict | None) -> dict:
    e = {
        "type": "gate",
        "at": 101.0,
        "phase": "step",
        "gate": "hls_playback",
        "verdict": "fail",
        "reason": "rebuffer ratio 3.0% > 0.5%",
        "numbers": {
            "changed_rebuffer_ratio": 0.03,
            "baseline_rebuffer_ratio": 0.0,
            "max_rebuffer_ratio": 0.005,
        },
    }
    if samples is not None:
        e["samples"] = samples
    return e


def test_a_gate_with_samples_is_drawn_as_distributions_with_its_limits() -> None:
    from fleetctl.core.gate_samples import BurnPoint, Distribution, GateSamples

    samples = GateSamples(
        (
            Distribution.of(
                "startup_s",
                "s",
                "session",
                [0.1 * i for i in range(1, 40)],
                [0.05 * i for i in range(1, 60)],
                limit=2.0,
                bound="max",
                limit_of="p95",
            ),
            Distribution.of(
                "rebuffer_ratio", "", "edge", [0.03], [0.0, 0.0], limit=0.005, bound="max"
            ),
        )
    )
    burn = GateSamples(
        burn=(
            BurnPoint("fast", "long", "60s", 20.0, 14.4),
            BurnPoint("fast", "short", "5s", None, 14.4),
        )
    )
    slo = {**_gate_event(burn.to_dict()), "gate": "slo_burn"}
    doc = {"id": "r-2", "env": "lab", "status": "rolled_back"}
    page = render(doc, [_gate_event(samples.to_dict()), slo])
    assert "startup time (s) per session distribution: canary n=39 vs baseline n=59" in page
    assert "limit max 2 s (p95)" in page
    assert "rebuffer ratio per edge distribution: canary n=1 vs baseline n=2" in page
    assert "ECDF" in page  # the panels' titles (matplotlib keeps text as SVG comments)
    assert "burn rate per window against its pair&#x27;s factor: fast long (60s) 20x" in page
    assert "fast short (5s) unreadable" in page
    assert "recorded numbers (no samples kept)" not in page
    assert page.count("<figure") == 3  # timeline + one per gate
    # the same page every time (deterministic jitter and capping)
    assert render(doc, [_gate_event(samples.to_dict()), slo]) == page


def test_an_old_journal_without_samples_falls_back_to_bars() -> None:
    doc = {"id": "r-3", "env": "lab", "status": "rolled_back"}
    page = render(doc, [_gate_event(None)])
    assert "recorded numbers (no samples kept): rebuffer_ratio: canary 0.03 vs baseline 0" in page
    assert "ECDF" not in page and page.count("<svg") == 2


def test_the_cache_gate_draws_the_projected_origin_load_against_capacity() -> None:
    """Issue 16: the report shows the origin load the change would cause at
    the region's peak against what the origin can carry, not only the ratios."""
    from fleetctl.core.cache_gate import CacheRead, cache_gate
    from fleetctl.core.policy import CacheGate

    cfg = CacheGate(enabled=True, fleet_peak_rps=20_000, origin_capacity_rps=2_000)
    changed = [CacheRead("c", 200, "MISS")] * 30
    baseline = [CacheRead("b", 200, "HIT")] * 60
    r = cache_gate(changed, baseline, cfg, region_weights={"small": 0.1})
    event = {"type": "gate", "at": 2.0, "phase": "step", **r.to_dict()}
    page = render({"id": "r-3", "env": "lab", "status": "rolled_back"}, [event])
    assert "cache hit ratio per edge distribution" in page
    assert (
        "origin load if the change reached the whole region (peak 2000.0 req/s): "
        "canary 2000 req/s vs baseline 0 req/s, capacity 2000 req/s" in page
    )
    assert page.count("<figure") == 3  # timeline, the ratios, the projected load
    # a gate without a projection (no fleet_peak_rps) draws no load figure
    r = cache_gate(changed, baseline, CacheGate(enabled=True))
    page = render({"id": "r-4"}, [{"type": "gate", "at": 2.0, "phase": "step", **r.to_dict()}])
    assert "origin load" not in page
