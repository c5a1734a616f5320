"""Render a PreviewResult: Rich table, Markdown PR comment, JSON.

Secrets never reach these functions as plaintext (the model holds only
fingerprints) and are always printed as `[secret]`; fingerprints are never
printed either.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleetctl.cli import cost_render
from fleetctl.core.guardrails import GuardrailsReport, Level, Violation
from fleetctl.core.preview_model import (
    MISSING,
    OP_SYMBOL,
    UNKNOWN,
    Change,
    Op,
    PreviewResult,
    Secret,
    StackPreview,
    StackStatus,
)
from fleetctl.core.preview_report import PreviewReport, preview_to_json

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- fleetctl-preview -->"
VALUE_WIDTH = 160
_OP_STYLE = {Op.create: "green", Op.update: "yellow", Op.replace: "magenta", Op.delete: "red"}
_OP_VERB = {
    Op.create: "to create",
    Op.update: "to update",
    Op.replace: "to replace",
    Op.delete: "to delete",
}


def _plain(v: Any) -> Any:
    if v is UNKNOWN:
        return "(known after apply)"
    if isinstance(v, Secret):
        return "[secret]"
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def fmt_value(v: Any, width: int = VALUE_WIDTH) -> str:
    """One value for people: sentinels spelled out, JSON otherwise, cut at `width`."""
    if v is UNKNOWN:
        return "(known after apply)"
    if isinstance(v, Secret):
        return "[secret]"
    if v is MISSING:
        return "(none)"
    text = json.dumps(_plain(v), separators=(", ", ": "), ensure_ascii=False, default=str)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text


def summary_line(result: PreviewResult) -> str:
    counts = result.counts()
    parts = [f"{counts[op.value]} {_OP_VERB[op]}" for op in Op]
    changed = sum(1 for s in result.stacks if any(s.counts().values()))
    return f"{', '.join(parts)} in {changed} of {len(result.stacks)} stack(s)"


def verdict(result: PreviewResult) -> str:
    failed = result.failed
    if failed:
        names = ", ".join(s.stack for s in failed)
        return f"❌ **Preview failed** for {len(failed)} stack(s): {names}. " + (
            f"Other stacks: {summary_line(result)}."
        )
    if not result.has_changes:
        return "✅ **No changes.** The infrastructure matches the base."
    losses = result.stateful_losses()
    warn = f" ⚠️ {len(losses)} stateful replace/delete." if losses else ""
    return f"📝 **Changes:** {summary_line(result)}.{warn}"


def _change_head(c: Change) -> str:
    line = f"{OP_SYMBOL[c.op]} {c.type}  {c.name}"
    if c.op is Op.replace and c.replace_reasons:
        line += f"  (replace: {', '.join(c.replace_reasons)})"
    if c.protected and c.op in (Op.replace, Op.delete):
        line += "  [protected]"
    return line


def _diff_lines(c: Change) -> list[str]:
    """Property lines of one change (creates and deletes list no properties)."""
    if c.op in (Op.create, Op.delete):
        return []
    out = []
    for d in c.diffs:
        mark = " (forces replace)" if d.forces_replace else ""
        out.append(f"      {d.path}: {fmt_value(d.old)} => {fmt_value(d.new)}{mark}")
    return out


# --- table -----------------------------------------------------------------------------------


def render_table(report: PreviewReport, console: Console, *, verbose: bool = False) -> None:
    result = report.result
    t = Table(title=None, header_style="bold")
    for col, justify in (
        ("stack", "left"),
        ("status", "left"),
        ("+", "right"),
        ("~", "right"),
        ("+-", "right"),
        ("-", "right"),
        ("resources", "right"),
        ("cached", "left"),
    ):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for s in result.stacks:
        c = s.counts()
        status = {
            StackStatus.failed: "[red]failed[/]",
            StackStatus.changed: "[yellow]changed[/]",
            StackStatus.unchanged: "[green]no changes[/]",
            StackStatus.skipped: "[dim]unchanged (not run)[/]",
        }[s.status]
        t.add_row(
            s.stack,
            status,
            *(str(c[op.value]) for op in Op),
            str(s.resources) if s.status is not StackStatus.skipped else "-",
            "yes" if s.cached else "",
        )
    console.print(t)
    render_guardrails_table(report.guardrails, console)
    losses = result.stateful_losses()
    if losses:
        console.print("[bold red]Data at risk[/] (stateful resources replaced or deleted):")
        for stack, loss in losses:
            console.print(
                f"  [red]{loss.op.value}[/] {stack}: {escape(loss.type)} {escape(loss.name)}"
            )
    for s in result.stacks:
        if s.error is not None:
            where = f" at {s.error.where()}" if s.error.where() else ""
            console.print(f"\n[bold red]{s.stack}: preview failed{where}[/]")
            console.print(f"  {escape(s.error.message)}", soft_wrap=True)
            for line in s.error.details:
                console.print(f"  {escape(line)}", soft_wrap=True)
        if not s.changes:
            continue
        console.print(f"\n[bold]{s.stack}[/]")
        for ch in s.changes:
            style = _OP_STYLE[ch.op]
            console.print(f"  [{style}]{escape(_change_head(ch))}[/]", soft_wrap=True)
            for line in _diff_lines(ch):
                console.print(escape(line), soft_wrap=True)
    _cost_table(report, console)
    console.print(f"\n{verdict(result).replace('**', '')}", soft_wrap=True)


# --- markdown --------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_code(text: str) -> str:
    return text.replace("```", "'''")


def _stack_counts(s: StackPreview) -> str:
    c = s.counts()
    return " ".join(f"{OP_SYMBOL[op]}{c[op.value]}" for op in Op)


def _stack_details(s: StackPreview) -> str:
    summary = f"<b>{s.stack}</b>: {_stack_counts(s)}"
    if s.error is not None:
        where = f" at `{s.error.where()}`" if s.error.where() else ""
        body = "\n".join(_md_code(x) for x in [s.error.message, *s.error.details])
        return (
            f"<details open><summary><b>{s.stack}</b>: ❌ failed{where}</summary>\n\n"
            f"```\n{body}\n```\n</details>\n"
        )
    lines: list[str] = []
    for ch in s.changes:
        lines.append(_md_code(_change_head(ch)))
        lines.extend(_md_code(x) for x in _diff_lines(ch))
    body = "\n".join(lines)
    return f"<details><summary>{summary}</summary>\n\n```diff\n{body}\n```\n</details>\n"


def _stack_digest(s: StackPreview, base: str | None, max_names: int | None = None) -> str:
    """A stack's details in compact form (used to stay under the limit): one line per
    operation and type with the resource names and replace reasons, no properties;
    `max_names` cuts the names per line."""
    by: dict[tuple[str, str], list[str]] = {}
    for ch in s.changes:
        name = ch.name
        if ch.op is Op.replace and ch.replace_reasons:
            name += f" ({', '.join(ch.replace_reasons)})"
        by.setdefault((OP_SYMBOL[ch.op], ch.type), []).append(name)
    lines = []
    for (sym, typ), names in sorted(by.items()):
        shown = names if max_names is None else names[:max_names]
        more = f", … and {len(names) - len(shown)} more" if len(shown) < len(names) else ""
        lines.append(f"{sym} {len(names)} x {typ}: {', '.join(shown)}{more}")
    body = "\n".join(_md_code(x) for x in lines)
    command = f"fleetctl preview --stack {shlex.quote(s.stack)}"
    if base:
        command += f" --base {shlex.quote(base)}"
    return (
        f"<details><summary><b>{s.stack}</b>: {_stack_counts(s)} "
        f"(summarised: too large for one comment)</summary>\n\n"
        f"```diff\n{body}\n```\n\nEvery property: `{command}`\n</details>\n"
    )


def render_markdown(report: PreviewReport, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """A PR comment: verdict, stateful callouts, summary table, details per stack.

    Never longer than `limit` characters: the largest stacks' details are
    summarised (per operation and type: names and replace reasons) until it fits,
    and it says so.
    """
    result = report.result
    head = [MARKER, "### fleetctl preview", "", verdict(result), ""]
    if result.base:
        head.insert(3, f"Base: `{result.base}` · engine: {result.engine}")
        head.insert(4, "")
    head.extend(_cost_headline(report))
    head.extend(guardrails_markdown(report.guardrails))
    losses = result.stateful_losses()
    if losses:
        head.append("> [!CAUTION]")
        head.append("> **Data at risk:** these stateful resources would be replaced or deleted:")
        for stack, loss in losses[:50]:
            reason = f" ({', '.join(loss.replace_reasons)})" if loss.replace_reasons else ""
            if loss.protected:
                reason += " - protected: the engine refuses until `protect` is lifted"
            head.append(f"> - **{loss.op.value}** `{stack}`: `{loss.type}` **{loss.name}**{reason}")
        if len(losses) > 50:
            head.append(f"> - … and {len(losses) - 50} more")
        head.append("")
    table = ["| stack | status | + | ~ | +- | - | resources |", "|---|---|--:|--:|--:|--:|--:|"]
    for s in result.stacks:
        c = s.counts()
        status = {
            StackStatus.failed: "❌ failed",
            StackStatus.changed: "changed",
            StackStatus.unchanged: "no changes",
            StackStatus.skipped: "unchanged (not run)",
        }[s.status]
        res = str(s.resources) if s.status is not StackStatus.skipped else "-"
        cells = [s.stack, status, *(str(c[op.value]) for op in Op), res]
        table.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
    table.extend(_cost_markdown(report))
    details = {s.stack: _stack_details(s) for s in result.stacks if s.changes or s.error}
    footer = f"\n<sub>fleetctl {result.fleetctl_version} · `fleetctl preview` </sub>\n"

    def build(note: str = "") -> str:
        parts = ["\n".join(head), "\n".join(table), ""]
        if note:
            parts.append(note)
        parts.extend(details.values())
        return "\n".join(parts) + footer

    text = build()
    if len(text) <= limit:
        return text
    note = (
        "> [!NOTE]\n> The full preview is longer than GitHub's 65,536-character comment "
        "limit: the largest stacks are summarised below. The JSON output has everything.\n"
    )
    by_size = sorted(
        (s for s in result.stacks if s.changes), key=lambda s: len(details[s.stack]), reverse=True
    )
    # First every name; then, if that is still too long, a few names per line.
    for max_names in (None, 10):
        for s in by_size:
            details[s.stack] = _stack_digest(s, result.base, max_names)
            text = build(note)
            if len(text) <= limit:
                return text
    # Still too long (thousands of stacks): keep the head, cut the rest.
    cut = "\n\n… (truncated to fit the comment limit)\n"
    return text[: limit - len(cut) - len(footer)] + cut + footer


# --- cost (fleetctl.cli.cost_render) --------------------------------------------------------


def _cost_table(report: PreviewReport, console: Console) -> None:
    if report.prices is not None:
        console.print()
        cost_render.render_table_section(report, console)


def _cost_headline(report: PreviewReport) -> list[str]:
    line = cost_render.headline(report)
    return [line, ""] if line else []


def _cost_markdown(report: PreviewReport) -> list[str]:
    section = cost_render.markdown_section(report)
    return ["", section] if section else []


# --- policy ---------------------------------------------------------------------------------

POLICY_MD_MAX = 50  # violations listed in the PR comment (the JSON has every one)


def _violation_line(v: Violation, code: str = "`") -> str:
    where = f" {code}{v.resource.name}{code}" if v.resource is not None else ""
    return f"{code}{v.stack}{code}{where}: {v.message}"


def guardrails_markdown(report: GuardrailsReport | None) -> list[str]:
    """The "Policy" section of the PR comment: mandatory violations first, then advisory."""
    if report is None:
        return []
    counts = report.counts()
    if not report.violations:
        return [
            f"**Policy:** ✅ {len(report.rules)} rule(s) pass on {len(report.checked)} stack(s).",
            "",
        ]
    if report.blocking:
        lines = [
            f"**Policy:** 🚫 {counts['mandatory']} mandatory violation(s) block this change"
            + (f", {counts['advisory']} advisory" if counts["advisory"] else "")
            + "."
        ]
    else:
        lines = [f"**Policy:** ⚠️ {counts['advisory']} advisory finding(s) (not blocking)."]
    lines.append("")
    for v in report.violations[:POLICY_MD_MAX]:
        mark = "🚫 **mandatory**" if v.level is Level.mandatory else "⚠️ advisory"
        lines.append(f"- {mark} `{v.rule_id}` {_md_cell(_violation_line(v))}")
        lines.append(f"  - fix: {_md_cell(v.fix)}")
    if len(report.violations) > POLICY_MD_MAX:
        lines.append(f"- … and {len(report.violations) - POLICY_MD_MAX} more (see the JSON output)")
    lines.append("")
    return lines


def render_guardrails_table(report: GuardrailsReport | None, console: Console) -> None:
    """Policy findings for people, under the summary table."""
    if report is None:
        return
    if not report.violations:
        console.print(
            f"[green]policy:[/] {len(report.rules)} rule(s) pass on {len(report.checked)} stack(s)"
        )
        return
    counts = report.counts()
    head = "[bold red]Policy: blocked[/]" if report.blocking else "[bold yellow]Policy[/]"
    console.print(f"{head} ({counts['mandatory']} mandatory, {counts['advisory']} advisory)")
    for v in report.violations:
        style = "red" if v.level is Level.mandatory else "yellow"
        console.print(
            f"  [{style}]{v.level.value}[/] {escape(v.rule_id)} {escape(_violation_line(v, ''))}",
            soft_wrap=True,
        )
        console.print(f"      fix: {escape(v.fix)}", soft_wrap=True)


# --- json ------------------------------------------------------------------------------------


def render_json(report: PreviewReport) -> str:
    return json.dumps(preview_to_json(report), indent=2, ensure_ascii=False) + "\n"
