"""Policy findings in every preview format: a Policy section near the top of the
PR comment (mandatory first), the terminal table, and the JSON schema."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from fleetctl.cli.preview_render import render_json, render_markdown, render_table
from fleetctl.core.guardrails import GuardrailsReport, Level, ResourceRef, Violation
from fleetctl.core.preview_model import PreviewResult, StackPreview, StackStatus
from fleetctl.core.preview_report import PreviewReport

pytestmark = pytest.mark.unit

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "preview-schema.json").read_text()
)
S = "prod-eu-west-1"


def result(*violations: Violation) -> PreviewReport:
    report = GuardrailsReport(("a.b", "c.d"), (S,), violations)
    stacks = (StackPreview(S, StackStatus.unchanged, resources=3),)
    return PreviewReport(PreviewResult(stacks), guardrails=report)


MANDATORY = Violation(
    "storage.bucket-versioned",
    Level.mandatory,
    S,
    ResourceRef("urn:x", "fleet-prod-eu-west-1-origin-media-origin", "aws:s3/bucket:Bucket"),
    "bucket 'media-origin' has versioning Suspended",
    "set `versioning: true`",
)
ADVISORY = Violation("transcode.scaling-policy", Level.advisory, S, None, "no policy | here", "add")


def test_markdown_has_a_policy_section_before_the_table_mandatory_first() -> None:
    md = render_markdown(result(MANDATORY, ADVISORY))
    policy = md.index("**Policy:** 🚫 1 mandatory violation(s) block this change, 1 advisory.")
    assert policy < md.index("| stack | status |")
    first, second = md.index("storage.bucket-versioned"), md.index("transcode.scaling-policy")
    assert policy < first < second
    assert "`fleet-prod-eu-west-1-origin-media-origin`" in md
    assert "fix: set `versioning: true`" in md
    assert "no policy \\| here" in md  # table-safe


def test_markdown_advisory_only_and_clean() -> None:
    assert "⚠️ 1 advisory finding(s) (not blocking)" in render_markdown(result(ADVISORY))
    assert "**Policy:** ✅ 2 rule(s) pass on 1 stack(s)." in render_markdown(result())
    assert "Policy" not in render_markdown(PreviewReport(PreviewResult(())))


def test_table_and_json_show_violations() -> None:
    buf = io.StringIO()
    render_table(result(MANDATORY, ADVISORY), Console(file=buf, width=200, no_color=True))
    out = buf.getvalue()
    assert "Policy: blocked (1 mandatory, 1 advisory)" in out
    assert "mandatory storage.bucket-versioned prod-eu-west-1 fleet-prod-eu-west-1-origin" in out
    data = json.loads(render_json(result(MANDATORY, ADVISORY)))
    jsonschema.validate(data, SCHEMA)
    assert data["policy"]["blocking"] is True
    assert [v["rule"] for v in data["policy"]["violations"]] == [
        "storage.bucket-versioned",
        "transcode.scaling-policy",
    ]
    none = json.loads(render_json(PreviewReport(PreviewResult(()))))
    jsonschema.validate(none, SCHEMA)
    assert none["policy"] is None
