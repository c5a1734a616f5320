"""Drains on the real lab: /healthz goes 503 while video is still served, the
drain survives a rollout of the edge role, and rollouts plan without it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fleetctl.adapters import http_probe
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.services import host_drain as drain_service
from fleetctl.services import lab as lab_service
from fleetctl.services.rollout import plan_for
from fleetctl.services.rollout_policy import load_policy
from fleetctl.services.workspace import Workspace
from tests.lab_fixture import REPO, LabHandle

pytestmark = pytest.mark.integration


def health(host) -> int | None:  # type: ignore[no-untyped-def]
    return http_probe.get(host.url("/healthz")).status


def test_drain_takes_an_edge_out_and_survives_a_rollout(lab: LabHandle, tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    ws = Workspace(REPO)
    target, *others = lab.edges()
    try:
        result = drain_service.set_drain(
            ws, store, "lab", target.name, True, "NIC errors", lab_dir=lab.dir
        )
        assert result.ok and result.hosts[target.name].changed
        assert health(target) == 503
        assert http_probe.get(target.url("/healthz")).headers["x-fleet-drained"] == "1"
        _, rows = lab_service.lab_status(lab.dir)
        assert {r.host.name: r.health for r in rows}[target.name] == "drained"
        assert all(health(h) == 200 for h in others)
        # in-flight viewers still get video through the drained edge
        assert http_probe.get(target.url("/vod/sample/v0/seg_000.ts")).status == 200
        assert [d.host for d in drain_service.drained(store, "lab")] == [target.name]

        again = drain_service.set_drain(
            ws, store, "lab", target.name, True, "NIC errors", lab_dir=lab.dir
        )
        assert again.ok and not again.hosts[target.name].changed  # idempotent

        # a rollout of the edge role rewrites nginx.conf but leaves the drain alone
        applied = lab.apply("edge.yml", limit=target.name, extravars={"fleet_release": "r-drn"})
        assert applied.ok
        r = http_probe.get(target.url("/healthz"))
        assert r.status == 503 and r.headers["x-fleet-release"] == "r-drn"
    finally:
        undrained = drain_service.set_drain(
            ws, store, "lab", target.name, False, "", lab_dir=lab.dir
        )
        store.close()
    assert undrained.ok and health(target) == 200
    assert drain_service.drained(SqliteStore(str(tmp_path / "state.db")), "lab") == []


def test_rollout_plans_leave_drained_hosts_out(lab: LabHandle, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(REPO / "playbooks", root / "playbooks")
    (root / "inventories" / "lab").mkdir(parents=True)
    shutil.copy(lab.inventory, root / "inventories" / "lab" / "hosts.yml")
    edges = sorted(h.name for h in lab.edges())

    policy = load_policy(REPO / "rollout-policies" / "lab.yml")
    _, full = plan_for(root, "lab", "edge.yml", policy)
    _, without = plan_for(root, "lab", "edge.yml", policy, exclude=frozenset(edges[:1]))
    planned = {h for step in without.steps for h in step.hosts}
    assert {h for step in full.steps for h in step.hosts} == set(edges)
    assert planned == set(edges[1:])
