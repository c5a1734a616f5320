"""The real fleet program (stacks/) previews offline; a one-region change runs
only that region; `--engine pulumi` goes through the Automation API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepo import git

from fleetctl.core.preview_model import Op, Secret, StackStatus
from fleetctl.core.replace_rules import unlisted_types
from fleetctl.errors import OutsideError
from fleetctl.services.preview import PreviewOptions, run_engine_preview, run_preview
from fleetctl.services.workspace import Workspace

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ONE, OTHER = "prod-sa-east-1", "staging-us-east-2"


def test_sample_fleet_previews_and_a_one_region_change_runs_one_stack(
    project_copy: Path,
) -> None:
    (project_copy / ".gitignore").write_text(".fleetctl/\n")
    git(project_copy, "init", "-q", "-b", "main")
    git(project_copy, "add", "-A")
    git(project_copy, "commit", "-qm", "base")
    ws = Workspace(project_copy)

    full = run_preview(ws, PreviewOptions(stacks=(ONE, OTHER), jobs=2))
    for s in full.result.stacks:
        assert s.status is StackStatus.changed, s.error
        assert s.resources > 20 and set(s.counts()) and s.counts()["create"] == s.resources
    types = [c.type for s in full.result.stacks for c in s.changes]
    assert unlisted_types(types) == [], "add these types to fleetctl/core/replace_rules.py"

    cfg = project_copy / "stacks" / f"Pulumi.{ONE}.yaml"
    text = cfg.read_text()
    assert "nodes_per_zone:" in text
    text = text.replace("nodes_per_zone:", "nodes_per_zone: 1 #", 1)
    # A re-encrypted signing key: a changed secret, never decrypted.
    cfg.write_text(re.sub(r"secure: v1:\S+", "secure: v1:cm90YXRlZC1rZXkK", text, count=1))
    pr = run_preview(ws, PreviewOptions(base="HEAD", jobs=2))
    # Only the edited region ran (its base side came from the cache of the first run).
    assert pr.ran == [f"{ONE} (head)"]
    statuses = {s.stack: s.status for s in pr.result.stacks}
    assert statuses.pop(ONE) is StackStatus.changed
    assert set(statuses.values()) == {StackStatus.skipped}
    changed = next(s for s in pr.result.stacks if s.stack == ONE)
    assert {c.op for c in changed.changes} == {Op.update}
    assert {c.type for c in changed.changes} == {
        "aws:autoscaling/group:Group",
        "aws:ssm/parameter:Parameter",
    }
    key = next(c for c in changed.changes if c.type == "aws:ssm/parameter:Parameter")
    assert [(d.path, type(d.old), type(d.new)) for d in key.diffs] == [("value", Secret, Secret)]


def test_real_engine_without_pulumi_is_exit_3_with_a_hint(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(OutsideError) as info:
        run_engine_preview(Workspace(repo_root), PreviewOptions(stacks=(ONE,)))
    assert info.value.exit_code == 3 and "install" in info.value.hint
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "fleetctl"), "preview", "--engine", "pulumi"],
        cwd=repo_root,
        env={**os.environ, "PATH": "/nonexistent"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3
    assert "`pulumi` executable is not on PATH" in proc.stderr and "Traceback" not in proc.stderr


def test_real_engine_runs_pulumi_preview_per_stack(repo_root: Path, fake_pulumi: Path) -> None:
    # Only ONE exists in the (fake) backend: OTHER must fail alone.
    subprocess.run(["pulumi", "stack", "init", ONE], cwd=repo_root / "stacks", check=True)
    run = run_engine_preview(Workspace(repo_root), PreviewOptions(stacks=(ONE, OTHER)))
    by = {s.stack: s for s in run.result.stacks}
    assert by[ONE].status is StackStatus.changed
    counts = by[ONE].counts()
    assert counts["create"] > 0 and counts["update"] == counts["delete"] == 0
    assert by[OTHER].status is StackStatus.failed  # the fake backend has no such stack
    calls = fake_pulumi.read_text()
    assert '"preview"' in calls and f'"--stack", "{ONE}"' in calls
