"""Options many commands share, declared once so their flags and help agree."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.state import check_env


def _any_env(ctx: typer.Context, value: str | None) -> str | None:
    """--env of commands on hosts and state: a stack env or an inventory env (lab)."""
    return None if value is None or ctx.resilient_parsing else check_env(ctx, value, lab=True)


def _stack_env(ctx: typer.Context, value: str | None) -> str | None:
    """--env of commands on the spec: an env with stack configs."""
    return None if value is None or ctx.resilient_parsing else check_env(ctx, value, lab=False)


def writable_file(
    ctx: typer.Context, param: typer.CallbackParam, value: Path | None
) -> Path | None:
    """An output file flag, checked before the command does anything: a bad
    --out must not be found after a freeze was set or a long preview ran."""
    if value is None or ctx.resilient_parsing:
        return value
    flag = (param.opts or [param.name or "?"])[0]
    parent = value.parent if str(value.parent) else Path(".")
    if value.is_dir():
        raise typer.BadParameter(f"{value} is a directory: give a file name", param_hint=flag)
    if not parent.is_dir():
        raise typer.BadParameter(f"cannot write {value}: no directory {parent}", param_hint=flag)
    if not os.access(parent, os.W_OK) or (value.exists() and not os.access(value, os.W_OK)):
        raise typer.BadParameter(f"cannot write {value}: permission denied", param_hint=flag)
    return value


# Every --env is checked against the project before the command runs: an
# unknown env is bad input (exit 2), never an empty answer.
Env = Annotated[str, typer.Option("--env", "-e", help="Environment.", callback=_any_env)]
OnlyEnv = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Only this environment.", callback=_stack_env),
]
StackEnv = Annotated[str, typer.Option("--env", "-e", help="Environment.", callback=_stack_env)]
HostsEnv = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Only this environment.", callback=_any_env),
]
OnlyStacks = Annotated[
    list[str] | None,
    typer.Option("--stack", "-s", help="Only this stack (repeatable), e.g. prod-eu-west-1."),
]
Fmt = Annotated[render.Format, typer.Option("--format", help="Output format.")]
FmtShort = Annotated[render.Format, typer.Option("--format", "-f", help="Output format.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
LabDir = Annotated[
    Path | None,
    typer.Option("--lab-dir", envvar="FLEETCTL_LAB_DIR", help="Lab directory (env lab)."),
]
SecretVars = Annotated[
    list[str] | None,
    typer.Option(
        "--secret-var",
        metavar="NAME[=@FILE]",
        help="Secret extra var (repeatable): value from $FLEETCTL_SECRET_<NAME>, from FILE, "
        "or a prompt; never stored or printed (only its name and a keyed fingerprint).",
    ),
]
AllowPlainSecrets = Annotated[
    bool,
    typer.Option(
        "--allow-plain-secrets",
        help="Accept -x vars whose names look secret (password, token, key...) as plain vars.",
    ),
]


def secret_prompt() -> Callable[[str], str] | None:
    """A hidden prompt for secret values, when there is a terminal to ask on."""
    if not sys.stdin.isatty():
        return None
    import getpass

    return getpass.getpass
