"""`fleetctl policy ...`: the team's policy pack (policies/), listed and checked."""

from __future__ import annotations

from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.options import OnlyEnv, OnlyStacks
from fleetctl.cli.state import workspace
from fleetctl.errors import EXIT_JOB_FAILED

app = typer.Typer(
    help="The policy pack every preview checks (policies/*.py).", no_args_is_help=True
)


@app.command("list")
def list_rules(
    ctx: typer.Context,
    fmt: Annotated[render.Format, typer.Option("--format", help="Output format.")] = (
        render.Format.table
    ),
) -> None:
    """List every policy rule: id, level (mandatory blocks a preview), what it checks.

    Example:  fleetctl policy list --format json
    """
    from fleetctl.core.guardrails import Level, rule_to_json
    from fleetctl.services import guardrails

    ws = workspace(ctx)
    rules = guardrails.load_rules(ws)
    if fmt is render.Format.json:
        render.emit_json([rule_to_json(r) for r in rules])
        return
    if not rules:
        render.note(f"no policy pack: {guardrails.pack_dir(ws)} holds no rules")
        return
    order = sorted(rules, key=lambda r: (r.level is not Level.mandatory, r.id))
    render.out.print(
        render.table(
            None,
            ["id", "level", "description", "source"],
            [(r.id, r.level.value, r.description, r.source) for r in order],
        )
    )


@app.command("check")
def check(
    ctx: typer.Context,
    env: OnlyEnv = None,
    stack: OnlyStacks = None,
    fmt: Annotated[render.Format, typer.Option("--format", help="Output format.")] = (
        render.Format.table
    ),
) -> None:
    """Check the policy pack on the current spec and program (no base, no diff).

    Runs each stack's program offline (cached like `fleetctl preview`) and
    evaluates every rule on what would be deployed. Exit 1 on a mandatory
    violation. Rules about changes (deletes) need `fleetctl preview --base`.

    Example:  fleetctl policy check --env prod
    """
    from fleetctl.cli.preview_render import render_guardrails_table
    from fleetctl.core.guardrails import report_to_json
    from fleetctl.core.preview_model import StackError
    from fleetctl.services import preview as svc

    ws = workspace(ctx)
    run = svc.run_preview(ws, svc.PreviewOptions(env=env, stacks=tuple(stack or ())))
    report = run.report.guardrails
    failed = run.result.failed
    for s in failed:
        err = s.error or StackError("failed")
        render.err.print(f"[red]{s.stack}: preview failed:[/] {err.message}", soft_wrap=True)
    if fmt is render.Format.json:
        render.emit_json(None if report is None else report_to_json(report))
    elif report is None:
        render.note(f"no policy pack in {ws.root}")
    else:
        render_guardrails_table(report, render.out)
    if failed or (report is not None and report.blocking):
        raise typer.Exit(EXIT_JOB_FAILED)
