"""Many probe requests at once: N samples of each path on each host.

Changed and baseline hosts are sampled in the same rounds (round-major
order, bounded concurrency) so both see the same machine load: the basis of
a fair canary comparison. Each request is one GET with a timeout; the result
is a `Reading` (the rollout service turns readings into gate samples).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reading:
    host: str
    path: str
    latency_ms: float | None  # None when there was no HTTP answer
    status: int | None
    error: str | None  # None, "status" (unexpected status) or "conn"
    at: float  # epoch seconds


@dataclass(frozen=True)
class Target:
    host: str  # inventory name
    base_url: str  # http://127.0.x.y:PORT


def _get(url: str, timeout_s: float) -> tuple[int | None, float, str | None]:
    """(status, latency ms, error) of one GET; error "conn" when no HTTP answer."""
    parts = urlsplit(url)
    path = parts.path or "/"
    start = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout_s)
    try:
        conn.request("GET", path, headers={"User-Agent": "fleetctl-gate"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, (time.perf_counter() - start) * 1000, None
    except (OSError, http.client.HTTPException):
        return None, (time.perf_counter() - start) * 1000, "conn"
    finally:
        conn.close()


def sample(
    targets: Sequence[Target],
    paths: Sequence[str],
    *,
    samples: int,
    warmup: int = 0,
    timeout_s: float = 2.0,
    concurrency: int = 8,
    expect_status: Sequence[int] = (200,),
    stop: Callable[[], bool] | None = None,
) -> list[Reading]:
    """`samples` requests per (target, path), after `warmup` uncounted ones.

    Returns the samples in completion order; `stop()` returning True ends
    the run early (abort requested) with what was measured so far.
    """
    out: list[Reading] = []
    lock = threading.Lock()
    expect = set(expect_status)

    def one(t: Target, path: str, counted: bool) -> None:
        if stop is not None and stop():
            return
        status, ms, err = _get(t.base_url + path, timeout_s)
        if not counted:
            return
        if err is None and status not in expect:
            err = "status"
        s = Reading(t.host, path, ms if err != "conn" else None, status, err, time.time())
        with lock:
            out.append(s)

    jobs = [(t, p, i >= warmup) for i in range(warmup + samples) for t in targets for p in paths]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for fut in [pool.submit(one, *job) for job in jobs]:
            fut.result()
    return out
