"""The CLI through Typer's CliRunner: exit codes, output streams, formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from fleetctl.cli.main import app

pytestmark = pytest.mark.unit


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("fleetctl ")


def test_every_command_has_an_example(runner: CliRunner) -> None:
    group = typer.main.get_command(app)

    def walk(cmd, path):  # type: ignore[no-untyped-def]
        # Through the click API: the root builds its commands on first use.
        ctx = typer.Context(cmd)
        names = cmd.list_commands(ctx) if hasattr(cmd, "list_commands") else []
        if names:
            for name in names:
                yield from walk(cmd.get_command(ctx, name), [*path, name])
        else:
            yield path, cmd

    commands = list(walk(group, []))
    assert len(commands) >= 2
    for path, cmd in commands:
        assert "Example:" in (cmd.help or ""), f"`fleetctl {' '.join(path)}` help has no example"


def test_root_help_lists_every_command_without_importing_them() -> None:
    # `fleetctl --help` (start-up time, docs/preview.md) reads the one-liners in
    # cli/main.py: no command module, no service, no heavy library is imported.
    code = (
        "import sys\n"
        "from fleetctl.cli.main import run\n"
        "sys.argv = ['fleetctl', '--help']\n"
        "try:\n    run()\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('fleetctl.cli.', 'rich', 'pulumi'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = out.strip().splitlines()[-1]
    assert loaded == "['fleetctl.cli.main', 'fleetctl.cli.render', 'fleetctl.cli.state']", loaded
    listed = {
        line.split()[0] for line in out.splitlines() if line.startswith("  ") and line[2] != " "
    }
    group = typer.main.get_command(app)
    every = set(group.list_commands(typer.Context(group)))  # type: ignore[attr-defined]
    assert {"validate", "preview", "rollout", "lab", "status"} <= every
    assert every <= listed, every - listed


def test_validate_ok(runner: CliRunner, repo_root: Path) -> None:
    result = runner.invoke(app, ["--root", str(repo_root), "validate"])
    assert result.exit_code == 0, result.output
    assert "prod-us-east-1" in result.stderr and "9 stacks valid" in result.stderr


def test_validate_bad_input_exit_2(runner: CliRunner, project_copy: Path) -> None:
    path = project_copy / "stacks" / "Pulumi.prod-eu-west-1.yaml"
    path.write_text(path.read_text().replace("pop: dub", "pop: dub\n      popp: x"))
    result = runner.invoke(app, ["--root", str(project_copy), "validate"])
    assert result.exit_code == 2
    assert "Pulumi.prod-eu-west-1.yaml:" in result.stderr
    assert "fleet:spec.edge.popp: Extra inputs are not permitted" in result.stderr
    assert result.stdout == ""


def test_validate_one_file(runner: CliRunner, repo_root: Path) -> None:
    path = repo_root / "stacks" / "Pulumi.staging-us-east-2.yaml"
    result = runner.invoke(app, ["--root", str(repo_root), "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 stack valid" in result.stderr


def test_stacks_list_json(runner: CliRunner, repo_root: Path) -> None:
    result = runner.invoke(
        app, ["--root", str(repo_root), "stacks", "list", "--env", "prod", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 8
    assert rows[0] == {
        "env": "prod",
        "region": "us-east-1",
        "stack": "prod-us-east-1",
        "edge_nodes": 36,
        "transcode_min": 8,
        "transcode_max": 80,
        "buckets": 2,
        "traffic_weight": 0.3,
    }


def test_unknown_env_is_bad_input(runner: CliRunner, repo_root: Path) -> None:
    result = runner.invoke(app, ["--root", str(repo_root), "stacks", "list", "--env", "qa"])
    assert result.exit_code == 2
    assert "unknown env 'qa'" in result.stderr and "known envs: prod, staging" in result.stderr


def test_not_a_project(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--root", str(tmp_path), "validate"])
    assert result.exit_code == 2
    assert "not a fleetctl project" in result.stderr
