"""`fleetctl status`: the whole env at a glance, problems first."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from fleetctl.cli import options, render
from fleetctl.cli.options import Env
from fleetctl.cli.state import state_url, workspace

if TYPE_CHECKING:
    from fleetctl.core.fleet_status import FleetStatus
    from fleetctl.services.status import StatusSource

SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        help="Hosts from the env's inventory, or its running EC2 instances (aws).",
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds per host health check.")
]


def status(
    ctx: typer.Context,
    env: Env,
    fmt: options.Fmt = render.Format.table,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh in place until Ctrl-C (or --count).")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.2, help="Seconds between refreshes (--watch).")
    ] = 5.0,
    count: Annotated[
        int | None,
        typer.Option("--count", min=1, help="Stop after this many snapshots (--watch)."),
    ] = None,
    fail_on_problems: Annotated[
        bool,
        typer.Option(
            "--fail-on-problems",
            help="Exit 1 when the (last) snapshot has any problem; for scripts and checks.",
        ),
    ] = False,
    timeout: TimeoutOpt = 2.0,
    lab_dir: options.LabDir = None,
    host_source: SourceOpt = "inventory",
) -> None:
    """Per region: hosts by health, release mix, traffic weight and drain; the env's
    rollout (step, gate verdicts) and freeze. Regions with problems come first.

    Hosts are probed live (GET /healthz on edges, origins and routers, X-Fleet-Release
    is the release; other roles: a TCP connect to SSH), all at once with a short
    timeout. Hosts the inventory gives no address (the spec's names, e.g.
    edge-iad-1a-01) are shown as `declared` and never probed; `--source aws`
    observes the env's running EC2 instances instead. `--watch` redraws in
    place; `--watch --format json` prints one JSON document per line per
    snapshot. Exit 0 when the snapshot was taken, 1 with `--fail-on-problems`
    when it shows a problem, 2 on bad input.

    Example:  fleetctl status --env lab --watch --interval 2
    """
    from fleetctl.services import status as svc

    source = svc.StatusSource(
        workspace(ctx),
        env,
        state_url=state_url(ctx),
        lab_dir=lab_dir,
        timeout_s=timeout,
        source=host_source,
    )
    if not watch:
        snap = source.snapshot()
        if fmt is render.Format.json:
            render.emit_json(snap.to_dict())
        else:
            from fleetctl.cli.status_render import view

            render.out.print(view(snap))
        _exit_for(snap.problems, fail_on_problems)
        return
    last = _watch(source, fmt, interval, count)
    _exit_for(last.problems if last else (), fail_on_problems)


def _exit_for(problems: Sequence[object], fail: bool) -> None:
    if fail and problems:
        raise typer.Exit(1)


def _watch(
    source: StatusSource, fmt: render.Format, interval: float, count: int | None
) -> FleetStatus | None:
    """Snapshots every `interval` s until Ctrl-C or `count` snapshots; the last one."""
    last = None
    n = 0
    try:
        if fmt is render.Format.json:
            while count is None or n < count:
                if n:
                    time.sleep(interval)
                last = source.snapshot()
                sys.stdout.write(json.dumps(last.to_dict(), default=str) + "\n")
                sys.stdout.flush()
                n += 1
            return last
        from fleetctl.cli.status_render import view

        console = render.out
        footer = f"every {interval:g}s · Ctrl-C to stop"
        if not console.is_terminal:  # a pipe or a log: one view after another
            while count is None or n < count:
                if n:
                    time.sleep(interval)
                last = source.snapshot()
                console.rule(time.strftime("%H:%M:%S UTC", time.gmtime(last.at)))
                console.print(view(last))
                n += 1
            return last
        from rich.live import Live

        # auto_refresh off: the screen changes once per snapshot, redrawn in place
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while count is None or n < count:
                if n:
                    time.sleep(interval)
                last = source.snapshot()
                live.update(view(last, footer=footer), refresh=True)
                n += 1
        return last
    except KeyboardInterrupt:
        render.note("stopped")
        return last
