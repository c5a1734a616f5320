"""The side effects of a Temporal rollout, as `@activity.defn` methods.

Regional (task queue `region-<name>`, run by `fleetctl worker --region`):
`apply_batch` (Ansible through the engine's executor, heartbeating), `run_gates`
(the engine's gates, probed from inside the region), `rollback_region` (the
last known-good release applied, then proven with `--check --diff` and the
gates). Coordinator (queue `fleetctl-<env>`): `prepare`, `journal`,
`admission` (freeze and deploy window), `finish` — the journal and rollout
document, written the way the local engine writes them.

Retries. Playbooks are idempotent, so `apply_batch` and `rollback_region`
may run again; a retry first kills the Ansible processes a dead worker left
behind (tagged with the rollout id), so a batch never runs twice at once.
The journal is not idempotent (it appends): every write carries the
workflow's sequence number (`wf_seq`) and a retried write already in the
journal is skipped. `prepare` and `finish` check the document first.

Secrets. Temporal keeps every activity input and result in workflow history,
so no secret value may be in one: requests carry only the release, whose
secret vars are names and keyed fingerprints. A regional worker holds the
values itself (`WorkerSecrets`: its `--secret-var` and `FLEETCTL_SECRET_*`),
checks each against the release's fingerprint before Ansible starts, and
scrubs its values out of every result it returns. A missing or different
value is a non-retryable failure (type `SecretMissing`) naming the region
and the var, never the value.

Notifications fire here, on the coordinator worker, after each journal write
(the same typed events the local engine notifies from), never from workflow
code; the webhook URLs are read by this worker (policy `notify:` from its
environment or files, its own `--notify`), so none is in history either.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from fleetctl.adapters.state.base import LockHeld, StateStore
from fleetctl.errors import BadInput
from fleetctl.services import secrets as secrets_service
from fleetctl.services.rollout_temporal.model import (
    Admission,
    AdmissionRequest,
    BatchRequest,
    BatchResult,
    Ending,
    GatesRequest,
    GatesResult,
    JournalWrite,
    RollbackRequest,
    RollbackResult,
    StartInput,
)

# In the environment of a region's Ansible runs (beside the rollout id): a retry
# kills what a dead worker of the same region left, never another region's runs.
BATCH_TAG = "FLEETCTL_ROLLOUT_BATCH"
SECRET_MISSING = "SecretMissing"  # the ApplicationError type: nothing was applied


@dataclass(frozen=True)
class Context:
    """What activities need that is not data: where the state and the workspace are,
    and how hosts are changed and probed (the engine's defaults unless a benchmark
    swaps them)."""

    state_url: str
    root: Path
    executor: Any = None
    prober: Any = None
    secrets: secrets_service.WorkerSecrets = field(default_factory=secrets_service.WorkerSecrets)
    notifier: Any = None  # services.notify.Notifier of the coordinator worker, or None


def _heartbeat(detail: Any = None) -> None:
    with suppress(RuntimeError):  # not in an activity (a direct call)
        activity.heartbeat(detail)


def _cancelled() -> bool:
    """The ActivityContext's `cancelled`, polled while Ansible runs (about twice
    a second, in the activity's thread): it heartbeats too, else a batch longer
    than HEARTBEAT_S is taken for a dead worker's and run again (three times,
    then the region fails)."""
    _heartbeat()
    return activity.is_cancelled()


def _typed(ev: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The journal's typed event (core/rollout/events.py) for a workflow's dict: the
    same kinds and fields the local engine writes; the engine's own keys ride along."""
    import dataclasses

    from fleetctl.core.rollout import events

    typed = events.parse(ev)
    if isinstance(typed, events.UnknownEvent):
        raise ApplicationError(f"unknown journal event {ev.get('type')!r}", non_retryable=True)
    return {**dataclasses.replace(typed, at=time.time()).to_dict(), **extra}


class Activities:
    def __init__(self, ctx: Context) -> None:
        import threading

        self.ctx = ctx
        self._local = threading.local()

    @contextmanager
    def _store(self) -> Iterator[StateStore]:
        """One store per activity thread, opened (and integrity-checked) once."""
        from fleetctl.adapters.state import open_store

        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = open_store(self.ctx.state_url)
        yield store

    def _notify(self, store: StateStore, rollout_id: str, evs: list[dict[str, Any]]) -> None:
        """Hand journaled events to the notifier (it never raises, never blocks)."""
        if self.ctx.notifier is None or not evs:
            return
        doc = store.get("rollout", rollout_id) or {"id": rollout_id}
        for ev in evs:
            self.ctx.notifier.submit(doc, {k: v for k, v in ev.items() if k != "wf_seq"})

    def _scrub(self, value: Any) -> Any:
        """`value` without any secret value this worker holds (Ansible's messages can
        quote a secret var; what an activity returns is kept in workflow history)."""
        return secrets_service.scrub(value, self.ctx.secrets.values())

    # -- coordinator -----------------------------------------------------------------

    @activity.defn(name="prepare")
    def prepare(self, inp: StartInput) -> None:
        from fleetctl.services import rollout as local
        from fleetctl.services.rollout import lease

        lock = local.lock_name(inp.env)
        with self._store() as store:
            # The store's env lock too: a local-engine rollout and this one never
            # run on one env at once. Held until `finish`.
            try:
                taken = store.acquire_lock(lock, inp.rollout_id, lease.PAUSED_LOCK_TTL_S)
            except LockHeld as exc:
                raise ApplicationError(exc.message, type="LockHeld", non_retryable=True) from None
            if store.get("rollout", inp.rollout_id) is not None:
                return  # a retry after the first attempt wrote it
            store.put("rollout_plan", inp.rollout_id, inp.doc["plan"])
            # its generation is the fence of every regional activity: a --force-live
            # takeover by a local-engine rollout stops this one's batches
            doc = {k: v for k, v in inp.doc.items() if k != "plan"}
            doc["lock_generation"] = taken.generation
            doc["updated_at"] = time.time()
            store.put("rollout", inp.rollout_id, doc)
            written = [
                _typed({"type": "created", **inp.created}),
                _typed(
                    {
                        "type": "lock_acquired",
                        "lock": lock,
                        "ttl_s": lease.PAUSED_LOCK_TTL_S,
                        "generation": taken.generation,
                        "engine": "temporal",
                        "workflow_id": activity.info().workflow_id,
                    },
                ),
            ]
            for ev in written:
                store.append_event(inp.rollout_id, ev)
            self._notify(store, inp.rollout_id, written)

    @activity.defn(name="journal")
    def journal(self, w: JournalWrite) -> None:
        with self._store() as store:
            if w.events and activity.info().attempt > 1:  # did the first attempt land?
                tail = store.events(w.rollout_id)[-len(w.events) :]
                if any(e.get("wf_seq") == w.seq for e in tail):
                    return
            if w.patch:
                doc = store.get("rollout", w.rollout_id) or {}
                doc.update(w.patch, updated_at=time.time())
                store.put("rollout", w.rollout_id, doc)
            written = [_typed(ev, wf_seq=w.seq) for ev in w.events]
            for ev in written:
                store.append_event(w.rollout_id, ev)
            self._notify(store, w.rollout_id, written)

    @activity.defn(name="admission")
    def admission(self, req: AdmissionRequest) -> Admission:
        """The env's freeze, and the deploy window of the step's region: how long
        until it opens, to the second (the workflow waits that on a durable timer)."""
        from fleetctl.core import windows
        from fleetctl.core.policy import Policy
        from fleetctl.services import freeze as freeze_service

        with self._store() as store:
            doc = store.get("rollout", req.rollout_id) or {}
            frozen = freeze_service.current(store, doc["env"])
        if frozen is not None:
            return Admission(frozen=f"{frozen.by}: {frozen.reason}")
        policy = Policy.model_validate(doc["policy"])
        now = datetime.now(UTC)
        closed = policy.window_closed(req.region, now)
        w = policy.window_for(req.region)
        if closed is None or w is None:
            return Admission()
        opens = windows.next_open(w, now)
        if opens is None:  # never opens: look again in a day (the policy may be fixed)
            return Admission(window_wait_s=86400.0, window=closed)
        return Admission(window_wait_s=max(1.0, (opens - now).total_seconds()), window=closed)

    @activity.defn(name="finish")
    def finish(self, e: Ending) -> str:
        from fleetctl.services import rollout as local

        with self._store() as store:
            doc = store.get("rollout", e.rollout_id)
            assert doc is not None
            if doc["status"] == e.status and doc.get("finished_at"):
                return str(doc.get("message", e.message))  # a retry
            now = time.time()
            events: list[dict[str, Any]] = []
            message = e.message
            if e.status == "completed":
                message = f"release {doc['release_id']} on {len(e.patch['touched'])} host(s)"
                store.put(
                    "lkg",
                    doc["group"],
                    {
                        "group": doc["group"],
                        "release": doc["release"],
                        "release_id": doc["release_id"],
                        "rollout": doc["id"],
                        "at": now,
                    },
                )
                events.append(
                    {
                        "type": "completed",
                        "release": doc["release_id"],
                        "hosts": len(e.patch["touched"]),
                        "last_known_good": True,
                    }
                )
            elif e.status == "failed":
                events.append(
                    {"type": "rollback_impossible", "reason": "no last known-good release"}
                )
            else:
                events.append({"type": "rollback_proof", **e.proof})
                events.append({"type": e.status, "message": message})
            doc.update(e.patch)
            doc.update(status=e.status, message=message, finished_at=now, updated_at=now)
            if e.proof:
                doc["rollback_proof"] = e.proof
            store.put("rollout", doc["id"], doc)
            lock = local.lock_name(doc["env"])
            store.release_lock(lock, doc["id"])
            events.append({"type": "lock_released", "lock": lock})
            written = [_typed(ev) for ev in events]
            for ev in written:
                store.append_event(doc["id"], ev)
            self._notify(store, doc["id"], written)
            if self.ctx.notifier is not None:
                self.ctx.notifier.forget(doc["id"])
            return message

    # -- regional: thin wrappers over the rollout package's activities ---------------

    @contextmanager
    def _ctx(self, rollout_id: str, region: str) -> Iterator[tuple[Any, dict[str, Any], Any]]:
        """The rollout package's ActivityContext for one call (heartbeat, cancel,
        a private scratch dir), the rollout document and its fence."""
        from fleetctl.adapters import procs
        from fleetctl.services import release as release_service
        from fleetctl.services.rollout import activities as acts
        from fleetctl.services.rollout import adapters

        base = self.ctx.executor or adapters.ansible_executor

        def tagged(*args: Any, env: dict[str, str] | None = None, **kw: Any) -> Any:
            return base(*args, env={**(env or {}), BATCH_TAG: f"{rollout_id}/{region}"}, **kw)

        tmp: Path | None = None

        def workdir() -> Path:
            nonlocal tmp
            tmp = tmp or procs.private_temp_dir("rollout")
            return tmp

        with self._store() as store:
            doc = store.get("rollout", rollout_id)
            if doc is None:
                raise ApplicationError(
                    f"no rollout {rollout_id} in the state store", non_retryable=True
                )
            if activity.info().attempt > 1:  # a dead worker's batch: end what it left
                left = procs.with_environ(BATCH_TAG, f"{rollout_id}/{region}")
                procs.kill([p for p in left if p.pid != os.getpid()])
            needed: set[str] = set()
            for rel in (doc.get("release"), doc.get("rollback_to")):
                if rel:
                    needed |= set(release_service.get(store, rel).secret_vars)
            ctx = acts.ActivityContext(
                store=store,
                root=self.ctx.root,
                workdir=workdir,
                secrets=self.ctx.secrets.lookup(sorted(needed)),
                executor=tagged,
                prober=self.ctx.prober,
                heartbeat=_heartbeat,
                cancelled=_cancelled,
            )
            fence = acts.Fence(rollout_id, doc["env"], doc.get("lock_generation"))
            try:
                yield ctx, doc, fence
            finally:
                if tmp is not None:
                    shutil.rmtree(tmp, ignore_errors=True)

    def _secrets_ready(self, ctx: Any, region: str, release: str, *, same: bool) -> None:
        """Before Ansible: this worker has every secret var `release` needs (and, with
        `same`, the very values it was made with: their keyed fingerprints match).
        Else a non-retryable failure naming the region and the vars, never a value:
        another attempt on this worker would fail the same way."""
        from fleetctl.services import release as release_service

        rel = release_service.get(ctx.store, release)
        if not rel.secret_vars:
            return
        try:
            secrets_service.values_for(
                self.ctx.root, rel.secret_vars, ctx.secrets, what=f"release {rel.id}", same=same
            )
        except BadInput as exc:
            names = sorted(rel.secret_vars)
            raise ApplicationError(
                f"the worker of region {region} cannot apply release {rel.id}: {exc.message} "
                f"(give that worker {', '.join(secrets_service.env_name(n) for n in names)} "
                f"in its environment, or `fleetctl worker --secret-var NAME=@FILE`)",
                type=SECRET_MISSING,
                non_retryable=True,
            ) from None

    @activity.defn(name="apply_batch")
    def apply_batch(self, req: BatchRequest) -> BatchResult:
        from fleetctl.services.rollout import activities as acts

        step = req.step
        with self._ctx(req.rollout_id, step.region) as (ctx, doc, fence):
            self._secrets_ready(ctx, step.region, doc["release"], same=True)
            r = acts.apply_batch(
                ctx,
                acts.ApplyRequest(
                    fence,
                    doc["release"],
                    doc["playbook"],
                    tuple(step.hosts),
                    step.deadline_s,
                    deadline_at=time.time() + step.deadline_s,
                ),
            )
        return BatchResult(
            region=step.region,
            step=step.index,
            status=r.status,
            error=self._scrub(r.error),
            duration_s=round(r.duration_s, 2),
            hosts=self._scrub(r.hosts),
            failed=sorted(h for h in step.hosts if r.state(h) == "failed"),
            unreachable=sorted(h for h in step.hosts if r.state(h) == "unreachable"),
            missing=sorted(h for h in step.hosts if h not in r.hosts),
            attempt=activity.info().attempt,
        )

    @activity.defn(name="run_gates")
    def run_gates(self, req: GatesRequest) -> GatesResult:
        from fleetctl.services.rollout import activities as acts

        with self._ctx(req.rollout_id, req.step.region) as (ctx, doc, fence):
            report = acts.run_step_gates(
                ctx,
                acts.GateRequest(
                    fence,
                    doc["policy"],
                    tuple(req.step.gates),
                    tuple(req.changed),
                    touched=tuple(sorted(set(req.touched) | set(req.unreachable))),
                    failed=tuple(req.failed),
                ),
            )
        return GatesResult(
            region=req.step.region,
            step=req.step.index,
            verdict=report.verdict,
            gates={r["gate"]: r["verdict"] for r in report.results},
            reasons={r["gate"]: r.get("reason", "") for r in report.results},
            results=list(report.results),
        )

    @activity.defn(name="rollback_region")
    def rollback_region(self, req: RollbackRequest) -> RollbackResult:
        from fleetctl.core.policy import Policy
        from fleetctl.errors import FleetctlError
        from fleetctl.services.rollout import activities as acts

        evidence: list[dict[str, Any]] = []
        with self._ctx(req.rollout_id, req.region) as (ctx, doc, fence):
            timeout = Policy.model_validate(doc["policy"]).progress_deadline_s
            hosts = tuple(req.hosts)
            try:
                applied = acts.roll_back_hosts(
                    ctx,
                    acts.ApplyRequest(
                        fence,
                        doc["rollback_to"],
                        doc["playbook"],
                        hosts,
                        timeout,
                        same_secrets=False,
                    ),
                )
                evidence.append(
                    {
                        "type": "rollback_applied",
                        "release": applied.release_id,
                        "status": applied.status,
                        "hosts": applied.hosts,
                        "region": req.region,
                    }
                )
                report = acts.prove_rollback(
                    ctx,
                    acts.ProofRequest(
                        fence,
                        doc["rollback_to"],
                        doc["playbook"],
                        hosts,
                        timeout,
                        doc["policy"],
                        applied.status,
                        touched=tuple(req.touched),
                        failed=tuple(req.failed),
                    ),
                )
                evidence.append(
                    {
                        "type": "rollback_check",
                        "release": report.check.release_id,
                        "status": report.check.status,
                        "changed": report.changed,
                        "total_changed": sum(report.changed.values()),
                        "failed_or_unreachable": list(report.failed_or_unreachable),
                        "region": req.region,
                    }
                )
                evidence += [
                    {"type": "gate", "phase": "rollback", **r, "region": req.region}
                    for r in report.gates.results
                ]
                proof = report.proof.to_dict()
            except FleetctlError as exc:  # e.g. this worker lacks a secret var of the release
                proof = {"ok": False, "error": f"worker of region {req.region}: {exc.message}"}
        return RollbackResult(
            req.region, bool(proof["ok"]), self._scrub(proof), self._scrub(evidence)
        )
