"""`lab up --temporal`: its supervisord programs (server, coordinator, a worker per region)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fleetctl.services import lab_temporal


@dataclass
class H:
    region: str
    role: str = "edge"


@dataclass
class FakeLab:
    dir: str
    subnet: str = "127.0.10"
    hosts: list[H] = field(default_factory=list)


def test_programs_per_region_with_absolute_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = FakeLab(str(tmp_path), hosts=[H("a"), H("b"), H("a"), H("lb", role="router")])
    assert lab_temporal.programs(lab) == []  # off until asked for
    monkeypatch.chdir(tmp_path)
    lab_temporal.write_config(lab, root=tmp_path, state_url="rel/state.db")
    names = [p.name for p in lab_temporal.programs(lab)]
    assert names == ["lab-temporal", "lab-temporal-coordinator", "lab-worker-a", "lab-worker-b"]
    worker = lab_temporal.programs(lab)[2]
    assert worker.environment["FLEETCTL_STATE"] == str(tmp_path / "rel" / "state.db")
    assert "--region a" in worker.command and lab_temporal.address(tmp_path) in worker.command
    first = lab_temporal.address(tmp_path)
    lab_temporal.write_config(lab, root=tmp_path, state_url="s3://b/p")
    assert lab_temporal.address(tmp_path) == first  # a re-up keeps the server's port
    assert lab_temporal.programs(lab)[2].environment["FLEETCTL_STATE"] == "s3://b/p"
