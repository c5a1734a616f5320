"""`fleetctl freeze on|off|status`: stop (or allow again) new rollout steps in an env."""

from __future__ import annotations

from typing import Annotated

import typer

from fleetctl.cli import options, render
from fleetctl.cli.application import Application
from fleetctl.cli.options import Env
from fleetctl.errors import BadInput

Action = render.Switch


def freeze(
    ctx: typer.Context,
    action: Annotated[Action, typer.Argument(help="on, off or status.")],
    env: Env,
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="Why (required for on).")
    ] = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """Freeze an env: no rollout starts and no new rollout step starts until `freeze off`.

    Example:  fleetctl freeze on --env prod --reason "big match tonight"
    """
    from fleetctl.services import freeze as svc

    if action is Action.on and not reason:
        raise BadInput("a freeze needs a --reason", hint="e.g. --reason 'incident 123'")
    with Application(ctx) as app:
        store = app.store(write=action is not Action.status)
        if action is Action.status:
            f = svc.current(store, env)
            if fmt is render.Format.json:
                render.emit_json(
                    {"env": env, "frozen": f is not None, **(f.to_dict() if f else {})}
                )
            elif f is None:
                render.note(f"{env} is not frozen")
            else:
                render.note(f"{env} is FROZEN by {f.by}: {f.reason}")
            return
        f = svc.set_freeze(store, env, action is Action.on, reason or "")
        if fmt is render.Format.json:
            render.emit_json(f.to_dict())
        elif f.on:
            render.ok(f"{env} frozen by {f.by}: {f.reason}")
        else:
            render.ok(f"{env} unfrozen by {f.by}")
