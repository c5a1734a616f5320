"""`fleetctl capacity`: can each region carry its peak, with a zone down?"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import options, render
from fleetctl.cli.options import StackEnv
from fleetctl.cli.state import workspace

_STYLE = {"ok": "green", "at-risk": "yellow", "short": "bold red"}
_FAIL_ON = ("short", "at-risk", "under", "never")


MAX_GROWTH = 10.0  # 1000 % a year: beyond it the answer is "now" anyway
MAX_PEAK_GBPS = 1e6  # 1 Pbit/s, far above any real fleet


def parse_growth(text: str) -> float:
    """'30%' -> 0.3, '0.3' -> 0.3; refuses negatives, nan/inf and nonsense."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected e.g. 30% or 0.3", param_hint="--growth"
        ) from None
    if not math.isfinite(value) or not 0 <= value <= MAX_GROWTH:
        raise typer.BadParameter(
            f"{text!r}: growth must be between 0 and {MAX_GROWTH:.0%} a year",
            param_hint="--growth",
        )
    return value


def _check_number(
    ctx: typer.Context, param: typer.CallbackParam, value: float | None
) -> float | None:
    """Finite and in range (Click's float ranges let nan through)."""
    if value is None:
        return value
    limit = MAX_PEAK_GBPS if param.name == "peak_gbps" else 1.0
    if not math.isfinite(value) or not 0 < value <= limit:
        flag = (param.opts or [param.name or "?"])[0]
        raise typer.BadParameter(
            f"{value!r}: expected a number > 0 and <= {limit:g}", param_hint=flag
        )
    return value


def capacity(
    ctx: typer.Context,
    demand: Annotated[
        Path | None,
        typer.Option(
            "--demand",
            "-d",
            help="Demand file (YAML): peak egress, viewers, uploads per region.",
            dir_okay=False,
        ),
    ] = None,
    peak_gbps: Annotated[
        float | None,
        typer.Option(
            "--peak-gbps",
            help="Shortcut: global edge peak, Gbit/s, split by traffic weights.",
            callback=_check_number,
        ),
    ] = None,
    env: StackEnv = "prod",
    growth: Annotated[
        str,
        typer.Option(
            "--growth",
            help="With --demand: growth per year (compounding monthly), shows when each "
            "region runs out. With --peak-gbps: a one-off increase. E.g. 30% or 0.3.",
        ),
    ] = "0",
    utilisation: Annotated[
        float | None,
        typer.Option(
            "--utilisation",
            help="Share of a node's Gbit/s used at peak "
            "(default: the demand file's, else the model's, docs/capacity.md).",
            callback=_check_number,
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="With --demand: write a PNG chart of demand vs capacity "
            "(without it, the table format prints a terminal chart).",
            dir_okay=False,
        ),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a region is: short or at-risk (--peak-gbps; default short), "
            "under (--demand), or never (default with --demand).",
        ),
    ] = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """Capacity per region: demand turned into edge nodes and transcode
    instances with N+1 per zone, compared with the spec.

    With --demand FILE: every region's verdict (under / ok / over), the
    monthly cost of fixing it (price table), and with --growth when it runs
    out. docs/capacity.md explains the model and where its defaults come from.

    With --peak-gbps N (shortcut): edge only; the peak split by traffic
    weights; ok (survives a zone loss), at-risk (only with all zones), short.

    Example:  fleetctl capacity --env prod --demand examples/demand-prod.yaml --growth 30%
    """
    if fail_on is not None and fail_on not in _FAIL_ON:
        raise typer.BadParameter(f"expected one of {', '.join(_FAIL_ON)}", param_hint="--fail-on")
    if (demand is None) == (peak_gbps is None):
        raise typer.BadParameter(
            "give --demand FILE (full plan) or --peak-gbps N (edge shortcut)",
            param_hint="--demand/--peak-gbps",
        )
    g = parse_growth(growth)
    if utilisation is not None and not 0 < utilisation <= 1:
        raise typer.BadParameter("must be in (0, 1]", param_hint="--utilisation")
    if demand is not None:
        _demand_mode(ctx, demand, env, g, utilisation, plot, fail_on or "never", fmt)
    else:
        if plot is not None:
            raise typer.BadParameter("--plot needs --demand", param_hint="--plot")
        assert peak_gbps is not None
        _peak_mode(ctx, peak_gbps, env, g, utilisation, fail_on or "short", fmt)


def _demand_mode(
    ctx: typer.Context,
    demand: Path,
    env: str,
    growth: float,
    utilisation: float | None,
    plot: Path | None,
    fail_on: str,
    fmt: render.Format,
) -> None:
    from fleetctl.cli import capacity_render
    from fleetctl.errors import BadInput
    from fleetctl.services import capacity as capacity_service
    from fleetctl.services import fleet as fleet_service

    if not demand.is_file():
        raise BadInput(f"no demand file {demand}", hint="see examples/demand-prod.yaml")
    fleet = fleet_service.workspace_fleet(workspace(ctx))
    report = capacity_service.demand_capacity(fleet, env, demand, growth, utilisation=utilisation)
    if fmt is render.Format.json:
        render.emit_json(capacity_service.report_json(report))
    else:
        capacity_render.table(report)
        if plot is None:
            capacity_render.terminal_chart(report)
    if plot is not None:
        capacity_render.png_chart(report, plot)
        render.ok(f"chart written to {plot}")
    failing = {"short", "at-risk", "under"} if fail_on != "never" else set()
    if any(r.verdict.value in failing for r in report.regions):
        raise typer.Exit(1)


def _peak_mode(
    ctx: typer.Context,
    peak_gbps: float,
    env: str,
    growth: float,
    utilisation: float | None,
    fail_on: str,
    fmt: render.Format,
) -> None:
    from fleetctl.services import capacity as capacity_service
    from fleetctl.services import fleet as fleet_service

    fleet = fleet_service.workspace_fleet(workspace(ctx))
    model = capacity_service.throughput_model(utilisation=utilisation)
    rows = capacity_service.edge_capacity(fleet, env, peak_gbps, growth, model=model)
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
                f"utilisation {model.utilisation:.0%}",
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
    failing = {
        "short": {"short"},
        "under": {"short"},
        "at-risk": {"short", "at-risk"},
        "never": set(),
    }[fail_on]
    if any(r.verdict.value in failing for r in rows):
        raise typer.Exit(1)
