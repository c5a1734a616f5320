"""Global options shared by every command (kept in the Typer context)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fleetctl.errors import BadInput
from fleetctl.services.workspace import Workspace, find_workspace

if TYPE_CHECKING:
    from fleetctl.adapters.state import StateStore


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


def open_state(ctx: typer.Context, *, write: bool) -> StateStore:
    """The state store, checked on opening (a corrupt one is refused, exit 3).

    Commands that only read pass write=False: a missing SQLite file is then
    not created, and the user is told there is no state yet at that path (so
    a wrong --state path is not mistaken for "not frozen").
    """
    from fleetctl.adapters.state import open_store, state_missing
    from fleetctl.cli import render

    url = state_url(ctx)
    store = open_store(url, create=write)
    if state_missing(store):
        render.note(f"no state yet at {url} (nothing recorded; not created by a read)")
    return store


def known_envs(ws: Workspace, *, lab: bool) -> list[str]:
    """Envs with a stack config (stacks/Pulumi.<env>-<region>.yaml); with `lab`,
    also those with an inventory (inventories/<env>/, which includes the lab)."""
    return sorted(ws.stack_envs() | (ws.inventory_envs() if lab else set()))


def check_env(ctx: typer.Context, env: str, *, lab: bool = True) -> str:
    """`env` if the project knows it, else BadInput naming --env and the known envs."""
    from fleetctl.services.target import is_lab

    known = known_envs(workspace(ctx), lab=lab)
    if env not in known:
        where = "" if lab else " (this command works on stack envs; the lab has no stacks)"
        raise BadInput(
            f"unknown env {env!r} (--env){where if is_lab(env) else ''}",
            hint=f"known envs: {', '.join(known) or 'none'}",
        )
    return env
