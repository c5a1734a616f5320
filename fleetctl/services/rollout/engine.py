"""The rollout engine: the step loop (start, step, pause, complete).

Everything that happens is written to the journal (the state store's event
log of the rollout) before and after it happens, and the rollout record
(`rollout/<id>`, `core.rollout.record.RolloutRecord`) always says where to
continue. So after a crash or `kill -9`, `resume` starts again at the first
unfinished step; finished steps are never re-run (the interrupted batch is,
which is safe: playbooks are idempotent).

The side effects of a step are activities (`activities.py`: apply a batch,
run the gates, roll back, prove it) called with data; the env lock is the
`Lease` (`lease.py`), the journal the `Journal` (`journal.py`), rolling
back `rollback.py`. The commands people give (resume, promote, abort,
rollback) are in `commands.py`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetctl.adapters.state.base import LockLost, StateStore
from fleetctl.core import windows
from fleetctl.core.gates import Verdict
from fleetctl.core.planner import Plan, Step
from fleetctl.core.policy import Policy
from fleetctl.core.rollout import events
from fleetctl.core.rollout.record import (
    LkgRecord,
    Pause,
    PauseKind,
    RolloutRecord,
    Status,
)
from fleetctl.errors import FleetctlError
from fleetctl.services import freeze as freeze_service
from fleetctl.services import release as release_service
from fleetctl.services import secrets as secrets_service
from fleetctl.services.release import Release
from fleetctl.services.rollout import activities, gating, lease, queries, rollback
from fleetctl.services.rollout.adapters import Executor, Prober
from fleetctl.services.rollout.journal import Journal
from fleetctl.services.rollout.lease import Lease, lock_name
from fleetctl.services.rollout.outcome import Outcome
from fleetctl.services.secrets import SecretVar

# How often a runner waiting for a deploy window wakes to check for an abort, a
# freeze and its lease: an abort is honoured within this, whatever the wait.
WINDOW_POLL_S = 2.0


class Runner:
    """What the loop, the commands and the rollback share: the store, the
    journal, the lease, the activities' context, the plan cache, temp dirs."""

    def __init__(
        self,
        store: StateStore,
        root: Path,
        *,
        executor: Executor | None = None,
        prober: Prober | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        who: str | None = None,
        secrets: Sequence[SecretVar] = (),
        notify: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
        wait_windows: bool = False,
        stop_waiting: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        # Outside a region's deploy window: wait here for it (holding the lease) and go
        # on, or pause and return (the library's default; the CLI waits unless --no-wait).
        # Every command that continues a rollout (start, resume, promote, a signed
        # approval) reaches the window through the same loop, so this alone decides.
        self.wait_windows = wait_windows
        # True when the process hosting the wait is going away (the approvals server
        # stopping): the wait ends as a pause for the window, which `resume` continues.
        self.stop_waiting = stop_waiting or (lambda: False)
        # `--secret-var` values of this command: in memory only, never stored
        self.secrets = {s.name: s for s in secrets}
        self.root = root
        self.executor = executor
        self.prober = prober
        self.sleep = sleep
        self.clock = clock
        self.who = who or freeze_service.who()
        self.journal = Journal(
            store,
            clock=clock,
            fence=self._fence,
            secret_values=lambda: (s.value for s in self.secrets.values()),
            on_event=on_event,
            notify=notify,
        )
        self.lease = Lease(store, self.journal, who=self.who)
        self._tmp: Path | None = None
        self._plans: dict[str, Plan] = {}

    def _fence(self, rec: RolloutRecord) -> None:
        self.lease.fence(rec)

    def fence_of(self, rec: RolloutRecord) -> activities.Fence:
        return activities.Fence(rec.id, rec.env, self.lease.gen.get(rec.id))

    def activity_context(self, rec: RolloutRecord) -> activities.ActivityContext:
        return activities.ActivityContext(
            store=self.store,
            root=self.root,
            workdir=self._workdir,
            secrets=self.secrets,
            executor=self.executor,
            prober=self.prober,
            heartbeat=lambda: self.lease.renew(rec),
            cancelled=lambda: self.lease.lost(rec),
            clock=self.clock,
        )

    def _plan(self, rec: RolloutRecord) -> Plan:
        if rec.id not in self._plans:
            self._plans[rec.id] = Plan.from_dict(queries.plan_of(self.store, rec))
        return self._plans[rec.id]

    def _abort_requested(self, rec: RolloutRecord) -> dict[str, Any] | None:
        return self.store.get("abort_request", rec.id)

    def _workdir(self) -> Path:
        if self._tmp is None:
            lease.sweep_dead_workdirs()
            from fleetctl.adapters import procs

            self._tmp = procs.private_temp_dir("rollout")
        return self._tmp

    def _cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _secret_values(self, release: Release, *, same: bool) -> dict[str, str]:
        """The secret vars `release` was made with, from this command's --secret-var."""
        return secrets_service.values_for(
            self.root, release.secret_vars, self.secrets, what=f"release {release.id}", same=same
        )

    def _run(self, rec: RolloutRecord) -> Outcome:
        return self._guarded(rec, lambda: self._loop(rec))

    def _rollback(self, rec: RolloutRecord, *, reason: str) -> Outcome:
        return rollback.roll_back(self, rec, reason=reason)

    def _guarded(self, rec: RolloutRecord, body: Callable[[], Outcome]) -> Outcome:
        """Run `body` as the live runner of `rec`; always remove temp snapshots.
        A run that lost the env lock (fencing) ends here, having changed nothing
        since: superseded by another rollout, or taken over by another process."""
        lease.ACTIVE.add(rec.id)
        try:
            out = body()
            return Outcome(
                out.id, out.status, self.journal.scrub(out.message), self.journal.scrub(out.doc)
            )
        except LockLost as lost:
            # Who took over: the record (closed by the taker) says so even when
            # the taker has already finished and released the lock.
            doc = self.store.get("rollout", rec.id)
            stored = RolloutRecord.from_dict(doc) if doc is not None else rec
            by = stored.superseded_by if stored.status is Status.superseded else None
            if by is None and lost.info is not None and lost.info.holder != rec.id:
                by = lost.info.holder
            if by is not None:
                return Outcome(
                    rec.id,
                    Status.superseded,
                    f"superseded by {by}, which took over {lock_name(rec.env)} (this process "
                    f"held lock generation {lost.lost_generation}); this process stopped before "
                    "its next change",
                    stored.to_dict(),
                )
            raise FleetctlError(
                f"rollout {rec.id} was taken over by another process ({lost.message}); "
                "this process stopped before its next change",
                hint=f"fleetctl rollout status {rec.id}",
            ) from None
        finally:
            lease.ACTIVE.discard(rec.id)
            self._cleanup()

    # -- the loop --------------------------------------------------------------------

    def _loop(self, rec: RolloutRecord) -> Outcome:
        policy = Policy.model_validate(rec.policy)
        plan = self._plan(rec)
        rel = release_service.get(self.store, rec.release)
        while rec.next_step < len(plan.steps):
            step = plan.steps[rec.next_step]
            self.lease.renew(rec, force=True)
            abort = self._abort_requested(rec)
            if abort is not None:
                return self._rollback(rec, reason=f"aborted by {abort['by']}: {abort['reason']}")
            hold = self._hold(rec, policy, step.region)
            if hold is not None:
                if hold[0] is PauseKind.window and self.wait_windows:
                    stop = self._await_window(rec, policy, step)
                    if stop is not None:
                        return stop
                    continue  # check it all again: abort, freeze, the window
                return self._pause(rec, step, *hold)
            verdict = self._step(rec, policy, plan, step)
            if verdict is not None:
                return verdict
        return self._complete(rec, rel)

    def _hold(
        self, rec: RolloutRecord, policy: Policy, region: str
    ) -> tuple[PauseKind, str] | None:
        """Why the next step may not start now (a freeze, outside its region's window)."""
        frozen = freeze_service.current(self.store, rec.env)
        if frozen is not None:
            return PauseKind.freeze, f"env frozen by {frozen.by}: {frozen.reason}"
        closed = policy.window_closed(region, datetime.fromtimestamp(self.clock(), UTC))
        return None if closed is None else (PauseKind.window, closed)

    def _await_window(self, rec: RolloutRecord, policy: Policy, step: Step) -> Outcome | None:
        """Wait in this process for the step's region window to open, holding and renewing
        the lease; None when it opened (or a freeze came: the loop pauses for it), an
        Outcome when the wait ended otherwise (abort: rolled back; never opens: paused).

        The record says it waits (running, with a window pause and its opening time),
        so `status`/`why` show it; after a kill -9, `resume` computes the opening again
        from the policy and waits on. Wakes every WINDOW_POLL_S for an abort, a freeze
        and the fence, so no wait outlives them for long."""
        w = policy.window_for(step.region)
        if w is None:
            return None
        now = datetime.fromtimestamp(self.clock(), UTC)
        opens = windows.next_open(w, now)
        if opens is None:
            closed = policy.window_closed(step.region, now) or "its deploy window never opens"
            return self._pause(rec, step, PauseKind.window, closed)
        text = windows.local_text(w, opens)
        reason = f"waiting for {step.region} window, opens {text}"
        started = self.clock()
        rec.pause = Pause(PauseKind.window, reason, step.index, started, until=opens.timestamp())
        rec.message = reason
        self.journal.save(rec)
        self.journal.write(
            rec,
            events.WindowWait(
                step=step.index,
                label=step.label,
                region=step.region,
                window=w.describe(),
                opens_at=opens.timestamp(),
                opens=text,
            ),
        )
        try:
            while True:
                if self.stop_waiting():
                    why = "given up: its process is stopping"
                    return self._wait_interrupted(rec, policy, step, reason, why)
                abort = self._abort_requested(rec)
                if abort is not None:
                    rec.pause = None
                    why = f"aborted by {abort['by']}: {abort['reason']}"
                    return self._rollback(rec, reason=why)
                if freeze_service.current(self.store, rec.env) is not None:
                    rec.pause = None
                    return None  # the loop pauses for the freeze
                if self.lease.lost(rec):
                    self.lease.fence(rec)  # raises LockLost
                now = datetime.fromtimestamp(self.clock(), UTC)
                if windows.is_open(w, now):
                    break
                left = opens.timestamp() - self.clock()
                if left <= 0:  # it opened and closed between two looks: the next opening
                    opens = windows.next_open(w, now) or opens
                    left = opens.timestamp() - self.clock()
                self.sleep(min(WINDOW_POLL_S, max(0.05, left)))
        except KeyboardInterrupt:  # Ctrl-C: leave it paused for the window, not "running"
            return self._wait_interrupted(rec, policy, step, reason, "interrupted")
        rec.pause = None
        rec.message = ""
        self.journal.save(rec)
        self.journal.write(
            rec,
            events.WindowOpened(
                step=step.index,
                label=step.label,
                region=step.region,
                waited_s=round(self.clock() - started, 1),
            ),
        )
        return None

    def _wait_interrupted(
        self, rec: RolloutRecord, policy: Policy, step: Step, waiting: str, why: str
    ) -> Outcome:
        """A window wait that its process gives up (Ctrl-C, the approvals server
        stopping): paused for the window, not left "running" with a lease that
        nobody renews; `rollout resume` waits on from here."""
        closed = policy.window_closed(step.region, datetime.fromtimestamp(self.clock(), UTC))
        return self._pause(rec, step, PauseKind.window, f"{closed or waiting} (the wait was {why})")

    def _step(self, rec: RolloutRecord, policy: Policy, plan: Plan, step: Step) -> Outcome | None:
        """Apply, bake and judge one step; returns an Outcome when the loop must stop."""
        self.journal.write(
            rec,
            events.StepStarted(
                step=step.index, label=step.label, region=step.region, hosts=list(step.hosts)
            ),
        )
        deadline = self.clock() + step.deadline_s
        result = activities.apply_batch(
            self.activity_context(rec),
            activities.ApplyRequest(
                self.fence_of(rec),
                rec.release,
                rec.playbook,
                tuple(step.hosts),
                step.deadline_s,
                deadline_at=deadline,
            ),
        )
        stop = self._count_hosts(rec, policy, step, result, deadline)
        if stop is not None:
            return stop
        if step.bake_s > 0:
            self._bake(rec, step)
        abort = self._abort_requested(rec)
        if abort is not None:
            return self._rollback(rec, reason=f"aborted by {abort['by']}: {abort['reason']}")
        bad = {h for h in step.hosts if result.state(h) in ("unreachable", "failed")}
        report = activities.run_step_gates(
            self.activity_context(rec),
            activities.GateRequest(
                self.fence_of(rec),
                rec.policy,
                tuple(step.gates),
                tuple(h for h in step.hosts if h not in bad),
                touched=tuple(sorted(set(rec.touched) | set(rec.unreachable_hosts))),
                failed=tuple(rec.failed_hosts),
                release=rec.release,
            ),
        )
        results = report.gate_results()
        for r in report.results:
            self.journal.write(rec, events.Gate(phase="step", **r))
        verdict = Verdict(report.verdict)
        self.journal.write(
            rec,
            events.StepVerdict(
                step=step.index,
                label=step.label,
                verdict=report.verdict,
                gates={r.gate: str(r.verdict) for r in results},
            ),
        )
        if verdict is Verdict.FAIL:
            why = gating.reasons(results, Verdict.FAIL)
            return self._fail(rec, step, f"gate failed at {step.label}: {why}")
        if verdict is Verdict.INCONCLUSIVE:
            why = gating.reasons(results, Verdict.INCONCLUSIVE)
            return self._pause(rec, step, PauseKind.gate, f"inconclusive at {step.label}: {why}")
        if step.approval:
            return self._pause(
                rec, step, PauseKind.approval, f"manual approval required after {step.label}"
            )
        self._finish_step(rec, step)
        return None

    def _count_hosts(
        self,
        rec: RolloutRecord,
        policy: Policy,
        step: Step,
        result: activities.ApplyResult,
        deadline: float,
    ) -> Outcome | None:
        """Record what the batch did to its hosts and hold it against the limits."""
        failed = sorted(h for h in step.hosts if result.state(h) == "failed")
        unreachable = sorted(h for h in step.hosts if result.state(h) == "unreachable")
        missing = sorted(h for h in step.hosts if h not in result.hosts)
        fine = {h for h in step.hosts if result.state(h) in ("ok", "changed")}
        rec.touched = sorted(set(rec.touched) | {h for h in step.hosts if h not in unreachable})
        # Limits count distinct hosts over the whole rollout; a host that was
        # unreachable (or failed) and is fine on a re-run no longer counts.
        rec.failed_hosts = sorted((set(rec.failed_hosts) - fine) | set(failed))
        rec.unreachable_hosts = sorted((set(rec.unreachable_hosts) - fine) | set(unreachable))
        self.journal.save(rec)
        self.journal.write(
            rec,
            events.StepApplied(
                step=step.index,
                label=step.label,
                status=result.status,
                error=result.error,
                duration_s=round(result.duration_s, 2),
                hosts=result.hosts,
                failed=failed,
                unreachable=unreachable,
                total_failed=len(rec.failed_hosts),
                max_failed_hosts=policy.max_failed_hosts,
                total_unreachable=len(rec.unreachable_hosts),
                max_unreachable_hosts=policy.max_unreachable_hosts,
            ),
        )
        if result.status in ("timeout", "canceled") or self.clock() > deadline:
            return self._fail(
                rec, step, f"progress deadline of {step.deadline_s:g}s passed during {step.label}"
            )
        if result.status == "error":
            return self._fail(rec, step, f"Ansible could not run: {result.error or 'error'}")
        if len(rec.failed_hosts) > policy.max_failed_hosts:
            return self._fail(
                rec,
                step,
                f"{len(rec.failed_hosts)} host(s) failed the change "
                f"({', '.join(rec.failed_hosts)}) > max_failed_hosts "
                f"{policy.max_failed_hosts}",
            )
        if missing and not failed and result.status != "successful":
            return self._fail(rec, step, f"no result for host(s) {', '.join(missing)}")
        counted = rec.counted_unreachable
        if len(counted) > policy.max_unreachable_hosts:
            return self._pause(
                rec,
                step,
                PauseKind.unreachable,
                f"{len(counted)} host(s) unreachable "
                f"({', '.join(counted)}) > max_unreachable_hosts "
                f"{policy.max_unreachable_hosts}; not counted as change failures",
            )
        return None

    def _bake(self, rec: RolloutRecord, step: Step) -> None:
        """Wait `bake_s`, watching for an abort (and the lease)."""
        self.journal.write(rec, events.Bake(step=step.index, seconds=step.bake_s))
        end = self.clock() + step.bake_s
        while self.clock() < end:
            if self._abort_requested(rec) is not None:
                break
            if self.lease.lost(rec):
                self.lease.fence(rec)  # raises LockLost
            self.sleep(min(0.5, max(0.0, end - self.clock())))

    def _finish_step(self, rec: RolloutRecord, step: Step, *, promoted: bool = False) -> None:
        rec.next_step = step.index + 1
        self.journal.save(rec)
        self.journal.write(
            rec, events.StepFinished(step=step.index, label=step.label, promoted=promoted)
        )

    # -- endings ---------------------------------------------------------------------

    def _pause(self, rec: RolloutRecord, step: Step, kind: PauseKind, reason: str) -> Outcome:
        rec.status = Status.paused
        rec.pause = Pause(kind, reason, step.index, self.clock())
        rec.message = reason
        self.journal.save(rec)
        self.journal.write(
            rec, events.Paused(step=step.index, label=step.label, kind=kind.value, reason=reason)
        )
        self.lease.hold_paused(rec)
        return Outcome(
            rec.id,
            Status.paused,
            f"paused at {step.label}: {reason} ({kind.hint})",
            rec.to_dict(),
        )

    def _complete(self, rec: RolloutRecord, rel: Release) -> Outcome:
        self.lease.fence(rec)
        rollback.mark_known_good(
            self.store, LkgRecord(rec.group, rel.hash, rel.id, rec.id, self.clock())
        )
        rec.status = Status.completed
        rec.finished_at = self.clock()
        rec.message = f"release {rel.id} on {len(rec.touched)} host(s)"
        self.journal.save(rec)
        self.journal.write(rec, events.Completed(release=rel.id, hosts=len(rec.touched)))
        self.lease.release(rec)
        return Outcome(rec.id, Status.completed, rec.message, rec.to_dict())

    def _fail(self, rec: RolloutRecord, step: Step, reason: str) -> Outcome:
        self.journal.write(rec, events.Failed(step=step.index, label=step.label, reason=reason))
        return self._rollback(rec, reason=reason)
