"""`fleetctl history`: journal events of every kind merged into one timeline."""

from __future__ import annotations

import pytest

from fleetctl.cli.history import parse_since
from fleetctl.errors import BadInput
from fleetctl.services import history as h

pytestmark = pytest.mark.unit


class FakeStore:
    """Only what `timeline` reads: events per journal and rollout documents."""

    def __init__(self, journals: dict[str, list[dict]], rollouts: list[dict]) -> None:  # type: ignore[type-arg]
        self.journals = journals
        self.rollouts = rollouts

    def events(self, name: str) -> list[dict]:  # type: ignore[type-arg]
        return self.journals.get(name, [])

    def list(self, kind: str) -> list[dict]:  # type: ignore[type-arg]
        return self.rollouts if kind == "rollout" else []


def test_timeline_merges_freezes_drains_and_rollouts_in_time_order() -> None:
    store = FakeStore(
        {
            "freeze:prod": [
                {"type": "freeze_on", "env": "prod", "by": "ann", "reason": "match", "at": 10.0},
                {"type": "freeze_off", "env": "prod", "by": "ann", "reason": "", "at": 50.0},
            ],
            "drain:prod": [
                {"type": "drain_on", "host": "edge-1", "by": "bob", "reason": "NIC", "at": 20.0}
            ],
            "traffic:prod": [
                {"type": "region_drain_started", "region": "eu-west-1", "at": 29.0},
                {
                    "type": "region_drained",
                    "region": "eu-west-1",
                    "by": "cy",
                    "reason": "loss",
                    "force": True,
                    "weights_after": {"eu-west-1": 0.0, "us-east-1": 1.0},
                    "at": 30.0,
                },
                {
                    "type": "region_drain_refused",
                    "region": "us-east-1",
                    "by": "cy",
                    "reason": "x",
                    "peak_gbps": 500,
                    "capacity": ["a: needs 2 SHORT by 1", "b: fine"],
                    "at": 35.0,
                },
            ],
            "r-1": [
                {"type": "created", "release": "abc", "hosts": 3, "by": "dee", "at": 5.0},
                {"type": "step_finished", "at": 6.0},
                {"type": "rolled_back", "message": "gate failed", "at": 40.0},
            ],
            "r-other": [{"type": "created", "at": 1.0}],
        },
        [
            {"id": "r-1", "env": "prod", "playbook": "edge.yml", "by": "dee"},
            {"id": "r-other", "env": "staging"},
        ],
    )
    entries = h.timeline(store, "prod")  # type: ignore[arg-type]
    assert [(e.at, e.kind, e.event, e.subject) for e in entries] == [
        (5.0, "rollout", "started", "r-1"),
        (10.0, "freeze", "freeze on", "prod"),
        (20.0, "host-drain", "drained", "edge-1"),
        (30.0, "region-drain", "drained", "eu-west-1"),
        (35.0, "region-drain", "drain refused", "us-east-1"),
        (40.0, "rollout", "rolled back", "r-1"),
        (50.0, "freeze", "freeze off", "prod"),
    ]
    drained = entries[3]
    assert drained.by == "cy" and "FORCED" in drained.detail and "us-east-1=100%" in drained.detail
    assert "SHORT" in entries[4].detail and "fine" not in entries[4].detail
    assert entries[0].detail == "edge.yml release abc, 3 hosts" and entries[0].by == "dee"
    assert [e.at for e in h.timeline(store, "prod", since=30.0)] == [30.0, 35.0, 40.0, 50.0]  # type: ignore[arg-type]


def test_since_accepts_durations_and_iso_times() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("30m", now=0.0) == -1800
    assert parse_since("2026-11-25T00:00") == parse_since("2026-11-25T00:00+00:00")
    with pytest.raises(BadInput):
        parse_since("yesterday")
