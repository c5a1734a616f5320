"""The PR comment as GitHub renders it: cmark-gfm (GitHub's Markdown parser, with
its table/strikethrough/autolink/tagfilter extensions) keeps the tables, the
collapsible <details> per stack and the diff blocks intact, also for a stack
summarised to fit the comment limit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from fleetctl.cli.preview_render import render_json, render_markdown
from fleetctl.core.preview_model import (
    Change,
    Op,
    PreviewResult,
    PropertyDiff,
    StackPreview,
    StackStatus,
)
from fleetctl.core.preview_report import PreviewReport

pytestmark = pytest.mark.integration

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_cost import _result as cost_result  # noqa: E402

CMARK = shutil.which("cmark-gfm")
GFM_EXTENSIONS = ("table", "strikethrough", "autolink", "tagfilter", "tasklist")  # GitHub's


class _Html(HTMLParser):
    """Counts of elements, the text of each <summary>, the raw text outside tags."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: dict[str, int] = {}
        self.closed: dict[str, int] = {}
        self.summaries: list[str] = []
        self.code_classes: list[str] = []
        self.text: list[str] = []
        self._in_summary = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.opened[tag] = self.opened.get(tag, 0) + 1
        if tag == "summary":
            self._in_summary = True
            self.summaries.append("")
        if tag == "code":
            self.code_classes.append(dict(attrs).get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        self.closed[tag] = self.closed.get(tag, 0) + 1
        if tag == "summary":
            self._in_summary = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_summary:
            self.summaries[-1] += data


def _result() -> PreviewReport:
    s = "prod-us-east-1"
    vpc = Change(
        f"urn:pulumi:{s}::fleet::aws:ec2/vpc:Vpc::network-vpc",
        "aws:ec2/vpc:Vpc",
        "network-vpc",
        Op.replace,
        diffs=(PropertyDiff("cidrBlock", "10.0.0.0/16", "10.1.0.0/16", True),),
        replace_reasons=("cidrBlock",),
    )
    groups = tuple(
        Change(
            f"urn:pulumi:{s}::fleet::aws:autoscaling/group:Group::edge-{i}",
            "aws:autoscaling/group:Group",
            f"edge-{i}",
            Op.update,
            diffs=tuple(PropertyDiff(f'tags["k{j}"].value', "o" * 40, "n|" * 20) for j in range(5)),
        )
        for i in range(400)
    )
    small = Change(
        "urn:pulumi:prod-eu-west-1::fleet::aws:s3/bucket:Bucket::media",
        "aws:s3/bucket:Bucket",
        "media",
        Op.update,
        diffs=(PropertyDiff("tags.team", "video", "```video```"),),
    )
    base = cost_result()
    stacks = (
        StackPreview(s, StackStatus.changed, changes=(vpc, *groups), resources=401),
        StackPreview("prod-eu-west-1", StackStatus.changed, changes=(small,), resources=12),
        *base.result.stacks[1:],
    )
    costs = {x.stack: base.costs[x.stack] for x in base.result.stacks[1:]}
    return PreviewReport(PreviewResult(stacks, base="origin/main"), costs, prices=base.prices)


@pytest.mark.skipif(CMARK is None, reason="cmark-gfm not installed (apt-get install cmark-gfm)")
def test_cmark_gfm_renders_tables_details_and_diffs_intact() -> None:
    md = render_markdown(_result(), limit=20_000)
    assert "summarised" in md  # the large stack is in compact form
    assert CMARK is not None
    out = subprocess.run(
        [
            CMARK,
            "--unsafe",
            *(arg for ext in GFM_EXTENSIONS for arg in ("-e", ext)),
        ],
        input=md,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    html = _Html()
    html.feed(out.stdout)
    # the stack table and the cost table are tables, not text
    assert html.opened["table"] == 2 and "|---|" not in "".join(html.text)
    assert html.opened["tr"] == (1 + 3) + (1 + 3 + 1)  # header + rows, twice
    # every <details> opened in the Markdown is a balanced element with its summary
    n = md.count("<details>")
    assert n == 3 and html.opened["details"] == html.closed["details"] == n
    assert [x.split(":")[0] for x in html.summaries] == [
        "Monthly cost by stack (USD, on-demand list prices as of 2026-10-01)",
        "prod-us-east-1",
        "prod-eu-west-1",
    ]
    # each ```diff fence is one code block; no fence leaked into the text
    assert html.code_classes.count("language-diff") == md.count("```diff") == 2
    text = "".join(html.text)
    assert "```" not in text.replace("'''video'''", "")
    assert "+- 1 x aws:ec2/vpc:Vpc: network-vpc (cidrBlock)" in text
    assert "fleetctl preview --stack prod-us-east-1 --base origin/main" in text


def test_the_same_preview_as_json_validates_against_the_published_schema() -> None:
    """What tools read (docs/preview-schema.json), checked by the jsonschema package."""
    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "docs/preview-schema.json").read_text()
    )
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    data = json.loads(render_json(_result()))
    validator(schema).validate(data)
    paths = [d["path"] for d in data["stacks"][0]["changes"][1]["diffs"]]
    assert paths[0] == 'tags["k0"].value'
