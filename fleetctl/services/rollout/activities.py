"""The side effects of a rollout step, as activities: data in, data out.

Contract (the local engine and the Temporal engine call these same functions):

- Each activity is a plain function `activity(ctx, request) -> result`.
  `request` and `result` are frozen dataclasses of JSON-serialisable fields
  (str, int, float, bool, None, tuples/lists and dicts of those, nested
  dataclasses), so Temporal's default data converter carries them as they are.
- What is not data comes in one `ActivityContext`: the state store, the
  project root, the executor and prober, this command's secret values,
  a scratch dir, `heartbeat` (call it while waiting: it renews the env lease
  locally, heartbeats in Temporal) and `cancelled` (True once the caller
  lost its lease or was cancelled).
- Activities never write the journal or the rollout record: they return
  what happened, and the caller journals it. They raise `LockLost` when the
  request's fence is no longer the env lock's generation, `FleetctlError`
  (bad input, missing release) when they cannot start; Ansible failures are
  results, not exceptions.
- Retries: `apply_batch` and `roll_back_hosts` change hosts. They are safe
  to retry because playbooks are idempotent (a re-run converges to the same
  state) and because the request carries the fencing generation, checked
  against the env lock right before Ansible starts, and while it runs the
  caller's `cancelled` polls it (the local engine: about once a second), so
  a superseded caller changes nothing more. `run_step_gates`
  and `prove_rollback` only read (probes, `--check --diff`) and may be
  retried freely; `prove_rollback` is fenced too so a superseded caller's
  proof is never taken for the new holder's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.core.gates import GateResult, Verdict, combine
from fleetctl.core.planner import Plan
from fleetctl.core.policy import Policy
from fleetctl.core.rollout.record import RollbackProof
from fleetctl.errors import FleetctlError
from fleetctl.services import release as release_service
from fleetctl.services import secrets as secrets_service
from fleetctl.services.rollout import adapters, cert_gate, gating, lease
from fleetctl.services.secrets import SecretVar

# -- the context: what is not data ------------------------------------------------------


@dataclass
class ActivityContext:
    store: StateStore
    root: Path  # the project (secret var files are read relative to it)
    workdir: Callable[[], Path]  # a private scratch dir; releases are unpacked there
    secrets: Mapping[str, SecretVar] = field(default_factory=dict)  # name -> value, never stored
    executor: adapters.Executor | None = None  # None: the real Ansible (adapters.ansible_executor)
    prober: adapters.Prober | None = None  # None: the real HTTP sampler
    heartbeat: Callable[[], None] = lambda: None
    cancelled: Callable[[], bool] = lambda: False
    clock: Callable[[], float] = time.time

    def run_playbook(self) -> adapters.Executor:
        # looked up at call time so a test can swap adapters.ansible_executor
        return self.executor or adapters.ansible_executor

    def probe(self) -> adapters.Prober:
        return self.prober or adapters.http_prober


# -- data in, data out -----------------------------------------------------------------


@dataclass(frozen=True)
class Fence:
    """Who may change hosts: the rollout holding `env`'s lock at `generation`."""

    rollout_id: str
    env: str
    generation: int | None  # None: the caller holds no lock (checks are skipped)


@dataclass(frozen=True)
class ApplyRequest:
    fence: Fence
    release: str  # the release's hash: its snapshot is what runs, never the working tree
    playbook: str  # relative to the release's playbooks/
    hosts: tuple[str, ...]
    timeout_s: float
    deadline_at: float | None = None  # epoch seconds: cancel the run after it
    same_secrets: bool = True  # the secret values must be those the release was made with


@dataclass(frozen=True)
class ApplyResult:
    release_id: str
    status: str  # successful / failed / timeout / canceled / error
    error: str
    duration_s: float
    hosts: dict[str, dict[str, Any]]  # host -> HostOutcome.to_dict()

    def state(self, host: str) -> str | None:
        return self.hosts[host].get("state") if host in self.hosts else None


@dataclass(frozen=True)
class GateRequest:
    fence: Fence
    policy: dict[str, Any]  # Policy.model_dump(mode="json")
    gates: tuple[str, ...]
    changed: tuple[str, ...]  # the hosts to judge
    touched: tuple[str, ...] = ()  # changed or unreachable so far: not a baseline
    failed: tuple[str, ...] = ()  # failed the change: not a baseline
    release: str = ""  # the release the changed hosts must run (the tls_cert gate)
    avoid_release: str = ""  # a rollback proof: the release rolled back from


@dataclass(frozen=True)
class GateReport:
    results: tuple[dict[str, Any], ...]  # GateResult.to_dict() each
    verdict: str  # Verdict: PASS / FAIL / INCONCLUSIVE / SKIPPED

    def gate_results(self) -> list[GateResult]:
        return [GateResult.from_dict(r) for r in self.results]


@dataclass(frozen=True)
class ProofRequest:
    fence: Fence
    release: str  # the last known-good release's hash
    playbook: str
    hosts: tuple[str, ...]  # the hosts rolled back
    timeout_s: float
    policy: dict[str, Any]
    apply_status: str  # how the re-apply (roll_back_hosts) ended
    touched: tuple[str, ...] = ()  # as in GateRequest: the canary baseline leaves them out
    failed: tuple[str, ...] = ()
    rolled_back_release: str = ""  # the release rolled back from (the tls_cert gate)


@dataclass(frozen=True)
class ProofReport:
    check: ApplyResult  # the --check --diff run of the last known-good
    changed: dict[str, int]  # host -> tasks the check would change
    failed_or_unreachable: tuple[str, ...]
    gates: GateReport
    proof: RollbackProof


# -- the activities --------------------------------------------------------------------


def apply_batch(ctx: ActivityContext, req: ApplyRequest) -> ApplyResult:
    """Apply the release to a batch of hosts (one step). Changes hosts: safe to
    retry (idempotent playbooks; fenced before the run and while it runs)."""
    return _run(ctx, req, check=False)


def roll_back_hosts(ctx: ActivityContext, req: ApplyRequest) -> ApplyResult:
    """Re-apply the last known-good release (`req.release`) to hosts.
    Changes hosts: safe to retry, fenced like `apply_batch`."""
    return _run(ctx, req, check=False)


def run_step_gates(ctx: ActivityContext, req: GateRequest) -> GateReport:
    """Probe and judge: one result per gate of the step. Read-only."""
    policy = Policy.model_validate(req.policy)
    plan = _plan(ctx, req.fence.rollout_id)
    results = gating.run_gates(
        policy,
        plan.hosts,
        req.gates,
        [plan.host(h) for h in req.changed],
        touched=req.touched,
        failed=req.failed,
        prober=ctx.probe(),
        keepalive=lambda fn: _keepalive(ctx, fn),
    )
    results += cert_gate.run(
        ctx.store,
        req.gates,
        policy,
        [plan.host(h) for h in req.changed],
        release=req.release,
        avoid_release=req.avoid_release,
    )
    return GateReport(tuple(r.to_dict() for r in results), str(combine(results)))


def prove_rollback(ctx: ActivityContext, req: ProofRequest) -> ProofReport:
    """Prove a rollback: a `--check --diff` run of the last known-good changes
    nothing on any rolled-back host, and the HTTP gates pass on them.
    Read-only (check mode); fenced so a superseded caller stops."""
    check = _run(
        ctx,
        ApplyRequest(req.fence, req.release, req.playbook, req.hosts, req.timeout_s),
        check=True,
        same_secrets=False,
    )
    _check_fence(ctx, req.fence)
    changed = {h: int(o.get("changed", 0)) for h, o in check.hosts.items()}
    bad = tuple(
        sorted(h for h, o in check.hosts.items() if o.get("state") in ("failed", "unreachable"))
    )
    gates = run_step_gates(
        ctx,
        GateRequest(
            req.fence,
            req.policy,
            ("http", "canary_analysis"),
            req.hosts,
            touched=req.touched,
            failed=req.failed,
            release=req.release,
            avoid_release=req.rolled_back_release,
        ),
    )
    ok = (
        req.apply_status == "successful"
        and sum(changed.values()) == 0
        and not bad
        and set(changed) >= set(req.hosts)
        and gates.verdict == str(Verdict.PASS)
    )
    proof = RollbackProof(
        ok=ok,
        release=check.release_id,
        hosts=len(req.hosts),
        apply_status=req.apply_status,
        check_changed=sum(changed.values()),
        check_hosts=len(changed),
        gates={r["gate"]: r["verdict"] for r in gates.results},
        gate_verdict=gates.verdict,
    )
    return ProofReport(check, changed, bad, gates, proof)


# -- shared ----------------------------------------------------------------------------


def _run(
    ctx: ActivityContext, req: ApplyRequest, *, check: bool, same_secrets: bool | None = None
) -> ApplyResult:
    """The one executor call of every activity: the release's snapshot, its
    extra vars with this command's secret values, fenced, tagged with the
    rollout id (so a later takeover finds and ends its processes)."""
    _check_fence(ctx, req.fence)  # first, before unpacking anything
    rel = release_service.get(ctx.store, req.release)
    restored = _restore(ctx, rel)
    playbook = restored.playbooks_dir / req.playbook
    if not playbook.is_file():
        raise FleetctlError(f"release {rel.id} has no playbook {req.playbook}")
    same = req.same_secrets if same_secrets is None else same_secrets
    extravars = {
        **restored.extravars,
        **secrets_service.values_for(
            ctx.root, rel.secret_vars, ctx.secrets, what=f"release {rel.id}", same=same
        ),
        "fleet_release": rel.id,
    }
    deadline = req.deadline_at

    def cancel() -> bool:
        # Ansible's cancel callback is the only thing that runs while the
        # playbook does: heartbeat here, or Temporal takes a batch longer than
        # its heartbeat timeout (10 s; a loaded machine's canary) for a dead
        # worker's, retries it and fails the step (the local engine's
        # heartbeat renews the lease, rate-limited).
        ctx.heartbeat()
        return ctx.cancelled() or (deadline is not None and ctx.clock() > deadline)

    _check_fence(ctx, req.fence)
    result = ctx.run_playbook()(
        playbook,
        restored.inventory_dir,
        limit=req.hosts,
        check=check,
        diff=check,
        extravars=extravars,
        timeout_s=req.timeout_s,
        cancel=cancel,
        env={lease.TAG: req.fence.rollout_id},
    )
    return ApplyResult(
        release_id=rel.id,
        status=str(result.status),
        error=str(getattr(result, "error", "") or ""),
        duration_s=float(getattr(result, "duration_s", 0.0)),
        hosts={h: o.to_dict() for h, o in sorted(result.hosts.items())},
    )


def _check_fence(ctx: ActivityContext, fence: Fence) -> None:
    lease.check_fence(ctx.store, fence.rollout_id, fence.env, fence.generation)


def _restore(ctx: ActivityContext, rel: release_service.Release) -> release_service.Restored:
    """The release unpacked in the scratch dir (once per command)."""
    dest = ctx.workdir() / rel.id
    if (dest / release_service.MANIFEST).exists():
        manifest = json.loads((dest / release_service.MANIFEST).read_text())
        return release_service.Restored(
            dest,
            dest / "playbooks",
            dest / "inventories" / rel.env,
            dict(manifest.get("extravars", {})),
        )
    return release_service.restore(ctx.store, rel, dest)


def _plan(ctx: ActivityContext, rollout_id: str) -> Plan:
    doc = ctx.store.get("rollout_plan", rollout_id)
    if doc is None:
        raise FleetctlError(f"the plan of rollout {rollout_id} is missing from the state store")
    return Plan.from_dict(doc)


def _keepalive(ctx: ActivityContext, fn: Callable[[], Any]) -> Any:
    """Run a long call (probing) in a worker thread while this thread keeps
    heartbeating, so a slow gate never lets the lease lapse."""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as Pending

    with ThreadPoolExecutor(max_workers=1) as pool:
        fut = pool.submit(fn)
        while True:
            try:
                return fut.result(timeout=1.0)
            except Pending:
                ctx.heartbeat()
