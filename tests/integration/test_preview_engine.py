"""The offline preview end to end on a small fixture program (tests/fixtures/
preview_project): real Pulumi SDK mock runtime in worker subprocesses, a real
git repository for --base, the real CLI for exit codes."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from fleetctl.cli.preview_render import render_json, render_markdown, render_table
from fleetctl.core.preview_model import UNKNOWN, Op, Secret, StackStatus
from fleetctl.errors import BadInput
from fleetctl.services.preview import PreviewOptions, PreviewRun, run_preview
from fleetctl.services.workspace import Workspace

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "preview_project"
SCHEMA = json.loads((REPO / "docs" / "preview-schema.json").read_text())
DEV, QA = "dev-us-east-1", "qa-eu-west-1"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@t.invalid", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    shutil.copytree(FIXTURE / "stacks", root / "stacks")
    (root / ".gitignore").write_text(".fleetctl/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


@pytest.fixture
def ws(repo: Path) -> Iterator[Workspace]:
    git(repo, "checkout", "-q", "--", ".")
    git(repo, "clean", "-qfd", "-e", ".fleetctl")
    yield Workspace(repo)
    git(repo, "checkout", "-q", "--", ".")
    assert git(repo, "worktree", "list").count("\n") == 1, "a base worktree was left behind"


def edit(ws: Workspace, rel: str, old: str, new: str) -> None:
    path = ws.root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def preview(ws: Workspace, **kw: object) -> PreviewRun:
    opts = PreviewOptions(base=kw.pop("base", "HEAD"), jobs=2, **kw)  # type: ignore[arg-type]
    return run_preview(ws, opts)


def stack(run: PreviewRun, name: str):  # type: ignore[no-untyped-def]
    return next(s for s in run.result.stacks if s.stack == name)


def ops(run: PreviewRun, name: str) -> dict[str, Op]:
    return {c.name: c.op for c in stack(run, name).changes}


def test_without_base_every_resource_is_created(ws: Workspace) -> None:
    run = preview(ws, base=None)
    dev = stack(run, DEV)
    assert dev.status is StackStatus.changed and dev.resources == 12
    assert set(dev.counts().values()) == {0, 12}
    urns = {c.urn for c in dev.changes}
    # URNs as the engine builds them: parent component types chained with `$`.
    assert (
        "urn:pulumi:dev-us-east-1::fleet::fleet:fixture:Storage$aws:s3/bucket:Bucket::media-origin"
        in urns
    )
    lt = next(c for c in dev.changes if c.name == "edge-lt")
    user_data = next(d for d in lt.diffs if d.path == "userData")
    assert isinstance(user_data.new, Secret)
    asg = next(c for c in dev.changes if c.name == "edge-us-east-1a")
    template = next(d for d in asg.diffs if d.path == "launchTemplate")
    assert template.new["id"] is UNKNOWN


def test_changes_come_in_creation_order_and_the_same_bytes_every_run(ws: Workspace) -> None:
    # Monitor calls arrive in an order that depends on timing; the listed order
    # must be the program's own (vpc, its subnets, storage, api-token, edge).
    runs = [preview(ws, base=None, use_cache=False) for _ in range(2)]
    top = [c.name for c in stack(runs[0], DEV).changes if c.urn.count("$") == 0]
    assert top[: top.index("api-token") + 1] == [
        "vpc",
        *(n for n in top if n.startswith("subnet-")),
        "storage",
        "api-token",
    ]
    assert top[-1] == "edge"
    assert render_json(runs[0].report) == render_json(runs[1].report)


def test_new_bucket_is_a_create_and_only_that_region_runs(ws: Workspace) -> None:
    edit(
        ws,
        f"stacks/Pulumi.{QA}.yaml",
        "        - name: media-origin\n",
        "        - name: media-origin\n        - name: thumbnails\n",
    )
    run = preview(ws)
    assert stack(run, DEV).status is StackStatus.skipped
    assert all(not r.startswith(DEV) for r in run.ran)
    assert ops(run, QA) == {"thumbnails": Op.create, "thumbnails-versioning": Op.create}


def test_versioning_turned_on_is_an_update(ws: Workspace) -> None:
    edit(ws, f"stacks/Pulumi.{DEV}.yaml", "versioning: false", "versioning: true")
    run = preview(ws)
    [change] = stack(run, DEV).changes
    assert (change.name, change.op) == ("media-origin-versioning", Op.update)
    [d] = change.diffs
    assert (d.path, d.old, d.new) == ("versioningConfiguration.status", "Suspended", "Enabled")
    assert stack(run, QA).status is StackStatus.skipped


def test_bucket_renamed_is_a_replace_and_called_out(ws: Workspace) -> None:
    edit(
        ws,
        "stacks/components/fixture.py",
        'bucket=f"{prefix}-{b.name}"',
        'bucket=f"{prefix}-{b.name}-v2"',
    )
    run = preview(ws)
    for name in (DEV, QA):  # a program change runs every stack
        changes = {c.name: c for c in stack(run, name).changes}
        assert changes["media-origin"].op is Op.replace
        assert changes["media-origin"].replace_reasons == ("bucket",)
        assert changes["media-origin-versioning"].op is Op.replace
        assert set(changes) == {"media-origin", "media-origin-versioning"}
    assert [c.name for _, c in run.result.stateful_losses()] == ["media-origin", "media-origin"]
    assert render_markdown(run.report).index("Data at risk") < render_markdown(run.report).index(
        "<details"
    )


def test_edge_pool_removed_is_a_delete(ws: Workspace) -> None:
    edit(
        ws,
        f"stacks/Pulumi.{DEV}.yaml",
        "    edge:\n      traffic_weight: 1.0\n      pop: iad\n      nodes_per_zone: 2\n",
        "",
    )
    run = preview(ws)
    assert ops(run, DEV) == {
        "edge-us-east-1b": Op.delete,
        "edge-us-east-1a": Op.delete,
        "edge-lt": Op.delete,
        "edge": Op.delete,
    }


def test_changed_secret_is_an_update_and_plaintext_appears_nowhere(ws: Workspace) -> None:
    cfg = f"stacks/Pulumi.{DEV}.yaml"
    edit(ws, cfg, "v1:ZGV2LWNpcGhlcnRleHQtb25lCg", "v1:Y2hhbmdlZC1jaXBoZXJ0ZXh0Cg")
    edit(ws, cfg, "tokenSeed: seed-one", "tokenSeed: seed-two")
    run = preview(ws, use_cache=True)
    changes = {c.name: c for c in stack(run, DEV).changes}
    assert {n: c.op for n, c in changes.items()} == {"api-token": Op.update, "edge-lt": Op.update}
    assert [d.path for d in changes["edge-lt"].diffs] == ["userData"]
    d = changes["api-token"].diffs[0]
    assert isinstance(d.old, Secret) and isinstance(d.new, Secret) and d.old != d.new

    buf = io.StringIO()
    render_table(run.report, Console(file=buf, width=200, no_color=True))
    outputs = {
        "table": buf.getvalue(),
        "markdown": render_markdown(run.report),
        "json": render_json(run.report),
        "logs": "\n".join(run.logs.values()),
    }
    for cache_file in (ws.state_dir / "cache" / "preview").glob("*.json"):
        outputs[cache_file.name] = cache_file.read_text()
    assert "[secret] => [secret]" in outputs["table"]
    for where, text in outputs.items():
        for plaintext in (
            "plaintext-token-seed",
            "Y2hhbmdlZC1jaXBoZXJ0ZXh0",
            "ZGV2LWNpcGhlcnRleHQ",
        ):
            assert plaintext not in text, f"{plaintext} leaked into {where}"


def test_a_module_reading_the_stack_at_import_gets_each_stacks_own(ws: Workspace) -> None:
    # The fork server imports the program's own modules (components/...) once
    # before forking; one that reads the stack or its config at import must not
    # keep the values of no stack ("stack", None): each child imports it itself.
    (ws.root / "stacks" / "components" / "where.py").write_text(
        "import pulumi\nSTACK = pulumi.get_stack()\nREGION = pulumi.Config('aws').get('region')\n"
    )
    edit(
        ws,
        "stacks/__main__.py",
        "from components.fixture import Edge, Storage\n",
        "from components.fixture import Edge, Storage\n"
        "from components.where import REGION, STACK\n",
    )
    edit(
        ws,
        "stacks/__main__.py",
        'pulumi.export("vpc", vpc.id)',
        'aws.sqs.Queue("where", name=f"{STACK}/{REGION}")\npulumi.export("vpc", vpc.id)',
    )
    run = preview(ws, base=None, use_cache=False)
    for name, region in ((DEV, "us-east-1"), (QA, "eu-west-1")):
        where = next(c for c in stack(run, name).changes if c.name == "where")
        value = next(d for d in where.diffs if d.path == "name")
        assert value.new == f"{name}/{region}"


def test_program_error_names_the_stack_and_line_others_still_preview(ws: Workspace) -> None:
    edit(
        ws,
        "stacks/__main__.py",
        'prefix = f"fleet-{stack}"\n',
        'prefix = f"fleet-{stack}"\nif stack == "qa-eu-west-1":\n'
        '    raise RuntimeError("no capacity in eu-west-1")\n',
    )
    run = preview(ws)
    qa = stack(run, QA)
    assert qa.status is StackStatus.failed and qa.error is not None
    line = (
        ws.root.joinpath("stacks/__main__.py")
        .read_text()
        .splitlines()
        .index('    raise RuntimeError("no capacity in eu-west-1")')
    )
    assert (qa.error.file, qa.error.line) == ("stacks/__main__.py", line + 1)
    assert qa.error.message == "RuntimeError: no capacity in eu-west-1"
    assert stack(run, DEV).status is StackStatus.unchanged


def test_bad_ref_and_unknown_stack_are_bad_input(ws: Workspace) -> None:
    with pytest.raises(BadInput, match="unknown git ref"):
        preview(ws, base="no-such-branch")
    with pytest.raises(BadInput, match="unknown stack"):
        preview(ws, stacks=("prod-mars-1",))


def fleetctl(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCTL_")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "fleetctl"), "--root", str(ws.root), "preview", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_cli_exit_codes_and_json_on_stdout(ws: Workspace) -> None:
    same = fleetctl(ws, "--base", "HEAD", "--detailed-exitcode", "--format", "json")
    assert same.returncode == 0, same.stderr
    data = json.loads(same.stdout)  # nothing but the result on stdout
    jsonschema.validate(data, SCHEMA)
    assert [s["status"] for s in data["stacks"]] == ["skipped", "skipped"]

    edit(ws, f"stacks/Pulumi.{DEV}.yaml", "versioning: false", "versioning: true")
    changed = fleetctl(ws, "--base", "HEAD", "--detailed-exitcode", "--format", "markdown")
    assert changed.returncode == 2, changed.stderr
    assert changed.stdout.startswith("<!-- fleetctl-preview -->")
    assert fleetctl(ws, "--base", "HEAD").returncode == 0  # without the flag: success is 0

    bad = fleetctl(ws, "--base", "no-such-ref")
    assert bad.returncode == 2 and "unknown git ref" in bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = fleetctl(ws, "--stack", "prod-mars-1")
    assert unknown.returncode == 2 and "unknown stack" in unknown.stderr

    edit(ws, "stacks/__main__.py", "vpc = aws", "1 / 0\nvpc = aws")
    broken = fleetctl(ws, "--base", "HEAD", "--detailed-exitcode")
    assert broken.returncode == 1
    assert "stacks/__main__.py:16" in broken.stdout and "ZeroDivisionError" in broken.stdout
    assert "Traceback" not in broken.stdout + broken.stderr


def test_secrets_are_scrubbed_from_program_errors_and_output(ws: Workspace) -> None:
    edit(
        ws,
        "stacks/__main__.py",
        'pulumi.export("vpc", vpc.id)\n',
        'pulumi.export("vpc", vpc.id)\ntoken.apply(lambda t: print("debug token", t))\n'
        "raise RuntimeError(f\"rejected plaintext-token-{cfg.require('tokenSeed')}\")\n",
    )
    run = preview(ws, stacks=(DEV,))
    dev = stack(run, DEV)
    assert dev.error is not None
    assert dev.error.message == "RuntimeError: rejected [secret]"
    assert "debug token [secret]" in dev.error.log
    assert "plaintext-token" not in dev.error.log + "".join(run.logs.values())


def test_a_saved_snapshot_can_be_the_base(ws: Workspace, tmp_path: Path) -> None:
    from fleetctl.services.preview import save_snapshot

    snap = tmp_path / "snap.json"
    save_snapshot(preview(ws, base=None), snap)
    edit(ws, f"stacks/Pulumi.{DEV}.yaml", "versioning: false", "versioning: true")
    run = preview(ws, base=str(snap))
    assert ops(run, DEV) == {"media-origin-versioning": Op.update}
    assert stack(run, QA).status is StackStatus.unchanged
    assert "plaintext-token" not in snap.read_text()
    with pytest.raises(BadInput, match="cannot read snapshot"):
        (tmp_path / "bad.json").write_text("{}")
        preview(ws, base=str(tmp_path / "bad.json"))
