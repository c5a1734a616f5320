"""services.video_gates.run: which gates run, what is Skipped, and that a
broken probe machinery is Inconclusive (never Pass)."""

from __future__ import annotations

import pytest

from fleetctl.core.gates import Verdict
from fleetctl.core.planner import Host
from fleetctl.core.policy import CacheGate, Gates, HlsPlaybackGate, Policy
from fleetctl.services.rollout import video_gates

pytestmark = pytest.mark.unit
ON = Policy(gates=Gates(hls_playback=HlsPlaybackGate(enabled=True), cache=CacheGate(enabled=True)))
EDGE = Host("e1", "r1", "edge", 0.1, address="127.0.0.1", port=9)  # nothing listens on :9


def test_only_enabled_gates_of_the_step_run() -> None:
    assert video_gates.run(["http", "hls_playback"], Policy(), [EDGE], [EDGE], set()) == []
    assert video_gates.run(["http"], ON, [EDGE], [EDGE], set()) == []


def test_no_changed_edge_is_skipped() -> None:
    origin = Host("o1", "r1", "origin")
    res = video_gates.run(["hls_playback", "cache"], ON, [origin], [origin], set())
    assert [(r.gate, r.verdict) for r in res] == [
        ("hls_playback", Verdict.SKIPPED),
        ("cache", Verdict.SKIPPED),
    ]


def test_refused_edge_fails_playback_and_is_inconclusive_for_cache() -> None:
    res = {r.gate: r for r in video_gates.run(["hls_playback", "cache"], ON, [EDGE], [EDGE], set())}
    assert res["hls_playback"].verdict is Verdict.FAIL  # a viewer could not play at all
    assert "master" in res["hls_playback"].reason
    assert res["cache"].verdict is Verdict.INCONCLUSIVE  # nothing measured
    assert res["cache"].numbers["probe_problems"]
