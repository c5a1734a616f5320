"""What people ask of a rollout: start, resume, promote, abort, roll back.

Each takes the env lock (`Lease.acquire`: the one place that decides who
may take it, forced or live), becomes the rollout's runner and hands over
to the step loop (`engine.Runner`) or to the rollback.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fleetctl.core.planner import Plan
from fleetctl.core.policy import Policy
from fleetctl.core.rollout import events
from fleetctl.core.rollout.record import FINAL, PauseKind, RolloutRecord, Status
from fleetctl.errors import BadInput, JobFailed
from fleetctl.services import freeze as freeze_service
from fleetctl.services import host_drain as drain_service
from fleetctl.services import release as release_service
from fleetctl.services import secrets as secrets_service
from fleetctl.services.release import Release
from fleetctl.services.rollout import lease, queries
from fleetctl.services.rollout.engine import Runner
from fleetctl.services.rollout.lease import lock_name
from fleetctl.services.rollout.outcome import Outcome
from fleetctl.services.rollout.targets import group_of, plan_for


def new_id() -> str:
    return f"r-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class Engine(Runner):
    # -- start -----------------------------------------------------------------------

    def start(
        self,
        env: str,
        playbook: str,
        policy: Policy,
        *,
        extravars: dict[str, Any] | None = None,
        force: bool = False,
        force_live: bool = False,
        allow_plain_secrets: bool = False,
        policy_file: str | None = None,
        confirm: Callable[[Plan, Release], bool] | None = None,
    ) -> Outcome:
        frozen = freeze_service.current(self.store, env)
        if frozen is not None:
            raise JobFailed(
                f"env {env} is frozen by {frozen.by}: {frozen.reason}",
                hint=f"no rollout starts while frozen; `fleetctl freeze off --env {env}` "
                "when it is safe",
            )
        secrets_service.refuse_plain(extravars or {}, allow=allow_plain_secrets)
        secrets_service.check_names(extravars or {}, self.secrets.values())
        drained = drain_service.drained_hosts(self.store, env)
        path, plan = plan_for(self.root, env, playbook, policy, exclude=drained)
        lkg_before = queries.last_known_good_record(self.store, group_of(env, path))
        if lkg_before is not None:  # a rollback would need its secret vars too
            self._secret_values(release_service.get(self.store, lkg_before.release), same=False)
        rid = new_id()
        lease.sweep_dead_workdirs()
        # Fail fast on the lock before asking anyone to confirm; it is taken
        # (by the same rules) only after, right before the rollout's record is
        # written, so a kill -9 in between leaves no lock without a record.
        self.lease.may_take(rid, env, force=force, force_live=force_live)
        rel = release_service.snapshot(
            self.store,
            self.root,
            env,
            extravars=extravars,
            secret_vars=secrets_service.fingerprints(self.root, self.secrets.values()),
        )
        if confirm is not None and not confirm(plan, rel):
            raise BadInput("rollout not started (not confirmed)")
        taken, lock_event = self.lease.acquire(rid, env, force=force, force_live=force_live)
        group = group_of(env, path)
        lkg = queries.last_known_good_record(self.store, group)
        now = self.clock()
        rec = RolloutRecord(
            id=rid,
            env=env,
            playbook=path.relative_to((self.root / "playbooks").resolve()).as_posix(),
            group=group,
            release=rel.hash,
            release_id=rel.id,
            git_sha=rel.git_sha,
            rollback_to=lkg.release if lkg else None,
            rollback_to_id=lkg.release_id if lkg else None,
            policy=policy.model_dump(mode="json"),
            policy_file=policy_file,
            plan_digest=plan.digest(),
            plan_steps=len(plan.steps),
            status=Status.running,
            next_step=0,
            pause=None,
            touched=[],
            failed_hosts=[],
            unreachable_hosts=[],
            created_at=now,
            updated_at=now,
            finished_at=None,
            by=self.who,
            pid=os.getpid(),
            hostname=socket.gethostname(),
            lock_generation=taken.generation,
            message="",
        )
        # The plan (large for a big fleet) is stored once, beside the small
        # rollout record that is rewritten at every step.
        self.store.put("rollout_plan", rid, plan.to_dict())
        self._plans[rid] = plan
        # The record next: a crash right after this leaves a resumable rollout.
        self.journal.save(rec)
        self.journal.write(
            rec,
            events.Created(
                env=env,
                playbook=rec.playbook,
                release=rel.id,
                git_sha=rel.git_sha,
                git_dirty=rel.git_dirty,
                extravars=rel.extravars,
                secret_vars=rel.secret_vars,
                steps=len(plan.steps),
                hosts=plan.host_count,
                plan_digest=plan.digest(),
                policy_file=policy_file,
                rollback_to=rec.rollback_to_id,
                by=self.who,
                skipped_drained=sorted(drained),
            ),
        )
        self.journal.write(rec, lock_event)
        return self._run(rec)

    # -- taking a rollout over -----------------------------------------------------------

    def _check_secrets(self, rec: RolloutRecord, *, forward: bool) -> None:
        """Before taking a rollout over: are the secret vars its releases need given?
        (`forward`: its own release runs again; a rollback needs the last known-good's.)"""
        if forward:
            self._secret_values(release_service.get(self.store, rec.release), same=True)
        if rec.rollback_to:
            self._secret_values(release_service.get(self.store, rec.rollback_to), same=False)

    def _take_over(
        self, rec: RolloutRecord, *, force: bool = False, force_live: bool = False
    ) -> None:
        """Become the process running `rec` (after a crash, a pause, a promote)."""
        if rec.status is Status.superseded:
            raise _superseded_error(rec)
        if rec.status in FINAL:
            raise BadInput(f"rollout {rec.id} is already {rec.status.value}")
        _taken, event = self.lease.acquire(rec.id, rec.env, force=force, force_live=force_live)
        pids = lease.kill_orphans(rec)
        if pids:
            self.journal.write(
                rec,
                events.OrphansKilled(
                    pids=pids, why="Ansible processes of the dead run were still running"
                ),
            )
        lease.sweep_dead_workdirs()
        rec.pid = os.getpid()
        rec.hostname = socket.gethostname()
        rec.lock_generation = self.lease.gen[rec.id]
        self.journal.write(rec, event)

    # -- resume / promote / abort / rollback ---------------------------------------------

    def resume(self, rollout_id: str, *, force: bool = False, force_live: bool = False) -> Outcome:
        rec = queries.load_record(self.store, rollout_id)
        if rec.status is Status.superseded:
            raise _superseded_error(rec)
        if rec.status in FINAL:
            return self._resume_ended(rec)
        self._check_secrets(rec, forward=rec.status is not Status.rolling_back)
        self._take_over(rec, force=force, force_live=force_live)
        was = rec.status
        self.journal.write(
            rec,
            events.Resumed(
                previous_status=was.value,
                next_step=rec.next_step,
                pause=rec.pause.to_dict() if rec.pause else None,
                by=self.who,
            ),
        )
        self._recover_finished_steps(rec)
        if was is Status.rolling_back:
            return self._guarded(
                rec, lambda: self._rollback(rec, reason=rec.message or "resumed rollback")
            )
        return self._go_on(rec)

    def _go_on(self, rec: RolloutRecord) -> Outcome:
        """Continue a paused or interrupted rollout from `rec.next_step` (resume,
        promote, and so a signed approval): the same step loop as `start`, so a
        closed deploy window ahead is waited for (or paused at, --no-wait) alike."""
        rec.status = Status.running
        rec.pause = None
        self.journal.save(rec)
        return self._run(rec)

    def _recover_finished_steps(self, rec: RolloutRecord) -> None:
        """A kill -9 between saving a step as finished and journaling it leaves
        the step done (it is not re-run) but unjournaled: add the event."""
        journaled = {
            e.step
            for e in queries.journal(self.store, rec.id)
            if isinstance(e, events.StepFinished)
        }
        plan = self._plan(rec)
        for i in range(min(rec.next_step, len(plan.steps))):
            if i not in journaled:
                step = plan.steps[i]
                self.journal.write(
                    rec, events.StepFinished(step=i, label=step.label, recovered=True)
                )

    def _resume_ended(self, rec: RolloutRecord) -> Outcome:
        """`resume` of a rollout that already ended (a CI retry after a kill -9
        at its very end): finish its bookkeeping, sweep the dead run's temp
        dirs and answer with its final outcome (exit 0 when completed)."""
        info = self.store.lock_info(lock_name(rec.env))
        finishing = info is not None and info.holder == rec.id and lease.alive(rec)
        added: list[str] = []
        if not finishing:  # else its own process is still closing it: leave it be
            lease.kill_orphans(rec)
            swept = lease.sweep_dead_workdirs()
            added = self.lease.close_out(rec)
            if added or swept:
                self.journal.note(
                    rec.id,
                    events.BookkeepingFinished(added=added, swept_dirs=swept, by=self.who),
                )
        note = f"; finished its bookkeeping ({', '.join(added)})" if added else ""
        return Outcome(
            rec.id,
            rec.status,
            f"already {rec.status.value}: {rec.message}{note}",
            rec.to_dict(),
        )

    def promote(self, rollout_id: str, reason: str) -> Outcome:
        rec = queries.load_record(self.store, rollout_id)
        pause = rec.pause
        if rec.status is not Status.paused or pause is None:
            raise BadInput(
                f"rollout {rec.id} is {rec.status.value}, not paused: nothing to promote"
            )
        if not pause.kind.promotable:
            raise BadInput(
                f"rollout {rec.id} waits for the {pause.kind.value}, not for an approval",
                hint="`fleetctl rollout resume` it when the freeze ends / inside the window",
            )
        self._check_secrets(rec, forward=True)
        self._take_over(rec)
        step = self._plan(rec).steps[pause.step]
        self.journal.write(
            rec,
            events.Promoted(
                step=pause.step,
                label=step.label,
                pause_kind=pause.kind.value,
                pause_reason=pause.reason,
                by=self.who,
                reason=reason,
            ),
        )
        # Saved with the step it passes: a kill -9 right after leaves a rollout that
        # `resume` continues, not one paused at a step it is already past.
        rec.status, rec.pause = Status.running, None
        if pause.kind is PauseKind.unreachable:
            # Go on without them: they no longer count against the limit. The
            # step runs again (idempotent) so its gates still judge the others.
            rec.accepted_unreachable = sorted(rec.unreachable_hosts)
        else:
            self._finish_step(rec, step, promoted=True)
        return self._go_on(rec)

    def abort(self, rollout_id: str, reason: str) -> Outcome:
        rec = queries.load_record(self.store, rollout_id)
        if rec.status in FINAL:
            raise BadInput(f"rollout {rec.id} is already {rec.status.value}")
        info = self.store.lock_info(lock_name(rec.env))
        elsewhere = info is not None and lease.running(rec, info, self.clock())
        if not elsewhere:  # this process rolls back: it needs the secret vars
            self._check_secrets(rec, forward=False)
        request = {"by": self.who, "reason": reason, "at": self.clock()}
        self.store.put("abort_request", rec.id, request)
        self.journal.note(rec.id, events.AbortRequested(by=self.who, reason=reason))
        if elsewhere:
            return Outcome(
                rec.id,
                rec.status,
                f"abort requested; pid {rec.pid} stops after its current batch and rolls back",
                rec.to_dict(),
            )
        self._take_over(rec)
        return self._guarded(
            rec, lambda: self._rollback(rec, reason=f"aborted by {self.who}: {reason}")
        )

    def rollback(self, rollout_id: str, reason: str) -> Outcome:
        """Roll back a rollout: paused, crashed, or completed (to the release before it)."""
        rec = queries.load_record(self.store, rollout_id)
        if rec.status is Status.superseded:
            raise _superseded_error(rec)
        if rec.status in (Status.rolled_back, Status.failed):
            raise BadInput(f"rollout {rec.id} is already {rec.status.value}")
        if rec.status in (Status.completed, Status.rollback_failed):
            rec.status = Status.paused  # let _take_over accept it
        self._check_secrets(rec, forward=False)
        self._take_over(rec)
        return self._guarded(
            rec, lambda: self._rollback(rec, reason=f"rollback by {self.who}: {reason}")
        )


def _superseded_error(rec: RolloutRecord) -> BadInput:
    return BadInput(
        f"rollout {rec.id} was superseded by {rec.superseded_by or 'another rollout'} "
        "and will not run again: resuming it would re-apply its older release over the newer "
        "one",
        hint=f"`fleetctl rollout why {rec.id}` shows who took over; to apply this release "
        "again, start a new rollout",
    )
