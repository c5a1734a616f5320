"""Render cost estimates: `fleetctl cost`, `fleetctl cost prices`, and the cost parts
of a preview (terminal table, Markdown PR comment)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetctl.core import cost as model
from fleetctl.core.cost import usd

if TYPE_CHECKING:
    from rich.console import Console

    from fleetctl.core.cost import CostDelta, LineDelta
    from fleetctl.core.preview_report import PreviewReport
    from fleetctl.services.fleet_cost import FleetCost
    from fleetctl.spec.prices import PriceTable


def _money(v: float | None) -> str:
    return "?" if v is None else usd(v)


def _signed(v: float | None) -> str:
    return "?" if v is None else usd(v, sign=True)


def _qty(q: float) -> str:
    return f"{q:,.0f}" if float(q).is_integer() else f"{q:,.2f}"


def _pct(delta: float, before: float) -> str:
    if before == 0:
        return ""
    return f" ({delta / before:+.1%})"


# --- fleetctl cost -------------------------------------------------------------------------


def role_totals(fc: FleetCost) -> tuple[dict[str, float], dict[str, float]]:
    """Monthly USD per role over every stack: at the current size and at max size."""
    roles = dict.fromkeys(model.ROLES, 0.0)
    roles_max = dict.fromkeys(model.ROLES, 0.0)
    for s in fc.stacks:
        for r, v in s.by_role().items():
            roles[r] += v
        for r, v in s.by_role_max().items():
            roles_max[r] += v
    return roles, roles_max


def fleet_json(fc: FleetCost) -> dict[str, Any]:
    roles, roles_max = role_totals(fc)
    return {
        "currency": fc.prices.currency,
        "prices": {"source": fc.prices.source, "as_of": fc.prices.as_of, "file": fc.prices.file},
        "monthly": round(fc.monthly, 2),
        "monthly_max": round(fc.monthly_max, 2),
        "by_role": {
            r: {"monthly": round(roles[r], 2), "monthly_max": round(roles_max[r], 2)}
            for r in model.ROLES
        },
        "stacks": [
            {
                "stack": s.stack,
                "env": s.stack.partition("-")[0],
                "region": s.region,
                "monthly": round(s.monthly, 2),
                "monthly_max": round(s.monthly_max, 2),
                "by_role": {r: round(v, 2) for r, v in s.by_role().items()},
                "lines": [model.line_to_json(line) for line in s.lines],
                "free": dict(s.free),
                "unpriced": list(s.unpriced),
                "notes": list(s.notes),
            }
            for s in fc.stacks
        ],
        "failed": list(fc.failed),
        "excluded": ["internet egress (demand-driven)"],
    }


def fleet_table(fc: FleetCost, by: str, detail: bool, console: Console) -> None:
    from fleetctl.cli import render

    title = f"monthly cost estimate ({fc.prices.currency}, on-demand list prices)"
    if by == "role":
        roles, roles_max = role_totals(fc)
        rows: list[list[Any]] = [
            [
                r,
                usd(roles[r]),
                usd(roles_max[r]),
                f"{roles[r] / fc.monthly:.1%}" if fc.monthly else "",
            ]
            for r in model.ROLES
        ]
        rows.append(["total", usd(fc.monthly), usd(fc.monthly_max), "100.0%" if fc.monthly else ""])
        t = render.table(title, ["role", "monthly", "at max size", "share"], rows)
    else:
        rows = [
            [
                s.stack,
                *(usd(v) for v in s.by_role().values()),
                usd(s.monthly),
                usd(s.monthly_max),
            ]
            for s in fc.stacks
        ]
        roles = dict.fromkeys(model.ROLES, 0.0)
        for s in fc.stacks:
            for r, v in s.by_role().items():
                roles[r] += v
        rows.append(
            ["total", *(usd(v) for v in roles.values()), usd(fc.monthly), usd(fc.monthly_max)]
        )
        t = render.table(title, ["stack", *model.ROLES, "monthly", "at max size"], rows)
    for col in t.columns[1:]:
        col.justify = "right"
    console.print(t)
    if detail:
        for s in fc.stacks:
            lines = render.table(
                f"{s.stack} ({s.region})",
                ["resource", "role", "item", "quantity", "unit", "unit price", "monthly", "at max"],
                [
                    [
                        line.resource,
                        line.role,
                        line.item,
                        _qty(line.quantity),
                        line.unit,
                        f"${line.unit_price:,.6g}",
                        usd(line.monthly),
                        "" if line.monthly_max is None else usd(line.monthly_max),
                    ]
                    for line in s.lines
                ],
            )
            for i in (3, 5, 6, 7):
                lines.columns[i].justify = "right"
            console.print(lines)
            for note in (*s.notes, *(f"not priced: {u}" for u in s.unpriced)):
                console.print(f"  note: {note}", markup=False, soft_wrap=True)
    console.print(
        "Not included: internet egress (follows demand; see `fleetctl capacity`).", style="dim"
    )


# --- fleetctl cost prices ------------------------------------------------------------------


def prices_json(table: PriceTable, file: str, region: str | None) -> dict[str, Any]:
    doc = table.model_dump(mode="json", exclude={"path"})
    doc["file"] = file
    if region is not None:
        r = table.region(region)
        doc = {
            "source": table.source,
            "as_of": table.as_of,
            "currency": table.currency,
            "hours_per_month": table.hours_per_month,
            "file": file,
            "region": region,
            "instances_per_hour": {
                t: table.instance_hour(region, t) for t in sorted({*table.instances, *r.instances})
            },
            **r.model_dump(mode="json", exclude={"instances"}),
            "public_ipv4_hour": table.public_ipv4_hour,
        }
    return doc


def prices_table(table: PriceTable, file: str, region: str | None, console: Console) -> None:
    from fleetctl.cli import render

    console.print(
        f"[bold]{table.source}[/]\nas of {table.as_of} · {table.currency} · "
        f"{table.hours_per_month:g} h/month · {file}",
        soft_wrap=True,
    )
    if region is None:
        console.print(
            render.table(
                "regions",
                [
                    "region",
                    "compute factor",
                    "S3 STANDARD /GB-mo",
                    "S3 PUT /1k",
                    "S3 GET /1k",
                    "egress /GB",
                    "EBS gp3 /GB-mo",
                    "inter-region /GB",
                ],
                [
                    [
                        name,
                        r.compute_factor,
                        r.s3_gb_month.get(model.StorageClass.STANDARD, "-"),
                        r.s3_requests_per_1k.put,
                        r.s3_requests_per_1k.get,
                        r.egress_gb,
                        r.ebs_gb_month.get("gp3", "-"),
                        "-" if r.inter_region_gb is None else r.inter_region_gb,
                    ]
                    for name, r in table.regions.items()
                ],
            )
        )
        console.print(
            render.table(
                "instances, USD per hour in us-east-1 (other regions: x compute factor)",
                ["type", "per hour", "per month"],
                [
                    [t, p, round(p * table.hours_per_month, 2)]
                    for t, p in sorted(table.instances.items())
                ],
            )
        )
    else:
        r = table.region(region)
        types = sorted({*table.instances, *r.instances})
        console.print(
            render.table(
                f"instances in {region} (compute factor {r.compute_factor:g})",
                ["type", "per hour", "per month"],
                [
                    [
                        t,
                        table.instance_hour(region, t),
                        round(table.instance_month(region, t), 2),
                    ]
                    for t in types
                ],
            )
        )
        rows: list[list[Any]] = [
            [f"S3 {cls.value}", "GB-month", p] for cls, p in r.s3_gb_month.items()
        ]
        rows += [
            ["S3 PUT/COPY/POST/LIST", "1k requests", r.s3_requests_per_1k.put],
            ["S3 GET/SELECT", "1k requests", r.s3_requests_per_1k.get],
            ["internet egress", "GB", r.egress_gb],
            *[[f"EBS {v}", "GB-month", p] for v, p in r.ebs_gb_month.items()],
        ]
        if r.inter_region_gb is not None:
            rows.append(["to another region", "GB", r.inter_region_gb])
        if table.public_ipv4_hour is not None:
            rows.append(["public IPv4", "address-hour", table.public_ipv4_hour])
        console.print(render.table(f"other prices in {region}", ["item", "unit", "USD"], rows))


# --- preview ---------------------------------------------------------------------------------


def headline(report: PreviewReport) -> str | None:
    """One line for the top of a PR comment:
    "Monthly cost: +$662.26 (+4.1%) → $16,830.12". None when no cost was estimated."""
    t = report.cost_total()
    if t is None:
        return None
    if not t.complete and t.before == 0 and t.after == 0:
        reasons = [c.error for c in _costs(report) if c and c.error]
        why = f": {reasons[0]}" if reasons else ""
        return f"💰 **Monthly cost:** unknown{why}"
    estimated = len(report.result.stacks) - len(t.not_estimated) - len(t.unknown)
    if t.unknown:
        # Any unknown cost makes the change's cost unknown: lead with that, never with a
        # sum that reads like the answer (+$0.00 when the changed stacks are the unknown ones).
        reasons = [c.error for c in _costs(report) if c and c.error]
        why = f": {reasons[0]}" if reasons else ""
        head = f"💰 **Monthly cost:** unknown ({len(t.unknown)} stack(s) not priced{why})"
        if estimated:
            head += (
                f" · {_signed(t.delta)}{_pct(t.delta, t.before)} for the {estimated} "
                f"estimated stack(s) ({usd(t.before)} → {usd(t.after)})"
            )
    elif t.complete:
        head = f"💰 **Monthly cost:** {_signed(t.delta)}{_pct(t.delta, t.before)} → {usd(t.after)}"
    else:
        head = (
            f"💰 **Monthly cost:** {_signed(t.delta)} ({usd(t.before)} → {usd(t.after)} "
            f"for the {estimated} estimated stack(s){_pct(t.delta, t.before)})"
        )
    extras = []
    if t.after_max != t.after or t.before_max != t.before:
        extras.append(f"at max scale {usd(t.before_max)} → {usd(t.after_max)}")
    if t.not_estimated:
        extras.append(f"{len(t.not_estimated)} unchanged stack(s) not run, delta 0")
    if t.unknown:
        extras.append(f"unknown for {', '.join(t.unknown)}")
    if extras:
        head += " · " + " · ".join(extras)
    return head


def _delta_rows(report: PreviewReport) -> list[list[str]]:
    """One row per stack whose cost changes or is unknown; the stacks whose cost
    does not change are summed into one row (a PR over 100 regions stays short)."""
    rows = []
    same: list[float] = []
    not_run = 0
    for s in report.result.stacks:
        c = report.cost_of(s.stack)
        if c is None:
            continue
        if c.error is not None:
            rows.append([s.stack, "?", "?", "?", c.error])
            continue
        if not c.known:
            not_run += 1
            continue
        if round(c.delta or 0.0, 2) == 0 and not c.lines:
            same.append(c.after or 0.0)
            continue
        note = ""
        if c.after_max is not None and c.after is not None and c.after_max != c.after:
            note = f"up to {usd(c.after_max)} at max size"
        rows.append([s.stack, _money(c.before), _money(c.after), _signed(c.delta), note])
    if same:
        total = sum(same)
        rows.append(
            [f"{len(same)} other stack(s)", usd(total), usd(total), usd(0, sign=True), "no change"]
        )
    if not_run:
        rows.append(
            [f"{not_run} other stack(s)", "-", "-", usd(0, sign=True), "unchanged, not run"]
        )
    return rows


def _as_of(report: PreviewReport) -> str:
    p = report.prices
    if p is None or not p.as_of:
        return "price table unreadable"
    return f"{p.currency}, on-demand list prices as of {p.as_of}"


def _total_cells(report: PreviewReport) -> list[str]:
    t = report.cost_total()
    if t is None or (t.unknown and len(t.unknown) == len(report.result.stacks)):
        return ["?", "?", "?"]
    return [usd(t.before), usd(t.after), _signed(t.delta)]


def markdown_section(report: PreviewReport) -> str:
    """A collapsible section: cost per stack and the lines that change."""
    t = report.cost_total()
    if t is None or report.prices is None:
        return ""
    out = [
        f"<details><summary><b>Monthly cost by stack</b> ({_as_of(report)})</summary>\n",
        "| stack | before | after | delta | |",
        "|---|--:|--:|--:|---|",
    ]
    for row in _delta_rows(report):
        out.append("| " + " | ".join(x.replace("|", "\\|") for x in row) + " |")
    out.append(f"| **total** | {usd(t.before)} | {usd(t.after)} | **{_signed(t.delta)}** | |")
    changed = [(s.stack, d) for s in report.result.stacks for d in _lines(report, s.stack)]
    if changed:
        out += ["", "```diff"]
        for stack, d in changed[:50]:
            mark = "+" if d.delta > 0 else "-" if d.delta < 0 else " "
            where = d.resource if stack in d.resource else f"{stack} {d.resource}"
            out.append(
                f"{mark} {where}: {d.item} {_qty(d.quantity_before)} → "
                f"{_qty(d.quantity_after)} {d.unit}: {usd(d.before)} → {usd(d.after)} "
                f"({usd(d.delta, sign=True)})"
            )
        if len(changed) > 50:
            out.append(f"  … and {len(changed) - 50} more")
        out.append("```")
    out.append(
        "\nInstances at their fixed (edge) or minimum (transcode) size; S3 from usage "
        "estimates in the spec; internet egress not included. "
        "`fleetctl cost prices` shows the table.\n</details>\n"
    )
    return "\n".join(out)


def render_table_section(report: PreviewReport, console: Console) -> None:
    """The cost part of `fleetctl preview` (terminal)."""
    from rich.markup import escape
    from rich.table import Table

    t = report.cost_total()
    if t is None or report.prices is None:
        return
    table = Table(
        title=f"monthly cost ({_as_of(report)})",
        title_justify="left",
        header_style="bold",
    )
    for col, justify in (
        ("stack", "left"),
        ("before", "right"),
        ("after", "right"),
        ("delta", "right"),
        ("", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in _delta_rows(report):
        table.add_row(*(escape(x) for x in row))
    table.add_row("total", *_total_cells(report), "")
    console.print(table)
    for s in report.result.stacks:
        for d in _lines(report, s.stack):
            style = "red" if d.delta > 0 else "green"
            where = d.resource if s.stack in d.resource else f"{s.stack} {d.resource}"
            console.print(
                f"  [{style}]{escape(where)}: {escape(d.item)} "
                f"{_qty(d.quantity_before)} → {_qty(d.quantity_after)} {escape(d.unit)}: "
                f"{usd(d.delta, sign=True)}/month[/]",
                soft_wrap=True,
            )
    line = headline(report)
    if line:
        console.print(line.replace("**", "").replace("💰 ", ""), soft_wrap=True)


def _costs(report: PreviewReport) -> list[CostDelta | None]:
    return [report.cost_of(s.stack) for s in report.result.stacks]


def _lines(report: PreviewReport, stack: str) -> tuple[LineDelta, ...]:
    c = report.cost_of(stack)
    return () if c is None else c.lines
