"""`fleetctl inventory`: the Ansible dynamic inventory derived from the fleet spec."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.options import OnlyEnv
from fleetctl.cli.state import workspace
from fleetctl.errors import BadInput


class Source(StrEnum):
    spec = "spec"
    aws = "aws"


def inventory(
    ctx: typer.Context,
    env: OnlyEnv = None,
    region: Annotated[str | None, typer.Option("--region", "-r", help="Only this region.")] = None,
    role: Annotated[
        str | None, typer.Option("--role", help="Only this role: edge, transcode.")
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="Ansible dynamic inventory JSON (groups + _meta).")
    ] = False,
    host: Annotated[
        str | None, typer.Option("--host", help="Ansible dynamic inventory: one host's vars.")
    ] = None,
    fmt: Annotated[render.Format, typer.Option("--format", help="Output format.")] = (
        render.Format.table
    ),
    source: Annotated[
        Source,
        typer.Option(
            "--source", help="Hosts from the spec, or from running EC2 instances by tag (aws)."
        ),
    ] = Source.spec,
) -> None:
    """Hosts from the fleet spec: one per edge node, transcode min_size per region.

    Follows Ansible's dynamic inventory contract (`--list`, `--host NAME`), so
    `ansible-inventory -i inventories/prod/fleetctl-inventory --list` works.
    Groups: env, region, role (dashes become underscores: us_east_1).
    `--source aws` lists the env's running EC2 instances by their tags instead
    (same output contract; AWS credentials and AWS_ENDPOINT_URL from the environment).

    Example:  fleetctl inventory --env prod --region eu-west-1 --role edge
    """
    from fleetctl.services import fleet as fleet_service
    from fleetctl.services import inventory as inv

    if source is Source.aws:
        from fleetctl.services import inventory_aws

        if env is None:
            raise BadInput("--source aws needs --env", hint="e.g. --env prod --source aws")
        regions = [region] if region else []
        records = inventory_aws.hosts_from_aws(workspace(ctx), env, regions=regions, role=role)
    else:
        fleet = fleet_service.load(workspace(ctx))
        records = inv.hosts_from_fleet(fleet, env=env, region=region, role=role)
    if host is not None:
        render.emit_json(inv.host_vars(records, host))
        return
    if list_ or fmt is render.Format.json:
        render.emit_json(inv.ansible_inventory(records))
        return
    render.out.print(
        render.table(
            None,
            ["host", "env", "region", "role", "pop", "zone", "traffic weight"],
            [
                (r.name, r.env, r.region, r.role, r.pop, r.zone, f"{r.traffic_weight:.2f}")
                for r in records
            ],
        )
    )
    render.note(f"{len(records)} hosts")
