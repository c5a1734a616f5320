"""`fleetctl drain REGION` / `fleetctl undrain REGION`: move a region's viewer traffic."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.application import Application
from fleetctl.cli.options import Env, Fmt, LabDir, Yes
from fleetctl.cli.state import workspace
from fleetctl.errors import BadInput

if TYPE_CHECKING:
    from fleetctl.services.traffic import TrafficPlan, TrafficResult

Region = Annotated[str, typer.Argument(help="The viewer region, e.g. eu-west-1 or lab-big.")]


def _show(plan: TrafficPlan) -> None:
    rows = []
    for region in sorted(plan.base, key=lambda r: (-plan.base[r], r)):
        mark = "DRAINED" if region in plan.drained_after else ""
        rows.append(
            (
                region,
                f"{plan.before[region]:.1%}",
                f"{plan.after[region]:.1%}",
                plan.int_before[region],
                plan.int_after[region],
                mark,
            )
        )
    render.err.print(
        render.table(
            f"{plan.action} {plan.region} in {plan.env} ({plan.backend})",
            ["region", "share now", "share after", "weight now", "weight after", ""],
            rows,
        )
    )
    if plan.capacity:
        render.err.print(
            render.table(
                f"can the rest carry it? peak {plan.peak_gbps:g} Gbit/s",
                ["region", "needed Gbit/s", "available Gbit/s", "ok"],
                [
                    (
                        r.region,
                        round(r.needed_gbps, 2),
                        round(r.available_gbps, 2),
                        "yes" if r.ok else "SHORT",
                    )
                    for r in plan.capacity
                ],
            )
        )


def _confirm(plan: TrafficPlan, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise BadInput(
            f"{plan.action} of {plan.region} not confirmed",
            hint="pass --yes to confirm without a terminal",
        )
    if not typer.confirm(f"{plan.action} {plan.region} in {plan.env}?", err=True):
        raise BadInput(f"{plan.action} of {plan.region} not confirmed")


def _done(result: TrafficResult, fmt: render.Format) -> None:
    plan = result.plan
    if fmt is render.Format.json:
        render.emit_json(
            {
                **plan.to_dict(),
                "forced": result.forced,
                "by": result.by,
                "at": result.at,
                "evidence": result.evidence,
            }
        )
    verb = "drained" if plan.action == "drain" else "back in service"
    extra = " (FORCED past the capacity check; recorded)" if result.forced else ""
    render.ok(f"{plan.region} {verb} in {plan.env}{extra}")


def region_drain(
    ctx: typer.Context,
    region: Region,
    env: Env,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded).")] = "",
    peak_gbps: Annotated[
        float | None,
        typer.Option(
            "--peak-gbps",
            help="Env-wide viewer peak for the capacity check (default: fleet:traffic "
            "peak_gbps; lab: 1).",
        ),
    ] = None,
    demand: Annotated[
        Path | None,
        typer.Option(
            "--demand",
            help="Take the peak (the sum of its regions' peak egress) and the node "
            "throughput parameters from a demand file, as `fleetctl capacity --demand` "
            "plans them.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Drain even if the rest looks too small (recorded).")
    ] = False,
    yes: Yes = False,
    lab_dir: LabDir = None,
    fmt: Fmt = render.Format.table,
) -> None:
    """Drain a region: its weight goes to 0 and its share of viewers moves to the
    other regions in proportion to their weights (lab: the traffic router; AWS:
    Route 53 weighted records). Refused, with the numbers, when the remaining
    edge pools cannot carry the peak, unless --force.

    Example:  fleetctl drain eu-west-1 --env prod -r "packet loss" --demand demand-prod.yaml
    """
    from fleetctl.services import traffic as svc

    if not reason.strip():
        raise BadInput("a drain needs a --reason", hint="e.g. --reason 'packet loss in eu-west-1'")
    if demand is not None and peak_gbps is not None:
        raise BadInput("give --peak-gbps or --demand, not both")
    ws = workspace(ctx)
    model = None
    if demand is not None:  # the peak and the node figures `capacity --demand` uses
        basis = svc.basis_from_demand(ws, env, demand)
        peak_gbps, model = basis.peak_gbps, basis.model
    with Application(ctx) as app:
        store = app.store(write=True)
        plan = svc.plan_change(
            ws, store, env, region, drain=True, peak_gbps=peak_gbps, lab_dir=lab_dir, model=model
        )
        if plan.noop:
            render.note(f"{region} is already drained in {env}; nothing to do")
            if fmt is render.Format.json:
                render.emit_json({**plan.to_dict(), "forced": False, "evidence": {}})
            return
        if fmt is render.Format.table or not yes:
            _show(plan)
        if plan.short and not force:
            if fmt is render.Format.json:
                render.emit_json({**plan.to_dict(), "forced": False, "evidence": {}})
            svc.change(ws, store, plan, reason=reason, force=False, lab_dir=lab_dir)  # raises
        _confirm(plan, yes)
        result = svc.change(ws, store, plan, reason=reason, force=force, lab_dir=lab_dir)
    _done(result, fmt)


def region_undrain(
    ctx: typer.Context,
    region: Region,
    env: Env,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (optional, recorded).")] = "",
    yes: Yes = False,
    lab_dir: LabDir = None,
    fmt: Fmt = render.Format.table,
) -> None:
    """Undrain a region: the weights go back exactly to what they were before its
    drain (other drained regions stay drained).

    Example:  fleetctl undrain eu-west-1 --env prod --yes
    """
    from fleetctl.services import traffic as svc

    ws = workspace(ctx)
    with Application(ctx) as app:
        store = app.store(write=True)
        plan = svc.plan_change(ws, store, env, region, drain=False, lab_dir=lab_dir)
        if plan.noop:
            render.note(f"{region} is not drained in {env}; nothing to do")
            if fmt is render.Format.json:
                render.emit_json({**plan.to_dict(), "forced": False, "evidence": {}})
            return
        if fmt is render.Format.table or not yes:
            _show(plan)
        _confirm(plan, yes)
        result = svc.change(ws, store, plan, reason=reason, lab_dir=lab_dir)
    _done(result, fmt)
