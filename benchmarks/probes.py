"""Benchmark: what the gates' own probes cost, so a bake time can be chosen.

On a running lab (its edges: real nginx, HTTP on 8080 and HTTPS on 8443),
in one run, each probe the gates use with the lab policies' settings:
  http         20 GETs per path (2 paths) per edge (gates.http / canary_analysis)
  hls_playback 5 player sessions x 3 segments per edge
  cache        warm-up + 2 passes over every segment of the ladder per edge
  tls_cert     one verified handshake per edge
  slo_burn     one gate evaluation (every window pair: errors and requests of
               the long and the short window) against the lab's real
               Prometheus, when the lab runs one (`lab up --prometheus`)
each over HTTPS (verified against the lab CA) and, for the first three, over
plain HTTP. Printed per gate: wall seconds, this process's CPU seconds per
probed edge, the projection to 10 edges (target: a gate needs at most a few
seconds of a 2-core machine for 10 edges), and the HTTPS / HTTP CPU ratio.
For slo_burn: PromQL queries, wall and CPU (this process and Prometheus's)
per evaluation, the mean of `--slo-evals` evaluations; its cost does not
grow with the edges (one regex of host names per query), so no projection.

    fleetctl lab up [--prometheus] && python benchmarks/probes.py [--lab-dir .fleetctl/lab]
    python benchmarks/probes.py --only slo_burn   # Prometheus's share alone
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

from fleetctl.adapters import (  # noqa: E402
    cache_probe,
    hls_client,
    http_sampler,
    prometheus,
    supervisor,
    tls,
)
from fleetctl.core.policy import CacheGate, HlsPlaybackGate, SloBurnGate  # noqa: E402
from fleetctl.core.slo_burn import slo_burn_gate  # noqa: E402
from fleetctl.services import lab as lab_service  # noqa: E402
from fleetctl.services import lab_monitoring  # noqa: E402

PATHS = ["/healthz", "/vod/sample/master.m3u8"]


def measure(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: every probe thread)."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def _proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slo_burn(lab: Any, evals: int) -> None:
    """One slo_burn evaluation = what the gate does at each step: `read_burn`
    (2 queries per window, long and short, per window pair) then the verdict.
    Windows scaled 1/60 as in the lab tests; the queries' cost depends on the
    series and the range, not on the scale's wall-clock meaning."""
    if not lab_monitoring.enabled(Path(lab.dir)):
        print(
            f"{'slo_burn':<13} skipped: the lab runs no Prometheus (`fleetctl lab up --prometheus`)"
        )
        return
    url = lab_monitoring.url(lab)
    cfg = SloBurnGate(enabled=True, url=url, window_scale=1 / 60, min_requests=30)
    hosts = [h.name for h in lab.by_role("edge")][:1]  # a canary step's changed host
    calls = [0]
    real = prometheus.query_value

    def counted(*args: Any, **kwargs: Any) -> float:
        calls[0] += 1
        return real(*args, **kwargs)

    prometheus.query_value = counted  # type: ignore[assignment]  # count, then restore
    try:

        def once() -> None:
            slo_burn_gate(prometheus.read_burn(url, cfg, hosts, attempts=1), cfg)

        once()  # warm: imports, Prometheus's caches
        calls[0] = 0
        pid = supervisor.Supervisor(Path(lab.dir)).processes()["lab-prometheus"].pid
        server0 = _proc_cpu_s(pid)
        wall, c = measure(lambda: [once() for _ in range(evals)])
        server = _proc_cpu_s(pid) - server0
    finally:
        prometheus.query_value = real  # type: ignore[assignment]
    print(
        f"{'slo_burn':<13} {'http':<6} {wall / evals:7.3f} s wall, {c / evals * 1000:.1f} ms CPU"
        f" (fleetctl) + {server / evals * 1000:.1f} ms CPU (Prometheus) per evaluation;"
        f" {calls[0] / evals:g} queries per evaluation ({len(cfg.windows)} window pairs),"
        f" mean of {evals}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lab-dir", type=Path, default=None)
    ap.add_argument("--only", choices=["slo_burn"], default=None, help="measure this gate alone")
    ap.add_argument("--slo-evals", type=int, default=50, help="slo_burn evaluations to average")
    a = ap.parse_args()
    lab = lab_service.require(lab_service.resolve_dir(a.lab_dir, REPO))
    if a.only == "slo_burn":
        slo_burn(lab, a.slo_evals)
        return
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
    slo_burn(lab, a.slo_evals)
    verdict = "meets" if worst <= 4.0 else "MISSES"
    print(
        f"\nworst gate for 10 edges: {worst:.2f} CPU s ({verdict} the target of <= 4 s of 2 cores)"
    )


if __name__ == "__main__":
    main()
