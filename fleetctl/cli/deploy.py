"""`fleetctl up` and `fleetctl destroy`: apply or tear down a stack with Pulumi."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fleetctl.cli import options, render
from fleetctl.cli.state import workspace
from fleetctl.errors import BadInput, JobFailed

if TYPE_CHECKING:
    from fleetctl.services.deploy import Outcome, PulumiStack, Step

_PAST = {"create": "created", "update": "updated", "replace": "replaced", "delete": "deleted"}
_ING = {"create": "creating", "update": "updating", "replace": "replacing", "delete": "deleting"}

StackOpt = Annotated[
    str, typer.Option("--stack", "-s", help="The stack, e.g. prod-eu-west-1.", show_default=False)
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="Pulumi state backend URL (default: PULUMI_BACKEND_URL or `pulumi login`).",
    ),
]


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _show_plan(plan: Outcome, verb: str) -> None:
    if plan.steps:
        render.err.print(
            render.table(
                f"{verb} {plan.stack}: planned changes",
                ["op", "type", "name"],
                [(s.op, s.type, s.name) for s in plan.steps],
            )
        )
    render.note(f"plan: {_counts(plan.counts)}")


def _counts(counts: dict[str, int]) -> str:
    parts = [f"{n} to {op}" for op, n in counts.items() if n and op != "same"]
    if counts.get("same"):
        parts.append(f"{counts['same']} unchanged")
    return ", ".join(parts) or "no changes"


def _progress(step: Step) -> None:
    if step.status == "started":
        render.note(f"  {_ING.get(step.op, step.op)} {step.type} {step.name} ...")
    elif step.status == "done":
        secs = f" ({step.seconds:.1f}s)" if step.seconds is not None else ""
        render.ok(f"{_PAST.get(step.op, step.op)} {step.type} {step.name}{secs}")
    elif step.status == "failed":
        render.err.print(f"[red]✗[/] failed to {step.op} {step.type} {step.name}", markup=True)


def _confirm(plan: Outcome, yes: bool, action: str) -> None:
    if yes:
        return
    if not _interactive():
        raise BadInput(
            f"refusing to {action} {plan.stack} without confirmation (not a terminal)",
            hint="pass --yes to apply from a script or CI",
        )
    if not typer.confirm(f"{action} {plan.stack}: {_counts(plan.counts)}. Continue?"):
        render.note("cancelled: nothing was changed")
        raise typer.Exit(1)


def _summary(result: Outcome, fmt: render.Format, verb: str) -> None:
    done = {op: n for op, n in result.counts.items() if op != "same" and n}
    text = ", ".join(f"{n} {_PAST.get(op, op)}" for op, n in done.items()) or "no changes"
    if fmt is render.Format.json:
        render.emit_json(
            {
                "stack": result.stack,
                "operation": result.kind,
                "ok": result.ok,
                "changes": result.counts,
                "seconds": round(result.seconds, 2),
                "outputs": result.outputs,
            }
        )
    render.ok(f"{verb} {result.stack}: {text} in {result.seconds:.1f}s")


def _run(
    ctx: typer.Context,
    stack: str,
    yes: bool,
    backend: str | None,
    fmt: render.Format,
    destroy: bool,
) -> None:
    from fleetctl.services import deploy

    verb = "destroy" if destroy else "up"
    render.note(f"{verb} {stack}: previewing with the Pulumi engine ...")
    target: PulumiStack = deploy.open_stack(
        workspace(ctx), stack, create=not destroy, backend=backend
    )
    plan = target.preview_destroy() if destroy else target.preview()
    _show_plan(plan, verb)
    if plan.changes == 0:
        render.ok(f"{stack} is up to date: nothing to do")
        if fmt is render.Format.json:
            _summary(plan, fmt, verb)
        return
    _confirm(plan, yes, verb)
    result: Any = target.destroy(_progress) if destroy else target.up(_progress)
    if not result.ok:
        raise JobFailed(f"{verb} of {stack} failed", details=result.errors)
    _summary(result, fmt, verb)


def up(
    ctx: typer.Context,
    stack: StackOpt,
    yes: YesOpt = False,
    backend: BackendOpt = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """Create or update a stack's cloud resources with Pulumi (Automation API).

    Shows the preview, asks for confirmation on a terminal (--yes skips it; off a
    terminal --yes is required), streams progress and prints a summary. Needs the
    `pulumi` CLI on PATH (exit 3 with an install hint otherwise). AWS credentials and
    AWS_ENDPOINT_URL come from the environment.

    Example:  fleetctl up --stack staging-us-east-2 --yes
    """
    _run(ctx, stack, yes, backend, fmt, destroy=False)


def destroy(
    ctx: typer.Context,
    stack: StackOpt,
    yes: YesOpt = False,
    backend: BackendOpt = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """Delete every cloud resource of a stack with Pulumi (Automation API).

    Same flow as `up`: preview of the deletions, confirmation, progress, summary.
    Protected resources (prod buckets) make Pulumi refuse; that is the point.

    Example:  fleetctl destroy --stack staging-us-east-2
    """
    _run(ctx, stack, yes, backend, fmt, destroy=True)
