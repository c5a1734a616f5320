"""Benchmark: what the gates' own probes cost, so a bake time can be chosen.

On a running lab (its edges: real nginx, HTTP on 8080 and HTTPS on 8443),
in one run, each probe the gates use with the lab policies' settings:
  http         20 GETs per path (2 paths) per edge (gates.http / canary_analysis)
  hls_playback 5 player sessions x 3 segments per edge
  cache        warm-up + 2 passes over every segment of the ladder per edge
  tls_cert     one verified handshake per edge
each over HTTPS (verified against the lab CA) and, for the first three, over
plain HTTP. Printed per gate: wall seconds, this process's CPU seconds per
probed edge, the projection to 10 edges (target: a gate needs at most a few
seconds of a 2-core machine for 10 edges), and the HTTPS / HTTP CPU ratio.

    fleetctl lab up && python benchmarks/probes.py [--lab-dir .fleetctl/lab]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleetctl.adapters import cache_probe, hls_client, http_sampler, tls  # noqa: E402
from fleetctl.core.policy import CacheGate, HlsPlaybackGate  # noqa: E402
from fleetctl.services import lab as lab_service  # noqa: E402

PATHS = ["/healthz", "/vod/sample/master.m3u8"]


def measure(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: every probe thread)."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lab-dir", type=Path, default=None)
    a = ap.parse_args()
    lab = lab_service.require(lab_service.resolve_dir(a.lab_dir, REPO))
    ca = str(lab_service.ca_file(lab))
    edges = lab.by_role("edge")
    n = len(edges)

    def urls(scheme: str) -> list[tuple[str, str]]:
        port = lab_service.HTTPS_PORT if scheme == "https" else lab_service.HTTP_PORT
        return [(h.name, f"{scheme}://{h.address}:{port}") for h in edges]

    hls_cfg = HlsPlaybackGate(enabled=True, sessions=5, segments=3)
    cache_cfg = CacheGate(enabled=True, passes=2, min_requests=18)
    probes: dict[str, Callable[[str], Callable[[], Any]]] = {
        "http": lambda s: (
            lambda: http_sampler.sample(
                [http_sampler.Target(name, u, ca) for name, u in urls(s)],
                PATHS,
                samples=20,
                warmup=1,
            )
        ),
        "hls_playback": lambda s: (
            lambda: hls_client.sessions(
                [hls_client.Edge(name, u, ca) for name, u in urls(s)], hls_cfg
            )
        ),
        "cache": lambda s: (
            lambda: cache_probe.read(
                [hls_client.Edge(name, u, ca) for name, u in urls(s)], cache_cfg
            )
        ),
    }
    print(f"{n} edges of the lab in {lab.dir}; CPU = this process (all probe threads)")
    print(f"{'gate':<13} {'scheme':<6} {'wall s':>7} {'CPU s/edge':>11} {'CPU s, 10 edges':>16}")
    worst = 0.0
    for gate, make in probes.items():
        cpu = {}
        for scheme in ("http", "https"):
            make(scheme)()  # warm: caches filled, connections and imports ready
            wall, c = measure(make(scheme))
            cpu[scheme] = c
            worst = max(worst, c / n * 10)
            print(f"{gate:<13} {scheme:<6} {wall:7.2f} {c / n:11.3f} {c / n * 10:16.2f}")
        print(f"{'':<13} https / http CPU: {cpu['https'] / max(cpu['http'], 1e-9):.2f}")
    wall, c = measure(
        lambda: [
            tls.handshake(h.name, h.address, lab_service.HTTPS_PORT, ca_file=ca) for h in edges
        ]
    )
    worst = max(worst, c / n * 10)
    print(f"{'tls_cert':<13} {'https':<6} {wall:7.2f} {c / n:11.3f} {c / n * 10:16.2f}")
    verdict = "meets" if worst <= 4.0 else "MISSES"
    print(
        f"\nworst gate for 10 edges: {worst:.2f} CPU s ({verdict} the target of <= 4 s of 2 cores)"
    )


if __name__ == "__main__":
    main()
