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
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from fleetctl.adapters.state.base import LockHeld, StateStore
from fleetctl.services.rollout_temporal.model import (
    Admission,
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


@dataclass(frozen=True)
class Context:
    """What activities need that is not data: where the state and the workspace are,
    and how hosts are changed and probed (the engine's defaults unless a benchmark
    swaps them)."""

    state_url: str
    root: Path
    executor: Any = None
    prober: Any = None


def _heartbeat(detail: Any = None) -> None:
    try:
        activity.heartbeat(detail)
    except RuntimeError:  # not in an activity (a direct call)
        pass


class Activities:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @contextmanager
    def _store(self) -> Iterator[StateStore]:
        from fleetctl.adapters.state import open_store

        store = open_store(self.ctx.state_url)
        try:
            yield store
        finally:
            store.close()

    def _engine(self, store: StateStore) -> Any:
        from fleetctl.services.rollout import Engine

        class _Heartbeating(Engine):
            """The local engine's gates, with the lease renewal replaced by an
            activity heartbeat (the env lock is the workflow, not a lease)."""

            def _renew(self, doc: dict[str, Any], *, force: bool = False) -> None:
                _heartbeat()

        return _Heartbeating(
            store, self.ctx.root, executor=self.ctx.executor, prober=self.ctx.prober
        )

    # -- coordinator -----------------------------------------------------------------

    @activity.defn(name="prepare")
    def prepare(self, inp: StartInput) -> None:
        from fleetctl.services import rollout as local

        lock = local.lock_name(inp.env)
        with self._store() as store:
            # The store's env lock too: a local-engine rollout and this one never
            # run on one env at once. Held until `finish`.
            try:
                store.acquire_lock(lock, inp.rollout_id, local.PAUSED_LOCK_TTL_S)
            except LockHeld as exc:
                raise ApplicationError(exc.message, type="LockHeld", non_retryable=True) from None
            if store.get("rollout", inp.rollout_id) is not None:
                return  # a retry after the first attempt wrote it
            store.put("rollout_plan", inp.rollout_id, inp.doc["plan"])
            doc = {k: v for k, v in inp.doc.items() if k != "plan"}
            doc["updated_at"] = time.time()
            store.put("rollout", inp.rollout_id, doc)
            now = time.time()
            store.append_event(inp.rollout_id, {"type": "created", "at": now, **inp.created})
            store.append_event(
                inp.rollout_id,
                {"type": "lock_acquired", "at": now, "lock": lock, "engine": "temporal",
                 "workflow_id": activity.info().workflow_id},
            )  # fmt: skip

    @activity.defn(name="journal")
    def journal(self, w: JournalWrite) -> None:
        with self._store() as store:
            tail = store.events(w.rollout_id)[-max(1, len(w.events)) :]
            if w.events and any(e.get("wf_seq") == w.seq for e in tail):
                return  # this write already landed (a retry)
            if w.patch:
                doc = store.get("rollout", w.rollout_id) or {}
                doc.update(w.patch, updated_at=time.time())
                store.put("rollout", w.rollout_id, doc)
            for ev in w.events:
                store.append_event(w.rollout_id, {**ev, "at": time.time(), "wf_seq": w.seq})

    @activity.defn(name="admission")
    def admission(self, rollout_id: str) -> Admission:
        from fleetctl.core.policy import Policy
        from fleetctl.services import freeze as freeze_service

        with self._store() as store:
            doc = store.get("rollout", rollout_id) or {}
            frozen = freeze_service.current(store, doc["env"])
        if frozen is not None:
            return Admission(frozen=f"{frozen.by}: {frozen.reason}")
        window = Policy.model_validate(doc["policy"]).deploy_window
        if window is None:
            return Admission()
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        for minute in range(8 * 24 * 60):  # the next minute inside the window
            if window.contains(now + timedelta(minutes=minute)):
                break
        text = f"{','.join(window.days)} {window.start}-{window.end}, UTC{window.utc_offset_h:+g}"
        return Admission(window_wait_s=60.0 * minute, window=text)

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
                store.put("lkg", doc["group"], {
                    "group": doc["group"], "release": doc["release"],
                    "release_id": doc["release_id"], "rollout": doc["id"], "at": now,
                })  # fmt: skip
                events.append({"type": "completed", "release": doc["release_id"],
                               "hosts": len(e.patch["touched"]), "last_known_good": True})  # fmt: skip
            elif e.status == "failed":
                events.append({"type": "rollback_impossible",
                               "reason": "no last known-good release"})  # fmt: skip
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
            for ev in events:
                store.append_event(doc["id"], {**ev, "at": now})
            return message

    # -- regional --------------------------------------------------------------------

    def _restore(self, store: StateStore, ref: str) -> tuple[Any, Any, Path]:
        from fleetctl.adapters import procs
        from fleetctl.services import release as release_service

        rel = release_service.get(store, ref)
        tmp = procs.private_temp_dir("rollout")
        return rel, release_service.restore(store, rel, tmp / rel.id), tmp

    def _kill_leftovers(self, doc: dict[str, Any], region: str) -> None:
        """A retry after a dead worker: end the Ansible runs it left behind."""
        from fleetctl.adapters import procs
        if activity.info().attempt > 1:
            mine = procs.with_environ(BATCH_TAG, f"{doc['id']}/{region}")
            left = [p for p in mine if p.pid != os.getpid()]
            procs.kill(left)

    def _run(self, store: StateStore, doc: dict[str, Any], release_ref: str,
             hosts: list[str], *, check: bool, timeout_s: float, region: str) -> Any:  # fmt: skip
        from fleetctl.services import rollout as local

        rel, restored, tmp = self._restore(store, release_ref)
        try:
            executor = self.ctx.executor or local.ansible_executor
            started = time.monotonic()

            def cancel() -> bool:
                _heartbeat()
                return activity.is_cancelled() or time.monotonic() - started > timeout_s

            return executor(
                restored.playbooks_dir / doc["playbook"],
                restored.inventory_dir,
                limit=hosts,
                check=check,
                diff=check,
                extravars={**restored.extravars, "fleet_release": rel.id},
                timeout_s=timeout_s,
                cancel=cancel,
                env={local.TAG: doc["id"], BATCH_TAG: f"{doc['id']}/{region}"},
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @activity.defn(name="apply_batch")
    def apply_batch(self, req: BatchRequest) -> BatchResult:
        step = req.step
        with self._store() as store:
            doc = store.get("rollout", req.rollout_id)
            assert doc is not None
            self._kill_leftovers(doc, step.region)
            result = self._run(store, doc, doc["release"], step.hosts, check=False,
                               timeout_s=step.deadline_s, region=step.region)  # fmt: skip
        outcomes = {h: o.to_dict() for h, o in sorted(result.hosts.items())}
        return BatchResult(
            region=step.region,
            step=step.index,
            status=str(result.status),
            error=str(getattr(result, "error", "") or ""),
            duration_s=round(float(getattr(result, "duration_s", 0.0)), 2),
            hosts=outcomes,
            failed=sorted(h for h in step.hosts if outcomes.get(h, {}).get("state") == "failed"),
            unreachable=sorted(
                h for h in step.hosts if outcomes.get(h, {}).get("state") == "unreachable"
            ),
            missing=sorted(h for h in step.hosts if h not in outcomes),
            attempt=activity.info().attempt,
        )

    @activity.defn(name="run_gates")
    def run_gates(self, req: GatesRequest) -> GatesResult:
        from fleetctl.core.gates import combine
        from fleetctl.core.planner import Plan
        from fleetctl.core.policy import Policy
        from fleetctl.services import rollout as local

        with self._store() as store:
            doc = store.get("rollout", req.rollout_id)
            assert doc is not None
            view = {**doc, "touched": req.touched, "failed_hosts": req.failed,
                    "unreachable_hosts": req.unreachable}  # fmt: skip
            plan = Plan.from_dict(local.plan_of(store, doc))
            policy = Policy.model_validate(doc["policy"])
            changed = [plan.host(h) for h in req.changed]
            results = self._engine(store)._gates(
                view, policy, plan, req.step.gates, changed, phase=req.phase
            )
        return GatesResult(
            region=req.step.region,
            step=req.step.index,
            verdict=str(combine(results)),
            gates={r.gate: str(r.verdict) for r in results},
            reasons={r.gate: r.reason for r in results},
        )

    @activity.defn(name="rollback_region")
    def rollback_region(self, req: RollbackRequest) -> RollbackResult:
        from fleetctl.core.gates import Verdict, combine
        from fleetctl.core.planner import Plan
        from fleetctl.core.policy import Policy
        from fleetctl.errors import FleetctlError
        from fleetctl.services import rollout as local

        with self._store() as store:
            doc = store.get("rollout", req.rollout_id)
            assert doc is not None
            self._kill_leftovers(doc, req.region)
            policy = Policy.model_validate(doc["policy"])
            hosts = req.hosts
            try:
                target = doc["rollback_to"]
                applied = self._run(store, doc, target, hosts, check=False,
                                    timeout_s=policy.progress_deadline_s, region=req.region)  # fmt: skip
                states = {h: o.to_dict() for h, o in sorted(applied.hosts.items())}
                lkg = doc["rollback_to_id"]
                engine = self._engine(store)
                engine._event(doc, "rollback_applied", fenced=False, release=lkg,
                              status=str(applied.status), hosts=states, region=req.region)  # fmt: skip
                check = self._run(store, doc, target, hosts, check=True,
                                  timeout_s=policy.progress_deadline_s, region=req.region)  # fmt: skip
                changed = {h: int(o.changed) for h, o in sorted(check.hosts.items())}
                bad = sorted(h for h, o in check.hosts.items()
                             if o.to_dict().get("state") in ("failed", "unreachable"))  # fmt: skip
                engine._event(doc, "rollback_check", fenced=False, release=lkg,
                              status=str(check.status), changed=changed,
                              total_changed=sum(changed.values()),
                              failed_or_unreachable=bad, region=req.region)  # fmt: skip
                plan = Plan.from_dict(local.plan_of(store, doc))
                view = {**doc, "touched": req.touched}
                results = engine._gates(view, policy, plan, ("http", "canary_analysis"),
                                        [plan.host(h) for h in hosts], phase="rollback")  # fmt: skip
                verdict = combine(results)
                ok = (
                    str(applied.status) == "successful"
                    and sum(changed.values()) == 0
                    and not bad
                    and set(changed) >= set(hosts)
                    and verdict is Verdict.PASS
                )
                proof = {
                    "ok": ok, "release": lkg, "hosts": len(hosts),
                    "apply_status": str(applied.status), "check_changed": sum(changed.values()),
                    "check_hosts": len(changed), "gates": {r.gate: str(r.verdict) for r in results},
                    "gate_verdict": str(verdict),
                }  # fmt: skip
            except FleetctlError as exc:
                proof = {"ok": False, "error": exc.message}
        return RollbackResult(req.region, bool(proof["ok"]), proof)
