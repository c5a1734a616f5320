"""The installed `fleetctl` console script, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
FLEETCTL = str(Path(sys.executable).with_name("fleetctl"))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCTL_")}
    return subprocess.run(
        [FLEETCTL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env
    )


def test_help_does_not_import_heavy_libraries(repo_root: Path) -> None:
    code = (
        "import sys\n"
        "sys.argv = ['fleetctl', '--help']\n"
        "from fleetctl.cli.main import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pulumi', 'pulumi_aws', 'boto3', 'ansible', 'ansible_runner',"
        " 'scipy', 'pydantic') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stdout, proc.stdout


def test_validate_finds_the_project_from_a_subdirectory(repo_root: Path) -> None:
    proc = run("validate", cwd=repo_root / "stacks" / "components")
    assert proc.returncode == 0, proc.stderr
    assert "stacks valid" in proc.stderr
    assert proc.stdout == ""


def test_bad_spec_exit_code_and_no_traceback(project_copy: Path) -> None:
    (project_copy / "stacks" / "Pulumi.prod-eu-west-1.yaml").write_text("config: [\n")
    proc = run("validate", cwd=project_copy)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "Pulumi.prod-eu-west-1.yaml:" in proc.stderr and "YAML syntax error" in proc.stderr


def test_json_output_is_only_json_on_stdout(repo_root: Path) -> None:
    proc = run("stacks", "list", "--format", "json", cwd=repo_root)
    assert proc.returncode == 0, proc.stderr
    assert {row["env"] for row in json.loads(proc.stdout)} == {"prod", "staging"}
