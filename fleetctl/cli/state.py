"""Global options shared by every command (kept in the Typer context)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from fleetctl.services.workspace import Workspace, find_workspace


@dataclass
class Globals:
    root: Path | None = None
    state: str | None = None
    _ws: Workspace | None = None


def globals_of(ctx: typer.Context) -> Globals:
    obj = ctx.find_root().obj
    if not isinstance(obj, Globals):
        obj = Globals()
        ctx.find_root().obj = obj
    return obj


def workspace(ctx: typer.Context) -> Workspace:
    g = globals_of(ctx)
    if g._ws is None:
        g._ws = find_workspace(explicit=g.root)
    return g._ws


def state_url(ctx: typer.Context) -> str:
    return workspace(ctx).state_url(globals_of(ctx).state)
