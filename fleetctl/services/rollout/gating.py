"""Run the gates of a step (or of a rollback's proof) and combine their verdicts.

HTTP and canary analysis probe through the `Prober`, Prometheus through its
adapter, the video gates through `video_gates.run`. The maths lives in
core (gates, playback, cache_gate, slo_burn). A probe machinery that breaks
makes its gate Inconclusive (pause), never Pass.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from fleetctl.core.gates import (
    GateResult,
    PromReading,
    Sample,
    Verdict,
    canary_analysis,
    combine,
    http_gate,
    prometheus_gate,
)
from fleetctl.core.planner import Host
from fleetctl.core.policy import Policy
from fleetctl.services.rollout import video_gates

Keepalive = Callable[[Callable[[], Any]], Any]


class Prober(Protocol):
    """Samples the HTTP gate paths on `changed` and `baseline` hosts together."""

    def __call__(
        self, changed: Sequence[Host], baseline: Sequence[Host], policy: Policy
    ) -> tuple[list[Sample], list[Sample]]: ...


def run_gates(
    policy: Policy,
    hosts: Sequence[Host],
    gates: Collection[str],
    changed: Sequence[Host],
    *,
    touched: Collection[str],
    failed: Collection[str],
    prober: Prober,
    keepalive: Keepalive = lambda fn: fn(),
) -> list[GateResult]:
    """One result per gate that ran. `hosts`: all the plan's hosts; `changed`:
    the hosts to judge; `touched`: hosts changed (or unreachable) so far and
    `failed`: hosts that failed the change; neither is a baseline."""
    cfg = policy.gates
    touched = set(touched)
    probed_roles = set(cfg.http.roles)
    changed_p = [h for h in changed if h.role in probed_roles]
    results: list[GateResult] = []
    need_http = ("http" in gates or "canary_analysis" in gates) and cfg.http.enabled
    if need_http and not changed_p:
        results.append(
            GateResult(
                "http",
                Verdict.SKIPPED,
                f"no changed host of a probed role ({', '.join(sorted(probed_roles))})",
            )
        )
    elif need_http:
        roles = {h.role for h in changed_p}
        baseline = [
            h
            for h in hosts
            if h.role in roles and h.name not in touched and h.name not in set(failed)
        ]
        if "canary_analysis" not in gates or not cfg.canary_analysis.enabled:
            baseline = []
        try:
            ch, base = keepalive(lambda: prober(changed_p, baseline, policy))
        except Exception as exc:  # the probe machinery itself broke
            results.append(GateResult("http", Verdict.INCONCLUSIVE, f"probe backend error: {exc}"))
        else:
            # how the probes went (https where the env serves it), in `why`
            scheme = video_gates.schemes([*changed_p, *baseline], cfg.http)
            if "http" in gates:
                results.append(http_gate(ch, cfg.http))
                results[-1].numbers["scheme"] = scheme
            if "canary_analysis" in gates and cfg.canary_analysis.enabled:
                results.append(
                    canary_analysis(
                        ch,
                        base,
                        cfg.canary_analysis,
                        latency_path=cfg.canary_analysis.latency_path or cfg.http.paths[-1],
                        consecutive_error_limit=cfg.consecutive_error_limit,
                    )
                )
                results[-1].numbers["scheme"] = scheme
    if "prometheus" in gates and cfg.prometheus.enabled:
        from fleetctl.adapters.prometheus import read_all

        assert cfg.prometheus.url is not None
        url = cfg.prometheus.url
        raw = keepalive(
            lambda: read_all(
                url,
                [q.query for q in cfg.prometheus.queries],
                timeout_s=cfg.prometheus.timeout_s,
                attempts=cfg.consecutive_error_limit,
            )
        )
        readings = [
            PromReading(q, value, errors)
            for q, (value, errors) in zip(cfg.prometheus.queries, raw, strict=True)
        ]
        results.append(prometheus_gate(readings, cfg.consecutive_error_limit))
    results += video_gates.run(
        gates, policy, hosts, changed, touched | set(failed), keepalive=keepalive
    )
    return results


def verdict_of(results: Sequence[GateResult]) -> Verdict:
    return combine(results)


def reasons(results: Sequence[GateResult], verdict: Verdict) -> str:
    """`gate: reason; ...` of the gates that gave `verdict`."""
    return "; ".join(f"{r.gate}: {r.reason}" for r in results if r.verdict is verdict)
