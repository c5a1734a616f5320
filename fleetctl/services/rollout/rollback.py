"""Rolling back: re-apply the last known-good release to every touched host,
then prove it (a `--check --diff` run changes nothing, the gates pass).

The proof itself is `activities.prove_rollback`; the record of it is
`core.rollout.record.RollbackProof`. This module is the engine's part:
journal what the activities did and end the rollout on the proof.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from fleetctl.adapters.state.base import LockLost, StateStore
from fleetctl.core.policy import Policy
from fleetctl.core.rollout import events
from fleetctl.core.rollout.record import LkgRecord, RollbackProof, RolloutRecord, Status
from fleetctl.errors import FleetctlError
from fleetctl.services.rollout import activities, queries
from fleetctl.services.rollout.journal import Journal
from fleetctl.services.rollout.lease import Lease, proof_event
from fleetctl.services.rollout.outcome import Outcome


class Runner(Protocol):
    """What rolling back needs of the engine's runner."""

    store: StateStore
    journal: Journal
    lease: Lease
    clock: Callable[[], float]

    def activity_context(self, rec: RolloutRecord) -> activities.ActivityContext: ...
    def fence_of(self, rec: RolloutRecord) -> activities.Fence: ...


def mark_known_good(store: StateStore, lkg: LkgRecord) -> None:
    """The one writer of `lkg/<group>`."""
    store.put("lkg", lkg.group, lkg.to_dict())


def roll_back(run: Runner, rec: RolloutRecord, *, reason: str) -> Outcome:
    """Re-apply the last known-good release to every touched host, then prove it."""
    rec.status = Status.rolling_back
    rec.message = reason
    run.journal.save(rec)
    touched = list(rec.touched)
    run.journal.write(
        rec, events.RollbackStarted(reason=reason, to=rec.rollback_to_id, hosts=touched)
    )
    if not touched:
        return end_rollback(
            run,
            rec,
            Status.rolled_back,
            f"{reason}; no host was changed, nothing to roll back",
            RollbackProof(ok=True, hosts=0),
        )
    if rec.rollback_to is None:
        rec.status = Status.failed
        rec.finished_at = run.clock()
        rec.message = (
            f"{reason}; NOT rolled back: group {rec.group} has no last known-good "
            f"release (refusing to guess). Hosts changed: {', '.join(touched)}"
        )
        run.journal.save(rec)
        run.journal.write(rec, events.RollbackImpossible(reason="no last known-good release"))
        run.lease.release(rec)
        return Outcome(rec.id, Status.failed, rec.message, rec.to_dict())
    try:
        proof = _reapply_and_prove(run, rec, rec.rollback_to, touched)
    except LockLost:
        raise
    except FleetctlError as exc:
        proof = RollbackProof(ok=False, error=exc.message)
    if proof.ok:
        return end_rollback(
            run,
            rec,
            Status.rolled_back,
            f"{reason}; rolled back {len(touched)} host(s) to {proof.release} "
            f"(proof: --check --diff 0 changed, gates {proof.gate_verdict})",
            proof,
        )
    return end_rollback(
        run,
        rec,
        Status.rollback_failed,
        f"{reason}; ROLLBACK NOT PROVEN: {proof.to_dict()}",
        proof,
    )


def _reapply_and_prove(
    run: Runner, rec: RolloutRecord, target: str, touched: list[str]
) -> RollbackProof:
    run.lease.renew(rec, force=True)
    policy = Policy.model_validate(rec.policy)
    ctx = run.activity_context(rec)
    fence = run.fence_of(rec)
    hosts = tuple(touched)
    applied = activities.roll_back_hosts(
        ctx,
        activities.ApplyRequest(
            fence, target, rec.playbook, hosts, policy.progress_deadline_s, same_secrets=False
        ),
    )
    run.journal.write(
        rec,
        events.RollbackApplied(
            release=applied.release_id, status=applied.status, hosts=applied.hosts
        ),
    )
    report = activities.prove_rollback(
        ctx,
        activities.ProofRequest(
            fence,
            target,
            rec.playbook,
            hosts,
            policy.progress_deadline_s,
            rec.policy,
            applied.status,
            touched=tuple(sorted(set(rec.touched) | set(rec.unreachable_hosts))),
            failed=tuple(rec.failed_hosts),
        ),
    )
    run.journal.write(
        rec,
        events.RollbackCheck(
            release=report.check.release_id,
            status=report.check.status,
            changed=report.changed,
            total_changed=sum(report.changed.values()),
            failed_or_unreachable=list(report.failed_or_unreachable),
        ),
    )
    for r in report.gates.results:
        run.journal.write(rec, events.Gate(phase="rollback", **r))
    return report.proof


def end_rollback(
    run: Runner, rec: RolloutRecord, status: Status, message: str, proof: RollbackProof
) -> Outcome:
    # The last known-good first, then the final status: a kill -9 in between
    # leaves a rollout that resumes to the same end; after it, only journal
    # events can be missing, and `resume` adds them (`Lease.close_out`).
    run.lease.fence(rec)
    lkg = queries.last_known_good_record(run.store, rec.group)
    # A completed rollout rolled back by hand: its release is no longer good.
    mine = lkg is not None and lkg.rollout == rec.id
    if status is Status.rolled_back and mine and rec.rollback_to:
        mark_known_good(
            run.store,
            LkgRecord(
                group=rec.group,
                release=rec.rollback_to,
                release_id=rec.rollback_to_id or "",
                rollout=rec.id,
                at=run.clock(),
                restored_by_rollback=True,
            ),
        )
    rec.status = status
    rec.finished_at = run.clock()
    rec.message = message
    rec.rollback_proof = proof
    run.journal.save(rec)
    run.journal.write(rec, proof_event(rec))
    cls = events.RolledBack if status is Status.rolled_back else events.RollbackFailed
    run.journal.write(rec, cls(message=message))
    run.lease.release(rec)
    return Outcome(rec.id, status, message, rec.to_dict())
