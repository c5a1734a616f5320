"""Drift of the whole prod env against moto server: stacks read in parallel vs one by one.

Builds every prod stack of the sample fleet in a fresh moto server (the same
builder the tests use), then alternates `fleetctl drift --env prod` reads with
8 workers and with 1, and prints the medians and their ratio. moto answers on
loopback, so this measures our client-side work and the server's; against AWS
each call also waits ~20-100 ms of network, where parallel reads gain more.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from aws_fixture import aws_env, start_moto  # noqa: E402
from aws_world import build_stack  # noqa: E402

from fleetctl.services import drift  # noqa: E402
from fleetctl.services.workspace import Workspace  # noqa: E402
from fleetctl.spec import load_fleet  # noqa: E402

ROUNDS = 5


def main() -> None:
    server = start_moto(atomic=False)  # plain moto: threads interleave freely
    try:
        os.environ.update(aws_env(server.url, Path(tempfile.mkdtemp())))
        stacks = load_fleet(REPO / "stacks").select("prod")
        t0 = time.perf_counter()
        for stack in stacks:
            build_stack(stack)
        print(f"built {len(stacks)} prod stacks in moto in {time.perf_counter() - t0:.1f}s")
        ws = Workspace(REPO)
        times: dict[int, list[float]] = {8: [], 1: []}
        for _ in range(ROUNDS):
            for workers in (8, 1):
                t = time.perf_counter()
                report = drift.check(ws, "prod", workers=workers)
                times[workers].append(time.perf_counter() - t)
                assert not report.has_drift, report.to_json()["summary"]
        par, seq = statistics.median(times[8]), statistics.median(times[1])
        print(f"drift --env prod ({report.checked} resources, no drift):")
        print(f"  8 workers: median {par:.2f}s  {[round(x, 2) for x in times[8]]}")
        print(f"  1 worker:  median {seq:.2f}s  {[round(x, 2) for x in times[1]]}")
        print(f"  ratio sequential / parallel = {seq / par:.2f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
