"""`fleetctl drift`: what differs between the spec and what exists in AWS."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fleetctl.cli import render
from fleetctl.cli.options import OnlyEnv, OnlyStacks
from fleetctl.cli.state import workspace

if TYPE_CHECKING:
    from fleetctl.core.drift import DriftReport

# The first line of every markdown report: scripts/drift_issue.py finds its issue by label,
# and this marker says the body is fleetctl's (a person may have edited the title).
MARKDOWN_MARKER = "<!-- fleetctl-drift -->"
# GitHub's limit on an issue body is 65,536 characters; stop listing rows well before.
MARKDOWN_LIMIT = 60_000


class DriftFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def drift(
    ctx: typer.Context,
    env: OnlyEnv = None,
    stack: OnlyStacks = None,
    fmt: Annotated[
        DriftFormat,
        typer.Option("--format", help="Output format: table, markdown (an issue body), json."),
    ] = DriftFormat.table,
) -> None:
    """Compare the spec with what exists in AWS: missing, extra and changed resources.

    Checks buckets (versioning, lifecycle, public access block, replication, tags),
    launch templates (instance type), auto scaling groups (min/max/desired, instances
    per zone) and transcode queues. AWS is reached through the standard credential
    chain; AWS_ENDPOINT_URL points it elsewhere (e.g. moto). Exit 0 no drift,
    2 drift, 3 AWS unreachable or access denied.

    `--format markdown` prints a report for a GitHub issue (what
    .github/workflows/drift.yml files through scripts/drift_issue.py).

    Example:  fleetctl drift --env prod --format markdown
    """
    from fleetctl.services import drift as drift_service

    report = drift_service.check(workspace(ctx), env, stack or [])
    if fmt is DriftFormat.json:
        render.emit_json(report.to_json())
    elif fmt is DriftFormat.markdown:
        print(render_markdown(report))
    else:
        rows: list[tuple[str, ...]] = []
        for item in report.items:
            if not item.changes:
                expected = "exists" if item.status == "missing" else "-"
                actual = "-" if item.status == "missing" else "exists"
                rows.append((item.status, item.stack, item.kind, item.name, "", expected, actual))
            for c in item.changes:
                rows.append(
                    (
                        item.status,
                        item.stack,
                        item.kind,
                        item.name,
                        c.key,
                        _show(c.expected),
                        _show(c.actual),
                    )
                )
        if rows:
            render.out.print(
                render.table(
                    None,
                    ["drift", "stack", "kind", "name", "property", "expected", "actual"],
                    rows,
                )
            )
        counts = report.counts()
        stacks = ", ".join(report.stacks)
        if report.has_drift:
            render.note(
                f"drift in {stacks}: {counts['missing']} missing, {counts['extra']} extra, "
                f"{counts['changed']} changed ({report.checked} resources checked)"
            )
        else:
            render.ok(f"no drift in {stacks} ({report.checked} resources checked)")
    if report.has_drift:
        raise typer.Exit(2)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _code(value: str) -> str:
    """`value` as a code span in a table cell. Values come from AWS (tags anyone can
    set): a backtick inside must not end the span and let the rest render as
    Markdown or HTML in the issue, so the fence is longer than any backtick run
    inside it (CommonMark code spans), padded when the value touches a backtick."""
    text = _cell(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_markdown(report: DriftReport, limit: int = MARKDOWN_LIMIT) -> str:
    """The report as a GitHub issue body: a summary line, then one table row per change."""
    counts = report.counts()
    stacks = ", ".join(report.stacks) or "no stacks"
    head = [MARKDOWN_MARKER]
    if not report.has_drift:
        head.append(f"✅ **No drift** in {stacks} ({report.checked} resources checked).")
        return "\n".join(head) + "\n"
    head += [
        f"⚠️ **Drift** in {stacks}: {counts['missing']} missing, {counts['extra']} extra, "
        f"{counts['changed']} changed ({report.checked} resources checked).",
        "",
        "| drift | stack | kind | name | property | expected | actual |",
        "|---|---|---|---|---|---|---|",
    ]
    rows: list[str] = []
    for item in report.items:
        changes = item.changes or (None,)
        for c in changes:
            if c is None:
                expected = "exists" if item.status == "missing" else "-"
                actual = "-" if item.status == "missing" else "exists"
                key = ""
            else:
                key, expected, actual = c.key, _show(c.expected), _show(c.actual)
            cells = (item.status, item.stack, item.kind, item.name, key, expected, actual)
            rows.append("| " + " | ".join(_code(v) if v else "" for v in cells) + " |")
    size = sum(len(line) + 1 for line in head)
    shown: list[str] = []
    for row in rows:
        if size + len(row) + 1 > limit:
            break
        shown.append(row)
        size += len(row) + 1
    tail = [""]
    if len(shown) < len(rows):
        tail.append(
            f"_{len(rows) - len(shown)} more row(s) not shown: run "
            "`fleetctl drift --format json` for all of them._"
        )
    tail.append("Run `fleetctl drift` to see it again; fix the spec or the resource.")
    return "\n".join(head + shown + tail) + "\n"
