"""`fleetctl rollout` end to end on a real lab: sshd + nginx per host, real
Ansible over SSH, real probes, the CLI run as a subprocess.

One lab (5 hosts: origin, transcode, one edge in each of three regions) for
the whole module, in its own temp dir and loopback block; always torn down.
The tests run in file order and build on each other's state the way an SRE's
day does: a good release first, then bad ones that must roll back to it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.services import lab as lab_service
from tests.lab_fixture import free_subnet

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent.parent
FAST = REPO / "tests" / "fixtures" / "policies" / "fast.yml"
FLEETCTL = Path(sys.executable).parent / "fleetctl"


@dataclass
class LabWS:
    root: Path  # a workspace copy: stacks/, playbooks/, inventories/lab/
    lab_dir: Path
    lab: Any
    state: Path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FLEETCTL_ROOT": str(self.root),
            "FLEETCTL_STATE": str(self.state),
            "NO_COLOR": "1",
        }

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FLEETCTL), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def edges(self) -> list[Any]:
        return list(self.lab.by_role("edge"))

    def served(self) -> dict[str, str]:
        """The release each edge serves (X-Fleet-Release of /healthz)."""
        out = {}
        for h in self.edges():
            with urllib.request.urlopen(h.url("/healthz"), timeout=5) as resp:
                assert resp.status == 200
                out[h.name] = resp.headers["X-Fleet-Release"]
        return out

    def doc(self, rid: str) -> dict[str, Any]:
        store = SqliteStore(self.state)
        try:
            d = store.get("rollout", rid)
            assert d is not None
            return d
        finally:
            store.close()

    def events(self, rid: str) -> list[dict[str, Any]]:
        store = SqliteStore(self.state)
        try:
            return store.events(rid)
        finally:
            store.close()

    def start(self, *extra: str, policy: Path = FAST) -> tuple[int, dict[str, Any], str]:
        p = self.run(
            "rollout", "start", "edge.yml", "--env", "lab", "--policy", str(policy),
            "--yes", "--format", "json", *extra,
        )  # fmt: skip
        data = json.loads(p.stdout) if p.stdout.strip() else {}
        return p.returncode, data, p.stderr


def _free_subnet() -> str:
    """A 127.78.N block, reserved for this process (a free one per xdist worker)."""
    return free_subnet(first=78)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabWS]:
    import shutil

    base = tmp_path_factory.mktemp("rollout-lab")
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
        )
        yield LabWS(ws, lab_dir, handle, base / "state.db")
    finally:
        lab_service.lab_down(lab_dir)


def _good(lab: LabWS) -> str:
    """The last known-good release id (a good rollout has run)."""
    store = SqliteStore(lab.state)
    try:
        lkg = store.get("lkg", "lab/edge.yml")
    finally:
        store.close()
    assert lkg is not None, "the good rollout test must run first"
    return str(lkg["release_id"])


def test_good_rollout_completes(lab: LabWS) -> None:
    plan = lab.run("rollout", "plan", "edge.yml", "--env", "lab", "--policy", str(FAST),
                   "--format", "json")  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    steps = json.loads(plan.stdout)["steps"]
    rc, out, err = lab.start("-x", "demo_note=first")
    assert rc == 0, err
    assert out["status"] == "completed"
    rid = out["id"]
    doc = lab.doc(rid)
    assert doc["plan_digest"] == json.loads(plan.stdout)["digest"]  # the plan shown is the plan run
    assert set(lab.served().values()) == {doc["release_id"]}
    started = [e["label"] for e in lab.events(rid) if e["type"] == "step_started"]
    assert started[0] == "canary" and len(started) == len(steps)
    hist = lab.run("rollout", "history", "--env", "lab", "--format", "json")
    assert json.loads(hist.stdout)["last_known_good"]["lab/edge.yml"]["rollout"] == rid


def test_broken_config_is_caught_at_the_canary_and_rolled_back_with_proof(lab: LabWS) -> None:
    good = _good(lab)
    rc, out, err = lab.start("-x", "edge_extra_directives=this_is_not_an_nginx_directive on;")
    assert rc == 1, err
    assert out["status"] == "rolled_back"
    events = lab.events(out["id"])
    applied = next(e for e in events if e["type"] == "step_applied")
    assert applied["label"] == "canary" and len(applied["failed"]) == 1
    assert not [e for e in events if e["type"] == "step_started" and e["step"] > 0]
    check = next(e for e in events if e["type"] == "rollback_check")
    assert check["release"] == good and check["total_changed"] == 0
    proof = next(e for e in events if e["type"] == "rollback_proof")
    assert proof["ok"] and proof["gate_verdict"] == "pass"
    assert set(lab.served().values()) == {good}


def test_latency_regression_is_caught_by_canary_analysis(lab: LabWS) -> None:
    good = _good(lab)
    # 300 ms: far above fast.yml's 100 ms effect floor (itself far above
    # loopback noise on a loaded machine), far under the http gate's 1 s p95.
    rc, out, err = lab.start("-x", "edge_response_delay_ms=300")
    assert rc == 1, err
    assert out["status"] == "rolled_back"
    gates = {e["gate"]: e for e in lab.events(out["id"]) if e["type"] == "gate"
             and e["phase"] == "step"}  # fmt: skip
    assert gates["http"]["verdict"] == "pass"  # under every absolute threshold...
    ca = gates["canary_analysis"]
    assert ca["verdict"] == "fail"  # ...but slower than its baseline
    assert ca["numbers"]["latency_p"] < 0.01
    assert ca["numbers"]["median_delta_ms"] > 150  # half the injected delay
    why = lab.run("rollout", "why", out["id"])
    assert "latency regression" in why.stdout and "rollback PROVEN" in why.stdout
    assert set(lab.served().values()) == {good}


def test_unreachable_host_pauses_instead_of_failing(lab: LabWS) -> None:
    good = _good(lab)
    mid = next(h for h in lab.edges() if h.region == "lab-mid")
    lab_service.stop(lab.lab_dir, mid.name, "sshd")
    try:
        rc, out, err = lab.start("-x", "demo_note=second")
        assert rc == 1, err
        assert out["status"] == "paused"
        doc = lab.doc(out["id"])
        assert doc["pause"]["kind"] == "unreachable"
        assert doc["unreachable_hosts"] == [mid.name] and doc["failed_hosts"] == []
        assert lab.served()[mid.name] == good  # it still serves, untouched
        # The paused rollout keeps the env locked.
        rc2, _, err2 = lab.start()
        assert rc2 == 1 and f"locked by {out['id']}" in err2
    finally:
        lab_service.start(lab.lab_dir, mid.name, "sshd")
    p = lab.run("rollout", "resume", out["id"], "--format", "json")
    assert p.returncode == 0, p.stderr
    assert set(lab.served().values()) == {lab.doc(out["id"])["release_id"]}


def test_kill_9_mid_wave_then_resume_skips_finished_waves(lab: LabWS, tmp_path: Path) -> None:
    policy = tmp_path / "slow.yml"
    policy.write_text(FAST.read_text().replace("bake_s: 1", "bake_s: 2"))
    tmp = tmp_path / "tmp"  # the killed run's temp dirs land here, and must not stay
    tmp.mkdir()
    env = {**lab.env(), "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [str(FLEETCTL), "rollout", "start", "edge.yml", "--env", "lab", "--policy",
         str(policy), "--yes", "-x", "demo_note=third"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    rid = None
    try:
        deadline = time.time() + 180
        while time.time() < deadline:  # bounded wait for wave 1 to start
            store = SqliteStore(lab.state)
            docs = [d for d in store.list("rollout") if d["pid"] == proc.pid]
            rid = docs[0]["id"] if docs else None
            events = store.events(rid) if rid else []
            store.close()
            if any(e["type"] == "step_started" and e["step"] == 1 for e in events):
                break
            time.sleep(0.2)
        assert rid is not None
        # A second rollout on the same env is refused while this one runs.
        rc, _, err = lab.start()
        assert rc == 1 and f"locked by {rid} (held for" in err
        time.sleep(1.0)  # into the wave's Ansible run
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    doc = lab.doc(rid)
    assert doc["status"] == "running" and doc["next_step"] == 1
    left = sorted(d.name for d in tmp.glob("fleetctl-*"))
    # its release snapshot, and its Ansible private dir if the kill hit a batch
    assert any(n.startswith(f"fleetctl-rollout-{proc.pid}-") for n in left), left

    def resume() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FLEETCTL), "rollout", "resume", rid, "--format", "json"],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    p = resume()
    assert p.returncode == 0, p.stderr
    # the dead run's snapshot and Ansible private dir (extra vars inside) are gone
    assert list(tmp.glob("fleetctl-*")) == []
    # a CI retry of the same resume is safe: nothing runs, exit 0
    again = resume()
    assert again.returncode == 0, again.stderr
    assert "already completed" in again.stderr
    events = lab.events(rid)
    started = [e["step"] for e in events if e["type"] == "step_started"]
    finished = [e["step"] for e in events if e["type"] == "step_finished"]
    n = doc["plan_steps"]
    assert started == [0, 1, *range(1, n)]  # only the interrupted wave ran twice
    assert finished == list(range(n))
    assert set(lab.served().values()) == {doc["release_id"]}
    # Ansible runs in its own session and survived the kill -9: resume ended it
    # (or it had finished); nothing of this rollout is left running.
    from fleetctl.adapters import procs

    assert procs.with_environ("FLEETCTL_ROLLOUT_ID", rid) == []


def test_freeze_blocks_a_start(lab: LabWS) -> None:
    p = lab.run("freeze", "on", "--env", "lab", "--reason", "e2e freeze")
    assert p.returncode == 0, p.stderr
    try:
        before = lab.served()
        rc, _, err = lab.start("-x", "demo_note=frozen")
        assert rc == 1 and "env lab is frozen" in err and "e2e freeze" in err
        status = lab.run("rollout", "status", "--env", "lab")
        assert "FROZEN" in status.stdout
        assert lab.served() == before
    finally:
        lab.run("freeze", "off", "--env", "lab")
