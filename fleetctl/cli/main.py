"""The `fleetctl` entry point: the Typer app, global options, error handling.

Command modules import only Typer and light helpers at module level; heavy
libraries (pulumi, boto3, ansible_runner) load inside the command that needs
them, so `fleetctl --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from fleetctl import __version__
from fleetctl.cli import (
    apply,
    approvals,
    capacity,
    freeze,
    history,
    hosts,
    inventory,
    lab,
    metrics,
    render,
    rollout,
    stacks,
    status,
    traffic,
    validate,
)
from fleetctl.cli import certs as certs_cli
from fleetctl.cli import cost as cost_cli
from fleetctl.cli import deploy as deploy_cli
from fleetctl.cli import drift as drift_cli
from fleetctl.cli import event as event_cli
from fleetctl.cli import policy as policy_cli
from fleetctl.cli import preview as preview_cli
from fleetctl.cli import report as report_cli
from fleetctl.cli import temporal as temporal_cli
from fleetctl.cli.state import Globals
from fleetctl.errors import FleetctlError


class _Group(typer.core.TyperGroup):
    """Root group that turns expected errors into a message and an exit code.

    Doing it here (not only in `run`) means CliRunner tests see exactly what
    a user sees.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except FleetctlError as exc:
            render.error(exc)
            ctx.exit(exc.exit_code)


app = typer.Typer(
    name="fleetctl",
    cls=_Group,
    help=(
        "Declare, preview and safely roll out a global video delivery fleet.\n\n"
        "Example:  fleetctl validate && fleetctl stacks list --env prod"
    ),
    no_args_is_help=True,
    context_settings={"max_content_width": 120},  # use wide terminals; 80 columns otherwise
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich_utils + markdown imports cost ~100 ms
)


def _version(value: bool) -> None:
    if value:
        print(f"fleetctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root", envvar="FLEETCTL_ROOT", help="Repository root (default: search upward)."
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            envvar="FLEETCTL_STATE",
            help="Rollout journal: a SQLite path or s3://bucket/prefix.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Declare, preview and safely roll out a global video delivery fleet."""
    ctx.obj = Globals(root=root, state=state)


# Grouped as an SRE meets them: declare, preview, apply infra; configure and
# roll out hosts; run the fleet. Short help stays one line in 80 columns.
app.command("validate", short_help="Check the fleet spec; every problem as file:line.")(
    validate.validate
)
app.add_typer(stacks.app, name="stacks", short_help="List the stacks the spec declares.")
_PREVIEW_HELP = "Offline preview of infra changes (PR comment/JSON)."
app.add_typer(preview_cli.app, name="preview", short_help=_PREVIEW_HELP)
app.add_typer(cost_cli.app, name="cost", short_help="Monthly cost per region and role; prices.")
app.add_typer(policy_cli.app, name="policy", short_help="Policy rules every preview checks.")
app.command("up", short_help="Create/update a stack's cloud resources (Pulumi).")(deploy_cli.up)
app.command("destroy", short_help="Delete a stack's cloud resources (Pulumi).")(deploy_cli.destroy)
app.command("drift", short_help="Compare the spec with what exists in AWS.")(drift_cli.drift)
app.command("inventory", short_help="Ansible dynamic inventory from the spec or EC2.")(
    inventory.inventory
)
app.command("apply", short_help="Run a playbook on an env; per-host results.")(apply.apply)
# `rollout report` lives in cli/report.py (its own module beside the rollout commands)
rollout.app.command("report", short_help="A rollout as one HTML page: timeline, gate plots.")(
    report_cli.report
)
app.add_typer(rollout.app, name="rollout", short_help="Safe rollouts: canary, waves, gates.")
app.add_typer(
    approvals.app, name="approvals", short_help="Approve paused rollouts by signed HTTP request."
)
app.command("worker", short_help="A regional executor for rollouts on Temporal.")(
    temporal_cli.worker
)
app.command("freeze", short_help="Stop new rollout steps in an env (emergency).")(freeze.freeze)
app.command("drain", short_help="Move a region's viewers to the others.")(traffic.region_drain)
app.command("undrain", short_help="Give a drained region its traffic back.")(traffic.region_undrain)
app.add_typer(hosts.app, name="hosts", short_help="Drain/undrain single edge hosts (out of LB).")
app.command("history", short_help="Freezes, drains and rollouts on one timeline.")(history.history)
app.command("capacity", short_help="Capacity vs demand per region: N+1, growth, cost.")(
    capacity.capacity
)
app.add_typer(event_cli.app, name="event", short_help="Plan a peak event: pre-scale, freeze.")
app.command("status", short_help="The env at a glance: health, releases, rollout.")(status.status)
app.add_typer(certs_cli.app, name="certs", short_help="Edges' TLS certificates: status, rotate.")
app.add_typer(metrics.app, name="metrics", short_help="Prometheus endpoint for fleet status.")
app.add_typer(lab.app, name="lab", short_help="A real fleet on this machine (sshd + nginx).")


def run() -> None:
    """Console-script entry: expected errors become a message and an exit code."""
    try:
        app()
    except FleetctlError as exc:
        render.error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        render.note("interrupted")
        sys.exit(130)
