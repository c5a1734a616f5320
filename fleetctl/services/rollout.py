"""The rollout engine: canary, waves, bake, gates, limits, pause, abort, rollback.

Everything that happens is written to the journal (the state store's event
log of the rollout) before and after it happens, and the rollout document
(`rollout/<id>`) always says where to continue. So after a crash or `kill -9`,
`resume` starts again at the first unfinished step; finished steps are never
re-run (the interrupted batch is, which is safe: playbooks are idempotent).

The rollout applies its release from the release snapshot, never from the
working tree, and a rollback applies the last known-good snapshot.

Ansible and the probes are reached through two small callables (`Executor`,
`Prober`) so the engine is the same code whatever runs the hosts.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from fleetctl.adapters.state.base import LockHeld, LockInfo, LockLost, StateStore
from fleetctl.core.gates import (
    GateResult,
    PromReading,
    Sample,
    Verdict,
    canary_analysis,
    combine,
    http_gate,
    prometheus_gate,
)
from fleetctl.core.planner import Host, Plan, PlanError, Step, make_plan
from fleetctl.core.policy import Policy
from fleetctl.errors import BadInput, FleetctlError, JobFailed
from fleetctl.services import drain as drain_service
from fleetctl.services import freeze as freeze_service
from fleetctl.services import release as release_service
from fleetctl.services import secrets as secrets_service
from fleetctl.services import video_gates
from fleetctl.services.release import Release
from fleetctl.services.secrets import SecretVar

TAG = "FLEETCTL_ROLLOUT_ID"  # in the environment of every Ansible run of a rollout
LOCK_TTL_S = 120.0  # renewed while running; a dead process's lock goes stale
PAUSED_LOCK_TTL_S = 7 * 24 * 3600.0  # a paused rollout keeps its env locked
_RENEW_EVERY_S = 20.0
# A holder that renewed its lease this recently counts as live: plain --force
# refuses it (--force-live takes it). Three renewals, so one slow one is not "dead".
LIVE_WINDOW_S = 3 * _RENEW_EVERY_S
_FENCE_POLL_S = 1.0  # a running Ansible batch checks this often that it still holds the lock


class Status(StrEnum):
    running = "running"
    paused = "paused"
    completed = "completed"
    rolling_back = "rolling_back"
    rolled_back = "rolled_back"  # failed, rolled back, rollback proven
    rollback_failed = "rollback_failed"  # the proof did not hold: needs a person
    failed = "failed"  # failed and could not roll back (no last known-good)
    superseded = "superseded"  # another rollout took the env lock over; never runs again


FINAL = {
    Status.completed,
    Status.rolled_back,
    Status.rollback_failed,
    Status.failed,
    Status.superseded,
}


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


class RolloutPaused(FleetctlError):
    """The rollout stopped and waits for `promote`, `resume` or `abort`."""

    exit_code = 1


# -- the outside world ---------------------------------------------------------------


class Executor(Protocol):
    """Runs a playbook on some hosts; returns a PlaybookResult-like object
    (`.status`, `.hosts[name].state/.changed`, `.error`, `.duration_s`)."""

    def __call__(
        self,
        playbook: Path,
        inventory: Path,
        *,
        limit: Sequence[str],
        check: bool,
        diff: bool,
        extravars: dict[str, Any],
        timeout_s: float | None,
        cancel: Callable[[], bool] | None,
        env: dict[str, str] | None = None,
    ) -> Any: ...


class Prober(Protocol):
    """Samples the HTTP gate paths on `changed` and `baseline` hosts together."""

    def __call__(
        self, changed: Sequence[Host], baseline: Sequence[Host], policy: Policy
    ) -> tuple[list[Sample], list[Sample]]: ...


def ansible_executor(
    playbook: Path,
    inventory: Path,
    *,
    limit: Sequence[str],
    check: bool,
    diff: bool,
    extravars: dict[str, Any],
    timeout_s: float | None,
    cancel: Callable[[], bool] | None,
    env: dict[str, str] | None = None,
) -> Any:
    from fleetctl.adapters.ansible import run_playbook

    return run_playbook(
        playbook,
        inventory,
        limit=",".join(limit),
        check=check,
        diff=diff,
        extravars=extravars,
        timeout_s=timeout_s,
        cancel=cancel,
        env=env,
    )


def http_prober(
    changed: Sequence[Host], baseline: Sequence[Host], policy: Policy
) -> tuple[list[Sample], list[Sample]]:
    from fleetctl.adapters.http_sampler import Target, sample

    cfg = policy.gates.http

    def target(h: Host) -> Target:
        return Target(h.name, f"http://{h.address or h.name}:{h.port or cfg.port}")

    names = {h.name for h in changed}
    readings = sample(
        [target(h) for h in [*changed, *baseline]],
        cfg.paths,
        samples=cfg.samples,
        warmup=cfg.warmup,
        timeout_s=cfg.timeout_s,
        concurrency=cfg.concurrency,
        expect_status=cfg.expect_status,
    )
    samples = [Sample(r.host, r.path, r.latency_ms, r.status, r.error, r.at) for r in readings]
    return [s for s in samples if s.host in names], [s for s in samples if s.host not in names]


# -- targets and plans ----------------------------------------------------------------


def resolve_playbook(root: Path, playbook: str) -> Path:
    """`edge.yml`, `playbooks/edge.yml` or a path: must live under playbooks/."""
    candidates = [Path(playbook), root / playbook, root / "playbooks" / playbook]
    for c in candidates:
        if c.is_file():
            path = c.resolve()
            try:
                path.relative_to((root / "playbooks").resolve())
            except ValueError:
                raise BadInput(
                    f"{playbook} is not under {root / 'playbooks'}",
                    hint="a release snapshots playbooks/; keep the playbook there",
                ) from None
            return path
    raise BadInput(f"no playbook {playbook!r} in {root / 'playbooks'}")


def hosts_from_vars(hostvars: dict[str, dict[str, Any]], policy: Policy) -> list[Host]:
    port_var = policy.gates.http.port_var
    hosts = []
    for name, v in hostvars.items():
        port = v.get(port_var) if port_var else None
        hosts.append(
            Host(
                name=name,
                region=str(v.get("region", "default")),
                role=str(v.get("fleet_role", v.get("role", ""))),
                traffic_weight=float(v.get("traffic_weight", 0.0) or 0.0),
                address=str(v.get("ansible_host", "")),
                port=int(port) if isinstance(port, int | str) and str(port).isdigit() else None,
            )
        )
    return hosts


def plan_for(
    root: Path,
    env: str,
    playbook: str,
    policy: Policy,
    exclude: frozenset[str] = frozenset(),
) -> tuple[Path, Plan]:
    """Resolve the playbook and its target hosts in `inventories/<env>/`, and plan.

    Hosts in `exclude` (drained ones) are left out: a drained host answers 503
    on /healthz, which would fail the gates, and is not serving viewers anyway.
    """
    from fleetctl.adapters.ansible_hosts import target_hosts

    path = resolve_playbook(root, playbook)
    inventory = root / "inventories" / env
    sources = (
        [p for p in inventory.iterdir() if not p.name.endswith(".md") and p.name[0] != "."]
        if inventory.is_dir()
        else [inventory]
        if inventory.exists()
        else []
    )
    if not sources:
        raise BadInput(
            f"no inventory for env {env!r} ({inventory})",
            hint="for the lab run `fleetctl lab up` first (rollouts use the lab at its "
            "default place, which writes inventories/lab/hosts.yml)",
        )
    hostvars = {h: v for h, v in target_hosts(inventory, path).items() if h not in exclude}
    try:
        return path, make_plan(hosts_from_vars(hostvars, policy), policy)
    except PlanError as exc:
        raise BadInput(f"cannot plan {playbook} on {env}: {exc}") from None


# -- the journal ---------------------------------------------------------------------


def new_id() -> str:
    return f"r-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def group_of(env: str, playbook: Path | str) -> str:
    return f"{env}/{Path(playbook).name}"


def lock_name(env: str) -> str:
    return f"env/{env}"


@dataclass
class Outcome:
    id: str
    status: Status
    message: str
    doc: dict[str, Any] = field(default_factory=dict)


def load(store: StateStore, rollout_id: str) -> dict[str, Any]:
    doc = store.get("rollout", rollout_id)
    if doc is None:
        ids = [d["id"] for d in store.list("rollout") if str(d["id"]).startswith(rollout_id)]
        if len(ids) == 1:
            doc = store.get("rollout", ids[0])
        elif len(ids) > 1:
            raise BadInput(
                f"{rollout_id!r} matches {len(ids)} rollouts", hint=f"one of: {', '.join(ids)}"
            )
    if doc is None:
        raise BadInput(f"no rollout {rollout_id!r}", hint="`fleetctl rollout list` shows them")
    return doc


def plan_of(store: StateStore, doc: dict[str, Any]) -> dict[str, Any]:
    """The stored plan (steps and hosts) of a rollout."""
    plan = store.get("rollout_plan", doc["id"])
    if plan is None:
        raise FleetctlError(f"the plan of rollout {doc['id']} is missing from the state store")
    return plan


def latest(store: StateStore, env: str | None = None) -> dict[str, Any] | None:
    docs = [d for d in store.list("rollout") if env is None or d.get("env") == env]
    return max(docs, key=lambda d: d.get("created_at", 0), default=None)


def last_known_good(store: StateStore, group: str) -> dict[str, Any] | None:
    return store.get("lkg", group)


_ACTIVE: set[str] = set()  # rollouts this process is running right now


def _alive(doc: dict[str, Any]) -> bool:
    """Is the process that last ran this rollout still alive (same machine)?"""
    if doc.get("hostname") != socket.gethostname():
        return True  # cannot tell: assume it is
    pid = int(doc.get("pid") or 0)
    if pid == os.getpid():
        return doc["id"] in _ACTIVE
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed child not yet reaped) is not running anything
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _sweep_dead_workdirs() -> list[str]:
    """Remove the temp dirs of fleetctl processes that died (kill -9): release
    snapshots and Ansible private data dirs. Returns the names removed."""
    from fleetctl.adapters import procs

    return procs.sweep_dead_temp_dirs("rollout", "ansible")


class Engine:
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
    ) -> None:
        self.store = store
        # `--secret-var` values of this command: in memory only, never stored
        self.secrets = {s.name: s for s in secrets}
        self.root = root
        self.executor: Executor = executor or ansible_executor
        self.prober: Prober = prober or http_prober
        self.sleep = sleep
        self.clock = clock
        self.on_event = on_event
        self.notify = notify  # (rollout doc, event) after each journaled event; never raises
        self.who = who or freeze_service.who()
        self._renewed = 0.0
        self._fence_checked = 0.0
        self._gen: dict[str, int] = {}  # rollout id -> the lock generation this process holds
        self._tmp: Path | None = None
        self._plans: dict[str, Plan] = {}

    # -- bookkeeping -----------------------------------------------------------------

    def _scrub(self, value: Any) -> Any:
        """What Ansible said back may quote a secret var: never journal or print it."""
        return secrets_service.scrub(value, (s.value for s in self.secrets.values()))

    def _event(self, doc: dict[str, Any], type_: str, *, fenced: bool = True, **data: Any) -> None:
        if fenced:
            self._fence(doc)
        ev = self._scrub({"type": type_, "at": self.clock(), **data})
        self.store.append_event(doc["id"], ev)
        if self.on_event is not None:
            self.on_event(ev)
        if self.notify is not None:
            self.notify(doc, ev)

    def _save(self, doc: dict[str, Any]) -> None:
        self._fence(doc)
        doc["updated_at"] = self.clock()
        self.store.put("rollout", doc["id"], self._scrub(doc))

    def _fence(self, doc: dict[str, Any]) -> None:
        """The fencing check before every side effect (record write, Ansible
        batch): raise LockLost unless the env lock still has the generation
        this process took. A superseded holder stops here."""
        gen = self._gen.get(doc["id"])
        if gen is None:
            return  # not a holder (e.g. `abort` asking a running rollout to stop)
        lock = lock_name(doc["env"])
        info = self.store.lock_info(lock)
        if info is None or info.holder != doc["id"] or info.generation != gen:
            raise LockLost(lock, doc["id"], gen, info)

    def _renew(self, doc: dict[str, Any], *, force: bool = False) -> None:
        now = self.clock()
        if force or now - self._renewed >= _RENEW_EVERY_S:
            self.store.renew_lock(
                lock_name(doc["env"]), doc["id"], LOCK_TTL_S, generation=self._gen.get(doc["id"])
            )
            self._renewed = now

    def _lost(self, doc: dict[str, Any]) -> bool:
        """For polling callbacks (Ansible's cancel, the bake): renew the lease and
        check the fence about once a second; True once the lock is someone else's."""
        try:
            self._renew(doc)
            now = self.clock()
            if now - self._fence_checked >= _FENCE_POLL_S:
                self._fence_checked = now
                self._fence(doc)
        except LockLost:
            return True
        return False

    def _plan(self, doc: dict[str, Any]) -> Plan:
        if doc["id"] not in self._plans:
            self._plans[doc["id"]] = Plan.from_dict(plan_of(self.store, doc))
        return self._plans[doc["id"]]

    def _abort_requested(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        return self.store.get("abort_request", doc["id"])

    def _workdir(self) -> Path:
        if self._tmp is None:
            _sweep_dead_workdirs()
            from fleetctl.adapters import procs

            self._tmp = procs.private_temp_dir("rollout")
        return self._tmp

    def _cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _restore(self, release: Release) -> release_service.Restored:
        dest = self._workdir() / release.id
        if (dest / release_service.MANIFEST).exists():
            import json

            manifest = json.loads((dest / release_service.MANIFEST).read_text())
            return release_service.Restored(
                dest,
                dest / "playbooks",
                dest / "inventories" / release.env,
                dict(manifest.get("extravars", {})),
            )
        return release_service.restore(self.store, release, dest)

    def _secret_values(self, release: Release, *, same: bool) -> dict[str, str]:
        """The secret vars `release` was made with, from this command's --secret-var."""
        return secrets_service.values_for(
            self.root, release.secret_vars, self.secrets, what=f"release {release.id}", same=same
        )

    def _check_secrets(self, doc: dict[str, Any], *, forward: bool) -> None:
        """Before taking a rollout over: are the secret vars its releases need given?
        (`forward`: its own release runs again; a rollback needs the last known-good's.)"""
        if forward:
            self._secret_values(release_service.get(self.store, doc["release"]), same=True)
        if doc.get("rollback_to"):
            self._secret_values(release_service.get(self.store, doc["rollback_to"]), same=False)

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
        lkg_before = last_known_good(self.store, group_of(env, path))
        if lkg_before is not None:  # a rollback would need its secret vars too
            self._secret_values(release_service.get(self.store, lkg_before["release"]), same=False)
        rid = new_id()
        _sweep_dead_workdirs()
        # Fail fast on the lock before asking anyone to confirm; it is taken
        # (by the same rules) only after, right before the rollout's record is
        # written, so a kill -9 in between leaves no lock without a record.
        self._may_take(rid, env, force=force, force_live=force_live)
        rel = release_service.snapshot(
            self.store,
            self.root,
            env,
            extravars=extravars,
            secret_vars=secrets_service.fingerprints(self.root, self.secrets.values()),
        )
        if confirm is not None and not confirm(plan, rel):
            raise BadInput("rollout not started (not confirmed)")
        taken, lock_event = self._acquire(rid, env, force=force, force_live=force_live)
        group = group_of(env, path)
        lkg = last_known_good(self.store, group)
        now = self.clock()
        doc: dict[str, Any] = {
            "id": rid,
            "env": env,
            "playbook": path.relative_to((self.root / "playbooks").resolve()).as_posix(),
            "group": group,
            "release": rel.hash,
            "release_id": rel.id,
            "git_sha": rel.git_sha,
            "rollback_to": lkg["release"] if lkg else None,
            "rollback_to_id": lkg["release_id"] if lkg else None,
            "policy": policy.model_dump(mode="json"),
            "policy_file": policy_file,
            "plan_digest": plan.digest(),
            "plan_steps": len(plan.steps),
            "status": Status.running.value,
            "next_step": 0,
            "pause": None,
            "touched": [],
            "failed_hosts": [],
            "unreachable_hosts": [],
            "created_at": now,
            "updated_at": now,
            "finished_at": None,
            "by": self.who,
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "lock_generation": taken.generation,
            "message": "",
        }
        # The plan (large for a big fleet) is stored once, beside the small
        # rollout document that is rewritten at every step.
        self.store.put("rollout_plan", rid, plan.to_dict())
        self._plans[rid] = plan
        # The document next: a crash right after this leaves a resumable rollout.
        self._save(doc)
        self._event(
            doc,
            "created",
            env=env,
            playbook=doc["playbook"],
            release=rel.id,
            git_sha=rel.git_sha,
            git_dirty=rel.git_dirty,
            extravars=rel.extravars,
            secret_vars=rel.secret_vars,
            steps=len(plan.steps),
            hosts=plan.host_count,
            plan_digest=plan.digest(),
            policy_file=policy_file,
            rollback_to=doc["rollback_to_id"],
            by=self.who,
            skipped_drained=sorted(drained),
        )
        self._event(doc, lock_event.pop("type"), **lock_event)
        return self._run(doc)

    # -- the env lock ------------------------------------------------------------------

    def _acquire(
        self, rid: str, env: str, *, force: bool, force_live: bool
    ) -> tuple[LockInfo, dict[str, Any]]:
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
        take_held = self._may_take(rid, env, force=force, force_live=force_live)
        taken = self.store.acquire_lock(lock, rid, LOCK_TTL_S, force=take_held)
        self._gen[rid] = taken.generation
        self._renewed = self._fence_checked = self.clock()
        prev = taken.taken_from
        if prev is None or (prev.holder == rid and not take_held):
            event: dict[str, Any] = {"type": "lock_acquired", "lock": lock, "ttl_s": LOCK_TTL_S}
            if prev is not None:
                event["previous_generation"] = prev.generation
            event["generation"] = taken.generation
            return taken, event
        expired = prev.expires_at < now
        prev_doc = self.store.get("rollout", prev.holder)
        event = {
            "type": "lock_taken_over",
            "lock": lock,
            "previous_holder": prev.holder,
            "previous_status": prev_doc["status"] if prev_doc else None,
            "previous_generation": prev.generation,
            "generation": taken.generation,
            "held_for_s": round(now - prev.acquired_at, 1),
            "renewed_s_ago": round(now - prev.renewed_at, 1),
            "expired": expired,
            "forced": "live" if force_live and not expired else bool(force and not expired),
            "by": self.who,
        }
        if prev_doc is not None and prev.holder != rid:
            self._kill_orphans(prev_doc, journal=False)
            self._supersede(prev_doc, rid, event)
        return taken, event

    def _may_take(self, rid: str, env: str, *, force: bool, force_live: bool) -> bool:
        """May `rid` take the env lock now (the rules of `_acquire`)? Raises when
        not; True when it must be taken from a holder whose lease still runs."""
        now = self.clock()
        info = self.store.lock_info(lock_name(env))
        if info is None or info.expires_at < now:
            return False
        holder = self.store.get("rollout", info.holder)
        status = Status(holder["status"]) if holder else None
        dead = holder is not None and not _alive(holder)
        live = (
            status in (Status.running, Status.rolling_back)
            and not dead
            and now - info.renewed_at < LIVE_WINDOW_S
        )
        where = f" (pid {holder.get('pid')} on {holder.get('hostname')})" if holder else ""
        if info.holder == rid:
            if live and not force_live:
                raise FleetctlError(
                    f"rollout {rid} is still running{where}; it renewed its lease "
                    f"{max(0.0, now - info.renewed_at):.0f}s ago",
                    hint="watch it with `fleetctl rollout status --watch`, stop it with "
                    "`fleetctl rollout abort`, or take it over with --force-live (the "
                    "running process stops before its next change)",
                )
            take_held = live
        elif status in FINAL and dead:
            take_held = True  # a leftover: its rollout ended, its process is gone
        elif not (force or force_live):
            raise LockHeld(info, now)
        elif live and not force_live:
            raise LiveHolder(info, now, where)
        else:
            take_held = True
        return take_held

    def _supersede(self, prev: dict[str, Any], rid: str, taken: dict[str, Any]) -> None:
        """Close the record of a rollout that lost the env lock to `rid`."""
        status = Status(prev["status"])
        if status in FINAL:  # it had ended; only its bookkeeping was missing
            self._close_out(prev, lock_taken_by=rid)
            return
        how = "its lease had expired" if taken["expired"] else "forced while it held the lease"
        prev["status"] = Status.superseded.value
        prev["superseded_by"] = rid
        prev["finished_at"] = self.clock()
        prev["updated_at"] = self.clock()
        prev["message"] = (
            f"superseded by {rid}: {self.who} took over the env lock ({how}) while this "
            f"rollout was {status.value}; it will not run again"
        )
        self.store.put("rollout", prev["id"], prev)
        self.store.append_event(
            prev["id"],
            {
                "type": "superseded",
                "at": self.clock(),
                "by_rollout": rid,
                "by": self.who,
                "previous_status": status.value,
                "expired": taken["expired"],
                "forced": taken["forced"],
                "generation": taken["generation"],
            },
        )

    def _close_out(self, doc: dict[str, Any], *, lock_taken_by: str | None = None) -> list[str]:
        """Finish the bookkeeping of an ended rollout whose process died before
        it was done (between saving its final status and its last journal
        events): add the missing final events and release its lock. Idempotent."""
        status = Status(doc["status"])
        journal = [str(e.get("type")) for e in self.store.events(doc["id"])]
        types = set(journal)
        # released after the lock was last taken (a rollback of a completed
        # rollout takes it again after the first `lock_released`)
        taken_at = max(
            (i for i, t in enumerate(journal) if t in ("lock_acquired", "lock_taken_over")),
            default=-1,
        )
        released = "lock_released" in journal[taken_at + 1 :]
        missing: list[dict[str, Any]] = []
        if status is Status.completed and "completed" not in types:
            missing.append(
                {
                    "type": "completed",
                    "release": doc["release_id"],
                    "hosts": len(doc["touched"]),
                    "last_known_good": True,
                }
            )
        if status in (Status.rolled_back, Status.rollback_failed):
            if "rollback_proof" not in types and doc.get("rollback_proof") is not None:
                missing.append({"type": "rollback_proof", **doc["rollback_proof"]})
            if status.value not in types:
                missing.append({"type": status.value, "message": doc.get("message", "")})
        if status is Status.failed and "rollback_impossible" not in types:
            missing.append({"type": "rollback_impossible", "reason": doc.get("message", "")})
        lock = lock_name(doc["env"])
        info = self.store.lock_info(lock)
        if info is not None and info.holder == doc["id"]:
            self.store.release_lock(lock, doc["id"], generation=info.generation)
        self.store.delete("abort_request", doc["id"])
        if not released:
            ev: dict[str, Any] = {"type": "lock_released", "lock": lock}
            if lock_taken_by is not None:
                ev["taken_over_by"] = lock_taken_by
            missing.append(ev)
        added = [str(ev.pop("type")) for ev in missing]
        for type_, ev in zip(added, missing, strict=True):
            self._event(doc, type_, fenced=False, recovered=True, **ev)
        return added

    # -- resume / promote / abort ------------------------------------------------------

    def _take_over(
        self, doc: dict[str, Any], *, force: bool = False, force_live: bool = False
    ) -> None:
        """Become the process running `doc` (after a crash, a pause, a promote)."""
        status = Status(doc["status"])
        if status is Status.superseded:
            raise _superseded_error(doc)
        if status in FINAL:
            raise BadInput(f"rollout {doc['id']} is already {status.value}")
        _taken, event = self._acquire(doc["id"], doc["env"], force=force, force_live=force_live)
        self._kill_orphans(doc)
        _sweep_dead_workdirs()
        doc["pid"] = os.getpid()
        doc["hostname"] = socket.gethostname()
        doc["lock_generation"] = self._gen[doc["id"]]
        self._event(doc, event.pop("type"), **event)

    def _kill_orphans(self, doc: dict[str, Any], *, journal: bool = True) -> None:
        """Ansible runs live in their own sessions: a `kill -9` of fleetctl
        leaves them running. Before taking a rollout (or its lock) over, end
        every process still tagged with its id on this machine (never two runs
        at once)."""
        from fleetctl.adapters import procs

        if doc.get("hostname") != socket.gethostname():
            return
        orphans = [p for p in procs.with_environ(TAG, doc["id"]) if p.pid != os.getpid()]
        if not orphans:
            return
        procs.kill(orphans)
        for _ in range(100):  # bounded: SIGKILL takes effect at once, reaping may lag
            if not any(procs.alive(p) for p in orphans):
                break
            time.sleep(0.05)
        if journal:
            self._event(
                doc,
                "orphans_killed",
                pids=sorted(p.pid for p in orphans),
                why="Ansible processes of the dead run were still running",
            )

    def resume(self, rollout_id: str, *, force: bool = False, force_live: bool = False) -> Outcome:
        doc = load(self.store, rollout_id)
        status = Status(doc["status"])
        if status is Status.superseded:
            raise _superseded_error(doc)
        if status in FINAL:
            return self._resume_ended(doc)
        self._check_secrets(doc, forward=doc["status"] != Status.rolling_back.value)
        self._take_over(doc, force=force, force_live=force_live)
        was = doc["status"]
        self._event(
            doc,
            "resumed",
            previous_status=was,
            next_step=doc["next_step"],
            pause=doc.get("pause"),
            by=self.who,
        )
        self._recover_finished_steps(doc)
        if was == Status.rolling_back.value:
            return self._guarded(
                doc, lambda: self._rollback(doc, reason=doc.get("message") or "resumed rollback")
            )
        doc["status"] = Status.running.value
        doc["pause"] = None
        self._save(doc)
        return self._run(doc)

    def _recover_finished_steps(self, doc: dict[str, Any]) -> None:
        """A kill -9 between saving a step as finished and journaling it leaves
        the step done (it is not re-run) but unjournaled: add the event."""
        journaled = {
            e.get("step") for e in self.store.events(doc["id"]) if e.get("type") == "step_finished"
        }
        plan = self._plan(doc)
        for i in range(min(doc["next_step"], len(plan.steps))):
            if i not in journaled:
                step = plan.steps[i]
                self._event(
                    doc, "step_finished", step=i, label=step.label, promoted=False, recovered=True
                )

    def _resume_ended(self, doc: dict[str, Any]) -> Outcome:
        """`resume` of a rollout that already ended (a CI retry after a kill -9
        at its very end): finish its bookkeeping, sweep the dead run's temp
        dirs and answer with its final outcome (exit 0 when completed)."""
        status = Status(doc["status"])
        info = self.store.lock_info(lock_name(doc["env"]))
        finishing = info is not None and info.holder == doc["id"] and _alive(doc)
        added: list[str] = []
        if not finishing:  # else its own process is still closing it: leave it be
            self._kill_orphans(doc, journal=False)
            swept = _sweep_dead_workdirs()
            added = self._close_out(doc)
            if added or swept:
                self.store.append_event(
                    doc["id"],
                    {
                        "type": "bookkeeping_finished",
                        "at": self.clock(),
                        "added": added,
                        "swept_dirs": swept,
                        "by": self.who,
                    },
                )
        note = f"; finished its bookkeeping ({', '.join(added)})" if added else ""
        return Outcome(
            doc["id"], status, f"already {status.value}: {doc.get('message', '')}{note}", doc
        )

    def promote(self, rollout_id: str, reason: str) -> Outcome:
        doc = load(self.store, rollout_id)
        pause = doc.get("pause")
        if doc["status"] != Status.paused.value or not pause:
            raise BadInput(
                f"rollout {doc['id']} is {doc['status']}, not paused: nothing to promote"
            )
        if pause["kind"] in ("freeze", "window"):
            raise BadInput(
                f"rollout {doc['id']} waits for the {pause['kind']}, not for an approval",
                hint="`fleetctl rollout resume` it when the freeze ends / inside the window",
            )
        self._check_secrets(doc, forward=True)
        self._take_over(doc)
        step = self._plan(doc).steps[pause["step"]].to_dict()
        self._event(
            doc,
            "promoted",
            step=pause["step"],
            label=step["label"],
            pause_kind=pause["kind"],
            pause_reason=pause["reason"],
            by=self.who,
            reason=reason,
        )
        if pause["kind"] == "unreachable":
            # Go on without them: they no longer count against the limit. The
            # step runs again (idempotent) so its gates still judge the others.
            doc["accepted_unreachable"] = sorted(doc["unreachable_hosts"])
        else:
            self._finish_step(doc, Step.from_dict(step), promoted=True)
        doc["status"] = Status.running.value
        doc["pause"] = None
        self._save(doc)
        return self._run(doc)

    def abort(self, rollout_id: str, reason: str) -> Outcome:
        doc = load(self.store, rollout_id)
        status = Status(doc["status"])
        if status in FINAL:
            raise BadInput(f"rollout {doc['id']} is already {status.value}")
        info = self.store.lock_info(lock_name(doc["env"]))
        running_elsewhere = (
            status in (Status.running, Status.rolling_back)
            and info is not None
            and info.holder == doc["id"]
            and info.expires_at > self.clock()
            and _alive(doc)
        )
        if not running_elsewhere:  # this process rolls back: it needs the secret vars
            self._check_secrets(doc, forward=False)
        request = {"by": self.who, "reason": reason, "at": self.clock()}
        self.store.put("abort_request", doc["id"], request)
        self.store.append_event(doc["id"], {"type": "abort_requested", **request})
        if running_elsewhere:
            return Outcome(
                doc["id"],
                status,
                f"abort requested; pid {doc.get('pid')} stops after its current batch "
                "and rolls back",
                doc,
            )
        self._take_over(doc)
        return self._guarded(
            doc, lambda: self._rollback(doc, reason=f"aborted by {self.who}: {reason}")
        )

    def rollback(self, rollout_id: str, reason: str) -> Outcome:
        """Roll back a rollout: paused, crashed, or completed (to the release before it)."""
        doc = load(self.store, rollout_id)
        status = Status(doc["status"])
        if status is Status.superseded:
            raise _superseded_error(doc)
        if status in (Status.rolled_back, Status.failed):
            raise BadInput(f"rollout {doc['id']} is already {status.value}")
        if status is Status.completed or status is Status.rollback_failed:
            doc["status"] = Status.paused.value  # let _take_over accept it
        self._check_secrets(doc, forward=False)
        self._take_over(doc)
        return self._guarded(
            doc, lambda: self._rollback(doc, reason=f"rollback by {self.who}: {reason}")
        )

    # -- the loop --------------------------------------------------------------------

    def _run(self, doc: dict[str, Any]) -> Outcome:
        return self._guarded(doc, lambda: self._loop(doc))

    def _guarded(self, doc: dict[str, Any], body: Callable[[], Outcome]) -> Outcome:
        """Run `body` as the live runner of `doc`; always remove temp snapshots.
        A run that lost the env lock (fencing) ends here, having changed nothing
        since: superseded by another rollout, or taken over by another process."""
        _ACTIVE.add(doc["id"])
        try:
            out = body()
            return Outcome(out.id, out.status, self._scrub(out.message), self._scrub(out.doc))
        except LockLost as lost:
            # Who took over: the record (closed by the taker) says so even when
            # the taker has already finished and released the lock.
            stored = self.store.get("rollout", doc["id"]) or {}
            by = stored.get("superseded_by") if stored.get("status") == "superseded" else None
            if by is None and lost.info is not None and lost.info.holder != doc["id"]:
                by = lost.info.holder
            if by is not None:
                return Outcome(
                    doc["id"],
                    Status.superseded,
                    f"superseded by {by}, which took over {lock_name(doc['env'])} (this process "
                    f"held lock generation {lost.lost_generation}); this process stopped before "
                    "its next change",
                    stored or doc,
                )
            raise FleetctlError(
                f"rollout {doc['id']} was taken over by another process ({lost.message}); "
                "this process stopped before its next change",
                hint=f"fleetctl rollout status {doc['id']}",
            ) from None
        finally:
            _ACTIVE.discard(doc["id"])
            self._cleanup()

    def _keepalive(self, doc: dict[str, Any], fn: Callable[[], Any]) -> Any:
        """Run a long call (probing) in a worker thread while this thread keeps
        renewing the env lock, so a slow gate never lets the lease lapse."""
        from concurrent.futures import ThreadPoolExecutor
        from concurrent.futures import TimeoutError as Pending

        with ThreadPoolExecutor(max_workers=1) as pool:
            fut = pool.submit(fn)
            while True:
                try:
                    return fut.result(timeout=1.0)
                except Pending:
                    self._renew(doc)

    def _loop(self, doc: dict[str, Any]) -> Outcome:
        policy = Policy.model_validate(doc["policy"])
        plan = self._plan(doc)
        rel = release_service.get(self.store, doc["release"])
        restored = self._restore(rel)
        playbook = restored.playbooks_dir / doc["playbook"]
        extravars = {
            **restored.extravars,
            **self._secret_values(rel, same=True),
            "fleet_release": rel.id,
        }
        while doc["next_step"] < len(plan.steps):
            step = plan.steps[doc["next_step"]]
            self._renew(doc, force=True)
            abort = self._abort_requested(doc)
            if abort is not None:
                return self._rollback(doc, reason=f"aborted by {abort['by']}: {abort['reason']}")
            frozen = freeze_service.current(self.store, doc["env"])
            if frozen is not None:
                return self._pause(
                    doc, step, "freeze", f"env frozen by {frozen.by}: {frozen.reason}"
                )
            closed = policy.window_closed(step.region, datetime.fromtimestamp(self.clock(), UTC))
            if closed is not None:
                return self._pause(doc, step, "window", closed)
            verdict = self._step(
                doc, policy, plan, step, playbook, restored.inventory_dir, extravars
            )
            if verdict is not None:
                return verdict
        return self._complete(doc, rel)

    def _step(
        self,
        doc: dict[str, Any],
        policy: Policy,
        plan: Plan,
        step: Step,
        playbook: Path,
        inventory: Path,
        extravars: dict[str, Any],
    ) -> Outcome | None:
        """Apply, bake and judge one step; returns an Outcome when the loop must stop."""
        self._event(
            doc,
            "step_started",
            step=step.index,
            label=step.label,
            region=step.region,
            hosts=list(step.hosts),
        )
        started = self.clock()
        deadline = started + step.deadline_s

        def cancel() -> bool:
            return self._lost(doc) or self.clock() > deadline

        self._fence(doc)
        result = self.executor(
            playbook,
            inventory,
            limit=step.hosts,
            check=False,
            diff=False,
            extravars=extravars,
            timeout_s=step.deadline_s,
            cancel=cancel,
            env={TAG: doc["id"]},
        )
        outcomes = {h: o.to_dict() for h, o in sorted(result.hosts.items())}
        failed = sorted(h for h in step.hosts if outcomes.get(h, {}).get("state") == "failed")
        unreachable = sorted(
            h for h in step.hosts if outcomes.get(h, {}).get("state") == "unreachable"
        )
        missing = sorted(h for h in step.hosts if h not in outcomes)
        touched = [h for h in step.hosts if h not in unreachable]
        fine = {h for h in step.hosts if outcomes.get(h, {}).get("state") in ("ok", "changed")}
        doc["touched"] = sorted(set(doc["touched"]) | set(touched))
        # Limits count distinct hosts over the whole rollout; a host that was
        # unreachable (or failed) and is fine on a re-run no longer counts.
        doc["failed_hosts"] = sorted((set(doc["failed_hosts"]) - fine) | set(failed))
        doc["unreachable_hosts"] = sorted((set(doc["unreachable_hosts"]) - fine) | set(unreachable))
        self._save(doc)
        status = str(result.status)
        self._event(
            doc,
            "step_applied",
            step=step.index,
            label=step.label,
            status=status,
            error=getattr(result, "error", ""),
            duration_s=round(float(getattr(result, "duration_s", 0.0)), 2),
            hosts=outcomes,
            failed=failed,
            unreachable=unreachable,
            total_failed=len(doc["failed_hosts"]),
            max_failed_hosts=policy.max_failed_hosts,
            total_unreachable=len(doc["unreachable_hosts"]),
            max_unreachable_hosts=policy.max_unreachable_hosts,
        )
        if status in ("timeout", "canceled") or self.clock() > deadline:
            return self._fail(
                doc, step, f"progress deadline of {step.deadline_s:g}s passed during {step.label}"
            )
        if status == "error":
            return self._fail(
                doc, step, f"Ansible could not run: {getattr(result, 'error', '') or 'error'}"
            )
        if len(doc["failed_hosts"]) > policy.max_failed_hosts:
            return self._fail(
                doc,
                step,
                f"{len(doc['failed_hosts'])} host(s) failed the change "
                f"({', '.join(doc['failed_hosts'])}) > max_failed_hosts "
                f"{policy.max_failed_hosts}",
            )
        if missing and not failed and status != "successful":
            return self._fail(doc, step, f"no result for host(s) {', '.join(missing)}")
        counted = sorted(set(doc["unreachable_hosts"]) - set(doc.get("accepted_unreachable", [])))
        if len(counted) > policy.max_unreachable_hosts:
            return self._pause(
                doc,
                step,
                "unreachable",
                f"{len(counted)} host(s) unreachable "
                f"({', '.join(counted)}) > max_unreachable_hosts "
                f"{policy.max_unreachable_hosts}; not counted as change failures",
            )
        # Bake, watching for an abort.
        if step.bake_s > 0:
            self._event(doc, "bake", step=step.index, seconds=step.bake_s)
            end = self.clock() + step.bake_s
            while self.clock() < end:
                if self._abort_requested(doc) is not None:
                    break
                if self._lost(doc):
                    self._fence(doc)  # raises LockLost
                self.sleep(min(0.5, max(0.0, end - self.clock())))
        abort = self._abort_requested(doc)
        if abort is not None:
            return self._rollback(doc, reason=f"aborted by {abort['by']}: {abort['reason']}")
        changed = [plan.host(h) for h in step.hosts if h not in unreachable and h not in failed]
        results = self._gates(doc, policy, plan, step.gates, changed)
        verdict = combine(results)
        self._event(
            doc,
            "step_verdict",
            step=step.index,
            label=step.label,
            verdict=str(verdict),
            gates={r.gate: str(r.verdict) for r in results},
        )
        if verdict is Verdict.FAIL:
            why = "; ".join(f"{r.gate}: {r.reason}" for r in results if r.verdict is Verdict.FAIL)
            return self._fail(doc, step, f"gate failed at {step.label}: {why}")
        if verdict is Verdict.INCONCLUSIVE:
            why = "; ".join(
                f"{r.gate}: {r.reason}" for r in results if r.verdict is Verdict.INCONCLUSIVE
            )
            return self._pause(doc, step, "gate", f"inconclusive at {step.label}: {why}")
        if step.approval:
            return self._pause(
                doc, step, "approval", f"manual approval required after {step.label}"
            )
        self._finish_step(doc, step)
        return None

    def _finish_step(self, doc: dict[str, Any], step: Step, *, promoted: bool = False) -> None:
        doc["next_step"] = step.index + 1
        self._save(doc)
        self._event(doc, "step_finished", step=step.index, label=step.label, promoted=promoted)

    def _gates(
        self,
        doc: dict[str, Any],
        policy: Policy,
        plan: Plan,
        gates: Sequence[str],
        changed: Sequence[Host],
        *,
        phase: str = "step",
    ) -> list[GateResult]:
        cfg = policy.gates
        touched = set(doc["touched"]) | set(doc["unreachable_hosts"])
        probed_roles = set(cfg.http.roles)
        changed_p = [h for h in changed if h.role in probed_roles]
        results: list[GateResult] = []
        need_http = ("http" in gates or "canary_analysis" in gates) and cfg.http.enabled
        if need_http and not changed_p:
            results.append(
                GateResult(
                    "http",
                    Verdict.SKIPPED,
                    f"no changed host of a probed role ({', '.join(sorted(probed_roles))})",
                )
            )
        elif need_http:
            roles = {h.role for h in changed_p}
            failed = set(doc["failed_hosts"])
            baseline = [
                h
                for h in plan.hosts
                if h.role in roles and h.name not in touched and h.name not in failed
            ]
            if "canary_analysis" not in gates or not cfg.canary_analysis.enabled:
                baseline = []
            try:
                ch, base = self._keepalive(doc, lambda: self.prober(changed_p, baseline, policy))
            except Exception as exc:  # the probe machinery itself broke
                results.append(
                    GateResult("http", Verdict.INCONCLUSIVE, f"probe backend error: {exc}")
                )
            else:
                if "http" in gates:
                    results.append(http_gate(ch, cfg.http))
                if "canary_analysis" in gates and cfg.canary_analysis.enabled:
                    results.append(
                        canary_analysis(
                            ch,
                            base,
                            cfg.canary_analysis,
                            latency_path=cfg.canary_analysis.latency_path or cfg.http.paths[-1],
                            consecutive_error_limit=cfg.consecutive_error_limit,
                        )
                    )
        if "prometheus" in gates and cfg.prometheus.enabled:
            from fleetctl.adapters.prometheus import read_all

            assert cfg.prometheus.url is not None
            url = cfg.prometheus.url
            raw = self._keepalive(
                doc,
                lambda: read_all(
                    url,
                    [q.query for q in cfg.prometheus.queries],
                    timeout_s=cfg.prometheus.timeout_s,
                    attempts=cfg.consecutive_error_limit,
                ),
            )
            readings = [
                PromReading(q, value, errors)
                for q, (value, errors) in zip(cfg.prometheus.queries, raw, strict=True)
            ]
            results.append(prometheus_gate(readings, cfg.consecutive_error_limit))
        results += video_gates.run(
            gates,
            policy,
            plan.hosts,
            changed,
            touched | set(doc["failed_hosts"]),
            keepalive=lambda fn: self._keepalive(doc, fn),
        )
        for r in results:
            self._event(doc, "gate", phase=phase, **r.to_dict())
        return results

    # -- endings ---------------------------------------------------------------------

    def _pause(self, doc: dict[str, Any], step: Step, kind: str, reason: str) -> Outcome:
        doc["status"] = Status.paused.value
        doc["pause"] = {"kind": kind, "reason": reason, "step": step.index, "at": self.clock()}
        doc["message"] = reason
        self._save(doc)
        hint = {
            "gate": "promote (accept this step) or abort (roll back)",
            "approval": "promote to continue, or abort",
            "unreachable": "fix the hosts and resume, promote to go on without them, or abort",
            "freeze": "resume after `fleetctl freeze off`, or abort",
            "window": "resume inside the deploy window, or abort",
        }[kind]
        self._event(doc, "paused", step=step.index, label=step.label, kind=kind, reason=reason)
        # Keep the env locked while a person decides.
        self.store.renew_lock(
            lock_name(doc["env"]), doc["id"], PAUSED_LOCK_TTL_S, generation=self._gen.get(doc["id"])
        )
        return Outcome(doc["id"], Status.paused, f"paused at {step.label}: {reason} ({hint})", doc)

    def _complete(self, doc: dict[str, Any], rel: Release) -> Outcome:
        self._fence(doc)
        self.store.put(
            "lkg",
            doc["group"],
            {
                "group": doc["group"],
                "release": rel.hash,
                "release_id": rel.id,
                "rollout": doc["id"],
                "at": self.clock(),
            },
        )
        doc["status"] = Status.completed.value
        doc["finished_at"] = self.clock()
        doc["message"] = f"release {rel.id} on {len(doc['touched'])} host(s)"
        self._save(doc)
        self._event(
            doc, "completed", release=rel.id, hosts=len(doc["touched"]), last_known_good=True
        )
        self._release_lock(doc)
        return Outcome(doc["id"], Status.completed, doc["message"], doc)

    def _release_lock(self, doc: dict[str, Any]) -> None:
        self._fence(doc)
        self.store.release_lock(
            lock_name(doc["env"]), doc["id"], generation=self._gen.get(doc["id"])
        )
        self.store.delete("abort_request", doc["id"])
        self._event(doc, "lock_released", fenced=False, lock=lock_name(doc["env"]))

    def _fail(self, doc: dict[str, Any], step: Step, reason: str) -> Outcome:
        self._event(doc, "failed", step=step.index, label=step.label, reason=reason)
        return self._rollback(doc, reason=reason)

    def _rollback(self, doc: dict[str, Any], *, reason: str) -> Outcome:
        """Re-apply the last known-good release to every touched host, then prove it."""
        doc["status"] = Status.rolling_back.value
        doc["message"] = reason
        self._save(doc)
        touched = list(doc["touched"])
        target = doc.get("rollback_to")
        self._event(
            doc, "rollback_started", reason=reason, to=doc.get("rollback_to_id"), hosts=touched
        )
        if not touched:
            return self._end_rollback(
                doc,
                Status.rolled_back,
                f"{reason}; no host was changed, nothing to roll back",
                proof={"ok": True, "hosts": 0},
            )
        if target is None:
            doc["status"] = Status.failed.value
            doc["finished_at"] = self.clock()
            msg = (
                f"{reason}; NOT rolled back: group {doc['group']} has no last known-good "
                f"release (refusing to guess). Hosts changed: {', '.join(touched)}"
            )
            doc["message"] = msg
            self._save(doc)
            self._event(doc, "rollback_impossible", reason="no last known-good release")
            self._release_lock(doc)
            return Outcome(doc["id"], Status.failed, msg, doc)
        try:
            self._renew(doc, force=True)
            lkg = release_service.get(self.store, target)
            restored = self._restore(lkg)
            playbook = restored.playbooks_dir / doc["playbook"]
            if not playbook.is_file():
                raise FleetctlError(f"release {lkg.id} has no playbook {doc['playbook']}")
            extravars = {
                **restored.extravars,
                **self._secret_values(lkg, same=False),
                "fleet_release": lkg.id,
            }
            policy = Policy.model_validate(doc["policy"])
            plan = self._plan(doc)

            def cancel() -> bool:
                return self._lost(doc)

            self._fence(doc)
            applied = self.executor(
                playbook,
                restored.inventory_dir,
                limit=touched,
                check=False,
                diff=False,
                extravars=extravars,
                timeout_s=policy.progress_deadline_s,
                cancel=cancel,
                env={TAG: doc["id"]},
            )
            states = {h: o.to_dict() for h, o in sorted(applied.hosts.items())}
            self._event(
                doc, "rollback_applied", release=lkg.id, status=str(applied.status), hosts=states
            )
            self._fence(doc)
            check = self.executor(
                playbook,
                restored.inventory_dir,
                limit=touched,
                check=True,
                diff=True,
                extravars=extravars,
                timeout_s=policy.progress_deadline_s,
                cancel=cancel,
                env={TAG: doc["id"]},
            )
            self._fence(doc)
            changed = {h: int(o.changed) for h, o in sorted(check.hosts.items())}
            bad = sorted(
                h
                for h, o in check.hosts.items()
                if o.to_dict().get("state") in ("failed", "unreachable")
            )
            self._event(
                doc,
                "rollback_check",
                release=lkg.id,
                status=str(check.status),
                changed=changed,
                total_changed=sum(changed.values()),
                failed_or_unreachable=bad,
            )
            back = [plan.host(h) for h in touched]
            gate_results = self._gates(
                doc, policy, plan, ("http", "canary_analysis"), back, phase="rollback"
            )
            gate_verdict = combine(gate_results)
            ok = (
                str(applied.status) == "successful"
                and sum(changed.values()) == 0
                and not bad
                and set(changed) >= set(touched)
                and gate_verdict is Verdict.PASS
            )
            proof = {
                "ok": ok,
                "release": lkg.id,
                "hosts": len(touched),
                "apply_status": str(applied.status),
                "check_changed": sum(changed.values()),
                "check_hosts": len(changed),
                "gates": {r.gate: str(r.verdict) for r in gate_results},
                "gate_verdict": str(gate_verdict),
            }
        except LockLost:
            raise
        except FleetctlError as exc:
            proof = {"ok": False, "error": exc.message}
        if proof["ok"]:
            return self._end_rollback(
                doc,
                Status.rolled_back,
                f"{reason}; rolled back {len(touched)} host(s) to {proof['release']} "
                f"(proof: --check --diff 0 changed, gates {proof['gate_verdict']})",
                proof=proof,
            )
        return self._end_rollback(
            doc,
            Status.rollback_failed,
            f"{reason}; ROLLBACK NOT PROVEN: {proof}",
            proof=proof,
        )

    def _end_rollback(
        self, doc: dict[str, Any], status: Status, message: str, *, proof: dict[str, Any]
    ) -> Outcome:
        # The last known-good first, then the final status: a kill -9 in between
        # leaves a rollout that resumes to the same end; after it, only journal
        # events can be missing, and `resume` adds them (`_close_out`).
        self._fence(doc)
        lkg = self.store.get("lkg", doc["group"])
        # A completed rollout rolled back by hand: its release is no longer good.
        mine = lkg is not None and lkg.get("rollout") == doc["id"]
        if status is Status.rolled_back and mine and doc.get("rollback_to"):
            self.store.put(
                "lkg",
                doc["group"],
                {
                    "group": doc["group"],
                    "release": doc["rollback_to"],
                    "release_id": doc["rollback_to_id"],
                    "rollout": doc["id"],
                    "at": self.clock(),
                    "restored_by_rollback": True,
                },
            )
        doc["status"] = status.value
        doc["finished_at"] = self.clock()
        doc["message"] = message
        doc["rollback_proof"] = proof
        self._save(doc)
        self._event(doc, "rollback_proof", **proof)
        self._event(
            doc, "rolled_back" if status is Status.rolled_back else str(status), message=message
        )
        self._release_lock(doc)
        return Outcome(doc["id"], status, message, doc)


def _superseded_error(doc: dict[str, Any]) -> BadInput:
    return BadInput(
        f"rollout {doc['id']} was superseded by {doc.get('superseded_by') or 'another rollout'} "
        "and will not run again: resuming it would re-apply its older release over the newer "
        "one",
        hint=f"`fleetctl rollout why {doc['id']}` shows who took over; to apply this release "
        "again, start a new rollout",
    )


def raise_for(outcome: Outcome) -> Outcome:
    """Turn a non-completed outcome into the CLI's error (exit 1)."""
    if outcome.status is Status.completed:
        return outcome
    if outcome.status is Status.paused:
        raise RolloutPaused(
            f"rollout {outcome.id} {outcome.message}",
            hint=f"fleetctl rollout why {outcome.id}  |  fleetctl rollout promote {outcome.id} "
            f"--reason ...  |  fleetctl rollout abort {outcome.id}",
        )
    raise JobFailed(
        f"rollout {outcome.id} {outcome.status.value}: {outcome.message}",
        hint=f"fleetctl rollout why {outcome.id}",
    )
