"""The `fleetctl` entry point: the Typer app, global options, error handling.

Command modules import only Typer and light helpers at module level; heavy
libraries (pulumi, boto3, ansible_runner) load inside the command that needs
them, so `fleetctl --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from fleetctl import __version__
from fleetctl.cli import render
from fleetctl.cli.state import Globals
from fleetctl.errors import FleetctlError


@dataclass(frozen=True)
class _Entry:
    """A command of the root: `attr` of module fleetctl.cli.<module>, a command
    function or a Typer app (a group); `extra` adds commands that live in other
    modules to that group ((name, module, attr, short help))."""

    module: str
    attr: str
    short_help: str
    extra: tuple[tuple[str, str, str, str], ...] = ()


# Grouped as an SRE meets them: declare, preview, apply infra; configure and
# roll out hosts; run the fleet. Short help stays one line in 80 columns.
# Imported and built only when used: `fleetctl --help` lists these lines
# without importing the command modules or building the parameters of every
# command (about half of its time).
_COMMANDS: dict[str, _Entry] = {
    "validate": _Entry("validate", "validate", "Check the fleet spec; every problem as file:line."),
    "stacks": _Entry("stacks", "app", "List the stacks the spec declares."),
    "preview": _Entry("preview", "app", "Offline preview of infra changes (PR comment/JSON)."),
    "cost": _Entry("cost", "app", "Monthly cost per region and role; prices."),
    "policy": _Entry("policy", "app", "Policy rules every preview checks."),
    "up": _Entry("deploy", "up", "Create/update a stack's cloud resources (Pulumi)."),
    "destroy": _Entry("deploy", "destroy", "Delete a stack's cloud resources (Pulumi)."),
    "drift": _Entry("drift", "drift", "Compare the spec with what exists in AWS."),
    "inventory": _Entry(
        "inventory", "inventory", "Ansible dynamic inventory from the spec or EC2."
    ),
    "apply": _Entry("apply", "apply", "Run a playbook on an env; per-host results."),
    # `rollout report` lives in cli/report.py (its own module beside the rollout commands)
    "rollout": _Entry(
        "rollout",
        "app",
        "Safe rollouts: canary, waves, gates.",
        extra=(
            ("report", "report", "report", "A rollout as one HTML page: timeline, gate plots."),
        ),
    ),
    "approvals": _Entry("approvals", "app", "Approve paused rollouts by signed HTTP request."),
    "worker": _Entry("temporal", "worker", "A regional executor for rollouts on Temporal."),
    "freeze": _Entry("freeze", "freeze", "Stop new rollout steps in an env (emergency)."),
    "drain": _Entry("traffic", "region_drain", "Move a region's viewers to the others."),
    "undrain": _Entry("traffic", "region_undrain", "Give a drained region its traffic back."),
    "hosts": _Entry("hosts", "app", "Drain/undrain single edge hosts (out of LB)."),
    "history": _Entry("history", "history", "Freezes, drains and rollouts on one timeline."),
    "capacity": _Entry("capacity", "capacity", "Capacity vs demand per region: N+1, growth, cost."),
    "event": _Entry("event", "app", "Plan a peak event: pre-scale, freeze."),
    "status": _Entry("status", "status", "The env at a glance: health, releases, rollout."),
    "certs": _Entry("certs", "app", "Edges' TLS certificates: status, rotate."),
    "metrics": _Entry("metrics", "app", "Prometheus endpoint for fleet status."),
    "lab": _Entry("lab", "app", "A real fleet on this machine (sshd + nginx)."),
}


def _build(name: str, entry: _Entry) -> Any:
    """The click command of one root entry, built the way `add_typer`/`command` would."""
    obj = getattr(importlib.import_module(f"fleetctl.cli.{entry.module}"), entry.attr)
    for sub, module, attr, short in entry.extra:
        if not any(c.name == sub for c in obj.registered_commands):
            fn = getattr(importlib.import_module(f"fleetctl.cli.{module}"), attr)
            obj.command(sub, short_help=short)(fn)
    shell = typer.Typer(rich_markup_mode=None, add_completion=False)
    shell.callback()(_shell)  # a group, so the entry keeps its name
    if isinstance(obj, typer.Typer):
        shell.add_typer(obj, name=name, short_help=entry.short_help)
    else:
        shell.command(name, short_help=entry.short_help)(obj)
    return typer.main.get_command(shell).commands[name]  # type: ignore[attr-defined]


def _shell() -> None:
    """Holds one lazily built entry."""


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

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in _COMMANDS:
            cmd = _build(cmd_name, _COMMANDS[cmd_name])
            self.add_command(cmd, cmd_name)
        return cmd

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The root's list from the one-liners above: nothing imported or built."""
        rows = [(n, _COMMANDS[n].short_help) for n in self.list_commands(ctx) if n in _COMMANDS]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


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
