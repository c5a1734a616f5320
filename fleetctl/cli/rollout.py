"""`fleetctl rollout ...`: safe rollouts of Ansible playbooks.

Canary first, then waves region by region, health gates between steps,
automatic rollback to the last known-good release, a journal that survives
a crash.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fleetctl.cli import options, render
from fleetctl.cli import temporal as tcli
from fleetctl.cli.application import Application
from fleetctl.cli.options import Env, Fmt, HostsEnv
from fleetctl.cli.state import workspace
from fleetctl.errors import BadInput

if TYPE_CHECKING:
    from fleetctl.core.policy import Policy
    from fleetctl.core.rollout.record import RolloutRecord
    from fleetctl.core.windows import Availability

app = typer.Typer(
    help="Roll out a playbook safely: canary, waves, gates, rollback, journal.",
    no_args_is_help=True,
)

PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", "-p", help="Rollout policy YAML (default: built-in defaults)."),
]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the journal).")]
ForceOpt = Annotated[
    int,
    typer.Option(
        "--force",
        count=True,
        show_default=False,
        help="Take over the env lock from a holder that stopped renewing its lease (dead or "
        "hung); recorded in both journals. Twice (--force --force) = --force-live.",
    ),
]
ForceLiveOpt = Annotated[
    bool,
    typer.Option(
        "--force-live",
        help="Take over the env lock even from a live holder: it stops before its next "
        "change and is marked superseded.",
    ),
]
SecretOpt = options.SecretVars
AllowPlainOpt = options.AllowPlainSecrets


NotifyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        help="Also send this run's notifications to this webhook URL (repeatable; never "
        "printed or stored: the journal keeps a fingerprint). Policy targets: `notify:`.",
    ),
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="Outside a region's deploy window: wait here until it opens (holding the env "
        "lock, abort and freeze still honoured) and go on by itself (the default); --no-wait "
        "pauses and exits 1 instead (for CI: `rollout resume` it later). Local engine only: "
        "a Temporal rollout waits on a durable timer, holding no process.",
    ),
]
NotifyFormatOpt = Annotated[
    str,
    typer.Option(
        "--notify-format",
        help="Payload for --notify: slack (incoming-webhook blocks) or json (the event).",
    ),
]


def _engine(
    ctx: typer.Context,
    store: Any,
    *,
    quiet: bool = False,
    secret_vars: list[str] | None = None,
    notify: Sequence[str] = (),
    notify_format: str = "json",
    wait_windows: bool = False,
) -> Any:
    """The engine and its notifier (close the notifier when the command ends: `_running`)."""
    from fleetctl.cli.rollout_render import print_event
    from fleetctl.services import secrets
    from fleetctl.services.notify import Notifier, cli_targets
    from fleetctl.services.rollout import Engine

    if notify_format not in ("slack", "json"):
        raise BadInput(
            f"--notify-format {notify_format!r} is not a format", hint="use slack or json"
        )
    targets = cli_targets(notify, notify_format)
    values = secrets.read(secret_vars or [], prompt=options.secret_prompt())
    root = workspace(ctx).root
    # The policy's targets are read per rollout (from its stored policy) by the notifier.
    notifier = Notifier(targets, store.append_event, base=root)
    engine = Engine(
        store,
        root,
        on_event=None if quiet else print_event,
        secrets=values,
        notify=notifier.submit,
        wait_windows=wait_windows,
    )
    return engine, notifier


@contextmanager
def _running(
    ctx: typer.Context,
    store: Any,
    notify: Sequence[str] = (),
    notify_format: str = "json",
    *,
    secret_vars: list[str] | None = None,
    wait_windows: bool = False,
) -> Iterator[Any]:
    """An engine whose notifications are delivered (or journaled as failed) before exit."""
    engine, notifier = _engine(
        ctx,
        store,
        secret_vars=secret_vars,
        notify=notify,
        notify_format=notify_format,
        wait_windows=wait_windows,
    )
    try:
        yield engine
    finally:
        notifier.close()


def _on_temporal(store: Any, rollout_id: str, signal: str, reason: str, fmt: render.Format) -> bool:
    """A rollout run by `--engine temporal` is driven by signals to its coordinator
    (who and why recorded); then this command follows its journal. False: a local one."""
    from fleetctl.services import rollout as local
    from fleetctl.services.rollout_temporal import service as on_temporal

    doc = local.load(store, rollout_id)
    if doc.get("engine") != "temporal":
        return False
    since = on_temporal.signal(store, doc["id"], signal, reason)
    render.note(f"{signal} sent to the coordinator of {doc['id']} on Temporal")
    outcome = on_temporal.follow(
        store, on_temporal.settings_for(doc, None), doc["id"], timeout_s=5.0, since=since
    )
    if outcome.status in (local.Status.running, local.Status.rolling_back):
        if fmt is render.Format.json:
            render.emit_json(
                {"id": outcome.id, "status": outcome.status.value, "message": f"{signal} sent"}
            )
        return True
    _finish(outcome, fmt)
    return True


def _finish(outcome: Any, fmt: render.Format) -> None:
    from fleetctl.services.rollout import raise_for

    if fmt is render.Format.json:
        render.emit_json(
            {"id": outcome.id, "status": outcome.status.value, "message": outcome.message}
        )
    raise_for(outcome)
    render.ok(f"rollout {outcome.id} completed: {outcome.message}")


def _region_windows(pol: Policy, regions: list[str]) -> dict[str, Availability]:
    """When each region's steps may start, seen from now (deploy windows in local time)."""
    from datetime import UTC, datetime

    from fleetctl.core.windows import availability

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return {r: availability(pol.window_for(r), now) for r in dict.fromkeys(regions)}


@app.command("plan")
def plan(
    ctx: typer.Context,
    playbook: Annotated[str, typer.Argument(help="Playbook under playbooks/, e.g. edge.yml.")],
    env: Env,
    policy: PolicyOpt = None,
    fmt: Fmt = render.Format.table,
) -> None:
    """Show the steps of a rollout (hosts, bake, gates) without touching anything.

    Deterministic: the same inventory and policy always give the same plan. The
    "can run" column says when each region's steps may start under the policy's
    deploy windows (each region in its own time zone), seen from now.

    Example:  fleetctl rollout plan edge.yml --env lab --policy tests/fixtures/policies/fast.yml
    """
    from fleetctl.cli.rollout_render import plan_table
    from fleetctl.services.host_drain import drained_hosts
    from fleetctl.services.rollout import plan_for
    from fleetctl.services.rollout_policy import load_policy

    pol = load_policy(policy)
    drained: frozenset[str] = frozenset()
    with Application(ctx) as app:
        url = app.state_url
        # Planning touches nothing: read drains only from state that already exists.
        if url.startswith("s3://") or Path(url.removeprefix("sqlite://")).exists():
            drained = drained_hosts(app.store(write=False), env)
    _path, p = plan_for(workspace(ctx).root, env, playbook, pol, exclude=drained)
    if drained:
        render.note(f"drained, left out of the plan: {', '.join(sorted(drained))}")
    data = p.to_dict()
    runs = _region_windows(pol, [s["region"] for s in data["steps"]])
    if fmt is render.Format.json:
        render.emit_json(
            {
                "playbook": playbook,
                "env": env,
                "digest": p.digest(),
                **data,
                "windows": {r: a.to_dict() for r, a in runs.items()},
            }
        )
        return
    render.out.print(
        plan_table(
            data,
            f"rollout plan: {playbook} on {env} — {data['host_count']} hosts, "
            f"{len(data['steps'])} steps, regions {' → '.join(data['regions'])} "
            f"(plan {p.digest()})",
            # The column only when some region has a window.
            {r: a.text for r, a in runs.items()} if any(a.window for a in runs.values()) else None,
        )
    )


@app.command("start")
def start(
    ctx: typer.Context,
    playbook: Annotated[str, typer.Argument(help="Playbook under playbooks/, e.g. edge.yml.")],
    env: Env,
    policy: PolicyOpt = None,
    extra: Annotated[
        list[str] | None,
        typer.Option("--extra-vars", "-x", help="KEY=VALUE extra var, part of the release."),
    ] = None,
    secret_var: SecretOpt = None,
    allow_plain_secrets: AllowPlainOpt = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    force: ForceOpt = 0,
    force_live: ForceLiveOpt = False,
    notify: NotifyOpt = None,
    notify_format: NotifyFormatOpt = "json",
    wait: WaitOpt = True,
    fmt: Fmt = render.Format.table,
    engine_name: tcli.EngineOpt = tcli.EngineName.local,
    temporal: tcli.AddressOpt = None,
    temporal_ns: tcli.NamespaceOpt = None,
    tls_ca: tcli.TlsCaOpt = None,
    tls_cert: tcli.TlsCertOpt = None,
    tls_key: tcli.TlsKeyOpt = None,
    max_parallel_regions: tcli.ParallelOpt = 1,
) -> None:
    """Snapshot the release and run the plan: canary, waves, gates, rollback on failure.

    Exit 0 when complete; 1 when it failed and rolled back, paused, was refused
    by the env lock, or was superseded by a --force-live takeover. Outside a
    region's deploy window it waits for the window (lease held; killed, `rollout
    resume` waits on) unless --no-wait.
    Secrets go in with --secret-var (never -x): only their name and a keyed
    fingerprint are kept.

    Example:  fleetctl rollout start edge.yml --env lab --yes

    Example:  FLEETCTL_SECRET_DB_PASSWORD=... fleetctl rollout start edge.yml --env lab
    --secret-var db_password --yes

    Example:  fleetctl rollout start edge.yml --env lab --engine temporal
    --max-parallel-regions 2 --yes   (needs `fleetctl lab up --temporal`)
    """
    from fleetctl.cli.rollout_render import plan_table
    from fleetctl.services.extra_vars import parse_extra_vars
    from fleetctl.services.notify import resolve
    from fleetctl.services.rollout_policy import load_policy

    pol = load_policy(policy)
    if engine_name is tcli.EngineName.temporal:
        if notify:
            # Whatever the coordinator is to use travels through workflow history,
            # which Temporal keeps; a webhook URL is a secret.
            raise BadInput(
                "--notify is not taken with --engine temporal: this run's webhook URL would "
                "be kept in the workflow's history on the Temporal server",
                hint="put the target in the policy's notify: (url_env / url_file, read by the "
                "coordinator worker), or give it to the worker: "
                f"`fleetctl worker --env {env} --coordinator --notify URL`",
            )
        # The policy's notify: URLs are read by the coordinator worker, not here.
        conn = tcli.settings(temporal, temporal_ns, tls_ca, tls_cert, tls_key, ctx=ctx, env=env)
    else:
        # Fail before anything starts when a policy target's URL cannot be read.
        resolve(pol.notify, workspace(ctx).root)
    app = Application(ctx)
    store = app.store(write=True)
    try:
        engine, notifier = _engine(
            ctx,
            store,
            secret_vars=secret_var,
            notify=notify or [],
            notify_format=notify_format,
            wait_windows=wait,
        )
    except BaseException:
        app.close()
        raise

    def confirm(p: Any, rel: Any) -> bool:
        if yes or not sys.stdin.isatty():
            route = " → ".join(f"{s.label} ({len(s.hosts)})" for s in p.steps[:6])
            more = f" → … {len(p.steps) - 6} more" if len(p.steps) > 6 else ""
            render.note(f"plan {p.digest()}: {route}{more}")
            return True
        render.err.print(plan_table(p.to_dict(), f"release {rel.id}: {p.host_count} hosts"))
        return typer.confirm(f"Roll out release {rel.id} to {p.host_count} hosts on {env}?")

    if engine_name is tcli.EngineName.temporal:
        from fleetctl.cli.rollout_render import print_event
        from fleetctl.services import secrets as secrets_service
        from fleetctl.services.rollout_temporal import service as on_temporal

        try:
            extravars = parse_extra_vars(extra or [])
            secrets_service.refuse_plain(extravars, allow=allow_plain_secrets)
            secrets_service.check_names(extravars, engine.secrets.values())
            _finish(
                on_temporal.start(
                    store,
                    workspace(ctx).root,
                    env,
                    playbook,
                    pol,
                    settings=conn,
                    extravars=extravars,
                    policy_file=str(policy) if policy else None,
                    max_parallel_regions=max_parallel_regions,
                    # names and keyed fingerprints only: the workers hold the values
                    secret_vars=secrets_service.fingerprints(
                        workspace(ctx).root, engine.secrets.values()
                    ),
                    confirm=confirm,
                    on_event=print_event if fmt is not render.Format.json else None,
                ),
                fmt,
            )
        finally:
            notifier.close()
            app.close()
        return
    try:
        outcome = engine.start(
            env,
            playbook,
            pol,
            extravars=parse_extra_vars(extra or []),
            force=force >= 1,
            force_live=force_live or force >= 2,
            allow_plain_secrets=allow_plain_secrets,
            policy_file=str(policy) if policy else None,
            confirm=confirm,
        )
        _finish(outcome, fmt)
    finally:
        notifier.close()  # deliver (or journal as failed) what is queued, then let go
        app.close()


@app.command("resume")
def resume(
    ctx: typer.Context,
    rollout_id: Annotated[str, typer.Argument(help="Rollout id (a unique prefix is enough).")],
    force: ForceOpt = 0,
    force_live: ForceLiveOpt = False,
    secret_var: SecretOpt = None,
    notify: NotifyOpt = None,
    notify_format: NotifyFormatOpt = "json",
    wait: WaitOpt = True,
    fmt: Fmt = render.Format.table,
) -> None:
    """Continue a rollout after a crash or a pause, from its first unfinished step.

    A rollout that already ended is not run again: resume finishes what a
    kill -9 at its very end left undone (final journal events, the env lock,
    temp dirs) and exits as the rollout ended (0 when completed), so a CI
    retry is safe. A superseded rollout is refused (exit 2).

    A rollout started with --secret-var needs the same secret vars again (exit 2 if not).

    Outside a region's deploy window it waits for it here (the opening is computed
    again from the policy) and goes on, unless --no-wait.

    Example:  fleetctl rollout resume r-20260101-120000-ab12

    Example:  fleetctl rollout resume r-20260101-120000-ab12 --no-wait   (CI: pause, exit 1)
    """
    from fleetctl.services.rollout import load

    with Application(ctx) as app:
        store = app.store(write=True)
        if _on_temporal(store, rollout_id, "resume", "resume", fmt):
            return
        with _running(
            ctx,
            store,
            notify or [],
            notify_format,
            secret_vars=secret_var,
            wait_windows=wait,
        ) as engine:
            full_id = load(store, rollout_id)["id"]
            outcome = engine.resume(full_id, force=force >= 1, force_live=force_live or force >= 2)
        _finish(outcome, fmt)


@app.command("promote")
def promote(
    ctx: typer.Context,
    rollout_id: Annotated[str, typer.Argument(help="Rollout id.")],
    reason: ReasonOpt,
    secret_var: SecretOpt = None,
    notify: NotifyOpt = None,
    notify_format: NotifyFormatOpt = "json",
    wait: WaitOpt = True,
    fmt: Fmt = render.Format.table,
) -> None:
    """Pass a paused step (manual approval, inconclusive gate) and continue; records who and why.

    It continues like `start` and `resume`: when the next step's region is outside
    its deploy window it waits for it here (lease held; killed, `rollout resume`
    waits on) and goes on, unless --no-wait (pause, exit 1).

    Example:  fleetctl rollout promote r-20260101-120000-ab12 --reason "checked by hand"

    Example:  fleetctl rollout promote r-20260101-120000-ab12 -r "canary fine" --no-wait
    """
    with Application(ctx) as app:
        store = app.store(write=True)
        if _on_temporal(store, rollout_id, "promote", reason, fmt):
            return
        with _running(
            ctx, store, notify or [], notify_format, secret_vars=secret_var, wait_windows=wait
        ) as engine:
            outcome = engine.promote(rollout_id, reason)
        _finish(outcome, fmt)


@app.command("abort")
def abort(
    ctx: typer.Context,
    rollout_id: Annotated[str, typer.Argument(help="Rollout id.")],
    reason: ReasonOpt = "aborted by hand",
    secret_var: SecretOpt = None,
    fmt: Fmt = render.Format.table,
) -> None:
    """Stop a rollout after its running batch and roll back to the last known-good release.

    Example:  fleetctl rollout abort r-20260101-120000-ab12 --reason "pager went off"
    """
    from fleetctl.services.rollout import Status

    with Application(ctx) as app:
        store = app.store(write=True)
        if _on_temporal(store, rollout_id, "abort", reason, fmt):
            return
        with _running(ctx, store, secret_vars=secret_var) as engine:
            outcome = engine.abort(rollout_id, reason)
        if outcome.status in (Status.running, Status.rolling_back):
            if fmt is render.Format.json:
                render.emit_json(
                    {"id": outcome.id, "status": "abort_requested", "message": outcome.message}
                )
            render.note(outcome.message)
            return
        _finish(outcome, fmt)


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    rollout_id: Annotated[str, typer.Argument(help="Rollout id.")],
    reason: ReasonOpt = "rollback by hand",
    secret_var: SecretOpt = None,
    fmt: Fmt = render.Format.table,
) -> None:
    """Re-apply the release before this rollout to every host it touched, and prove it.

    Example:  fleetctl rollout rollback r-20260101-120000-ab12 --reason "bad metrics"
    """
    with Application(ctx) as app:
        store = app.store(write=True)
        with _running(ctx, store, secret_vars=secret_var) as engine:
            outcome = engine.rollback(rollout_id, reason)
        if fmt is render.Format.json:
            render.emit_json(
                {"id": outcome.id, "status": outcome.status.value, "message": outcome.message}
            )
        from fleetctl.services.rollout import Status

        if outcome.status is not Status.rolled_back:
            from fleetctl.errors import JobFailed

            raise JobFailed(outcome.message, hint=f"fleetctl rollout why {outcome.id}")
        render.ok(outcome.message)


def _pick(store: Any, rollout_id: str | None, env: str | None) -> RolloutRecord:
    from fleetctl.services import rollout as svc

    if rollout_id:
        return svc.load_record(store, rollout_id)
    rec = svc.latest_record(store, env)
    if rec is None:
        raise BadInput("no rollouts yet", hint="start one with `fleetctl rollout start`")
    return rec


@app.command("status")
def status(
    ctx: typer.Context,
    rollout_id: Annotated[str | None, typer.Argument(help="Rollout id (default: latest).")] = None,
    env: HostsEnv = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Follow it live.")] = False,
    fmt: Fmt = render.Format.table,
) -> None:
    """Steps, hosts and gate verdicts of a rollout (the latest by default), and any freeze.

    Example:  fleetctl rollout status --watch
    """
    from fleetctl.cli.rollout_render import status_view
    from fleetctl.services import freeze as freeze_svc
    from fleetctl.services import rollout as svc
    from fleetctl.services.rollout import Status

    with Application(ctx) as app:
        store = app.store(write=False)
        rec = _pick(store, rollout_id, env)
        if fmt is render.Format.json:
            fr = freeze_svc.current(store, rec.env)
            render.emit_json(
                {
                    **{k: v for k, v in rec.to_dict().items() if k not in ("plan", "policy")},
                    "steps": [
                        {k: s[k] for k in ("index", "label", "region", "hosts")}
                        for s in svc.plan_of(store, rec)["steps"]
                    ],
                    "freeze": fr.to_dict() if fr else None,
                    "events": [e.to_dict() for e in svc.journal(store, rec.id)],
                }
            )
            return
        plan = svc.plan_of(store, rec)
        if not watch:
            fr = freeze_svc.current(store, rec.env)
            render.out.print(status_view(rec, plan, svc.journal(store, rec.id), fr))
            if rec.message:
                render.note(rec.message)
            return
        from rich.live import Live

        with Live(console=render.err, refresh_per_second=4) as live:
            while True:  # ends when the rollout reaches a final or paused state
                rec = svc.load_record(store, rec.id)
                fr = freeze_svc.current(store, rec.env)
                live.update(status_view(rec, plan, svc.journal(store, rec.id), fr))
                if rec.status.final or rec.status is Status.paused:
                    break
                time.sleep(1.0)
        render.err.print()
        if rec.message:
            render.note(rec.message)


@app.command("list")
def list_rollouts(
    ctx: typer.Context,
    env: HostsEnv = None,
    fmt: Fmt = render.Format.table,
) -> None:
    """Every rollout, newest first.

    Example:  fleetctl rollout list --env lab
    """
    from fleetctl.cli.rollout_render import list_table
    from fleetctl.services import rollout as svc

    with Application(ctx) as app:
        store = app.store(write=False)
        recs = sorted(svc.records(store, env), key=lambda r: r.created_at, reverse=True)
        if fmt is render.Format.json:
            render.emit_json(
                [
                    {
                        k: r.to_dict().get(k)
                        for k in (
                            "id",
                            "env",
                            "playbook",
                            "release_id",
                            "status",
                            "next_step",
                            "created_at",
                            "finished_at",
                            "by",
                            "message",
                        )
                    }
                    for r in recs
                ]
            )
            return
        render.out.print(list_table(recs))


@app.command("history")
def history(
    ctx: typer.Context,
    env: Env,
    fmt: Fmt = render.Format.table,
) -> None:
    """Releases rolled out to an env, and the last known-good release per group.

    Example:  fleetctl rollout history --env lab
    """
    from fleetctl.core.rollout.record import LkgRecord
    from fleetctl.services import rollout as svc

    with Application(ctx) as app:
        store = app.store(write=False)
        lkg = {
            r.group: r
            for r in (LkgRecord.from_dict(d) for d in store.list("lkg"))
            if r.group.startswith(f"{env}/")
        }
        good = {r.release for r in lkg.values()}
        rollouts = sorted(svc.records(store, env), key=lambda r: r.created_at, reverse=True)
        rows = []
        for d in rollouts:
            groups = [g for g, v in lkg.items() if v.release == d.release]
            rows.append(
                {
                    "release": d.release_id,
                    "git_sha": (d.git_sha or "")[:10],
                    "group": d.group,
                    "rollout": d.id,
                    "status": d.status.value,
                    "at": d.created_at,
                    "last_known_good": bool(groups) and d.release in good,
                }
            )
        if fmt is render.Format.json:
            render.emit_json(
                {
                    "env": env,
                    "last_known_good": {g: v.to_dict() for g, v in lkg.items()},
                    "rollouts": rows,
                }
            )
            return
        from fleetctl.cli.rollout_render import _ts

        render.out.print(
            render.table(
                f"releases on {env}",
                ["release", "git", "group", "rollout", "status", "started", "known-good"],
                [
                    (
                        r["release"],
                        r["git_sha"],
                        r["group"],
                        r["rollout"],
                        r["status"],
                        _ts(r["at"]),
                        "★ last known-good" if r["last_known_good"] else "",
                    )
                    for r in rows
                ],
            )
        )
        for g, v in sorted(lkg.items()):
            render.note(f"last known-good of {g}: {v.release_id} (from {v.rollout})")


@app.command("why")
def why(
    ctx: typer.Context,
    rollout_id: Annotated[str | None, typer.Argument(help="Rollout id (default: latest).")] = None,
    fmt: Fmt = render.Format.table,
) -> None:
    """Every decision of a rollout in order, with its evidence (samples, p-values, limits).

    Example:  fleetctl rollout why r-20260101-120000-ab12
    """
    from fleetctl.cli.rollout_render import why_lines
    from fleetctl.services import rollout as svc

    with Application(ctx) as app:
        store = app.store(write=False)
        rec = _pick(store, rollout_id, None)
        journal = svc.journal(store, rec.id)
        if fmt is render.Format.json:
            render.emit_json(
                {
                    "id": rec.id,
                    "status": rec.status.value,
                    "events": [e.to_dict() for e in journal],
                }
            )
            return
        for line in why_lines(rec, journal):
            render.out.print(line, markup=True, highlight=False, soft_wrap=True)
