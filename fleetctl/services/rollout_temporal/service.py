"""What the CLI calls for `--engine temporal`: start a rollout (the coordinator
workflow), signal it (promote / approve / abort / resume), query it, and run a
worker (`fleetctl worker`).

The rollout document and journal in the state store stay the read model:
`status`, `why`, `list`, `history` read them whichever engine ran it. The
document records the engine and the server, so `abort ID` finds the workflow.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleetctl.adapters import temporal
from fleetctl.adapters.state.base import LockHeld, StateStore
from fleetctl.core.policy import Policy
from fleetctl.errors import BadInput, FleetctlError, JobFailed, OutsideError
from fleetctl.services import freeze as freeze_service
from fleetctl.services import host_drain as drain_service
from fleetctl.services import release as release_service
from fleetctl.services import rollout as local
from fleetctl.services.rollout_temporal import model
from fleetctl.services.rollout_temporal.model import (
    COORDINATOR_WORKFLOW,
    Decision,
    Limits,
    Result,
    StartInput,
    StepRef,
    coordinator_queue,
    region_queue,
    workflow_id,
)
from fleetctl.services.secrets import WorkerSecrets

if TYPE_CHECKING:
    from fleetctl.services.notify import Target

ENGINE = "temporal"


def _run(coro: Any) -> Any:
    """Run a client call; the server failing mid-call is an OutsideError (exit 3)."""
    from temporalio.service import RPCError

    try:
        return asyncio.run(coro)
    except RPCError as exc:
        raise OutsideError(
            f"the Temporal server failed a call: {exc.message.splitlines()[0]}",
            hint="is the server (and its database) healthy? `fleetctl lab status` for the lab",
        ) from None


class EnvLocked(FleetctlError):
    """The server refused a second coordinator for the env (its workflow ID)."""

    exit_code = 1


def build_input(
    store: StateStore,
    root: Path,
    env: str,
    playbook: str,
    policy: Policy,
    *,
    settings: temporal.Settings,
    extravars: dict[str, Any] | None,
    policy_file: str | None,
    who: str,
    max_parallel_regions: int,
    secret_vars: dict[str, str] | None = None,
) -> tuple[StartInput, Any, Any]:
    """Plan and snapshot the release (the starter's working tree), and build the
    coordinator's input: the same document and `created` event the local engine writes.

    `secret_vars` is name -> keyed fingerprint (services/secrets.fingerprints): the
    release and the workflow input carry those only; each regional worker holds the
    values and checks them against the fingerprints before it applies."""
    frozen = freeze_service.current(store, env)
    if frozen is not None:
        raise JobFailed(
            f"env {env} is frozen by {frozen.by}: {frozen.reason}",
            hint=f"no rollout starts while frozen; `fleetctl freeze off --env {env}` when safe",
        )
    drained = drain_service.drained_hosts(store, env)
    path, plan = local.plan_for(root, env, playbook, policy, exclude=drained)
    rel = release_service.snapshot(
        store, root, env, extravars=extravars, secret_vars=dict(secret_vars or {})
    )
    group = local.group_of(env, path)
    lkg = local.last_known_good(store, group)
    rid = local.new_id()
    now = time.time()
    doc: dict[str, Any] = {
        "id": rid,
        "env": env,
        "engine": ENGINE,
        "temporal": {
            "address": settings.address,
            "namespace": settings.namespace,
            "workflow_id": workflow_id(env),
        },
        "playbook": path.relative_to((root / "playbooks").resolve()).as_posix(),
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
        "status": "running",
        "next_step": 0,
        "pause": None,
        "touched": [],
        "failed_hosts": [],
        "unreachable_hosts": [],
        "created_at": now,
        "updated_at": now,
        "finished_at": None,
        "by": who,
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "lock_generation": 0,
        "message": "",
        "plan": plan.to_dict(),  # stored apart by `prepare` (rollout_plan)
    }
    created = {
        "env": env,
        "playbook": doc["playbook"],
        "release": rel.id,
        "git_sha": rel.git_sha,
        "git_dirty": rel.git_dirty,
        "extravars": rel.extravars,
        "secret_vars": rel.secret_vars,
        "steps": len(plan.steps),
        "hosts": plan.host_count,
        "plan_digest": plan.digest(),
        "policy_file": policy_file,
        "rollback_to": doc["rollback_to_id"],
        "by": who,
        "skipped_drained": sorted(drained),
        "engine": ENGINE,
    }
    steps = [
        StepRef(
            s.index,
            s.region,
            s.label,
            list(s.hosts),
            s.bake_s,
            s.deadline_s,
            s.approval,
            list(s.gates),
        )
        for s in plan.steps
    ]
    limits = Limits(
        policy.max_failed_hosts,
        policy.max_unreachable_hosts,
        max_parallel_regions,
        model.REGION_HISTORY_EVENTS,  # read at call time: a test lowers it
    )
    return StartInput(rid, env, doc, created, steps, limits), plan, rel


async def _holder(client: Any, env: str) -> str:
    try:
        desc = await client.get_workflow_handle(workflow_id(env)).describe()
        memo = await desc.memo()
        return str(memo.get("rollout_id", desc.run_id))
    except Exception:
        return "another rollout"


async def start_workflow(settings: temporal.Settings, inp: StartInput) -> Any:
    """Start the coordinator; the server refuses a second one for the env."""
    from temporalio.common import WorkflowIDConflictPolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    client = await temporal.connect(settings)
    try:
        handle = await client.start_workflow(
            COORDINATOR_WORKFLOW,
            inp,
            id=workflow_id(inp.env),
            task_queue=coordinator_queue(inp.env),
            memo={"rollout_id": inp.rollout_id},
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        holder = await _holder(client, inp.env)
        raise EnvLocked(
            f"{local.lock_name(inp.env)} is locked by {holder} (a running Temporal rollout, "
            f"workflow {workflow_id(inp.env)} on {settings.describe()})",
            hint=f"wait for it, or `fleetctl rollout abort {holder}`",
        ) from None
    return client, handle


def start(
    store: StateStore,
    root: Path,
    env: str,
    playbook: str,
    policy: Policy,
    *,
    settings: temporal.Settings,
    extravars: dict[str, Any] | None = None,
    policy_file: str | None = None,
    max_parallel_regions: int = 1,
    secret_vars: dict[str, str] | None = None,
    who: str | None = None,
    confirm: Callable[[Any, Any], bool] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    wait: bool = True,
) -> local.Outcome:
    """Start a rollout on Temporal; with `wait`, follow its journal until it ends or pauses."""
    _run(temporal.connect(settings))  # unreachable: exit 3 before any work
    info = store.lock_info(local.lock_name(env))
    if info is not None and info.expires_at > time.time():
        doc = store.get("rollout", info.holder)
        if not doc or doc.get("engine") != ENGINE:
            raise LockHeld(info, time.time())
    inp, plan, rel = build_input(
        store,
        root,
        env,
        playbook,
        policy,
        settings=settings,
        extravars=extravars,
        policy_file=policy_file,
        who=who or freeze_service.who(),
        max_parallel_regions=max_parallel_regions,
        secret_vars=secret_vars,
    )
    if confirm is not None and not confirm(plan, rel):
        raise BadInput("rollout not started (not confirmed)")

    async def go() -> str:
        _, handle = await start_workflow(settings, inp)
        return str(handle.result_run_id)

    run_id = _run(go())
    if not wait:
        return local.Outcome(inp.rollout_id, local.Status.running, "started on Temporal")
    return follow(store, settings, inp.rollout_id, on_event=on_event, env=env, run_id=run_id)


def follow(
    store: StateStore,
    settings: temporal.Settings,
    rollout_id: str,
    *,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
    env: str = "",
    run_id: str = "",
    since: int = 0,
) -> local.Outcome:
    """Print the journal (from event `since`) as it grows until the rollout ends, or
    pauses anew after `since` (the workflow goes on whatever happens to this process)."""
    seen = since
    checked = time.monotonic()
    end = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        events = store.events(rollout_id)
        for ev in events[seen:]:
            if on_event is not None:
                on_event({k: v for k, v in ev.items() if k != "wf_seq"})
        seen = len(events)
        doc = store.get("rollout", rollout_id)
        status = local.Status(doc["status"]) if doc else local.Status.running
        paused_anew = any(e.get("type") == "paused" for e in events[since:])
        if doc is not None and (
            status in local.FINAL or (status is local.Status.paused and paused_anew)
        ):
            return local.Outcome(rollout_id, status, _message(doc), doc)
        if run_id and time.monotonic() - checked > 5.0:  # did the coordinator itself end?
            checked = time.monotonic()
            early = _ended_early(settings, env, run_id)
            if early and doc is None:
                raise JobFailed(f"rollout {rollout_id} did not start: {early}")
            if early:
                raise JobFailed(
                    f"the coordinator of rollout {rollout_id} ended: {early}",
                    hint=f"fleetctl rollout why {rollout_id}",
                )
        if end is not None and time.monotonic() > end:
            return local.Outcome(rollout_id, status, "still running on Temporal", doc or {})
        time.sleep(poll_s)


def _message(doc: dict[str, Any]) -> str:
    if doc["status"] == "paused" and doc.get("pause"):
        p = doc["pause"]
        return f"paused at step {p['step']}: {p['reason']} (promote, resume or abort)"
    return str(doc.get("message", ""))


def _ended_early(settings: temporal.Settings, env: str, run_id: str) -> str:
    """The coordinator's message when it ended before writing the rollout document
    (its `prepare` was refused), else ""."""

    async def check() -> str:
        client = await temporal.connect(settings)
        handle = client.get_workflow_handle(workflow_id(env), run_id=run_id)
        desc = await handle.describe()
        if desc.close_time is None:
            return ""
        try:
            res = await handle.result()
        except Exception as exc:  # failed or terminated
            return f"{exc}: {getattr(exc, 'cause', None) or ''}".rstrip(": ")
        return str(res.message if isinstance(res, Result) else res.get("message", res))

    return str(_run(check()))


# -- people's signals ------------------------------------------------------------------


def settings_for(doc: dict[str, Any], given: temporal.Settings | None) -> temporal.Settings:
    """The server a rollout runs on: the one given, else the one it was started on."""
    if given is not None:
        return given
    t = doc.get("temporal") or {}
    return temporal.settings(t.get("address"), t.get("namespace"))


def signal(
    store: StateStore,
    rollout_id: str,
    name: str,
    reason: str,
    *,
    settings: temporal.Settings | None = None,
    who: str | None = None,
) -> int:
    """Send promote / approve / abort / resume (who and why) to a running rollout;
    returns the journal's length after (follow it from there)."""
    doc = local.load(store, rollout_id)
    if doc["status"] in {s.value for s in local.FINAL}:
        raise BadInput(f"rollout {doc['id']} is already {doc['status']}")
    if name in ("promote", "approve") and doc["status"] != "paused":
        raise BadInput(f"rollout {doc['id']} is {doc['status']}, not paused: nothing to {name}")
    s = settings_for(doc, settings)
    decision = Decision(by=who or freeze_service.who(), reason=reason)

    async def go() -> None:
        client = await temporal.connect(s)
        handle = client.get_workflow_handle(doc["temporal"]["workflow_id"])
        memo = await (await handle.describe()).memo()
        if memo.get("rollout_id") != doc["id"]:
            raise BadInput(f"the running workflow of {doc['env']} is not rollout {doc['id']}")
        await handle.signal(name, decision)

    _run(go())
    if name == "abort":  # as the local engine notes it (promote is journaled by the workflow)
        store.append_event(
            doc["id"],
            {"type": "abort_requested", "at": time.time(), "by": decision.by, "reason": reason},
        )
    return len(store.events(doc["id"]))


def query(store: StateStore, rollout_id: str, settings: temporal.Settings | None = None) -> Any:
    doc = local.load(store, rollout_id)
    s = settings_for(doc, settings)

    async def go() -> Any:
        client = await temporal.connect(s)
        return await client.get_workflow_handle(doc["temporal"]["workflow_id"]).query("state")

    return _run(go())


# -- workers --------------------------------------------------------------------------


def queues(env: str, regions: Sequence[str], coordinator: bool) -> list[str]:
    return ([coordinator_queue(env)] if coordinator else []) + [region_queue(r) for r in regions]


async def serve(
    settings: temporal.Settings,
    env: str,
    *,
    regions: Sequence[str],
    coordinator: bool,
    state_url: str,
    root: Path,
    executor: Any = None,
    prober: Any = None,
    ready: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
    secrets: WorkerSecrets | None = None,
    notify: Sequence[Target] = (),
) -> None:
    """Serve the coordinator queue of `env` and/or the queues of `regions` until stopped.

    `secrets`: the values this worker gives the releases it applies (never sent to
    the server). `notify`: webhook targets of every rollout this coordinator worker
    runs, besides each policy's `notify:` (whose URLs it reads from its environment
    or files)."""
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.worker import Worker

    from fleetctl.services.notify import Notifier
    from fleetctl.services.rollout_temporal.activities import Activities, Context
    from fleetctl.services.rollout_temporal.workflows import Coordinator, RegionWorkflow

    def note(rollout_id: str, ev: dict[str, Any]) -> None:  # notify_failed / notify_targets
        from fleetctl.adapters.state import open_store

        store = open_store(state_url)
        try:
            store.append_event(rollout_id, ev)
        finally:
            store.close()

    client = await temporal.connect(settings)
    notifier = Notifier(list(notify), note, base=root) if coordinator else None
    acts = Activities(
        Context(state_url, root, executor, prober, secrets or WorkerSecrets(), notifier=notifier)
    )
    pool = ThreadPoolExecutor(max_workers=8)
    # The SDK sends heartbeats every 0.8 x the timeout (8 of 10 s): a 2 s margin
    # a loaded worker can miss, and its batch is then run again. Every HEARTBEAT_S/5
    # leaves 8 s; a heartbeat is one small RPC.
    throttle = timedelta(seconds=model.HEARTBEAT_S / 5)
    workers = []
    if coordinator:
        workers.append(
            Worker(
                client,
                task_queue=coordinator_queue(env),
                workflows=[Coordinator],
                activities=[acts.prepare, acts.journal, acts.admission, acts.finish],
                activity_executor=pool,
                max_heartbeat_throttle_interval=throttle,
            )
        )
    for region in regions:
        workers.append(
            Worker(
                client,
                task_queue=region_queue(region),
                workflows=[RegionWorkflow],
                activities=[acts.apply_batch, acts.run_gates, acts.rollback_region],
                activity_executor=pool,
                max_heartbeat_throttle_interval=throttle,
            )
        )
    if not workers:
        raise BadInput("a worker needs --region REGION (repeatable) or --coordinator")
    stop = stop or asyncio.Event()
    try:
        async with _all(workers):
            if ready is not None:
                ready()
            await stop.wait()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if notifier is not None:
            notifier.close()  # deliver what is queued (bounded), journal what failed


class _all:
    """Run several workers as one async context."""

    def __init__(self, workers: list[Any]) -> None:
        self.workers = workers

    async def __aenter__(self) -> None:
        for w in self.workers:
            await w.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        for w in reversed(self.workers):
            await w.__aexit__(*exc)
