"""A gate's raw observations (core/gate_samples.py): capped deterministically,
numbers only, and through the journal's `gate` event and back."""

from __future__ import annotations

import json
import random

import pytest

from fleetctl.core.cache_gate import CacheRead, cache_gate
from fleetctl.core.gate_samples import CAP, BurnPoint, Distribution, GateSamples, cap
from fleetctl.core.gates import GateResult, Sample, Verdict, canary_analysis, http_gate
from fleetctl.core.playback import SegmentFetch, Session, hls_playback_gate
from fleetctl.core.policy import CacheGate, CanaryAnalysis, HlsPlaybackGate, HttpGate, SloBurnGate
from fleetctl.core.rollout import events
from fleetctl.core.slo_burn import PairReading, WindowReading, slo_burn_gate

pytestmark = pytest.mark.unit


def test_cap_keeps_everything_up_to_the_limit_sorted() -> None:
    assert cap([3.0, 1.0, 2.0]) == (1.0, 2.0, 3.0)
    assert cap([float("nan"), 1.0, float("inf")]) == (1.0,)  # JSON has no NaN


def test_cap_reduces_to_evenly_spaced_order_statistics_deterministically() -> None:
    values = [random.Random(i).uniform(0, 100) for i in range(5000)]
    got = cap(values)
    assert len(got) == CAP
    assert got == cap(list(reversed(values)))  # the order observed does not matter
    assert got[0] == pytest.approx(min(values)) and got[-1] == pytest.approx(max(values))
    # the shape survives: the median of the kept values is the median of all
    ordered = sorted(values)
    assert got[CAP // 2] == pytest.approx(ordered[len(ordered) // 2], abs=0.5)


def test_distribution_counts_what_it_observed_and_keeps_the_cap() -> None:
    d = Distribution.of("latency_ms", "ms", "request", [1.0] * 2000, [2.0] * 10, limit=5.0)
    assert (len(d.changed), d.changed_n, len(d.baseline or ()), d.baseline_n) == (CAP, 2000, 10, 10)


def test_samples_round_trip_through_the_gate_event_and_json() -> None:
    s = GateSamples(
        (Distribution.of("startup_s", "s", "session", [0.2, 0.1], [0.3], limit=2.0, bound="max"),),
        (
            BurnPoint("fast", "long", "60s", 20.5, 14.4),
            BurnPoint("fast", "short", "5s", None, 14.4),
        ),
    )
    r = GateResult("hls_playback", Verdict.PASS, "ok", {"changed_sessions": 2}, s)
    stored = json.loads(json.dumps(events.Gate(phase="step", **r.to_dict()).to_dict()))
    back = events.parse(stored)
    assert isinstance(back, events.Gate) and back.samples == s
    assert GateResult.from_dict(r.to_dict()) == r
    # everything stored is a number, a fixed name or a unit: nothing a host or URL said
    d = stored["samples"]["distributions"][0]
    assert all(isinstance(v, float) for v in d["changed"] + d["baseline"])


def test_an_old_gate_event_without_samples_loads_and_writes_back_the_same() -> None:
    old = {
        "type": "gate",
        "at": 1.0,
        "phase": "step",
        "gate": "cache",
        "verdict": "pass",
        "reason": "r",
        "numbers": {"changed_hit_ratio": 1.0},
    }
    e = events.parse(old)
    assert isinstance(e, events.Gate) and e.samples is None
    assert e.to_dict() == old
    assert "samples" not in GateResult("http", Verdict.PASS, "r").to_dict()


def test_an_unreadable_samples_value_is_dropped_not_a_crash() -> None:
    e = events.parse(
        {"type": "gate", "gate": "x", "samples": {"distributions": [{"changed": ["a", 1]}]}}
    )
    assert isinstance(e, events.Gate) and e.samples is not None
    assert e.samples.distributions[0].changed == (1.0,)


def test_every_gate_keeps_its_observations() -> None:
    fast = [Sample("c", "/s", 10.0 + i % 3) for i in range(30)]
    slow = [Sample("b", "/s", 11.0 + i % 3) for i in range(700)]
    h = http_gate(fast, HttpGate())
    assert h.samples and h.samples.distributions[0].limit == 1000.0
    ca = canary_analysis(fast, slow, CanaryAnalysis(), latency_path="/s", consecutive_error_limit=4)
    d = ca.samples.distributions[0] if ca.samples else None
    assert (
        d is not None and d.changed_n == 30 and d.baseline_n == 700 and len(d.baseline or ()) == CAP
    )
    # the limit drawn is where the changed median would start to fail
    assert d.limit == pytest.approx(max(12.0 + 5.0, 12.0 * 1.2))

    seg = (SegmentFetch(2.0, 0.1, 0.3), SegmentFetch(2.0, 0.3, 3.0))
    sess = [Session("c", segments=seg), Session("b", segments=seg[:1])]
    hp = hls_playback_gate(sess[:1], sess[1:], HlsPlaybackGate(enabled=True))
    names = [x.metric for x in hp.samples.distributions] if hp.samples else []
    assert names == ["startup_s", "rebuffer_ratio", "download_ratio"]
    assert hp.samples and hp.samples.distributions[1].changed[0] > 0  # the stall

    reads = [CacheRead("c", 200, "MISS")] * 4 + [CacheRead("b", 200, "HIT")] * 4
    cg = cache_gate(reads[:4], reads[4:], CacheGate(enabled=True, min_requests=1))
    hit = cg.samples.distributions[0] if cg.samples else None
    assert hit is not None and hit.changed == (0.0,) and hit.baseline == (1.0,)
    assert hit.limit == 0.8 and hit.bound == "min"

    cfg = SloBurnGate(enabled=True, url="http://127.0.0.1:1")
    pairs = [
        PairReading(w, WindowReading(w.long_s, 50, 1000), WindowReading(w.short_s, None, None, "x"))
        for w in cfg.windows
    ]
    sb = slo_burn_gate(pairs, cfg)
    assert sb.samples and [(p.window, p.burn_rate is None) for p in sb.samples.burn][:2] == [
        ("long", False),
        ("short", True),
    ]
