"""Policy in the preview, through the real CLI on a copy of the real fleet: a
mandatory violation (a bucket deleted without an allow) makes `fleetctl preview`
exit 1 with and without --detailed-exitcode and shows in JSON and Markdown; the
allow in the spec clears it; a broken pack is a file:line error, no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from gitrepo import git

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "preview-schema.json").read_text())
STACK = "staging-us-east-2"
BUCKET = "fleet-staging-us-east-2-origin-media-origin"


def fleetctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCTL_")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "fleetctl"), "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__")
    for d in ("stacks", "policies"):
        shutil.copytree(REPO / d, tmp_path / d, ignore=ignore)
    (tmp_path / ".gitignore").write_text(".fleetctl/\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    return tmp_path


def test_deleting_a_bucket_without_allow_blocks_the_preview(fleet: Path) -> None:
    cfg = fleet / "stacks" / f"Pulumi.{STACK}.yaml"
    text = cfg.read_text()
    start, end = text.index("      buckets:\n"), text.index("    edge:\n")
    cfg.write_text(text[:start] + "      buckets: []\n" + text[end:])
    preview = ("preview", "--base", "HEAD", "--stack", STACK)

    out = fleetctl(fleet, *preview, "--format", "json")
    assert out.returncode == 1, out.stderr
    assert "mandatory violation" in out.stderr and "Traceback" not in out.stderr
    data = json.loads(out.stdout)
    jsonschema.validate(data, SCHEMA)
    policy = data["policy"]
    assert policy["blocking"] is True and policy["checked"] == [STACK]
    found = {(v["rule"], (v["resource"] or {}).get("name")) for v in policy["violations"]}
    assert ("changes.stateful-delete-allowed", BUCKET) in found
    assert {v["level"] for v in policy["violations"]} == {"mandatory"}

    md = fleetctl(fleet, *preview, "--format", "markdown", "--detailed-exitcode")
    assert md.returncode == 1, md.stderr
    assert "**Policy:** 🚫" in md.stdout and f"`{BUCKET}`" in md.stdout
    assert md.stdout.index("**Policy:**") < md.stdout.index("| stack | status |")

    # The explicit allow in the spec: the same change is only "changes" now.
    text = cfg.read_text().replace("    tags:\n", f"    allow_delete: [{BUCKET}]\n    tags:\n", 1)
    cfg.write_text(text)
    ok = fleetctl(fleet, *preview, "--format", "json", "--detailed-exitcode")
    assert ok.returncode == 2, ok.stderr
    assert json.loads(ok.stdout)["policy"]["violations"] == []


def test_a_broken_pack_fails_with_file_and_line(fleet: Path) -> None:
    (fleet / "policies" / "zz_broken.py").write_text("RULES = [\n")
    out = fleetctl(fleet, "preview", "--stack", STACK)
    assert out.returncode == 1
    assert "policies/zz_broken.py:1: syntax error" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    listed = fleetctl(fleet, "policy", "list")
    assert listed.returncode == 1 and "policies/zz_broken.py:1" in listed.stderr

    (fleet / "policies" / "zz_broken.py").unlink()
    rules = json.loads(fleetctl(fleet, "policy", "list", "--format", "json").stdout)
    assert "changes.stateful-delete-allowed" in {r["id"] for r in rules}
    check = fleetctl(fleet, "policy", "check", "--stack", STACK, "--format", "json")
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["checked"] == [STACK]


NEW_RULE = """
from fleetctl.core.guardrails import Finding, Level, rule

@rule(id="team.no-staging", level=Level.mandatory, description="no staging stacks")
def no_staging(ctx):
    if ctx.env == "staging":
        yield Finding(None, f"{ctx.stack} is a staging stack", "delete it")
"""


def test_a_pack_change_alone_checks_the_unchanged_stacks(fleet: Path) -> None:
    preview = ("preview", "--base", "HEAD", "--stack", STACK, "--format", "json")
    same = fleetctl(fleet, *preview)
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["policy"]["checked"] == []  # skipped: nothing new to judge

    (fleet / "policies" / "team.py").write_text(NEW_RULE)
    out = fleetctl(fleet, *preview)
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert [s["status"] for s in data["stacks"]] == ["skipped"]
    assert data["policy"]["checked"] == [STACK]
    assert [v["rule"] for v in data["policy"]["violations"]] == ["team.no-staging"]
