"""`fleetctl cost`: what the fleet costs a month, and the prices behind it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.options import OnlyEnv, OnlyStacks
from fleetctl.cli.state import workspace
from fleetctl.errors import EXIT_JOB_FAILED

app = typer.Typer(invoke_without_command=True)


class By(StrEnum):
    region = "region"
    role = "role"


PricesOpt = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        exists=True,
        dir_okay=False,
        help="A price table in the format of the shipped one (default: fleetctl's own).",
    ),
]


@app.callback()
def cost(
    ctx: typer.Context,
    env: OnlyEnv = None,
    stack: OnlyStacks = None,
    by: Annotated[By, typer.Option("--by", help="Table rows: one per region or per role.")] = (
        By.region
    ),
    detail: Annotated[
        bool, typer.Option("--detail", "-d", help="Also list every priced line.")
    ] = False,
    prices: PricesOpt = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every stack; ignore the preview cache.")
    ] = False,
    fmt: Annotated[render.Format, typer.Option("--format", "-f", help="Output format.")] = (
        render.Format.table
    ),
) -> None:
    """Monthly cost estimate per region and role, from what the stacks declare.

    Instances at on-demand list prices (edge pools at their fixed size,
    transcode groups at their minimum, with the maximum as a ceiling), their
    EBS volumes and public IPv4 addresses, S3 storage and requests from the
    buckets' usage estimates. Internet egress is not included (it follows
    demand, not the infrastructure). See docs/cost.md.

    Example:  fleetctl cost --env prod --by role --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    from fleetctl.cli import cost_render
    from fleetctl.services.fleet_cost import fleet_cost

    fc = fleet_cost(
        workspace(ctx),
        env=env,
        stacks=tuple(stack or ()),
        prices_path=prices,
        use_cache=not no_cache,
    )
    if fmt is render.Format.json:
        render.emit_json(cost_render.fleet_json(fc))
    else:
        cost_render.fleet_table(fc, by.value, detail, render.out)
        render.err.print(
            f"[dim]prices: {fc.prices.source}, as of {fc.prices.as_of} ({fc.prices.file}); "
            f"{len(fc.stacks)} stack(s), {fc.cache_hits} graph(s) from cache; "
            f"{fc.seconds:.1f}s[/]",
            markup=True,
            soft_wrap=True,
        )
    if fc.failed:
        render.err.print(
            f"[bold red]not estimated:[/] {', '.join(fc.failed)} (the program failed; "
            "`fleetctl preview --stack NAME` shows why)",
            markup=True,
        )
        raise typer.Exit(EXIT_JOB_FAILED)


@app.command("prices")
def show_prices(
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="The prices that apply in this region.")
    ] = None,
    prices: PricesOpt = None,
    fmt: Annotated[render.Format, typer.Option("--format", "-f", help="Output format.")] = (
        render.Format.table
    ),
) -> None:
    """Show the price table estimates use: its source, date and figures.

    Without --region: the us-east-1 instance prices and each region's factor
    and figures. With --region: every price as it applies there.

    Example:  fleetctl cost prices --region eu-west-1 --format json
    """
    from fleetctl.cli import cost_render
    from fleetctl.services import cost as svc

    table = svc.prices(prices)
    if region is not None:
        table.region(region)  # PriceMissing (exit 2) for an unknown region
    if fmt is render.Format.json:
        render.emit_json(cost_render.prices_json(table, svc.prices_file(prices), region))
    else:
        cost_render.prices_table(table, svc.prices_file(prices), region, render.out)
