"""The CLI through Typer's CliRunner: exit codes, output streams, formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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
    import typer.main

    group = typer.main.get_command(app)

    def walk(cmd, path):  # type: ignore[no-untyped-def]
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, cmd

    commands = list(walk(group, []))
    assert len(commands) >= 2
    for path, cmd in commands:
        assert "Example:" in (cmd.help or ""), f"`fleetctl {' '.join(path)}` help has no example"


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
