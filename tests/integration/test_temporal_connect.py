"""Connecting to the real Temporal dev server, and failing clearly when it is not there."""

from __future__ import annotations

import asyncio
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


def test_cli_unreachable_server_exit_3_no_traceback(tmp_path) -> None:
    port = temporal.free_port()
    out = subprocess.run(
        [sys.executable, "-m", "fleetctl", "rollout", "status", "--engine", "temporal",
         "--temporal", f"127.0.0.1:{port}", "--env", "lab"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert out.returncode == 3, out.stderr
    assert "cannot reach the Temporal server" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
