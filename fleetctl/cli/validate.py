"""`fleetctl validate`: check stack configs and report every problem at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import options, render
from fleetctl.cli.state import workspace


def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Stack config files to check (default: every stacks/Pulumi.*.yaml)."),
    ] = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """Check stack configs; report every problem as file:line: key: message.

    Exit 0 when valid (one summary line per stack), 2 with all problems listed.

    Example:  fleetctl validate stacks/Pulumi.prod-eu-west-1.yaml
    """
    from fleetctl.services import fleet as fleet_service

    fleet = fleet_service.workspace_fleet(workspace(ctx), paths or [])
    from fleetctl.spec.traffic import load_traffic

    load_traffic(workspace(ctx).stacks_dir)  # fleet:traffic (Route 53 records of region drains)
    rows = fleet_service.summaries(fleet)
    if fmt is render.Format.json:
        render.emit_json({"valid": True, "stacks": [r.stack for r in rows]})
        return
    for r in rows:
        render.ok(
            f"{r.stack}: {r.edge_nodes} edge nodes, transcode {r.transcode_min}-{r.transcode_max},"
            f" {r.buckets} bucket{'s' if r.buckets != 1 else ''}, weight {r.traffic_weight:g}"
        )
    render.note(f"{len(rows)} stack{'s' if len(rows) != 1 else ''} valid")
