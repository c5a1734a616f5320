"""Bad flags and files for the commands of the last sessions (worker, event,
preview merge, --notify, --secret-var, video gates): exit 2 naming what is wrong,
before anything acts, never a traceback, never a secret in the output."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__")
    for d in ("stacks", "inventories", "examples", "rollout-policies", "playbooks"):
        shutil.copytree(REPO / d, tmp_path / d, ignore=ignore)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def invoke(proj: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["--root", str(proj), "--state", str(proj / "s.db"), *args])
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r.exit_code, out


# -- worker ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "region", "known"),
    [("prod", "mars-1", "eu-west-1"), ("lab", "lab-east", "lab-mid")],
)
def test_worker_unknown_region_is_exit_2_before_any_connection(
    proj: Path, env: str, region: str, known: str
) -> None:
    with socket.socket() as server:  # a "Temporal server" that must never see a connection
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        code, out = invoke(
            proj, "worker", "--env", env, "--region", region, "--temporal", f"127.0.0.1:{port}"
        )
        with pytest.raises(BlockingIOError):
            server.accept()
    assert code == 2, out
    assert f"--region {region}" in out and known in out
