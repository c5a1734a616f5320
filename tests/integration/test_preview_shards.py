"""`fleetctl preview --shard K/N` + `fleetctl preview merge`: the merged report
is exactly the one a single run gives - table, Markdown, JSON and exit code -
for N = 1, 2, 3, with a stack whose program fails and a mandatory policy
violation in the change. Through the real CLI on a copy of the real fleet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepo import git

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STACKS = ("staging-us-east-2", "prod-sa-east-1", "prod-eu-west-1", "prod-ap-south-1")
FAILING = "prod-sa-east-1"


def fleetctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCTL_")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "fleetctl"), "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shards")
    ignore = shutil.ignore_patterns("__pycache__")
    for d in ("stacks", "policies"):
        shutil.copytree(REPO / d, root / d, ignore=ignore)
    (root / ".gitignore").write_text(".fleetctl/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    # The change: a component edit (every stack runs; one region's program now fails) and
    # the staging buckets removed without an allow (a mandatory policy violation).
    edge = root / "stacks" / "components" / "edge.py"
    text = edge.read_text()
    anchor = "        child = pulumi.ResourceOptions(parent=self)\n"
    assert anchor in text
    fail = f'        if args.region == "{FAILING.split("-", 1)[1]}":\n'
    fail += '            raise ValueError("no edge capacity left in this region")\n'
    edge.write_text(text.replace(anchor, anchor + fail, 1))
    cfg = root / "stacks" / "Pulumi.staging-us-east-2.yaml"
    text = cfg.read_text()
    start, end = text.index("      buckets:\n"), text.index("    edge:\n")
    cfg.write_text(text[:start] + "      buckets: []\n" + text[end:])
    return root


def _selection() -> list[str]:
    out = ["--base", "HEAD", "--detailed-exitcode"]
    for s in STACKS:
        out += ["--stack", s]
    return out


@pytest.fixture(scope="module")
def single(fleet: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    return {
        fmt: fleetctl(fleet, "preview", *_selection(), "--no-cache", "--format", fmt)
        for fmt in ("json", "markdown", "table")
    }


def test_the_single_run_fails_on_the_program_and_the_policy(
    single: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    out = single["json"]
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    status = {s["stack"]: s["status"] for s in data["stacks"]}
    assert status[FAILING] == "failed" and "no edge capacity left" in out.stdout
    assert sorted(status) == sorted(STACKS) and {"changed", "failed"} <= set(status.values())
    assert data["policy"]["blocking"] is True
    assert {v["level"] for v in data["policy"]["violations"]} == {"mandatory"}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_merged_shards_equal_a_single_run(
    fleet: Path, single: dict[str, subprocess.CompletedProcess[str]], tmp_path: Path, n: int
) -> None:
    files = []
    stacks_per_shard = []
    for k in range(1, n + 1):
        path = tmp_path / f"shard-{k}.json"
        sel = _selection()
        out = fleetctl(fleet, "preview", *sel, "--no-cache", "--shard", f"{k}/{n}", "-o", str(path))
        assert out.returncode == 0, out.stderr
        stacks_per_shard.append(int(out.stderr.split(f"shard {k}/{n}: ")[1].split(" ")[0]))
        files.append(str(path))
    assert sum(stacks_per_shard) == len(STACKS)
    assert all(c >= 1 for c in stacks_per_shard)  # balanced: no idle runner
    for fmt, want in single.items():
        got = fleetctl(fleet, "preview", "merge", *files, "--format", fmt, "--detailed-exitcode")
        assert got.returncode == want.returncode, (fmt, got.stderr)
        assert got.stdout == want.stdout, fmt
        assert "Traceback" not in got.stderr


def test_a_missing_shard_is_bad_input(fleet: Path, tmp_path: Path) -> None:
    path = tmp_path / "shard-1.json"
    out = fleetctl(fleet, "preview", *_selection(), "--shard", "1/2", "-o", str(path))
    assert out.returncode == 0, out.stderr
    got = fleetctl(fleet, "preview", "merge", str(path))
    assert got.returncode == 2
    assert "shard(s) 2/2 missing" in got.stderr and "Traceback" not in got.stderr
    bad = fleetctl(fleet, "preview", *_selection(), "--shard", "3/2", "-o", str(path))
    assert bad.returncode == 2 and "--shard '3/2'" in bad.stderr
