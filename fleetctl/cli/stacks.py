"""`fleetctl stacks ...`: what the fleet spec declares."""

from __future__ import annotations

from dataclasses import asdict

import typer

from fleetctl.cli import options, render
from fleetctl.cli.options import OnlyEnv
from fleetctl.cli.state import workspace

app = typer.Typer(help="List the stacks the fleet spec declares.", no_args_is_help=True)


@app.command("list")
def list_stacks(
    ctx: typer.Context,
    env: OnlyEnv = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """List stacks: env, region, edge nodes, transcode min/max, buckets, traffic weight.

    Example:  fleetctl stacks list --env prod --format json
    """
    from fleetctl.services import fleet as fleet_service

    fleet = fleet_service.workspace_fleet(workspace(ctx))
    rows = fleet_service.summaries(fleet, env)
    if fmt is render.Format.json:
        render.emit_json([{k: v for k, v in asdict(r).items() if k != "source"} for r in rows])
        return
    render.out.print(
        render.table(
            None,
            [
                "env",
                "region",
                "stack",
                "edge nodes",
                "transcode min",
                "transcode max",
                "buckets",
                "traffic weight",
            ],
            [
                (
                    r.env,
                    r.region,
                    r.stack,
                    r.edge_nodes,
                    r.transcode_min,
                    r.transcode_max,
                    r.buckets,
                    f"{r.traffic_weight:.2f}",
                )
                for r in rows
            ],
        )
    )
