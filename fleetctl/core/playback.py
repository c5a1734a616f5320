"""The `hls_playback` gate: what a viewer would have seen, from measured fetches.

The probe (adapters/hls_client.py) does the I/O and records when each fetch
started and ended; everything a player would decide or suffer is computed
here, purely: the ABR rendition choice, each segment's download ratio, the
playback buffer (stalls and the rebuffer ratio) and startup time. The gate
then judges the changed edges on absolute limits and against baseline edges
probed at the same time, with the statistics of canary analysis.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fleetctl.core.gate_samples import Distribution, GateSamples
from fleetctl.core.gates import (
    GateResult,
    Verdict,
    _p,
    _r,
    mann_whitney_greater,
    percentile,
    proportions_greater,
)
from fleetctl.core.policy import HlsPlaybackGate

GATE = "hls_playback"


def choose_rendition(bandwidths: Sequence[float], throughput_bps: float, safety: float) -> int:
    """Index of the highest rendition whose bandwidth the throughput sustains
    (bandwidth <= throughput x safety), else the lowest one; what an ABR
    player such as hls.js does for the next segment."""
    if not bandwidths:
        raise ValueError("no renditions")
    budget = throughput_bps * safety
    fitting = [i for i, bw in enumerate(bandwidths) if bw <= budget]
    if fitting:
        return max(fitting, key=lambda i: (bandwidths[i], -i))
    return min(range(len(bandwidths)), key=lambda i: (bandwidths[i], i))


def ewma(previous: float | None, sample: float, weight: float = 0.5) -> float:
    """Throughput estimate after one more measured segment (exponentially weighted)."""
    if previous is None:
        return sample
    return weight * sample + (1 - weight) * previous


@dataclass(frozen=True)
class SegmentFetch:
    """One media segment: its duration, when its download started and ended
    (seconds since the session began) and its size; `ok` False for an HTTP
    error or a broken connection."""

    duration_s: float
    started_s: float
    ended_s: float
    bytes: int = 0
    ok: bool = True

    @property
    def download_s(self) -> float:
        return max(self.ended_s - self.started_s, 1e-6)

    @property
    def download_ratio(self) -> float:
        """Segment duration / download time: below 1 the viewer outruns the network."""
        return self.duration_s / self.download_s


@dataclass(frozen=True)
class Session:
    """One player session against one edge. `startup_ready_s` is when the
    master and media playlists had arrived; `failure` names what broke
    (e.g. "master 503", "bad playlist", "segment 404") or is None."""

    host: str
    rendition_bps: float = 0.0
    playlists_s: float = 0.0
    segments: tuple[SegmentFetch, ...] = ()
    failure: str | None = None


@dataclass(frozen=True)
class Playback:
    """What the viewer saw: startup (until the first segment could play),
    stalls after that, and the time spent playing."""

    startup_s: float
    stalls: tuple[float, ...]  # seconds of each rebuffer event
    played_s: float
    min_download_ratio: float

    @property
    def rebuffer_s(self) -> float:
        return sum(self.stalls)

    @property
    def rebuffer_ratio(self) -> float:
        """Stalled time / (stalled + played) time, the usual QoE definition."""
        total = self.rebuffer_s + self.played_s
        return self.rebuffer_s / total if total > 0 else 0.0


def simulate(segments: Sequence[SegmentFetch]) -> Playback:
    """Replay a session's downloads through a playback buffer.

    Playback starts when the first segment is in (that is the startup time);
    segment i then plays at the moment the previous one finished playing, or
    when its download ends if that is later: the difference is a stall.
    """
    if not segments:
        raise ValueError("no segments to play")
    clock = segments[0].ended_s  # playback starts
    stalls: list[float] = []
    played = 0.0
    for i, seg in enumerate(segments):
        if i > 0 and seg.ended_s > clock:
            stalls.append(seg.ended_s - clock)
            clock = seg.ended_s
        clock += seg.duration_s
        played += seg.duration_s
    return Playback(
        startup_s=segments[0].ended_s,
        stalls=tuple(stalls),
        played_s=played,
        min_download_ratio=min(s.download_ratio for s in segments),
    )


def wait_before_next(segments: Sequence[SegmentFetch], now_s: float, max_buffer_s: float) -> float:
    """Seconds a player would wait before fetching the next segment so that
    it never holds more than `max_buffer_s` of media ahead of the playhead."""
    if not segments:
        return 0.0
    pb = simulate(segments)
    playhead = now_s - pb.startup_s - pb.rebuffer_s  # media seconds played so far
    ahead = pb.played_s - max(0.0, playhead)
    return max(0.0, ahead - max_buffer_s)


@dataclass(frozen=True)
class _Side:
    sessions: int
    failed: int
    startups: list[float]
    stalls: int
    segments: int
    rebuffer_s: float
    played_s: float
    min_ratio: float
    failures: dict[str, int]

    @property
    def rebuffer_ratio(self) -> float:
        total = self.rebuffer_s + self.played_s
        return self.rebuffer_s / total if total > 0 else math.nan


def _side(sessions: Sequence[Session]) -> _Side:
    startups: list[float] = []
    stalls = segs = 0
    rebuf = played = 0.0
    min_ratio = math.inf
    failures: dict[str, int] = {}
    failed = 0
    for s in sessions:
        if s.failure is not None or not s.segments or not all(x.ok for x in s.segments):
            failed += 1
            key = s.failure or "segment error"
            failures[key] = failures.get(key, 0) + 1
            continue
        pb = simulate(s.segments)
        startups.append(pb.startup_s)
        stalls += len(pb.stalls)
        segs += len(s.segments)
        rebuf += pb.rebuffer_s
        played += pb.played_s
        min_ratio = min(min_ratio, pb.min_download_ratio)
    return _Side(len(sessions), failed, startups, stalls, segs, rebuf, played, min_ratio, failures)


def _numbers(prefix: str, side: _Side) -> dict[str, object]:
    return {
        f"{prefix}_sessions": side.sessions,
        f"{prefix}_failed_sessions": side.failed,
        f"{prefix}_startup_p50_s": _r(percentile(side.startups, 50)),
        f"{prefix}_startup_p95_s": _r(percentile(side.startups, 95)),
        f"{prefix}_rebuffer_events": side.stalls,
        f"{prefix}_segments": side.segments,
        f"{prefix}_rebuffer_ratio": _r(side.rebuffer_ratio, 4),
        f"{prefix}_min_download_ratio": _r(side.min_ratio, 2)
        if math.isfinite(side.min_ratio)
        else None,
    }


def _per_edge_rebuffer(sessions: Sequence[Session]) -> list[float]:
    """Each edge's rebuffer ratio over its good sessions (edges with none left out)."""
    by_host: dict[str, list[Session]] = {}
    for s in sessions:
        by_host.setdefault(s.host, []).append(s)
    ratios = [_side(group).rebuffer_ratio for _, group in sorted(by_host.items())]
    return [r for r in ratios if math.isfinite(r)]


def _download_ratios(sessions: Sequence[Session]) -> list[float]:
    return [
        seg.download_ratio
        for s in sessions
        if s.failure is None and s.segments and all(x.ok for x in s.segments)
        for seg in s.segments
    ]


def observed(
    changed: Sequence[Session], baseline: Sequence[Session], cfg: HlsPlaybackGate
) -> GateSamples:
    """The sessions' raw observations: startup per session, rebuffer ratio per
    edge, download ratio per segment (below 1: slower than real time)."""
    base = baseline if baseline else None
    return GateSamples(
        (
            Distribution.of(
                "startup_s",
                "s",
                "session",
                _side(changed).startups,
                None if base is None else _side(base).startups,
                limit=cfg.max_startup_p95_s,
                bound="max",
                limit_of="p95",
            ),
            Distribution.of(
                "rebuffer_ratio",
                "",
                "edge",
                _per_edge_rebuffer(changed),
                None if base is None else _per_edge_rebuffer(base),
                limit=cfg.max_rebuffer_ratio,
                bound="max",
                limit_of="all sessions",
            ),
            Distribution.of(
                "download_ratio",
                "x real time",
                "segment",
                _download_ratios(changed),
                None if base is None else _download_ratios(base),
                limit=1.0,
                bound="min",
                limit_of="real time",
            ),
        )
    )


def hls_playback_gate(
    changed: Sequence[Session], baseline: Sequence[Session], cfg: HlsPlaybackGate
) -> GateResult:
    """The verdict (see `_judge`) with the sessions' raw observations."""
    return replace(_judge(changed, baseline, cfg), samples=observed(changed, baseline, cfg))


def _judge(
    changed: Sequence[Session], baseline: Sequence[Session], cfg: HlsPlaybackGate
) -> GateResult:
    """Order of decisions (each recorded in the numbers):
    1. no changed session -> Inconclusive;
    2. failed sessions above `max_failure_rate` -> Fail;
    3. rebuffer ratio above `max_rebuffer_ratio` -> Fail;
    4. startup p95 above `max_startup_p95_s` -> Fail;
    5. with a baseline: significantly more stalled segments (proportions) ->
       Fail; fewer than `min_sessions` good sessions a side -> Inconclusive;
       startup significantly slower (Mann-Whitney, p < alpha) and by at least
       `min_effect_s` and `min_effect_ratio` on the median -> Fail;
    6. otherwise Pass.
    """
    ch, base = _side(changed), _side(baseline)
    numbers: dict[str, object] = {
        **_numbers("changed", ch),
        "changed_hosts": len({s.host for s in changed}),
        "failures": dict(sorted(ch.failures.items())),
        "max_failure_rate": cfg.max_failure_rate,
        "max_rebuffer_ratio": cfg.max_rebuffer_ratio,
        "max_startup_p95_s": cfg.max_startup_p95_s,
        "renditions_bps": sorted({int(s.rendition_bps) for s in changed if s.rendition_bps}),
    }
    if baseline:
        numbers.update(_numbers("baseline", base))
        numbers["baseline_hosts"] = len({s.host for s in baseline})
    if not changed:
        return GateResult(
            GATE, Verdict.INCONCLUSIVE, "no playback session on a changed edge", numbers
        )
    fail_rate = ch.failed / ch.sessions
    numbers["changed_failure_rate"] = _r(fail_rate, 4)
    if fail_rate > cfg.max_failure_rate:
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(ch.failures.items()))
        return GateResult(
            GATE,
            Verdict.FAIL,
            f"{ch.failed}/{ch.sessions} playback sessions failed ({kinds})",
            numbers,
        )
    ratio = ch.rebuffer_ratio
    if ratio > cfg.max_rebuffer_ratio:
        return GateResult(
            GATE,
            Verdict.FAIL,
            f"rebuffer ratio {ratio:.1%} > {cfg.max_rebuffer_ratio:.1%} "
            f"({ch.stalls} rebuffer events in {ch.segments} segments, "
            f"slowest segment at {ch.min_ratio:.2f}x real time)",
            numbers,
        )
    p95 = percentile(ch.startups, 95)
    if p95 > cfg.max_startup_p95_s:
        return GateResult(
            GATE,
            Verdict.FAIL,
            f"startup p95 {p95:.2f} s > {cfg.max_startup_p95_s:.2f} s",
            numbers,
        )
    absolute = (
        f"rebuffer ratio {ratio:.2%} <= {cfg.max_rebuffer_ratio:.1%}, "
        f"startup p95 {p95:.2f} s <= {cfg.max_startup_p95_s:.2f} s"
    )
    good_base = base.sessions - base.failed
    if not baseline or good_base == 0:
        return GateResult(GATE, Verdict.PASS, f"{absolute}; no baseline to compare", numbers)
    z, p_stall = proportions_greater(ch.stalls, ch.segments, base.stalls, base.segments)
    numbers.update({"alpha": cfg.alpha, "stall_z": _r(z), "stall_p": _p(p_stall)})
    if ch.stalls * base.segments > base.stalls * ch.segments and p_stall < cfg.alpha:
        return GateResult(
            GATE,
            Verdict.FAIL,
            f"more rebuffering than baseline: {ch.stalls}/{ch.segments} segments stalled vs "
            f"{base.stalls}/{base.segments} (p={p_stall:.2g} < {cfg.alpha})",
            numbers,
        )
    if len(ch.startups) < cfg.min_sessions or len(base.startups) < cfg.min_sessions:
        return GateResult(
            GATE,
            Verdict.INCONCLUSIVE,
            f"too few sessions to compare startup: {len(ch.startups)} changed, "
            f"{len(base.startups)} baseline (need {cfg.min_sessions} each)",
            numbers,
        )
    m1, m2 = statistics.median(ch.startups), statistics.median(base.startups)
    u, p_start = mann_whitney_greater(ch.startups, base.startups)
    grew = m1 / m2 if m2 > 0 else math.inf
    numbers.update(
        {
            "startup_median_delta_s": _r(m1 - m2),
            "startup_median_ratio": _r(grew) if math.isfinite(grew) else None,
            "startup_mann_whitney_u": _r(u, 1),
            "startup_p": _p(p_start),
            "min_effect_s": cfg.min_effect_s,
            "min_effect_ratio": cfg.min_effect_ratio,
        }
    )
    if p_start < cfg.alpha and m1 - m2 >= cfg.min_effect_s and grew >= cfg.min_effect_ratio:
        return GateResult(
            GATE,
            Verdict.FAIL,
            f"startup regression: median {m1:.3f} s vs {m2:.3f} s baseline "
            f"(x{grew:.2f}; Mann-Whitney p={p_start:.2g} < {cfg.alpha})",
            numbers,
        )
    return GateResult(
        GATE,
        Verdict.PASS,
        f"{absolute}; startup median {m1:.3f} s vs {m2:.3f} s baseline (p={p_start:.2g}), "
        f"stalls {ch.stalls}/{ch.segments} vs {base.stalls}/{base.segments}",
        numbers,
    )
