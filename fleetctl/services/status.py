"""`fleetctl status`: observe the env's hosts and state, aggregate one snapshot.

One function, `snapshot()` (or a `StatusSource` that keeps the inventory
between calls, for `--watch` and the metrics endpoint), feeds the table, the
JSON and the Prometheus exposition, so their numbers agree by construction.

What is observed:
- hosts: the lab's state for env `lab` (its hosts, addresses and ports), any
  other env's Ansible inventory (`inventories/<env>/`, vars `ansible_host`,
  `http_port`, `region`, `fleet_role`), or with `source="aws"` the env's
  running EC2 instances; a host without `ansible_host` (the spec's fictional
  names) is `declared` and never probed: no name is ever sent to a resolver;
- each host, concurrently (bounded thread pool, short timeout): edge, router and
  origin hosts by `GET /healthz` (2xx healthy; 503 with `X-Fleet-Drained`
  drained; other answers unhealthy; no answer: unhealthy when its SSH port
  still answers, else unreachable), the release from `X-Fleet-Release`;
  hosts of other roles by a TCP connect to their SSH port;
- the state store (read only; a missing SQLite file is read as empty): the
  env's latest rollout, its plan step, gate verdicts and last-known-good,
  and the freeze;
- traffic weights and region drains from `services.traffic` when present
  (the drain work), else the spec's / lab's weights.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from fleetctl.adapters import http_probe
from fleetctl.adapters.state.base import StateStore
from fleetctl.core import fleet_status as fs
from fleetctl.core.certs import DEFAULT_WARN_DAYS, cert_problems
from fleetctl.core.fleet_status import CertReading, FleetStatus, HostObservation, TrafficRow
from fleetctl.core.host_vars import HostVars, int_var
from fleetctl.errors import BadInput
from fleetctl.services import freeze as freeze_service
from fleetctl.services import lab as lab_service
from fleetctl.services import target as env_target
from fleetctl.services import traffic
from fleetctl.services.workspace import Workspace

HTTP_ROLES = frozenset({"edge", "origin", "router"})  # roles that answer GET /healthz
HEALTH_PATH = "/healthz"
DEFAULT_TIMEOUT_S = 2.0
DEFAULT_WORKERS = 64  # threads mostly wait (connects, DNS)
DEFAULT_HTTP_PORT = 80
DEFAULT_SSH_PORT = 22


@dataclass(frozen=True)
class Target:
    """One host to observe, from the inventory."""

    name: str
    region: str
    role: str
    address: str
    http_port: int | None
    ssh_port: int
    traffic_weight: float = 0.0
    https_port: int | None = None  # serves TLS here (certs status, cert metrics)
    ca_file: str = ""  # the CA its certificate verifies against ("": system store)


# -- hosts -----------------------------------------------------------------------------


SOURCES = ("inventory", "aws")


def targets(
    ws: Workspace, env: str, lab_dir: Path | None = None, source: str = "inventory"
) -> list[Target]:
    """The env's hosts (`EnvTarget.hosts`: the running lab's own state for `lab`,
    else its Ansible inventory); `source="aws"`: the env's running EC2
    instances (with their addresses)."""
    if source not in SOURCES:
        raise BadInput(f"unknown status source {source!r}", hint=f"one of: {', '.join(SOURCES)}")
    if source == "aws":
        from fleetctl.services.inventory_aws import hosts_from_aws

        return [target_of(h) for h in sorted(hosts_from_aws(ws, env), key=lambda h: h.name)]
    tgt = env_target.resolve(ws, env, lab_dir)
    # the running lab's edges are verified against its CA (a group var of its inventory)
    ca = str(lab_service.ca_file(tgt.lab)) if tgt.lab is not None else ""
    return [target_of(h, ca_file=ca) for h in tgt.hosts()]


def target_of(h: HostVars, *, ca_file: str = "") -> Target:
    """A host to observe; ports not in its vars are the usual ones (80, 22);
    an `https_port` (lab edges) is probed over TLS against `tls_ca_file`."""
    https_port = int_var(h.extra, "https_port")
    return Target(
        name=h.name,
        region=h.region,
        role=h.role,
        address=h.address,  # "": declared only
        http_port=DEFAULT_HTTP_PORT if h.http_port is None else h.http_port,
        ssh_port=DEFAULT_SSH_PORT if h.ssh_port is None else h.ssh_port,
        traffic_weight=h.traffic_weight,
        https_port=https_port,
        ca_file=str(h.extra.get("tls_ca_file") or ca_file) if https_port else "",
    )


def _tcp(address: str, port: int, timeout_s: float) -> str:
    """'' when the port accepts a connection, else the error."""
    try:
        with socket.create_connection((address, port), timeout=timeout_s):
            return ""
    except OSError as exc:
        return type(exc).__name__


def observe(t: Target, timeout_s: float = DEFAULT_TIMEOUT_S) -> HostObservation:
    """One host's health, release and probe latency."""
    base = {"name": t.name, "region": t.region, "role": t.role, "address": t.address}
    if not t.address:
        return HostObservation(
            **base, health=fs.DECLARED, check="none", detail="no address in the inventory"
        )
    if t.role in HTTP_ROLES and t.http_port:
        r = http_probe.get(f"http://{t.address}:{t.http_port}{HEALTH_PATH}", timeout_s=timeout_s)
        check = f"http :{t.http_port}{HEALTH_PATH}"
        release = r.headers.get("x-fleet-release") or None
        latency = r.latency_s * 1000 if r.status is not None else None
        if r.ok:
            health, detail = fs.HEALTHY, ""
        elif r.headers.get("x-fleet-drained"):
            health, detail = fs.DRAINED, ""
        elif r.status is not None:
            health, detail = fs.UNHEALTHY, f"HTTP {r.status}"
        else:
            # No HTTP answer: a broken daemon on a live host, or a dead host?
            why = r.error.split(":")[0] or "no answer"
            # (a name that does not resolve will not resolve for SSH either)
            ssh = why if why == "gaierror" else _tcp(t.address, t.ssh_port, timeout_s)
            if ssh:
                health, detail = fs.UNREACHABLE, f"{why}; ssh :{t.ssh_port} {ssh}"
            else:
                health, detail = fs.UNHEALTHY, f"no HTTP answer ({why}); ssh up"
        return HostObservation(
            **base, health=health, release=release, latency_ms=latency, check=check, detail=detail
        )
    start = time.perf_counter()
    err = _tcp(t.address, t.ssh_port, timeout_s)
    return HostObservation(
        **base,
        health=fs.UNREACHABLE if err else fs.HEALTHY,
        latency_ms=None if err else (time.perf_counter() - start) * 1000,
        check=f"tcp :{t.ssh_port}",
        detail=f"ssh :{t.ssh_port} {err}" if err else "",
    )


def observe_all(
    ts: Sequence[Target],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int = DEFAULT_WORKERS,
) -> list[HostObservation]:
    """Every host at once (bounded pool): a snapshot takes about one timeout at worst."""
    if not ts:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(ts)))) as pool:
        return list(pool.map(lambda t: observe(t, timeout_s), ts))


def read_cert(t: Target, timeout_s: float = 3.0, now: dt.datetime | None = None) -> CertReading:
    """One host's certificate by a verified TLS handshake."""
    from fleetctl.adapters import tls

    assert t.https_port is not None
    base = {"host": t.name, "region": t.region, "address": t.address, "port": t.https_port}
    try:
        peer = tls.handshake(
            t.name, t.address, t.https_port, ca_file=t.ca_file or None, timeout_s=timeout_s
        )
    except ssl.SSLCertVerificationError as exc:
        return CertReading(**base, error=f"does not verify: {exc.verify_message}")
    except (OSError, ssl.SSLError) as exc:
        return CertReading(**base, error=f"{type(exc).__name__}: {exc}"[:200])
    return CertReading(
        **base,
        subject=peer.subject,
        sha256=peer.sha256,
        not_after=peer.not_after.isoformat(),
        days_left=peer.days_left(now),
        protocol=peer.protocol,
        alpn=peer.alpn,
    )


def read_certs(ts: Sequence[Target], timeout_s: float = 3.0) -> list[CertReading]:
    if not ts:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(ts))) as pool:
        return list(pool.map(lambda t: read_cert(t, timeout_s), ts))


# -- traffic ---------------------------------------------------------------------------


def traffic_rows(
    ws: Workspace, store: StateStore | None, env: str, ts: Sequence[Target] = ()
) -> list[TrafficRow]:
    """The env's regions with their traffic weights and drained state: the traffic
    service's record; without a state store the spec's weights (nothing drained);
    for an env the spec does not declare, the inventory's `traffic_weight` vars."""
    try:
        if store is None:
            return [TrafficRow(r, w, w) for r, w in sorted(traffic.spec_weights(ws, env).items())]
        return [
            TrafficRow(t.region, t.spec_weight, t.weight, t.drained, t.reason, t.by, t.at)
            for t in traffic.region_traffic(ws, store, env)
        ]
    except BadInput:
        weights: dict[str, float] = {}
        for t in ts:
            if t.role in fs.SERVING_ROLES:
                weights[t.region] = max(weights.get(t.region, 0.0), t.traffic_weight)
        return [TrafficRow(r, w, w) for r, w in sorted(weights.items())]


# -- state -----------------------------------------------------------------------------


def open_store_readonly(url: str) -> StateStore | None:
    """The state store, or None when a local SQLite file does not exist yet
    (status never creates state)."""
    from fleetctl.adapters.state import open_store

    if (
        "://" not in url.removeprefix("sqlite://")
        and not Path(url.removeprefix("sqlite://")).exists()
    ):
        return None
    return open_store(url)  # s3://, or another scheme it refuses


def rollout_of(store: StateStore | None, env: str) -> fs.RolloutState | None:
    if store is None:
        return None
    from fleetctl.services import rollout as rollout_service

    rec = rollout_service.latest_record(store, env)
    if rec is None:
        return None
    plan = store.get("rollout_plan", rec.id) or {}
    lkg = rollout_service.last_known_good_record(store, rec.group)
    return fs.rollout_state(rec, plan.get("steps", []), rollout_service.journal(store, rec.id), lkg)


def freeze_of(store: StateStore | None, env: str) -> fs.FreezeState | None:
    if store is None:
        return None
    f = freeze_service.current(store, env)
    return fs.FreezeState(f.reason, f.by, f.at) if f else None


# -- the snapshot ----------------------------------------------------------------------


class StatusSource:
    """Takes snapshots of one env; keeps the inventory for `inventory_ttl_s`
    (watch loops and metrics scrapes re-probe hosts, not re-read inventories)."""

    def __init__(
        self,
        ws: Workspace,
        env: str,
        *,
        state_url: str,
        lab_dir: Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        workers: int = DEFAULT_WORKERS,
        inventory_ttl_s: float = 60.0,
        source: str = "inventory",
        cert_warn_days: float = DEFAULT_WARN_DAYS,
    ) -> None:
        self.ws, self.env, self.state_url, self.lab_dir = ws, env, state_url, lab_dir
        self.cert_warn_days = cert_warn_days
        self.source = source
        self.timeout_s, self.workers, self.inventory_ttl_s = timeout_s, workers, inventory_ttl_s
        self._targets: list[Target] | None = None
        self._targets_at = 0.0

    def targets(self) -> list[Target]:
        now = time.monotonic()
        if self._targets is None or now - self._targets_at > self.inventory_ttl_s:
            self._targets = targets(self.ws, self.env, self.lab_dir, self.source)
            self._targets_at = now
        return self._targets

    def snapshot(self) -> FleetStatus:
        started, at = time.perf_counter(), time.time()
        ts = self.targets()
        hosts = observe_all(ts, timeout_s=self.timeout_s, workers=self.workers)
        certs = read_certs([t for t in ts if t.https_port and t.address], self.timeout_s)
        store = open_store_readonly(self.state_url)
        try:
            traffic = traffic_rows(self.ws, store, self.env, ts)
            rollout = rollout_of(store, self.env)
            freeze = freeze_of(store, self.env)
        finally:
            if store is not None:
                store.close()
        st = fs.build_status(
            self.env,
            hosts,
            traffic,
            rollout=rollout,
            freeze=freeze,
            at=at,
            took_s=time.perf_counter() - started,
        )
        extra = cert_problems(certs, self.cert_warn_days)
        return replace(st, certs=tuple(certs), env_problems=st.env_problems + extra)


def snapshot(
    ws: Workspace,
    env: str,
    *,
    state_url: str,
    lab_dir: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    source: str = "inventory",
) -> FleetStatus:
    return StatusSource(
        ws, env, state_url=state_url, lab_dir=lab_dir, timeout_s=timeout_s, source=source
    ).snapshot()
