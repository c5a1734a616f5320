"""Prometheus HTTP API queries for the optional `prometheus` and `slo_burn` gates.

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

from fleetctl.core.policy import SloBurnGate
from fleetctl.core.slo_burn import PairReading, WindowReading, window_range


def query_value(
    base_url: str, promql: str, timeout_s: float, *, empty: float | None = None
) -> float:
    """The value of an instant query; raises ValueError/OSError on any problem.
    An empty vector (no series matched) is `empty` when given, else an error."""
    url = base_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # a bad query: say what Prometheus said
        try:
            said = json.loads(exc.read()).get("error", "")
        except ValueError:
            said = ""
        raise ValueError(f"HTTP {exc.code}: {said or exc.reason}") from None
    if body.get("status") != "success":
        raise ValueError(f"query failed: {body.get('error', 'unknown error')}")
    data = body.get("data", {})
    result = data.get("result")
    if data.get("resultType") == "scalar":
        return float(result[1])
    if data.get("resultType") == "vector":
        if not result and empty is not None:
            return empty
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


def _promql_regex_literal(text: str) -> str:
    """`text` matched literally by a PromQL regex inside a double-quoted
    string: regex metacharacters get a backslash, itself doubled for the
    string (Python's re.escape would also escape '-', which PromQL rejects)."""
    return "".join("\\\\" + c if c in r".^$*+?()[]{}|\\" else c for c in text)


def read_burn(
    base_url: str, cfg: SloBurnGate, hosts: Sequence[str], *, attempts: int, pause_s: float = 1.0
) -> list[PairReading]:
    """Errors and requests of `hosts` over each window of the slo_burn gate.

    A window with no matching series has had no requests (0, which the
    gate's minimum-request guard turns into Inconclusive); a query that fails
    `attempts` times leaves the window unreadable (also Inconclusive)."""
    regex = "|".join(_promql_regex_literal(h) for h in hosts) or "^$"
    down: list[str] = []  # once Prometheus failed, later windows do not retry

    def window(seconds: float) -> WindowReading:
        if down:
            return WindowReading(seconds, None, None, down[0])
        rng = window_range(seconds, cfg.window_scale)
        values: list[float] = []
        for template in (cfg.errors_query, cfg.total_query):
            q = template.format(window=rng, hosts=regex)
            last = ""
            for i in range(attempts):
                try:
                    values.append(query_value(base_url, q, cfg.timeout_s, empty=0.0))
                    break
                except (OSError, ValueError, KeyError, IndexError) as exc:
                    last = f"{type(exc).__name__}: {exc}"
                    if i + 1 < attempts:
                        time.sleep(pause_s)
            else:
                down.append(last)
                return WindowReading(seconds, None, None, last)
        return WindowReading(seconds, values[0], values[1])

    return [PairReading(w, window(w.long_s), window(w.short_s)) for w in cfg.windows]
