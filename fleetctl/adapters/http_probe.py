"""A small HTTP probe: one GET, its status, headers, size and latency.

Only for loopback / lab targets and health checks; no retries, no redirects.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ProbeResult:
    url: str
    status: int | None  # None: no HTTP answer (refused, timeout)
    latency_s: float
    body_bytes: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def get(url: str, timeout_s: float = 3.0) -> ProbeResult:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    start = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout_s)
    try:
        conn.request("GET", path, headers={"User-Agent": "fleetctl-probe"})
        resp = conn.getresponse()
        body = resp.read()
        return ProbeResult(
            url=url,
            status=resp.status,
            latency_s=time.perf_counter() - start,
            body_bytes=len(body),
            headers={k.lower(): v for k, v in resp.getheaders()},
        )
    except (OSError, http.client.HTTPException) as exc:
        return ProbeResult(
            url=url,
            status=None,
            latency_s=time.perf_counter() - start,
            error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        )
    finally:
        conn.close()
