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
