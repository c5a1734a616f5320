"""Shared fixtures: the repository root and a throwaway copy of the project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# The session-scoped `lab` fixture (a real lab fleet, brought up once, always torn down).
pytest_plugins = ["tests.lab_fixture"]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of stacks/ in a temp dir, safe to break."""
    shutil.copytree(
        REPO / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path
