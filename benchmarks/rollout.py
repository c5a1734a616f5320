"""Benchmark: rollout planning, rollout overhead over plain Ansible, time to roll back.

1. Planning 100,000 hosts across 30 regions (target < 1 s).
2. On a real lab (own temp dir and loopback block): the same batches run by
   `fleetctl rollout start` (bake 0) and by plain `ansible-playbook --limit`
   with exactly fleetctl's Ansible settings, rounds alternating. Reported:
     engine    fleetctl with gates off / plain   (target <= 1.15: snapshot,
               journal, lock, planning, per-step process work)
     gated     fleetctl with its HTTP + canary-analysis gates / plain (the
               price of the probes, for information)
3. Time from a bad canary to a completed, proven rollback.

    python benchmarks/rollout.py [--hosts 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleetctl.adapters.ansible import mitogen_status, speed_env  # noqa: E402
from fleetctl.adapters.state.sqlite import SqliteStore  # noqa: E402
from fleetctl.core.planner import Host, make_plan  # noqa: E402
from fleetctl.core.policy import Policy  # noqa: E402
from fleetctl.services import lab as lab_service  # noqa: E402

BIN = Path(sys.executable).parent
POLICY = {
    "bake_s": 0,
    "waves": ["50%", "100%"],
    "progress_deadline_s": 300,
    "gates": {
        "http": {
            "roles": ["edge"],
            "paths": ["/healthz", "/vod/sample/v0/seg_000.ts"],
            "samples": 20,
        },
    },
}


def bench_planning() -> None:
    hosts = [
        Host(f"edge-{i:06d}", f"region-{i % 30:02d}", "edge", round((i % 30 + 1) / 465, 5))
        for i in range(100_000)
    ]
    times = []
    for _ in range(3):
        t = time.perf_counter()
        plan = make_plan(hosts, Policy())
        times.append(time.perf_counter() - t)
    best = min(times)
    print(
        f"planning 100,000 hosts / 30 regions: {best * 1000:.0f} ms best of 3 "
        f"({len(plan.steps)} steps); target < 1000 ms -> {best / 1.0:.3f} of the budget "
        f"[{'OK' if best < 1.0 else 'MISSED'}]"
    )


def bench_engine_bookkeeping() -> None:
    """The engine's own work for a 100k-host rollout (journal, plan, locks),
    with Ansible replaced by a no-op and gates off: what fleetctl adds per step."""
    from types import SimpleNamespace
    from unittest import mock

    from fleetctl.services import rollout as svc

    root = Path(tempfile.mkdtemp(prefix="fleetctl-bench-engine-"))
    try:
        (root / "playbooks").mkdir()
        (root / "inventories" / "prod").mkdir(parents=True)
        (root / "playbooks" / "edge.yml").write_text("- hosts: edge\n  tasks: []\n")
        (root / "inventories" / "prod" / "hosts.yml").write_text("all: {}\n")
        off = {"http": {"enabled": False}, "canary_analysis": {"enabled": False}}
        pol = Policy.model_validate({"bake_s": 0, "gates": off})
        hosts = [
            Host(f"edge-{i:06d}", f"region-{i % 30:02d}", "edge", (i % 30 + 1) / 465)
            for i in range(100_000)
        ]
        plan = make_plan(hosts, pol)
        done = SimpleNamespace(state="changed", changed=1, to_dict=lambda: {"state": "changed"})

        def noop(playbook: Path, inventory: Path, *, limit: list[str], **kw: object) -> object:
            return SimpleNamespace(
                status="successful", hosts=dict.fromkeys(limit, done), error="", duration_s=0
            )

        store = SqliteStore(root / "state.db")
        with mock.patch.object(svc, "plan_for", lambda *a: (root / "playbooks/edge.yml", plan)):
            t = time.perf_counter()
            out = svc.Engine(store, root, executor=noop).start("prod", "edge.yml", pol)
            took = time.perf_counter() - t
        store.close()
        assert out.status is svc.Status.completed
        print(
            f"engine bookkeeping, 100,000 hosts / {len(plan.steps)} steps (Ansible stubbed, "
            f"gates off): {took:.1f} s, {took / len(plan.steps) * 1000:.0f} ms per step"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def free_subnet() -> str:
    for n in range(120, 250):
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((f"127.79.{n}.11", lab_service.SSH_PORT)) != 0:
                return f"127.79.{n}"
    raise RuntimeError("no free loopback block")


def ansible_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(speed_env())
    plugin_dir, _ = mitogen_status()
    if plugin_dir:
        env.update({"ANSIBLE_STRATEGY_PLUGINS": plugin_dir, "ANSIBLE_STRATEGY": "mitogen_linear"})
    else:
        env["ANSIBLE_STRATEGY"] = "linear"
    return env


def run(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=900)
    took = time.perf_counter() - t
    if p.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited {p.returncode}:\n{p.stderr[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    bench_planning()
    bench_engine_bookkeeping()

    base = Path(tempfile.mkdtemp(prefix="fleetctl-bench-rollout-"))
    ws = base / "ws"
    for d in ("stacks", "playbooks"):
        shutil.copytree(REPO / d, ws / d, ignore=shutil.ignore_patterns("__pycache__"))
    inv = ws / "inventories" / "lab"
    inv.mkdir(parents=True)
    lab_dir = base / "lab"
    state = base / "state.db"
    gated = base / "gated.yml"
    gated.write_text(json.dumps(POLICY))
    engine_only = base / "engine.yml"
    off = {"http": {"enabled": False}, "canary_analysis": {"enabled": False}}
    engine_only.write_text(json.dumps({**POLICY, "gates": off}))
    try:
        t = time.perf_counter()
        lab_service.lab_up(
            args.hosts,
            lab_dir=lab_dir,
            playbooks_dir=ws / "playbooks",
            subnet=free_subnet(),
            inventory_copy=inv / "hosts.yml",
        )
        print(f"lab up ({args.hosts} hosts): {time.perf_counter() - t:.1f} s")
        env = {**os.environ, "FLEETCTL_ROOT": str(ws), "FLEETCTL_STATE": str(state)}
        fleetctl = [str(BIN / "fleetctl"), "rollout", "start", "edge.yml", "--env", "lab",
                    "--yes", "--format", "json"]  # fmt: skip
        plan = json.loads(
            subprocess.run(
                [str(BIN / "fleetctl"), "rollout", "plan", "edge.yml", "--env", "lab",
                 "--policy", str(gated), "--format", "json"],
                env=env, capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
        batches = [s["hosts"] for s in plan["steps"]]
        print(f"plan: {len(batches)} steps {[len(b) for b in batches]}")
        aenv = ansible_env()
        playbook = str(ws / "playbooks" / "edge.yml")

        def plain(tag: str) -> float:
            total = 0.0
            for hosts in batches:
                total += run(
                    [str(BIN / "ansible-playbook"), "-i", str(inv / "hosts.yml"), playbook,
                     "--limit", ",".join(hosts), "-e", f"fleet_release={tag}"],
                    aenv,
                )  # fmt: skip
            return total

        times: dict[str, list[float]] = {"plain": [], "engine": [], "gated": []}
        for r in range(args.rounds):
            times["plain"].append(plain(f"bench-plain-{r}"))
            times["engine"].append(
                run([*fleetctl, "--policy", str(engine_only), "-x", f"bench_round=e{r}"], env)
            )
            times["gated"].append(
                run([*fleetctl, "--policy", str(gated), "-x", f"bench_round=g{r}"], env)
            )
        med = {k: statistics.median(v) for k, v in times.items()}
        for k, v in times.items():
            print(f"  {k:7s} median {med[k]:6.1f} s   runs {[round(x, 1) for x in v]}")
        ratio = med["engine"] / med["plain"]
        print(
            f"rollout overhead (gates off, bake 0) vs ansible-playbook --limit, same batches "
            f"and settings: {ratio:.2f}  target <= 1.15 [{'OK' if ratio <= 1.15 else 'MISSED'}]"
        )
        print(
            f"with HTTP + canary-analysis gates: {med['gated'] / med['plain']:.2f} "
            f"(+{(med['gated'] - med['engine']) / len(batches):.1f} s of probing per step)"
        )

        # A bad canary: time to a completed, proven rollback.
        t = time.perf_counter()
        run([*fleetctl, "--policy", str(gated), "-x", "edge_response_delay_ms=80"], env, ok=(1,))
        wall = time.perf_counter() - t
        store = SqliteStore(state)
        doc = max(store.list("rollout"), key=lambda d: d["created_at"])
        ev = store.events(doc["id"])
        store.close()
        at = {e["type"]: e["at"] for e in reversed(ev)}  # first occurrence of each
        assert doc["status"] == "rolled_back", doc["status"]
        print(
            f"bad canary -> proven rollback: {ev[-1]['at'] - at['failed']:.1f} s from the failed "
            f"verdict to the proof (re-apply, --check --diff, gates); "
            f"{wall:.1f} s for the whole command (canary apply + bake + gates + rollback)"
        )
    finally:
        lab_service.lab_down(lab_dir)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
