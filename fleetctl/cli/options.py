"""Options many commands share, declared once so their flags and help agree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import render

Env = Annotated[str, typer.Option("--env", "-e", help="Environment.")]
OnlyEnv = Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")]
OnlyStacks = Annotated[
    list[str] | None,
    typer.Option("--stack", "-s", help="Only this stack (repeatable), e.g. prod-eu-west-1."),
]
Fmt = Annotated[render.Format, typer.Option("--format", help="Output format.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
LabDir = Annotated[
    Path | None, typer.Option("--lab-dir", envvar="FLEETCTL_LAB_DIR", help="Lab directory.")
]
