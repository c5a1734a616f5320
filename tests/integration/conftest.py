"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetctl.adapters.state.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A fresh SQLite state store in the test's tmp dir (a module may define its own)."""
    s = SqliteStore(tmp_path / "state.db")
    yield s
    s.close()
