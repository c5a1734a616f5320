"""`fleetctl history`: freezes, drains and rollouts of an env on one timeline."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from fleetctl.cli import options, render
from fleetctl.cli.application import Application
from fleetctl.cli.options import Env
from fleetctl.errors import BadInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """`30m`, `6h`, `2d` ago, or an ISO date/time (UTC unless it says otherwise)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw])", text.strip())
    if m:
        return (now if now is not None else time.time()) - float(m[1]) * _UNITS[m[2]]
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(
            f"bad --since {text!r}", hint="e.g. 30m, 6h, 2d, or 2026-11-25T14:00"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def history(
    ctx: typer.Context,
    env: Env,
    since: Annotated[
        str | None, typer.Option("--since", help="Only newer: 30m, 6h, 2d or an ISO time.")
    ] = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """One timeline of an env: freezes, host drains, region drains (who, why,
    weights, forced) and rollouts (started, paused, completed, rolled back).

    Example:  fleetctl history --env prod --since 2d
    """
    from fleetctl.services import history as svc

    start = parse_since(since) if since else None
    with Application(ctx) as app:
        store = app.store(write=False)
        entries = svc.timeline(store, env, since=start)
    if fmt is render.Format.json:
        render.emit_json([e.to_dict() for e in entries])
        return
    if not entries:
        render.note(f"nothing recorded for {env}" + (f" since {since}" if since else ""))
        return
    render.out.print(
        render.table(
            f"history of {env}",
            ["when (UTC)", "kind", "event", "subject", "by", "detail"],
            [
                (
                    f"{datetime.fromtimestamp(e.at, UTC):%Y-%m-%d %H:%M:%S}",
                    e.kind,
                    e.event,
                    e.subject,
                    e.by,
                    e.detail,
                )
                for e in entries
            ],
        )
    )
