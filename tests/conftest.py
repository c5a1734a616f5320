"""Shared fixtures: the repository root and a throwaway copy of the project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# Session fixtures, registered once here so each has one instance per run (a
# fixture imported into test modules is a separate session fixture per module:
# one moto server per file): `lab` (a real lab fleet), Temporal, moto.
pytest_plugins = ["tests.lab_fixture", "tests.temporal_fixture", "tests.aws_fixture"]

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


@pytest.fixture
def fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in `pulumi` on PATH (tests/fakes/fake_pulumi.py) with a file://
    backend in tmp_path; returns the log of every argv it was called with."""
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "pulumi"
    fake = REPO / "tests" / "fakes" / "fake_pulumi.py"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
    exe.chmod(0o755)
    log = tmp_path / "pulumi-argv.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path / 'backend'}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
    return log
