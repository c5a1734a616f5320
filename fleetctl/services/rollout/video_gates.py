"""The video gates of a rollout step: `hls_playback`, `cache` and `slo_burn`.

The rollout engine calls `run` once per step (after the HTTP gates); it
probes the changed edges and the unchanged edges of the same roles at the
same time, and returns one GateResult per enabled gate of the step. The
maths lives in core (playback, cache_gate, slo_burn), the I/O in adapters
(hls_client, cache_probe, prometheus). A probe machinery that breaks makes
its gate Inconclusive (pause), never Pass.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import Any

from fleetctl.core.gates import GateResult, Verdict
from fleetctl.core.planner import Host, region_weights
from fleetctl.core.policy import HttpGate, Policy

NAMES = ("hls_playback", "cache", "slo_burn")


def scheme_of(h: Host, cfg: HttpGate) -> str:
    """The host's own (resolved when planned), else the policy's (a plan
    stored before hosts carried one; `auto` there was not possible: http)."""
    return h.scheme or ("http" if cfg.scheme == "auto" else cfg.scheme)


def base_url(h: Host, cfg: HttpGate) -> str:
    """Where a host's probes go: its scheme, its address and port."""
    return f"{scheme_of(h, cfg)}://{h.address or h.name}:{h.port or cfg.port}"


def ca_of(h: Host, cfg: HttpGate) -> str | None:
    """The CA a host's https is verified against (None: the system store)."""
    return h.ca_file or cfg.ca_file or None


def schemes(hosts: Sequence[Host], cfg: HttpGate) -> str:
    """How the probes went, for the gate's numbers: "https", "http" or both."""
    return "+".join(sorted({scheme_of(h, cfg) for h in hosts})) or scheme_of(Host("", ""), cfg)


def _edges(hosts: Sequence[Host], policy: Policy) -> list[Any]:
    from fleetctl.adapters.hls_client import Edge

    cfg = policy.gates.http
    return [Edge(h.name, base_url(h, cfg), ca_of(h, cfg)) for h in hosts]


def run(
    gates: Collection[str],
    policy: Policy,
    hosts: Sequence[Host],
    changed: Sequence[Host],
    exclude: Collection[str],
    *,
    keepalive: Callable[[Callable[[], Any]], Any] = lambda fn: fn(),
) -> list[GateResult]:
    """Results of the step's enabled video gates.

    `hosts` are all the plan's hosts, `changed` the hosts this step changed,
    `exclude` the hosts that are neither (touched earlier, failed,
    unreachable): the baseline is the rest, of the changed hosts' roles.
    `keepalive(fn)` runs fn while the engine keeps its lock alive."""
    cfg = policy.gates
    wanted = [g for g in NAMES if g in gates and getattr(cfg, g).enabled]
    if not wanted:
        return []
    probed = set(cfg.http.roles)
    ch = [h for h in changed if h.role in probed]
    if not ch:
        why = f"no changed host of a probed role ({', '.join(sorted(probed))})"
        return [GateResult(g, Verdict.SKIPPED, why) for g in wanted]
    roles = {h.role for h in ch}
    names = {h.name for h in ch}
    base = [h for h in hosts if h.role in roles and h.name not in names and h.name not in exclude]
    results: list[GateResult] = []
    for g in wanted:
        try:
            r = keepalive(lambda g=g: _one(g, policy, hosts, ch, base))
            if g != "slo_burn":  # Prometheus is not probed at the edges
                r.numbers["scheme"] = schemes([*ch, *base], cfg.http)
            results.append(r)
        except Exception as exc:  # the probe machinery itself broke
            results.append(GateResult(g, Verdict.INCONCLUSIVE, f"probe backend error: {exc}"))
    return results


def _one(
    gate: str, policy: Policy, hosts: Sequence[Host], ch: Sequence[Host], base: Sequence[Host]
) -> GateResult:
    cfg = policy.gates
    names = {h.name for h in ch}
    if gate == "hls_playback":
        from fleetctl.adapters.hls_client import sessions
        from fleetctl.core.playback import hls_playback_gate

        got = sessions(_edges([*ch, *base], policy), cfg.hls_playback)
        return hls_playback_gate(
            [s for s in got if s.host in names],
            [s for s in got if s.host not in names],
            cfg.hls_playback,
        )
    if gate == "cache":
        from fleetctl.adapters.cache_probe import read
        from fleetctl.core.cache_gate import cache_gate

        reads, problems = read(_edges([*ch, *base], policy), cfg.cache)
        regions = {h.region for h in ch}
        weights = {r: w for r, w in region_weights(hosts).items() if r in regions}
        result = cache_gate(
            [r for r in reads if r.host in names],
            [r for r in reads if r.host not in names],
            cfg.cache,
            region_weights=weights,
        )
        if problems:
            result.numbers["probe_problems"] = problems
            if result.verdict is Verdict.INCONCLUSIVE:  # say why the reads are missing
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                result = replace(result, reason=f"{result.reason}; {problems[0]}{more}")
        return result
    if gate == "slo_burn":
        from fleetctl.adapters.prometheus import read_burn
        from fleetctl.core.slo_burn import slo_burn_gate

        assert cfg.slo_burn.url is not None  # the policy refuses enabled without url
        pairs = read_burn(
            cfg.slo_burn.url,
            cfg.slo_burn,
            sorted(names),
            attempts=cfg.consecutive_error_limit,
        )
        return slo_burn_gate(pairs, cfg.slo_burn)
    raise ValueError(f"unknown video gate {gate!r}")
