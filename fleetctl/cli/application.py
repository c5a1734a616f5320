"""One `Application` per command: what every command reaches for, in one place.

Modelled on hatch's `Application`: the workspace, the state store (opened on
first use, closed once when the command ends) and the env target (resolved
once). A command body is one `with`:

    with Application(ctx) as app:
        store = app.store(write=True)
        ...

Cheap to import (the CLI's start-up path): the store and the services are
imported when first used.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import typer

from fleetctl.cli.state import open_state, state_url, workspace
from fleetctl.services.workspace import Workspace

if TYPE_CHECKING:
    from fleetctl.adapters.state import StateStore
    from fleetctl.services.target import EnvTarget


class Application:
    def __init__(self, ctx: typer.Context) -> None:
        self.ctx = ctx
        self._store: StateStore | None = None
        self._opened = False
        self._targets: dict[tuple[str, Path | None], EnvTarget] = {}

    @property
    def ws(self) -> Workspace:
        return workspace(self.ctx)

    @property
    def state_url(self) -> str:
        return state_url(self.ctx)

    def store(self, *, write: bool) -> StateStore:
        """The state store, opened (and checked) on first use; `write=False`
        does not create a missing SQLite file."""
        if self._store is None:
            self._store = open_state(self.ctx, write=write)
            self._opened = True
        return self._store

    def readonly_store(self) -> StateStore | None:
        """The state store for reading only, or None when there is none yet."""
        if not self._opened:
            from fleetctl.services.status import open_store_readonly

            self._store = open_store_readonly(self.state_url)
            self._opened = True
        return self._store

    def target(self, env: str, lab_dir: Path | None = None) -> EnvTarget:
        """The env as this command acts on it (resolved once per command)."""
        key = (env, lab_dir)
        if key not in self._targets:
            from fleetctl.services import target as env_target

            self._targets[key] = env_target.resolve(self.ws, env, lab_dir)
        return self._targets[key]

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    def __enter__(self) -> Application:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
