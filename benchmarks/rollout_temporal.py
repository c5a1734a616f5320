"""Benchmark: the Temporal engine at fleet scale, on the real dev server.

A simulated fleet (default 10,000 hosts in 30 regions) whose "Ansible" only
sleeps a fixed time per batch (every host changed), gates off, bake 0, so
what is measured is the engine: the coordinator, the region children, the
journal writes. Reported, from one run:

  e2e_s[P]          end-to-end with max_parallel_regions P (1, 10, 30)
  overhead_step_s   (e2e - steps * batch sleep) / steps, with P = 1
  overhead_host_ms  the same per host
  history           events and bytes of the coordinator and of the largest
                    region child, against Temporal's limits per execution
                    (51,200 events / 50 MB)
  ratio_vs_local    the same small fleet and sleeping executor through the
                    local engine and the Temporal engine: time Temporal /
                    time local (target <= 1.2 on lab batches, where a batch is
                    seconds of Ansible; with a short sleep it shows the
                    per-step price of the durable engine)

    python benchmarks/rollout_temporal.py [--hosts 10000] [--regions 30]
        [--sleep 0.2] [--parallel 1,10,30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "integration")]

from fleetctl.adapters import temporal  # noqa: E402
from fleetctl.adapters.state.sqlite import SqliteStore  # noqa: E402
from fleetctl.core.policy import Policy  # noqa: E402
from fleetctl.services.rollout import Engine  # noqa: E402
from fleetctl.services.rollout_temporal import service  # noqa: E402
from fleetctl.services.rollout_temporal.model import workflow_id  # noqa: E402
from tests.temporal_workers import WorkerThread  # noqa: E402

LIMIT_EVENTS = 51_200
LIMIT_BYTES = 50 * 1024 * 1024
POLICY = {
    "bake_s": 0,
    "waves": [1, "10%", "50%", "100%"],
    "gates": {"http": {"enabled": False}, "canary_analysis": {"enabled": False}},
}


@dataclass
class Outcome:
    state: str
    changed: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "changed": self.changed}


@dataclass
class Result:
    status: str
    hosts: dict[str, Outcome]
    error: str = ""
    duration_s: float = 0.0


class SleepExecutor:
    """Sleeps `seconds` per batch; every host changed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.batches = 0

    def __call__(self, playbook: Path, inventory: Path, *, limit: Any, **kw: Any) -> Result:
        self.batches += 1
        time.sleep(self.seconds)
        return Result("successful", {h: Outcome("changed") for h in limit}, "", self.seconds)


def workspace(root: Path, hosts: int, regions: int) -> list[str]:
    (root / "stacks").mkdir(parents=True)
    (root / "stacks" / "Pulumi.yaml").write_text("name: fleet\nruntime: python\n")
    pb = root / "playbooks"
    pb.mkdir()
    (pb / "edge.yml").write_text("- hosts: edge\n  tasks: []\n")
    inv = root / "inventories" / "sim"
    inv.mkdir(parents=True)
    names = [f"r{r:02d}" for r in range(regions)]
    for r, name in enumerate(names):  # a file per region: input files are size-limited
        lines = ["all:", "  children:", "    edge:", "      hosts:"]
        for i in range(r, hosts, regions):
            lines.append(
                f"        e{i:05d}: {{region: {name}, fleet_role: edge, traffic_weight: {0.1 + r}}}"
            )
        (inv / f"{name}.yml").write_text("\n".join(lines) + "\n")
    return names


async def history_size(s: temporal.Settings, rid: str) -> dict[str, Any]:
    client = await temporal.connect(s)
    sizes: dict[str, tuple[int, int]] = {}
    ids = [workflow_id("sim")]
    async for wf in client.list_workflows(f"WorkflowId STARTS_WITH 'env/sim/{rid}/'"):
        ids += [] if wf.id in ids else [wf.id]
    for wid in ids:
        h = await client.get_workflow_handle(wid).fetch_history()
        sizes[wid] = (len(h.events), sum(e.ByteSize() for e in h.events))
    coord = sizes.pop(workflow_id("sim"))
    biggest = max(sizes.values(), default=(0, 0))
    return {
        "coordinator_events": coord[0],
        "coordinator_bytes": coord[1],
        "largest_region_events": biggest[0],
        "largest_region_bytes": biggest[1],
        "children": len(sizes),
        "worst_share_of_limit": round(
            max(coord[0] / LIMIT_EVENTS, coord[1] / LIMIT_BYTES, biggest[0] / LIMIT_EVENTS), 4
        ),
    }


def run_temporal(
    s: temporal.Settings, root: Path, state: Path, regions: list[str], sleep: float, parallel: int
) -> tuple[float, str, int]:
    ex = SleepExecutor(sleep)
    store = SqliteStore(state)
    try:
        with WorkerThread(s, "sim", regions, state_url=str(state), root=root, executor=ex):
            t0 = time.monotonic()
            out = service.start(
                store,
                root,
                "sim",
                "edge.yml",
                Policy.model_validate(POLICY),
                settings=s,
                max_parallel_regions=parallel,
            )
            took = time.monotonic() - t0
        assert out.status.value == "completed", out.message
        return took, out.id, ex.batches
    finally:
        store.close()


def run_local(root: Path, state: Path, sleep: float) -> float:
    ex = SleepExecutor(sleep)
    store = SqliteStore(state)
    try:
        t0 = time.monotonic()
        out = Engine(store, root, executor=ex).start(
            "sim", "edge.yml", Policy.model_validate(POLICY)
        )
        assert out.status.value == "completed", out.message
        return time.monotonic() - t0
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=10_000)
    ap.add_argument("--regions", type=int, default=30)
    ap.add_argument("--sleep", type=float, default=0.2, help="seconds per batch")
    ap.add_argument("--parallel", default="1,10,30")
    ap.add_argument("--ratio-hosts", type=int, default=60)
    ap.add_argument("--ratio-regions", type=int, default=3)
    ap.add_argument("--ratio-sleep", type=float, default=2.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    # a SIGTERM (e.g. `timeout`) still stops the dev server in the `finally` below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report: dict[str, Any] = {
        "hosts": args.hosts,
        "regions": args.regions,
        "batch_sleep_s": args.sleep,
    }
    with tempfile.TemporaryDirectory(prefix="fleetctl-bench-temporal-") as tmp:
        base = Path(tmp)
        server = temporal.dev_server(base / "temporal.db").start()
        try:
            s = temporal.settings(server.address, environ={})
            root = base / "ws"
            regions = workspace(root, args.hosts, args.regions)
            e2e: dict[str, float] = {}
            rid1, steps = "", 0
            for p in [int(x) for x in args.parallel.split(",")]:
                took, rid, batches = run_temporal(
                    s, root, base / f"state-{p}.db", regions, args.sleep, p
                )
                e2e[str(p)] = round(took, 2)
                if p == 1:
                    rid1, steps = rid, batches
            report["e2e_s"] = e2e
            report["steps"] = steps
            if rid1:
                over = (e2e["1"] - steps * args.sleep) / steps
                report["overhead_step_s"] = round(over, 3)
                report["overhead_host_ms"] = round(1000 * over * steps / args.hosts, 3)
                report["history"] = asyncio.run(history_size(s, rid1))
            small = base / "small"
            small_regions = workspace(small, args.ratio_hosts, args.ratio_regions)
            t_local = run_local(small, base / "local.db", args.ratio_sleep)
            t_temporal, _, _ = run_temporal(
                s, small, base / "small-t.db", small_regions, args.ratio_sleep, 1
            )
            report["ratio_vs_local"] = {
                "hosts": args.ratio_hosts,
                "batch_sleep_s": args.ratio_sleep,
                "local_s": round(t_local, 2),
                "temporal_s": round(t_temporal, 2),
                "ratio": round(t_temporal / t_local, 3),
            }
        finally:
            server.stop()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for k, v in report.items():
        print(f"{k:18} {v}")


if __name__ == "__main__":
    main()
