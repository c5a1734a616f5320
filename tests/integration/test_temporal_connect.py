"""Connecting to the real Temporal dev server, and failing clearly when it is not there."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from fleetctl.adapters import temporal
from fleetctl.errors import OutsideError


def test_connects_to_the_dev_server(temporal_settings: temporal.Settings) -> None:
    async def ns() -> str:
        client = await temporal.connect(temporal_settings)
        return str(client.namespace)

    assert asyncio.run(ns()) == "default"


def test_unreachable_server_is_exit_3_with_a_hint() -> None:
    s = temporal.settings(f"127.0.0.1:{temporal.free_port()}", environ={})
    with pytest.raises(OutsideError) as err:
        asyncio.run(temporal.connect(s))
    assert err.value.exit_code == 3
    assert s.address in err.value.message and "lab up --temporal" in err.value.hint


@pytest.mark.parametrize(
    "args",
    [
        ["worker", "--env", "lab", "--region", "lab-mid"],
        ["rollout", "start", "edge.yml", "--env", "lab", "--engine", "temporal", "--yes"],
    ],
)
def test_cli_unreachable_server_exit_3_no_traceback(args: list[str], tmp_path) -> None:
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent.parent
    port = temporal.free_port()
    out = subprocess.run(
        [sys.executable, "-m", "fleetctl", *args, "--temporal", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=60,
        env={**os.environ, "FLEETCTL_STATE": str(tmp_path / "state.db")},
    )
    assert out.returncode == 3, out.stderr
    assert "cannot reach the Temporal server" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
