"""`rollout start --engine temporal` end to end on a real lab started with
`--temporal`: the Temporal dev server and the workers (a coordinator and one per
region) run under the lab's supervisord, real Ansible over SSH, real probes,
the CLI as a subprocess. One lab for the module, always torn down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetctl.adapters import procs
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.adapters.supervisor import Supervisor
from fleetctl.services import lab as lab_service
from fleetctl.services import lab_temporal
from fleetctl.services.rollout_temporal.activities import BATCH_TAG
from tests.e2e.test_rollout_lab import FAST, FLEETCTL, REPO, LabWS, _free_subnet

pytestmark = pytest.mark.e2e


class TLab(LabWS):
    def env(self) -> dict[str, str]:
        return {**super().env(), "FLEETCTL_LAB_DIR": str(self.lab_dir)}

    def start(self, *extra: str, policy: Path = FAST) -> tuple[int, dict[str, Any], str]:
        return super().start("--engine", "temporal", *extra, policy=policy)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLab]:
    import shutil

    base = tmp_path_factory.mktemp("rollout-temporal-lab")
    ws = base / "ws"
    for d in ("stacks", "playbooks"):
        shutil.copytree(REPO / d, ws / d, ignore=shutil.ignore_patterns("__pycache__"))
    (ws / "inventories" / "lab").mkdir(parents=True)
    lab_dir = base / "lab"
    try:
        handle = lab_service.lab_up(
            5,
            lab_dir=lab_dir,
            playbooks_dir=ws / "playbooks",
            subnet=_free_subnet(),
            inventory_copy=ws / "inventories" / "lab" / "hosts.yml",
            temporal={"root": ws, "state_url": str(base / "state.db")},
        )
        yield TLab(ws, lab_dir, handle, base / "state.db")
    finally:
        import shutil as sh

        sh.copytree(lab_dir / "logs", base / "logs-kept", dirs_exist_ok=True)  # for a post-mortem
        lab_service.lab_down(lab_dir)
    # lab down stopped the server and the workers too
    assert procs.with_cmdline_containing(str(lab_dir / "temporal")) == []


def _kinds(events: list[dict[str, Any]]) -> list[str]:
    """The journal's shape: event kinds, a run of gate events as one."""
    out: list[str] = []
    for e in events:
        if not (e["type"] == "gate" and out and out[-1] == "gate"):
            out.append(e["type"])
    return out


def test_good_rollout_completes_and_journals_like_the_local_engine(lab: TLab) -> None:
    rc, out, err = lab.start("-x", "demo_note=temporal", "--max-parallel-regions", "2")
    assert rc == 0, err
    assert out["status"] == "completed"
    doc = lab.doc(out["id"])
    assert doc["engine"] == "temporal"
    assert set(lab.served().values()) == {doc["release_id"]}
    events = lab.events(out["id"])
    kinds = _kinds(events)
    assert kinds[:2] == ["created", "lock_acquired"]
    assert kinds[-2:] == ["completed", "lock_released"]
    # regions ran two at a time, so steps interleave; each step's own events are
    # the local engine's, in its order
    for i in range(doc["plan_steps"]):
        mine = [e["type"] for e in events if e.get("step") == i]
        assert mine == ["step_started", "step_applied", "bake", "step_verdict", "step_finished"]
    assert kinds.count("gate") == doc["plan_steps"]  # a run of gate events per step
    why = lab.run("rollout", "why", out["id"])
    assert why.returncode == 0 and "completed" in why.stdout, why.stderr
    hist = lab.run("rollout", "history", "--env", "lab", "--format", "json")
    assert json.loads(hist.stdout)["last_known_good"]["lab/edge.yml"]["rollout"] == out["id"]


def test_bad_canary_is_rolled_back_with_proof(lab: TLab) -> None:
    rc, out, err = lab.start("-x", "edge_extra_directives=this_is_not_an_nginx_directive on;")
    assert rc == 1, err
    assert out["status"] == "rolled_back"
    events = lab.events(out["id"])
    assert [e["label"] for e in events if e["type"] == "step_started"] == ["canary"]
    check = next(e for e in events if e["type"] == "rollback_check")
    assert check["total_changed"] == 0
    proof = next(e for e in events if e["type"] == "rollback_proof")
    assert proof["ok"] and proof["gate_verdict"] == "pass"
    good = SqliteStore(lab.state).get("lkg", "lab/edge.yml")
    assert good is not None and set(lab.served().values()) == {good["release_id"]}


def test_kill_9_of_a_worker_mid_batch_is_retried_and_of_the_starter_goes_on(lab: TLab) -> None:
    proc = subprocess.Popen(
        [
            str(FLEETCTL),
            "rollout",
            "start",
            "edge.yml",
            "--env",
            "lab",
            "--engine",
            "temporal",
            "--policy",
            str(FAST),
            "--yes",
            "-x",
            "demo_note=kill9",
        ],
        env=lab.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    sv = Supervisor(lab.lab_dir)
    rid, region, killed = None, "", 0
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not killed:  # bounded: until a wave's batch runs
            store = SqliteStore(lab.state)
            docs = [d for d in store.list("rollout") if d.get("pid") == proc.pid]
            rid = docs[0]["id"] if docs else None
            waves = (
                [e for e in store.events(rid) if e["type"] == "step_started" and e["step"] >= 1]
                if rid
                else []
            )
            store.close()
            if waves:
                region = waves[-1]["region"]
                if procs.with_environ(BATCH_TAG, f"{rid}/{region}"):  # its Ansible runs now
                    killed = sv.processes()[f"lab-worker-{region}"].pid
                    os.kill(killed, signal.SIGKILL)
            time.sleep(0.1)
        assert killed, "no wave batch seen"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the starter too: the rollout goes on without it
        proc.wait(timeout=30)
    assert rid is not None
    status = lab.run("rollout", "status", rid, "--format", "json")
    assert status.returncode == 0, status.stderr
    deadline = time.time() + 300
    while time.time() < deadline and lab.doc(rid)["status"] not in ("completed", "rolled_back"):
        time.sleep(1)
    doc = lab.doc(rid)
    assert doc["status"] == "completed", doc["message"]
    assert sv.processes()[f"lab-worker-{region}"].pid != killed  # supervisord restarted it
    applied = [e for e in lab.events(rid) if e["type"] == "step_applied"]
    retried = [e for e in applied if e.get("attempt", 1) > 1]
    assert len(retried) == 1 and retried[0]["region"] == region  # only the interrupted batch
    assert len(applied) == doc["plan_steps"]  # each batch journaled once
    assert set(lab.served().values()) == {doc["release_id"]}
    assert lab_temporal.enabled(lab.lab_dir)


del sys
