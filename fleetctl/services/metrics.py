"""Prometheus exposition of `fleetctl status`: the same snapshot, as metrics.

A custom collector turns one `FleetStatus` into metric families (all named
`fleet_*`, labelled env/region/role/release/gate); scrapes within `ttl_s` of
the last snapshot reuse it, so a busy Prometheus does not hammer the fleet.
prometheus-client is imported inside these functions only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from fleetctl.core import fleet_status as fs
from fleetctl.core.fleet_status import FleetStatus
from fleetctl.core.rollout.record import Status

VERDICTS = ("pass", "fail", "inconclusive", "skipped")


def families(status: FleetStatus) -> list[Any]:
    """The metric families of one snapshot (prometheus_client Metric objects)."""
    from prometheus_client.core import GaugeMetricFamily

    env = status.env

    def gauge(name: str, doc: str, labels: list[str]) -> Any:
        return GaugeMetricFamily(name, doc, labels=["env", *labels])

    up = gauge("fleet_status_up", "1 when the snapshot was taken (inventory read).", [])
    up.add_metric([env], 1)
    took = gauge(
        "fleet_status_scrape_seconds", "Seconds the last snapshot took (probes + state).", []
    )
    took.add_metric([env], status.took_s)
    ts = gauge("fleet_status_timestamp_seconds", "When the snapshot was taken (epoch).", [])
    ts.add_metric([env], status.at)

    hosts = gauge("fleet_hosts", "Hosts by region, role and health.", ["region", "role", "health"])
    release = gauge(
        "fleet_release_hosts",
        "Hosts by the release they report serving (X-Fleet-Release).",
        ["region", "role", "release"],
    )
    weight = gauge("fleet_region_traffic_weight", "Region's share of viewer traffic.", ["region"])
    spec_w = gauge(
        "fleet_region_spec_traffic_weight", "Region's traffic weight in the spec.", ["region"]
    )
    drained = gauge("fleet_region_drained", "1 when the region is drained.", ["region"])
    problems = gauge(
        "fleet_region_problems", "Problems in the region by severity.", ["region", "severity"]
    )
    host_up = gauge(
        "fleet_host_healthy",
        "1 when the host's check passed (drained hosts: 0, see fleet_hosts).",
        ["region", "role", "host"],
    )
    latency = gauge(
        "fleet_host_probe_seconds",
        "Latency of the host's health check (hosts that answered).",
        ["region", "role", "host"],
    )
    for r in status.regions:
        for (role, health), n in r.health_by_role().items():
            hosts.add_metric([env, r.region, role, health], n)
        for (role, rel), n in r.releases_by_role().items():
            release.add_metric([env, r.region, role, rel], n)
        weight.add_metric([env, r.region], r.weight)
        spec_w.add_metric([env, r.region], r.spec_weight)
        drained.add_metric([env, r.region], 1 if r.drained else 0)
        for sev in (fs.CRITICAL, fs.WARNING):
            problems.add_metric(
                [env, r.region, sev], sum(1 for p in r.problems if p.severity == sev)
            )
        for h in r.hosts:
            host_up.add_metric([env, r.region, h.role, h.name], 1 if h.health == fs.HEALTHY else 0)
            if h.latency_ms is not None:
                latency.add_metric([env, r.region, h.role, h.name], h.latency_ms / 1000)

    env_problems = gauge(
        "fleet_problems", "Every problem (env-wide and regional) by severity.", ["severity"]
    )
    for sev in (fs.CRITICAL, fs.WARNING):
        env_problems.add_metric([env, sev], sum(1 for p in status.problems if p.severity == sev))

    freeze = gauge("fleet_freeze_active", "1 while the env is frozen.", [])
    freeze.add_metric([env], 1 if status.freeze else 0)

    ro = status.rollout
    active = gauge("fleet_rollout_active", "1 while a rollout is running or paused.", [])
    active.add_metric([env], 1 if ro and ro.active else 0)
    out = [up, took, ts, hosts, release, weight, spec_w, drained, problems, env_problems]
    out += [host_up, latency, freeze, active]
    if ro is not None:
        info = gauge(
            "fleet_rollout_info",
            "The env's latest rollout (value 1): id, status, release, playbook.",
            ["rollout", "status", "release", "playbook"],
        )
        info.add_metric([env, ro.id, ro.status, ro.release, ro.playbook], 1)
        paused = gauge("fleet_rollout_paused", "1 while the latest rollout is paused.", [])
        paused.add_metric([env], 1 if ro.status is Status.paused else 0)
        steps = gauge("fleet_rollout_steps", "Steps in the latest rollout's plan.", [])
        steps.add_metric([env], ro.steps)
        out += [info, paused, steps]
        if ro.step is not None:
            step = gauge("fleet_rollout_step", "Index (0-based) of the rollout's current step.", [])
            step.add_metric([env], ro.step)
            out.append(step)
        if ro.wave is not None:
            wave = gauge(
                "fleet_rollout_wave",
                "Wave of the current step (0: canary, then 1.. per region).",
                [],
            )
            wave.add_metric([env], ro.wave)
            out.append(wave)
        verdict = gauge(
            "fleet_gate_verdict",
            "Latest verdict of each gate of the latest rollout, per phase (step or "
            "rollback; 1 on the current verdict).",
            ["gate", "phase", "verdict"],
        )
        for g in ro.gates:
            for v in VERDICTS:
                verdict.add_metric([env, g.gate, g.phase, v], 1 if g.verdict == v else 0)
        out.append(verdict)
        if ro.last_gate_pass_at is not None:
            last = gauge(
                "fleet_gate_last_pass_timestamp_seconds",
                "When a step of the latest rollout last passed all its gates (epoch).",
                [],
            )
            last.add_metric([env], ro.last_gate_pass_at)
            out.append(last)
    return out


class FleetCollector:
    """A prometheus_client collector: one snapshot per `ttl_s`, shared by scrapes."""

    def __init__(self, take: Callable[[], FleetStatus], env: str, ttl_s: float = 5.0) -> None:
        self.take, self.env, self.ttl_s = take, env, ttl_s
        self._lock = threading.Lock()
        self._last: FleetStatus | None = None
        self._last_at = 0.0
        self.error = ""

    def describe(self) -> list[Any]:
        return []  # registering must not probe the fleet

    def snapshot(self) -> FleetStatus | None:
        with self._lock:  # concurrent scrapes wait for one snapshot
            now = time.monotonic()
            if self._last is None or now - self._last_at >= self.ttl_s:
                try:
                    self._last = self.take()
                    self.error = ""
                except Exception as exc:  # keep serving; say so in fleet_status_up
                    self._last, self.error = None, f"{type(exc).__name__}: {exc}"
                self._last_at = now
            return self._last

    def collect(self) -> Iterator[Any]:
        status = self.snapshot()
        if status is None:
            from prometheus_client.core import GaugeMetricFamily

            up = GaugeMetricFamily(
                "fleet_status_up", "1 when the snapshot was taken (inventory read).", labels=["env"]
            )
            up.add_metric([self.env], 0)
            yield up
            return
        yield from families(status)


def registry_for(collector: FleetCollector) -> Any:
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    return reg


def exposition(status: FleetStatus) -> str:
    """The text exposition of one snapshot (`fleetctl metrics dump`)."""
    from prometheus_client import generate_latest

    c = FleetCollector(lambda: status, status.env, ttl_s=3600)
    return generate_latest(registry_for(c)).decode()


def serve(collector: FleetCollector, address: str, port: int) -> tuple[Any, threading.Thread]:
    """Start the /metrics HTTP server in a daemon thread; returns (server, thread).
    Stop it with server.shutdown(); server.server_close()."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=address, registry=registry_for(collector))
    return server, thread
