"""A small HTTP probe: one GET, its status, headers, size and latency.

Only for loopback / lab targets and health checks; no retries, no redirects.
An https URL is verified against `ca_file` (the system store when None).
"""

from __future__ import annotations

import http.client
import ssl
import time
from dataclasses import dataclass, field
from functools import lru_cache
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


def describe(exc: BaseException) -> str:
    """A failed request in one line; a certificate that does not verify says
    why (the verifier's own words), so a gate's reason can show it."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate does not verify: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or type(exc).__name__}"
    reason = getattr(exc, "reason", None)  # urllib's URLError wraps the real one
    if isinstance(reason, BaseException):
        return describe(reason)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@lru_cache(maxsize=16)
def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """One verifying client context per CA file (loading a CA costs ~1 ms)."""
    from fleetctl.adapters.tls import client_context

    ctx = client_context(ca_file)
    ctx.set_alpn_protocols(["http/1.1"])  # http.client speaks HTTP/1.1 only
    return ctx


def connection(url: str, timeout_s: float, ca_file: str | None) -> http.client.HTTPConnection:
    """A plain or (verified) TLS connection for the URL's scheme."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(
            parts.hostname or "", parts.port or 443, timeout=timeout_s, context=tls_context(ca_file)
        )
    return http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout_s)


def get(url: str, timeout_s: float = 3.0, ca_file: str | None = None) -> ProbeResult:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    start = time.perf_counter()
    conn = connection(url, timeout_s, ca_file)
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
            url=url, status=None, latency_s=time.perf_counter() - start, error=describe(exc)
        )
    finally:
        conn.close()
