"""The video gates end to end on a real lab: `fleetctl rollout start` with
`hls_playback` and `cache` on, real nginx edges in front of a real HLS origin.

A good change passes both; a segment path paced below real time passes the
HTTP and latency gates and fails `hls_playback` with rebuffers; a cache key
with a per-request value passes them too and fails `cache` (hit ratio and
projected origin load). Each bad change is rolled back with proof.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_rollout_lab import REPO, LabWS, lab  # noqa: F401 - the module's lab fixture

pytestmark = pytest.mark.e2e
VIDEO = REPO / "tests" / "fixtures" / "policies" / "video.yml"


def step_gates(ws: LabWS, rid: str) -> dict[str, dict[str, Any]]:
    """The gate events of the first judged step (the canary)."""
    out: dict[str, dict[str, Any]] = {}
    for e in ws.events(rid):
        if e["type"] == "gate" and e["phase"] == "step" and e["gate"] not in out:
            out[e["gate"]] = e
    return out


def test_good_change_passes_the_video_gates(lab: LabWS) -> None:  # noqa: F811
    rc, out, err = lab.start("-x", "demo_note=video-good", policy=VIDEO)
    assert rc == 0, err
    assert out["status"] == "completed"
    gates = step_gates(lab, out["id"])
    assert gates["hls_playback"]["verdict"] == "pass", gates["hls_playback"]
    assert gates["hls_playback"]["numbers"]["changed_rebuffer_events"] == 0
    assert gates["cache"]["verdict"] == "pass", gates["cache"]
    assert gates["cache"]["numbers"]["changed_hit_ratio"] == 1.0


def test_slowed_segment_path_fails_hls_playback_with_rebuffers(lab: LabWS) -> None:  # noqa: F811
    good = set(lab.served().values())
    rc, out, err = lab.start("-x", "edge_segment_limit_rate=16k", policy=VIDEO)
    assert rc == 1, err
    assert out["status"] == "rolled_back"
    gates = step_gates(lab, out["id"])
    assert gates["http"]["verdict"] == "pass"
    assert gates["canary_analysis"]["verdict"] == "pass"
    hls = gates["hls_playback"]
    assert hls["verdict"] == "fail" and "rebuffer ratio" in hls["reason"]
    assert hls["numbers"]["changed_rebuffer_events"] > 0
    assert hls["numbers"]["changed_min_download_ratio"] < 1
    assert hls["numbers"]["baseline_rebuffer_events"] == 0
    why = lab.run("rollout", "why", out["id"])
    assert "rebuffer" in why.stdout and "rollback PROVEN" in why.stdout
    assert set(lab.served().values()) == good


def test_cache_bust_fails_cache_with_projected_origin_load(lab: LabWS) -> None:  # noqa: F811
    good = set(lab.served().values())
    rc, out, err = lab.start("-x", "edge_cache_key=$request_uri$request_id", policy=VIDEO)
    assert rc == 1, err
    assert out["status"] == "rolled_back"
    gates = step_gates(lab, out["id"])
    assert gates["http"]["verdict"] == "pass"
    assert gates["canary_analysis"]["verdict"] == "pass"
    cache = gates["cache"]
    assert cache["verdict"] == "fail" and "hit ratio 0.0%" in cache["reason"]
    n = cache["numbers"]
    assert n["changed_origin_per_request"] == 1.0 and n["baseline_hit_ratio"] == 1.0
    assert n["projected_origin_rps"] > n["baseline_origin_rps"]
    assert set(lab.served().values()) == good
