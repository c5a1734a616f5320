"""`fleetctl hosts drain|undrain|list`: take single edge hosts out of load balancing.

(Whole regions: `fleetctl drain REGION`, which moves traffic weights.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.application import Application
from fleetctl.cli.options import Env, Fmt, LabDir
from fleetctl.cli.state import workspace
from fleetctl.errors import BadInput, JobFailed

app = typer.Typer(no_args_is_help=True, help="Single edge hosts: drain, undrain, list.")

Limit = Annotated[
    str | None,
    typer.Option("--limit", "-l", help="Ansible host pattern: hosts, groups (lab_big)."),
]


def _set(
    ctx: typer.Context,
    env: str,
    limit: str | None,
    on: bool,
    reason: str,
    lab_dir: Path | None,
    fmt: render.Format,
) -> None:
    from fleetctl.services import host_drain as svc

    if not limit:
        raise BadInput("say which hosts with --limit", hint="e.g. --limit lab-edge-big-01")
    if on and not reason:
        raise BadInput("a drain needs a --reason", hint="e.g. --reason 'NIC errors'")
    with Application(ctx) as app:
        store = app.store(write=True)
        result = svc.set_drain(workspace(ctx), store, env, limit, on, reason, lab_dir=lab_dir)
    verb = "drained" if on else "back in service"
    done = sorted(h for h, o in result.hosts.items() if not (o.failed or o.unreachable))
    bad = sorted(h for h, o in result.hosts.items() if o.failed or o.unreachable)
    if fmt is render.Format.json:
        render.emit_json(
            {"env": env, "action": "drain" if on else "undrain", "ok": done, "failed": bad}
        )
    for host in done:
        render.ok(f"{host} {verb}")
    if not result.hosts:
        raise BadInput(f"--limit {limit!r} matches no edge host in {env}")
    if bad:
        raise JobFailed(
            f"could not change {len(bad)} host(s): {', '.join(bad)}",
            hint="they keep their previous drain state; retry when they are reachable",
        )


@app.command("drain")
def drain(
    ctx: typer.Context,
    env: Env,
    limit: Limit = None,
    reason: Annotated[str | None, typer.Option("--reason", "-r", help="Why (required).")] = None,
    lab_dir: LabDir = None,
    fmt: Fmt = render.Format.table,
) -> None:
    """Drain edge hosts: /healthz answers 503 so load balancers stop sending new
    viewers, while segments are still served. Rollouts skip drained hosts.

    Example:  fleetctl hosts drain --env lab --limit lab-edge-big-01 --reason "NIC errors"
    """
    _set(ctx, env, limit, True, reason or "", lab_dir, fmt)


@app.command("undrain")
def undrain(
    ctx: typer.Context,
    env: Env,
    limit: Limit = None,
    reason: Annotated[str | None, typer.Option("--reason", "-r", help="Why (optional).")] = None,
    lab_dir: LabDir = None,
    fmt: Fmt = render.Format.table,
) -> None:
    """Put drained edge hosts back into load balancing.

    Example:  fleetctl hosts undrain --env lab --limit lab-edge-big-01
    """
    _set(ctx, env, limit, False, reason or "", lab_dir, fmt)


@app.command("list")
def list_(ctx: typer.Context, env: Env, fmt: Fmt = render.Format.table) -> None:
    """The drained edge hosts of an env: who, since when, why.

    Example:  fleetctl hosts list --env lab
    """
    from fleetctl.services import host_drain as svc

    with Application(ctx) as app:
        store = app.store(write=False)
        rows = svc.drained(store, env)
    if fmt is render.Format.json:
        render.emit_json([d.to_dict() for d in rows])
    elif not rows:
        render.note(f"no drained hosts in {env}")
    else:
        render.out.print(
            render.table(
                f"drained hosts in {env}",
                ["host", "by", "since", "reason"],
                [
                    (d.host, d.by, f"{datetime.fromtimestamp(d.at, UTC):%Y-%m-%d %H:%M}", d.reason)
                    for d in rows
                ],
            )
        )
