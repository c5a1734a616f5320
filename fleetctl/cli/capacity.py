"""`fleetctl capacity`: can each region serve its share of the peak, with a zone down?"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.state import workspace

_STYLE = {"ok": "green", "at-risk": "yellow", "short": "bold red"}


def capacity(
    ctx: typer.Context,
    peak_gbps: Annotated[
        float, typer.Option("--peak-gbps", help="Global peak egress of the env, Gbit/s.")
    ],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment.")] = "prod",
    growth: Annotated[
        float, typer.Option("--growth", help="Plan for this much growth, e.g. 0.25 = +25 %.")
    ] = 0.0,
    utilisation: Annotated[
        float, typer.Option("--utilisation", help="Target share of node bandwidth at peak.")
    ] = 0.7,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on", help="Exit 1 when any region is `short` or `at-risk` (or never)."
        ),
    ] = "short",
    fmt: Annotated[render.Format, typer.Option("--format", help="Output format.")] = (
        render.Format.table
    ),
) -> None:
    """Edge capacity per region at peak, and with the largest zone down.

    Verdicts: ok (survives a zone loss), at-risk (serves the peak, not with a
    zone down), short (cannot serve the peak). Tightest regions first.

    Example:  fleetctl capacity --env prod --peak-gbps 3000 --growth 0.25
    """
    from fleetctl.services import capacity as capacity_service
    from fleetctl.services import fleet as fleet_service

    if fail_on not in ("short", "at-risk", "never"):
        raise typer.BadParameter("expected short, at-risk or never", param_hint="--fail-on")
    fleet = fleet_service.load(workspace(ctx))
    rows = capacity_service.edge_capacity(fleet, env, peak_gbps, growth, utilisation)
    if fmt is render.Format.json:
        render.emit_json(
            [
                {**asdict(r), "headroom": None if math.isinf(r.headroom) else r.headroom}
                for r in rows
            ]
        )
    else:
        render.out.print(
            render.table(
                f"edge capacity, {env}: peak {peak_gbps:g} Gbit/s, growth {growth:.0%}, "
                f"utilisation {utilisation:.0%}",
                [
                    "stack",
                    "demand Gbit/s",
                    "capacity Gbit/s",
                    "zone down Gbit/s",
                    "headroom",
                    "nodes/zone",
                    "needed/zone",
                    "verdict",
                ],
                [
                    (
                        r.stack,
                        r.demand_gbps,
                        r.capacity_gbps,
                        r.zone_loss_gbps,
                        f"{r.headroom:+.0%}",
                        r.nodes_per_zone,
                        r.nodes_per_zone_needed,
                        f"[{_STYLE[r.verdict.value]}]{r.verdict.value}[/]",
                    )
                    for r in rows
                ],
            )
        )
    failing = {"short": {"short"}, "at-risk": {"short", "at-risk"}, "never": set()}[fail_on]
    if any(r.verdict.value in failing for r in rows):
        raise typer.Exit(1)
