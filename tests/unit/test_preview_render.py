"""Rendering a preview: the Markdown comment stays under GitHub's limit, calls
out data loss first, never shows secrets; the JSON matches its schema."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from fleetctl.cli.preview_render import (
    GITHUB_COMMENT_LIMIT,
    MARKER,
    render_json,
    render_markdown,
    render_table,
)
from fleetctl.core.preview_model import (
    MISSING,
    UNKNOWN,
    Change,
    Op,
    PreviewResult,
    PropertyDiff,
    Secret,
    StackError,
    StackPreview,
    StackStatus,
)
from fleetctl.core.preview_report import PreviewReport

pytestmark = pytest.mark.unit

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "preview-schema.json").read_text()
)


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::fleet::{type_}::{name}"


def sample() -> PreviewReport:
    s1 = "prod-eu-west-1"
    changes = (
        Change(
            urn(s1, "aws:s3/bucket:Bucket", "media"),
            "aws:s3/bucket:Bucket",
            "media",
            Op.replace,
            diffs=(PropertyDiff("bucket", "a", "b", True),),
            replace_reasons=("bucket",),
            stateful=True,
        ),
        Change(
            urn(s1, "aws:ssm/parameter:Parameter", "key"),
            "aws:ssm/parameter:Parameter",
            "key",
            Op.update,
            diffs=(PropertyDiff("value", Secret("f1"), Secret("f2")),),
        ),
        Change(
            urn(s1, "aws:autoscaling/group:Group", "edge"),
            "aws:autoscaling/group:Group",
            "edge",
            Op.update,
            diffs=(
                PropertyDiff("launchTemplate.id", "lt-1", UNKNOWN),
                PropertyDiff("tags.new", MISSING, "x"),
            ),
        ),
        Change(
            urn(s1, "aws:sqs/queue:Queue", "jobs"),
            "aws:sqs/queue:Queue",
            "jobs",
            Op.delete,
            stateful=True,
        ),
    )
    return PreviewReport(
        PreviewResult(
            (
                StackPreview(s1, StackStatus.changed, changes=changes, resources=40),
                StackPreview("prod-us-east-1", StackStatus.skipped),
                StackPreview("prod-sa-east-1", StackStatus.unchanged, resources=37),
                StackPreview(
                    "prod-ap-south-1",
                    StackStatus.failed,
                    error=StackError("ZeroDivisionError: division by zero", "stacks/x.py", 3),
                ),
            ),
            base="origin/main",
            fleetctl_version="0.1.0",
        )
    )


def test_markdown_calls_out_stateful_losses_before_the_details() -> None:
    text = render_markdown(sample())
    assert text.startswith(MARKER)
    callout = text.index("Data at risk")
    assert callout < text.index("| stack |") < text.index("<details")
    assert "**replace** `prod-eu-west-1`: `aws:s3/bucket:Bucket` **media** (bucket)" in text
    assert "**delete** `prod-eu-west-1`: `aws:sqs/queue:Queue` **jobs**" in text
    assert "Preview failed" in text and "`stacks/x.py:3`" in text
    assert "value: [secret] => [secret]" in text
    assert "f1" not in text.replace("fleet", "")
    assert 'launchTemplate.id: "lt-1" => (known after apply)' in text
    assert "| prod-us-east-1 | unchanged (not run) |" in text


def test_markdown_never_exceeds_the_github_limit() -> None:
    s = "prod-us-east-1"
    big = tuple(
        Change(
            urn(s, "aws:autoscaling/group:Group", f"edge-{i}"),
            "aws:autoscaling/group:Group",
            f"edge-{i}",
            Op.update,
            diffs=tuple(PropertyDiff(f"tags.k{j}", "o" * 40, "n" * 40) for j in range(5)),
        )
        for i in range(3000)
    )
    small = (
        Change(
            urn("prod-eu-west-1", "aws:s3/bucket:Bucket", "b"),
            "aws:s3/bucket:Bucket",
            "b",
            Op.update,
            diffs=(PropertyDiff("tags.x", "1", "2"),),
        ),
    )
    result = PreviewReport(
        PreviewResult(
            (
                StackPreview(s, StackStatus.changed, changes=big, resources=3000),
                StackPreview("prod-eu-west-1", StackStatus.changed, changes=small, resources=1),
            )
        )
    )
    text = render_markdown(result)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert "summarised" in text
    assert "3000 x aws:autoscaling/group:Group" in text
    assert 'tags.x: "1" => "2"' in text  # the small stack keeps its details
    # A limit nothing fits into still holds.
    assert len(render_markdown(result, limit=2000)) <= 2000


def test_json_matches_the_schema_and_hides_fingerprints() -> None:
    text = render_json(sample())
    data = json.loads(text)
    jsonschema.validate(data, SCHEMA)
    assert list(data) == [
        "schema_version",
        "fleetctl_version",
        "engine",
        "base",
        "has_changes",
        "summary",
        "stacks",
        "cost",
        "policy",
    ]
    assert data["summary"] == {"create": 0, "update": 2, "replace": 1, "delete": 1}
    param = data["stacks"][0]["changes"][1]
    assert param["diffs"][0]["old"] == {"$secret": True}
    assert "f1" not in text and "f2" not in text


def test_table_lists_changes_and_errors() -> None:
    buf = io.StringIO()
    render_table(sample(), Console(file=buf, width=200, no_color=True))
    out = buf.getvalue()
    assert "+- aws:s3/bucket:Bucket  media  (replace: bucket)" in out
    assert "value: [secret] => [secret]" in out
    assert "prod-ap-south-1: preview failed at stacks/x.py:3" in out
    assert "unchanged (not run)" in out


def test_a_summarised_stack_keeps_names_and_replace_reasons() -> None:
    """The digest of a stack too large for the comment still says what is replaced and
    why, and gives the exact command for the full diff (with the same --base)."""
    s = "prod-us-east-1"
    vpc = Change(
        urn(s, "aws:ec2/vpc:Vpc", "network-vpc"),
        "aws:ec2/vpc:Vpc",
        "network-vpc",
        Op.replace,
        diffs=(PropertyDiff("cidrBlock", "10.0.0.0/16", "10.1.0.0/16", True),),
        replace_reasons=("cidrBlock",),
    )
    groups = tuple(
        Change(
            urn(s, "aws:autoscaling/group:Group", f"edge-{i}"),
            "aws:autoscaling/group:Group",
            f"edge-{i}",
            Op.update,
            diffs=tuple(PropertyDiff(f"tags.k{j}", "o" * 40, "n" * 40) for j in range(5)),
        )
        for i in range(400)
    )
    result = PreviewReport(
        PreviewResult(
            (StackPreview(s, StackStatus.changed, changes=(vpc, *groups), resources=401),),
            base="origin/main",
        )
    )
    text = render_markdown(result, limit=20_000)
    assert len(text) <= 20_000 and "summarised" in text
    assert "+- 1 x aws:ec2/vpc:Vpc: network-vpc (cidrBlock)" in text
    assert "~ 400 x aws:autoscaling/group:Group: edge-0, edge-1," in text
    assert "`fleetctl preview --stack prod-us-east-1 --base origin/main`" in text
    # tighter still: names are cut per type, and it says how many more
    text = render_markdown(result, limit=3_000)
    assert len(text) <= 3_000
    assert "+- 1 x aws:ec2/vpc:Vpc: network-vpc (cidrBlock)" in text
    assert "edge-9, … and 390 more" in text
