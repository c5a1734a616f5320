"""Prometheus HTTP API queries for the optional Prometheus gate (off in the lab).

`GET {url}/api/v1/query?query=...` must answer a scalar or a one-element
vector. Each query is retried up to the consecutive error limit; the gate
turns a run of errors into Inconclusive, never into a Pass.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence


def query_value(base_url: str, promql: str, timeout_s: float) -> float:
    """The value of an instant query; raises ValueError/OSError on any problem."""
    url = base_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        body = json.loads(resp.read())
    if body.get("status") != "success":
        raise ValueError(f"query failed: {body.get('error', 'unknown error')}")
    data = body.get("data", {})
    result = data.get("result")
    if data.get("resultType") == "scalar":
        return float(result[1])
    if data.get("resultType") == "vector":
        if len(result) != 1:
            raise ValueError(f"expected one series, got {len(result)}")
        return float(result[0]["value"][1])
    raise ValueError(f"unsupported result type {data.get('resultType')!r}")


def read_all(
    base_url: str,
    queries: Sequence[str],
    *,
    timeout_s: float,
    attempts: int,
    pause_s: float = 1.0,
) -> list[tuple[float | None, tuple[str, ...]]]:
    """(value, errors) per PromQL query; errors are the failed attempts when no value."""
    readings: list[tuple[float | None, tuple[str, ...]]] = []
    for q in queries:
        errors: list[str] = []
        value: float | None = None
        for i in range(attempts):
            try:
                value = query_value(base_url, q, timeout_s)
                break
            except (OSError, ValueError, KeyError, IndexError, urllib.error.URLError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                if i + 1 < attempts:
                    time.sleep(pause_s)
        readings.append((value, tuple(errors) if value is None else ()))
    return readings
