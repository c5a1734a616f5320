"""The `hls_playback` gate's maths: ABR choice, playback buffer, verdicts."""

from __future__ import annotations

import random

import pytest

from fleetctl.core.gates import Verdict
from fleetctl.core.playback import (
    SegmentFetch,
    Session,
    choose_rendition,
    ewma,
    hls_playback_gate,
    simulate,
    wait_before_next,
)
from fleetctl.core.policy import HlsPlaybackGate

pytestmark = pytest.mark.unit
LADDER = [864_000.0, 464_000.0, 214_000.0]  # the lab's master playlist order


def test_abr_picks_highest_sustained_rendition() -> None:
    assert choose_rendition(LADDER, 2_000_000, 0.8) == 0
    assert choose_rendition(LADDER, 1_000_000, 0.8) == 1  # 800k budget: 864k does not fit
    assert choose_rendition(LADDER, 300_000, 0.8) == 2
    assert choose_rendition(LADDER, 10_000, 0.8) == 2  # nothing fits: the lowest
    with pytest.raises(ValueError):
        choose_rendition([], 1e6, 0.8)
    assert ewma(None, 100.0) == 100.0
    assert ewma(100.0, 300.0) == 200.0


def seg(start: float, end: float, dur: float = 2.0) -> SegmentFetch:
    return SegmentFetch(duration_s=dur, started_s=start, ended_s=end, bytes=1000)


def test_buffer_without_stalls() -> None:
    pb = simulate([seg(0.1, 0.3), seg(0.3, 0.5), seg(0.5, 0.7)])
    assert pb.startup_s == 0.3
    assert pb.stalls == ()
    assert pb.rebuffer_ratio == 0.0
    assert pb.played_s == 6.0
    assert pb.min_download_ratio == pytest.approx(10.0)


def test_buffer_stalls_when_segments_arrive_late() -> None:
    # Each 2 s segment takes 3 s: playback starts at 3.0, segment 1 arrives
    # at 6.0 but is due at 5.0 (stall 1 s), segment 2 at 9.0 due 8.0 (1 s).
    pb = simulate([seg(0, 3), seg(3, 6), seg(6, 9)])
    assert pb.startup_s == 3.0
    assert pb.stalls == pytest.approx((1.0, 1.0))
    assert pb.rebuffer_ratio == pytest.approx(2 / 8)
    assert pb.min_download_ratio == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        simulate([])


def test_pacing_waits_when_buffer_is_full() -> None:
    segs = [seg(0, 0.1), seg(0.1, 0.2)]
    # at t=0.2 the playhead is at 0.1 s of media, 3.9 s buffered
    assert wait_before_next(segs, 0.2, 30.0) == 0.0
    assert wait_before_next(segs, 0.2, 1.0) == pytest.approx(2.9)
    assert wait_before_next([], 5.0, 1.0) == 0.0


def session(host: str, startup: float, *, slow: float = 0.0, n: int = 3) -> Session:
    segs = []
    t = startup - 0.05
    for i in range(n):
        took = 0.05 if i == 0 else 0.05 + slow
        segs.append(SegmentFetch(2.0, t, t + took, 1000))
        t += took
    return Session(host, 464_000.0, startup - 0.05, tuple(segs))


def sessions(host: str, n: int, centre: float, rng: random.Random, **kw: float) -> list[Session]:
    return [session(host, max(0.01, rng.gauss(centre, centre * 0.1)), **kw) for _ in range(n)]


CFG = HlsPlaybackGate(enabled=True, min_sessions=5)


def test_pass_when_like_baseline() -> None:
    rng = random.Random(1)
    r = hls_playback_gate(sessions("c", 10, 0.1, rng), sessions("b", 20, 0.1, rng), CFG)
    assert r.verdict is Verdict.PASS, r.reason
    assert r.numbers["changed_rebuffer_events"] == 0
    assert r.numbers["changed_sessions"] == 10 and r.numbers["baseline_sessions"] == 20


def test_fail_on_rebuffering_slowed_segments() -> None:
    rng = random.Random(2)
    # Every later segment takes 4 s for 2 s of media: stalls every time.
    r = hls_playback_gate(sessions("c", 5, 0.1, rng, slow=4.0), sessions("b", 10, 0.1, rng), CFG)
    assert r.verdict is Verdict.FAIL
    assert "rebuffer ratio" in r.reason
    assert r.numbers["changed_rebuffer_events"] == 10
    assert r.numbers["changed_min_download_ratio"] == pytest.approx(0.49, abs=0.01)


def test_fail_on_startup_limit_and_on_startup_regression() -> None:
    rng = random.Random(3)
    r = hls_playback_gate(sessions("c", 8, 2.5, rng), sessions("b", 8, 0.1, rng), CFG)
    assert r.verdict is Verdict.FAIL and "startup p95" in r.reason
    r = hls_playback_gate(sessions("c", 10, 0.6, rng), sessions("b", 20, 0.1, rng), CFG)
    assert r.verdict is Verdict.FAIL and "startup regression" in r.reason
    assert r.numbers["startup_p"] < 0.01


def test_failures_and_too_few_sessions() -> None:
    rng = random.Random(4)
    bad = [Session("c", failure="segment 404"), *sessions("c", 4, 0.1, rng)]
    r = hls_playback_gate(bad, sessions("b", 10, 0.1, rng), CFG)
    assert r.verdict is Verdict.FAIL and "1/5 playback sessions failed (segment 404 x1)" in r.reason
    r = hls_playback_gate(sessions("c", 3, 0.1, rng), sessions("b", 10, 0.1, rng), CFG)
    assert r.verdict is Verdict.INCONCLUSIVE and "too few sessions" in r.reason
    r = hls_playback_gate([], [], CFG)
    assert r.verdict is Verdict.INCONCLUSIVE
    # no baseline: absolute limits only
    r = hls_playback_gate(sessions("c", 3, 0.1, rng), [], CFG)
    assert r.verdict is Verdict.PASS and "no baseline" in r.reason
