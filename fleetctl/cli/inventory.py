"""`fleetctl inventory`: the Ansible dynamic inventory derived from the fleet spec."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.options import HostsEnv, LabDir
from fleetctl.cli.state import workspace
from fleetctl.errors import BadInput


class Source(StrEnum):
    spec = "spec"
    aws = "aws"


def inventory(
    ctx: typer.Context,
    env: HostsEnv = None,
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
    lab_dir: LabDir = None,
) -> None:
    """Hosts from the fleet spec: one per edge node, transcode min_size per region.

    Follows Ansible's dynamic inventory contract (`--list`, `--host NAME`), so
    `ansible-inventory -i inventories/prod/fleetctl-inventory --list` works.
    Groups: env, region, role (dashes become underscores: us_east_1).
    `--source aws` lists the env's running EC2 instances by their tags instead
    (same output contract; AWS credentials and AWS_ENDPOINT_URL from the environment).
    `--env lab` prints the running lab's inventory (`fleetctl lab up`; its file
    is the lab's hosts.yml) with every host and group var Ansible needs.

    Example:  fleetctl inventory --env prod --region eu-west-1 --role edge
    """
    from fleetctl.services import fleet as fleet_service
    from fleetctl.services import inventory as inv

    if env == "lab":
        if source is Source.aws:
            raise BadInput("the lab has no AWS inventory", hint="drop --source aws for --env lab")
        _lab_inventory(ctx, lab_dir, region=region, role=role, host=host, list_=list_, fmt=fmt)
        return
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


def _lab_inventory(
    ctx: typer.Context,
    lab_dir: Path | None,
    *,
    region: str | None,
    role: str | None,
    host: str | None,
    list_: bool,
    fmt: render.Format,
) -> None:
    from fleetctl.services import lab as lab_service

    lab = lab_service.require(lab_service.resolve_dir(lab_dir, workspace(ctx).root))
    hosts = [
        h
        for h in lab.hosts
        if (region is None or h.region == region) and (role is None or h.role == role)
    ]
    if host is not None:
        render.emit_json(lab_service.lab_host_vars(lab, host))
        return
    if list_ or fmt is render.Format.json:
        render.emit_json(lab_service.dynamic_inventory(lab, [h.name for h in hosts]))
        return
    render.out.print(
        render.table(
            None,
            ["host", "env", "region", "role", "pop", "address", "traffic weight"],
            [
                (h.name, "lab", h.region, h.role, h.pop, h.address, f"{h.traffic_weight:.2f}")
                for h in hosts
            ],
        )
    )
    render.note(f"{len(hosts)} hosts; inventory file: {lab.inventory}")
