"""`fleetctl up` / `destroy` through the real Automation API code, against a fake `pulumi`.

No Pulumi CLI can be installed here (NOTES.md); tests/fakes/fake_pulumi.py
speaks the CLI protocol the Automation API uses (commands, event log, stack
history) with a file:// backend, so everything on our side of the process
boundary is the production code path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app

pytestmark = pytest.mark.integration

STACK = "staging-us-east-2"
# staging-us-east-2: 1 bucket, 2 launch templates, 2 edge groups + 1 transcode, 2 queues
RESOURCES = 8


def invoke(root: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--root", str(root), *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def commands(log: Path) -> list[str]:
    """The pulumi subcommands that ran, e.g. ["version", "stack select", "preview", ...]."""
    out = []
    for line in log.read_text().splitlines():
        argv = [a for a in json.loads(line) if a != "--non-interactive"]
        out.append(" ".join(argv[:2]) if argv[0] == "stack" else argv[0])
    return out


def state(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    path = tmp_path / "backend" / ".pulumi" / "stacks" / "fleet" / f"{STACK}.json"
    return json.loads(path.read_text())


def test_up_creates_streams_progress_and_is_idempotent(
    project_copy: Path, fake_pulumi: Path, tmp_path: Path
) -> None:
    code, out, err = invoke(project_copy, "up", "--stack", STACK, "--yes")
    assert code == 0, err
    assert f"{RESOURCES} to create" in err  # the preview, before applying
    assert "creating aws:s3/bucket:Bucket fleet-staging-us-east-2-media-origin" in err
    assert "created aws:autoscaling/group:Group fleet-staging-us-east-2-edge-us-east-2a" in err
    assert f"up {STACK}: {RESOURCES} created" in err
    assert out == ""  # people's output on stderr only
    assert len(state(tmp_path)["resources"]) == RESOURCES
    ran = commands(fake_pulumi)
    assert ran[0] == "version"
    assert "stack init" in ran  # first up creates the stack
    assert ran.index("preview") < ran.index("up")

    fake_pulumi.write_text("")
    code, _, err = invoke(project_copy, "up", "--stack", STACK, "--yes")
    assert code == 0
    assert "is up to date: nothing to do" in err
    assert "up" not in commands(fake_pulumi) and "stack init" not in commands(fake_pulumi)


def test_spec_change_is_an_update_with_a_json_summary(
    project_copy: Path, fake_pulumi: Path, tmp_path: Path
) -> None:
    assert invoke(project_copy, "up", "--stack", STACK, "--yes")[0] == 0
    cfg = project_copy / "stacks" / f"Pulumi.{STACK}.yaml"
    cfg.write_text(cfg.read_text().replace("nodes_per_zone: 1", "nodes_per_zone: 2"))
    code, out, err = invoke(project_copy, "up", "--stack", STACK, "--yes", "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["stack"] == STACK and summary["ok"] is True
    assert summary["changes"] == {"update": 2, "same": RESOURCES - 2}  # the two edge groups
    assert "2 to update" in err


def test_off_a_terminal_without_yes_nothing_is_applied(
    project_copy: Path, fake_pulumi: Path
) -> None:
    code, _, err = invoke(project_copy, "up", "--stack", STACK)
    assert code == 2
    assert "without confirmation" in err and "--yes" in err
    assert "up" not in commands(fake_pulumi)


def test_terminal_confirmation(
    project_copy: Path, fake_pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fleetctl.cli.deploy._interactive", lambda: True)
    code, _, err = invoke(project_copy, "up", "--stack", STACK, input="n\n")
    assert code == 1
    assert "cancelled: nothing was changed" in err
    assert "up" not in commands(fake_pulumi)
    code, _, err = invoke(project_copy, "up", "--stack", STACK, input="y\n")
    assert code == 0, err
    assert len(state(tmp_path)["resources"]) == RESOURCES


def test_destroy_removes_everything(project_copy: Path, fake_pulumi: Path, tmp_path: Path) -> None:
    assert invoke(project_copy, "up", "--stack", STACK, "--yes")[0] == 0
    code, _, err = invoke(project_copy, "destroy", "--stack", STACK, "--yes")
    assert code == 0, err
    assert f"{RESOURCES} to delete" in err
    assert "deleted aws:sqs/queue:Queue fleet-staging-us-east-2-transcode-jobs" in err
    assert state(tmp_path)["resources"] == {}
    assert "destroy" in commands(fake_pulumi)


def test_destroy_of_a_stack_never_deployed_is_exit_3(project_copy: Path, fake_pulumi: Path) -> None:
    code, _, err = invoke(project_copy, "destroy", "--stack", STACK, "--yes")
    assert code == 3
    assert "does not exist in the Pulumi backend" in err
    assert "stack init" not in commands(fake_pulumi)


def test_a_failing_resource_is_exit_3_with_pulumis_reason(
    project_copy: Path, fake_pulumi: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "transcode-jobs")
    code, _, err = invoke(project_copy, "up", "--stack", STACK, "--yes")
    assert code == 3
    assert f"pulumi up of {STACK} failed" in err
    assert "AccessDenied: not allowed" in err
    assert "failed to create aws:sqs/queue:Queue" in err
    assert "Traceback" not in err


def test_missing_pulumi_is_exit_3_with_install_hint(
    project_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = invoke(project_copy, "up", "--stack", STACK, "--yes")
    assert code == 3
    assert "`pulumi` executable is not on PATH" in err
    assert "get.pulumi.com" in err


def test_unknown_stack_is_bad_input_before_pulumi_runs(
    project_copy: Path, fake_pulumi: Path
) -> None:
    code, _, err = invoke(project_copy, "up", "--stack", "staging-mars-1", "--yes")
    assert code == 2
    assert "unknown stack" in err
    assert not fake_pulumi.exists()
