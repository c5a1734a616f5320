"""The env lock as a rollout holds it: acquire, take over (forced or live),
renew, the fencing check, is-its-process-alive, ending the orphans of a dead
run, sweeping dead runs' temp dirs, and closing the record of a rollout that
lost the lock (superseded) or died before finishing its bookkeeping.

One env, one rollout: the lock `env/<env>` names the rollout holding it and
a generation (fencing token) that grows at every take. A runner checks its
generation before every side effect (`check_fence`), so a runner whose lock
was taken over stops before its next change.
"""

from __future__ import annotations

import os
import socket
import time

from fleetctl.adapters import procs
from fleetctl.adapters.state.base import LockHeld, LockInfo, LockLost, StateStore
from fleetctl.core.rollout import events
from fleetctl.core.rollout.record import FINAL, RolloutRecord, Status
from fleetctl.errors import FleetctlError
from fleetctl.services.rollout.journal import Journal
from fleetctl.services.rollout.queries import journal as events_of

TAG = "FLEETCTL_ROLLOUT_ID"  # in the environment of every Ansible run of a rollout
LOCK_TTL_S = 120.0  # renewed while running; a dead process's lock goes stale
PAUSED_LOCK_TTL_S = 7 * 24 * 3600.0  # a paused rollout keeps its env locked
RENEW_EVERY_S = 20.0
# A holder that renewed its lease this recently counts as live: plain --force
# refuses it (--force-live takes it). Three renewals, so one slow one is not "dead".
LIVE_WINDOW_S = 3 * RENEW_EVERY_S
FENCE_POLL_S = 1.0  # a running Ansible batch checks this often that it still holds the lock

ACTIVE: set[str] = set()  # rollouts this process is running right now


def lock_name(env: str) -> str:
    return f"env/{env}"


class LiveHolder(LockHeld):
    """`--force` met a holder that is still renewing its lease."""

    def __init__(self, info: LockInfo, now: float, where: str) -> None:
        super().__init__(info, now)
        self.message = (
            f"{info.name} is held by {info.holder}, which is running{where} and renewed its "
            f"lease {max(0.0, now - info.renewed_at):.0f}s ago: --force takes over only a "
            f"holder that stopped renewing for {LIVE_WINDOW_S:g}s (dead or hung)"
        )
        self.args = (self.message,)
        self.hint = (
            "wait for it, or `fleetctl rollout abort` it; to take it over while it runs use "
            "--force-live (or --force twice): it stops before its next change and is "
            "marked superseded"
        )


# -- liveness -------------------------------------------------------------------------


def alive(rec: RolloutRecord) -> bool:
    """Is the process that last ran this rollout still alive (same machine)?"""
    if rec.hostname != socket.gethostname():
        return True  # cannot tell: assume it is
    if rec.pid == os.getpid():
        return rec.id in ACTIVE
    return procs.pid_alive(rec.pid)


def running(
    rec: RolloutRecord | None, info: LockInfo, now: float, *, renewed_within: float | None = None
) -> bool:
    """Is `rec` being run right now by the process holding `info`: active,
    holding the lock, its process alive, and its lease current (renewed
    within `renewed_within` seconds when given, else not expired)?"""
    if rec is None or not rec.status.active or info.holder != rec.id:
        return False
    if renewed_within is not None:
        current = now - info.renewed_at < renewed_within
    else:
        current = info.expires_at > now
    return current and alive(rec)


def where(rec: RolloutRecord | None) -> str:
    return f" (pid {rec.pid} on {rec.hostname})" if rec else ""


# -- the fence -------------------------------------------------------------------------


def check_fence(store: StateStore, rollout_id: str, env: str, generation: int | None) -> None:
    """The fencing check before every side effect (record write, Ansible
    batch): raise LockLost unless the env lock still has the generation
    this runner took. A superseded holder stops here. No generation: the
    caller is not a holder (e.g. `abort` asking a running rollout to stop)."""
    if generation is None:
        return
    lock = lock_name(env)
    info = store.lock_info(lock)
    if info is None or info.holder != rollout_id or info.generation != generation:
        raise LockLost(lock, rollout_id, generation, info)


# -- a dead run's leftovers ------------------------------------------------------------


def sweep_dead_workdirs() -> list[str]:
    """Remove the temp dirs of fleetctl processes that died (kill -9): release
    snapshots and Ansible private data dirs. Returns the names removed."""
    return procs.sweep_dead_temp_dirs("rollout", "ansible")


_sweep_dead_workdirs = sweep_dead_workdirs  # the name the takeover tests use


def kill_orphans(rec: RolloutRecord) -> list[int]:
    """Ansible runs live in their own sessions: a `kill -9` of fleetctl
    leaves them running. End every process still tagged with the rollout's
    id on this machine (never two runs at once); returns their pids."""
    if rec.hostname != socket.gethostname():
        return []
    orphans = [p for p in procs.with_environ(TAG, rec.id) if p.pid != os.getpid()]
    if not orphans:
        return []
    procs.kill(orphans)
    for _ in range(100):  # bounded: SIGKILL takes effect at once, reaping may lag
        if not any(procs.alive(p) for p in orphans):
            break
        time.sleep(0.05)
    return sorted(p.pid for p in orphans)


# -- the lease of one runner -----------------------------------------------------------


class Lease:
    """The env locks this process holds, one generation per rollout."""

    def __init__(self, store: StateStore, journal: Journal, *, who: str) -> None:
        self.store = store
        self.journal = journal
        self.clock = journal.clock
        self.who = who
        self.gen: dict[str, int] = {}  # rollout id -> the lock generation this process holds
        self._renewed = 0.0
        self._fence_checked = 0.0

    def fence(self, rec: RolloutRecord) -> None:
        check_fence(self.store, rec.id, rec.env, self.gen.get(rec.id))

    def renew(self, rec: RolloutRecord, *, force: bool = False) -> None:
        now = self.clock()
        if force or now - self._renewed >= RENEW_EVERY_S:
            self.store.renew_lock(
                lock_name(rec.env), rec.id, LOCK_TTL_S, generation=self.gen.get(rec.id)
            )
            self._renewed = now

    def lost(self, rec: RolloutRecord) -> bool:
        """For polling callbacks (Ansible's cancel, the bake): renew the lease and
        check the fence about once a second; True once the lock is someone else's."""
        try:
            self.renew(rec)
            now = self.clock()
            if now - self._fence_checked >= FENCE_POLL_S:
                self._fence_checked = now
                self.fence(rec)
        except LockLost:
            return True
        return False

    def hold_paused(self, rec: RolloutRecord) -> None:
        """Keep the env locked (long lease) while a person decides."""
        self.store.renew_lock(
            lock_name(rec.env), rec.id, PAUSED_LOCK_TTL_S, generation=self.gen.get(rec.id)
        )

    def release(self, rec: RolloutRecord) -> None:
        self.fence(rec)
        self.store.release_lock(lock_name(rec.env), rec.id, generation=self.gen.get(rec.id))
        self.store.delete("abort_request", rec.id)
        self.journal.write(rec, events.LockReleased(lock=lock_name(rec.env)), fenced=False)

    # -- taking it -----------------------------------------------------------------------

    def may_take(self, rid: str, env: str, *, force: bool, force_live: bool) -> bool:
        """May `rid` take the env lock now (the rules of `acquire`)? Raises when
        not; True when it must be taken from a holder whose lease still runs."""
        now = self.clock()
        info = self.store.lock_info(lock_name(env))
        if info is None or info.expires_at < now:
            return False
        holder = _record(self.store, info.holder)
        live = running(holder, info, now, renewed_within=LIVE_WINDOW_S)
        if info.holder == rid:
            if live and not force_live:
                raise FleetctlError(
                    f"rollout {rid} is still running{where(holder)}; it renewed its lease "
                    f"{max(0.0, now - info.renewed_at):.0f}s ago",
                    hint="watch it with `fleetctl rollout status --watch`, stop it with "
                    "`fleetctl rollout abort`, or take it over with --force-live (the "
                    "running process stops before its next change)",
                )
            return live
        if holder is not None and holder.status in FINAL and not alive(holder):
            return True  # a leftover: its rollout ended, its process is gone
        if not (force or force_live):
            raise LockHeld(info, now)
        if live and not force_live:
            raise LiveHolder(info, now, where(holder))
        return True

    def acquire(
        self, rid: str, env: str, *, force: bool, force_live: bool
    ) -> tuple[LockInfo, events.LockAcquired | events.LockTakenOver]:
        """Take the env lock for rollout `rid`; returns the lease and the journal
        event that records how (`lock_acquired` or `lock_taken_over`).

        Free or expired: taken. Held by a rollout that already ended (its
        process died before releasing): taken. Held by `rid` itself (a paused
        or crashed run of it): taken unless its process is still running it.
        Held by another rollout: only with force, and if that one is live
        (running and renewed within LIVE_WINDOW_S, process not known dead) only
        with force_live. Whoever loses the lock to another rollout is closed
        as superseded; its Ansible processes on this machine are ended.
        """
        lock = lock_name(env)
        now = self.clock()
        take_held = self.may_take(rid, env, force=force, force_live=force_live)
        taken = self.store.acquire_lock(lock, rid, LOCK_TTL_S, force=take_held)
        self.gen[rid] = taken.generation
        self._renewed = self._fence_checked = self.clock()
        prev = taken.taken_from
        if prev is None or (prev.holder == rid and not take_held):
            return taken, events.LockAcquired(
                lock=lock,
                ttl_s=LOCK_TTL_S,
                previous_generation=prev.generation if prev is not None else None,
                generation=taken.generation,
            )
        expired = prev.expires_at < now
        prev_rec = _record(self.store, prev.holder)
        event = events.LockTakenOver(
            lock=lock,
            previous_holder=prev.holder,
            previous_status=prev_rec.status.value if prev_rec else None,
            previous_generation=prev.generation,
            generation=taken.generation,
            held_for_s=round(now - prev.acquired_at, 1),
            renewed_s_ago=round(now - prev.renewed_at, 1),
            expired=expired,
            forced="live" if force_live and not expired else bool(force and not expired),
            by=self.who,
        )
        if prev_rec is not None and prev.holder != rid:
            kill_orphans(prev_rec)
            self._supersede(prev_rec, rid, event)
        return taken, event

    def _supersede(self, prev: RolloutRecord, rid: str, taken: events.LockTakenOver) -> None:
        """Close the record of a rollout that lost the env lock to `rid`."""
        status = prev.status
        if status in FINAL:  # it had ended; only its bookkeeping was missing
            self.close_out(prev, lock_taken_by=rid)
            return
        how = "its lease had expired" if taken.expired else "forced while it held the lease"
        prev.status = Status.superseded
        prev.superseded_by = rid
        prev.finished_at = self.clock()
        prev.updated_at = self.clock()
        prev.message = (
            f"superseded by {rid}: {self.who} took over the env lock ({how}) while this "
            f"rollout was {status.value}; it will not run again"
        )
        self.store.put("rollout", prev.id, prev.to_dict())
        self.journal.note(
            prev.id,
            events.Superseded(
                by_rollout=rid,
                by=self.who,
                previous_status=status.value,
                expired=taken.expired,
                forced=taken.forced,
                generation=taken.generation,
            ),
        )

    def close_out(self, rec: RolloutRecord, *, lock_taken_by: str | None = None) -> list[str]:
        """Finish the bookkeeping of an ended rollout whose process died before
        it was done (between saving its final status and its last journal
        events): add the missing final events and release its lock. Idempotent."""
        status = rec.status
        journal = [e.TYPE or getattr(e, "type", "") for e in events_of(self.store, rec.id)]
        types = set(journal)
        # released after the lock was last taken (a rollback of a completed
        # rollout takes it again after the first `lock_released`)
        taken_at = max(
            (i for i, t in enumerate(journal) if t in ("lock_acquired", "lock_taken_over")),
            default=-1,
        )
        released = "lock_released" in journal[taken_at + 1 :]
        missing: list[events.Event] = []
        if status is Status.completed and "completed" not in types:
            missing.append(
                events.Completed(release=rec.release_id, hosts=len(rec.touched), recovered=True)
            )
        if status in (Status.rolled_back, Status.rollback_failed):
            if "rollback_proof" not in types and rec.rollback_proof is not None:
                missing.append(proof_event(rec, recovered=True))
            if status.value not in types:
                cls = events.RolledBack if status is Status.rolled_back else events.RollbackFailed
                missing.append(cls(message=rec.message, recovered=True))
        if status is Status.failed and "rollback_impossible" not in types:
            missing.append(events.RollbackImpossible(reason=rec.message, recovered=True))
        lock = lock_name(rec.env)
        info = self.store.lock_info(lock)
        if info is not None and info.holder == rec.id:
            self.store.release_lock(lock, rec.id, generation=info.generation)
        self.store.delete("abort_request", rec.id)
        if not released:
            missing.append(
                events.LockReleased(lock=lock, taken_over_by=lock_taken_by, recovered=True)
            )
        for ev in missing:
            self.journal.write(rec, ev, fenced=False)
        return [ev.TYPE for ev in missing]


def proof_event(rec: RolloutRecord, *, recovered: bool = False) -> events.RollbackProofEvent:
    assert rec.rollback_proof is not None
    return events.RollbackProofEvent(**rec.rollback_proof.to_dict(), recovered=recovered)


def _record(store: StateStore, rollout_id: str) -> RolloutRecord | None:
    doc = store.get("rollout", rollout_id)
    return RolloutRecord.from_dict(doc) if doc is not None else None
