"""Benchmark: how long a `fleetctl status` snapshot takes, and what the
metrics endpoint's snapshot cache saves.

On N loopback HTTP "edges" (each answers /healthz after DELAY ms, like a busy
host), in one run:
  concurrent   the status service's bounded pool / probing one host after
               another (target <= 0.2 for 40 hosts: a snapshot costs about
               one slow host, not the sum of them)
  cached       a scrape served from the collector's cache / a scrape that
               takes a fresh snapshot (target <= 0.1)

    python benchmarks/status.py [--hosts 40] [--delay-ms 50]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleetctl.core.fleet_status import build_status  # noqa: E402
from fleetctl.services import metrics, status  # noqa: E402


def edge(delay_s: float) -> ThreadingHTTPServer:
    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay_s)
            self.send_response(200)
            self.send_header("X-Fleet-Release", "r1")
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return srv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--delay-ms", type=float, default=50.0)
    a = ap.parse_args()
    servers = [edge(a.delay_ms / 1000) for _ in range(a.hosts)]
    try:
        ts = [
            status.Target(f"e{i}", f"r{i % 4}", "edge", "127.0.0.1", s.server_address[1], 1, 0.25)
            for i, s in enumerate(servers)
        ]
        t0 = time.perf_counter()
        seq = [status.observe(t) for t in ts]
        t_seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        par = status.observe_all(ts)
        t_par = time.perf_counter() - t0
        assert [o.health for o in seq] == [o.health for o in par] == ["healthy"] * a.hosts
        ratio = t_par / t_seq
        print(f"hosts {a.hosts}, /healthz delay {a.delay_ms:g} ms")
        print(f"  one after another  {t_seq:7.3f} s")
        print(f"  status pool        {t_par:7.3f} s")
        verdict = "OK" if ratio <= 0.2 else "MISSED"
        print(f"  concurrent ratio   {ratio:7.3f}  (target <= 0.2) {verdict}")

        def take():  # type: ignore[no-untyped-def]
            return build_status("bench", status.observe_all(ts), [])

        collector = metrics.FleetCollector(take, "bench", ttl_s=60)
        server, thread = metrics.serve(collector, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        try:
            t0 = time.perf_counter()
            urllib.request.urlopen(url, timeout=30).read()
            t_fresh = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(10):
                urllib.request.urlopen(url, timeout=30).read()
            t_cached = (time.perf_counter() - t0) / 10
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        ratio = t_cached / t_fresh
        print(f"  scrape, fresh      {t_fresh:7.3f} s")
        print(f"  scrape, cached     {t_cached:7.3f} s (mean of 10)")
        verdict = "OK" if ratio <= 0.1 else "MISSED"
        print(f"  cached ratio       {ratio:7.3f}  (target <= 0.1) {verdict}")
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


if __name__ == "__main__":
    main()
