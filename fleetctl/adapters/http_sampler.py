"""Many probe requests at once: N samples of each path on each host.

Changed and baseline hosts are sampled in the same rounds (round-major
order, bounded concurrency) so both see the same machine load: the basis of
a fair canary comparison. Each request is one `http_probe.get`; the result
is a `Reading` (the rollout service turns readings into gate samples).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fleetctl.adapters import http_probe


@dataclass(frozen=True)
class Reading:
    host: str
    path: str
    latency_ms: float | None  # None when there was no HTTP answer
    status: int | None
    error: str | None  # None, "status" (unexpected status) or "conn"
    at: float  # epoch seconds
    detail: str | None = None  # a connection's error, e.g. why its certificate did not verify


@dataclass(frozen=True)
class Target:
    host: str  # inventory name
    base_url: str  # http://127.0.x.y:PORT or https://...
    ca_file: str | None = None  # verify https against this CA (None: system store)


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
        res = http_probe.get(t.base_url + path, timeout_s, t.ca_file)
        status, ms = res.status, res.latency_s * 1000
        err = "conn" if status is None else None
        if not counted:
            return
        if err is None and status not in expect:
            err = "status"
        s = Reading(
            t.host,
            path,
            ms if err != "conn" else None,
            status,
            err,
            time.time(),
            res.error or None,
        )
        with lock:
            out.append(s)

    jobs = [(t, p, i >= warmup) for i in range(warmup + samples) for t in targets for p in paths]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for fut in [pool.submit(one, *job) for job in jobs]:
            fut.result()
    return out
