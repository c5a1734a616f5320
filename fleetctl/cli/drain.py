"""`fleetctl drain on|off|status`: take edge nodes out of load balancing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.state import state_url, workspace
from fleetctl.errors import BadInput, JobFailed

Action = render.Switch


def drain(
    ctx: typer.Context,
    action: Annotated[Action, typer.Argument(help="on, off or status.")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment.")],
    limit: Annotated[
        str | None,
        typer.Option("--limit", "-l", help="Ansible host pattern: hosts, groups (lab_big)."),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="Why (required for on).")
    ] = None,
    lab_dir: Annotated[
        Path | None, typer.Option("--lab-dir", envvar="FLEETCTL_LAB_DIR", help="Lab directory.")
    ] = None,
    fmt: Annotated[render.Format, typer.Option("--format", help="Output format.")] = (
        render.Format.table
    ),
) -> None:
    """Drain edge nodes: /healthz answers 503 so load balancers stop sending new
    viewers, while segments are still served. Rollouts skip drained hosts.

    Example:  fleetctl drain on --env lab --limit lab-edge-big-01 --reason "NIC errors"
    """
    from fleetctl.adapters.state import open_store
    from fleetctl.services import drain as svc

    store = open_store(state_url(ctx))
    try:
        if action is Action.status:
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
                            (
                                d.host,
                                d.by,
                                f"{datetime.fromtimestamp(d.at, UTC):%Y-%m-%d %H:%M}",
                                d.reason,
                            )
                            for d in rows
                        ],
                    )
                )
            return
        if not limit:
            raise BadInput("say which hosts with --limit", hint="e.g. --limit lab-edge-big-01")
        if action is Action.on and not reason:
            raise BadInput("a drain needs a --reason", hint="e.g. --reason 'NIC errors'")
        on = action is Action.on
        result = svc.set_drain(workspace(ctx), store, env, limit, on, reason or "", lab_dir=lab_dir)
        verb = "drained" if on else "back in service"
        done = sorted(h for h, o in result.hosts.items() if not (o.failed or o.unreachable))
        bad = sorted(h for h, o in result.hosts.items() if o.failed or o.unreachable)
        if fmt is render.Format.json:
            render.emit_json({"env": env, "action": action.value, "ok": done, "failed": bad})
        for host in done:
            render.ok(f"{host} {verb}")
        if not result.hosts:
            raise BadInput(f"--limit {limit!r} matches no edge host in {env}")
        if bad:
            raise JobFailed(
                f"could not change {len(bad)} host(s): {', '.join(bad)}",
                hint="they keep their previous drain state; retry when they are reachable",
            )
    finally:
        store.close()
