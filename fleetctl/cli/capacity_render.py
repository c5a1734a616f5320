"""Rendering of `fleetctl capacity --demand`: table, terminal chart, PNG chart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fleetctl.cli import render

if TYPE_CHECKING:
    from fleetctl.core.capacity import RegionPlan
    from fleetctl.services.capacity import CapacityReport

_STYLE = {"ok": "green", "under": "bold red", "over": "yellow"}


def _verdict(v: str) -> str:
    return f"[{_STYLE[v]}]{v}[/]"


def _months(m: int | None, horizon: int, growth: float) -> str:
    if m is None:
        return "-" if growth <= 0 else f">{horizon} mo"
    return "now" if m == 0 else f"{m} mo"


def _usd(x: float) -> str:
    if x == 0:
        return "-"
    return f"{'+' if x > 0 else '-'}${abs(x):,.0f}"


def _fix(nodes: int, usd: float, unit: str) -> str:
    if nodes == 0:
        return "-"
    return f"{nodes:+d} {unit} {_usd(usd)}"


def table(report: CapacityReport) -> None:
    p = report.params
    growth = f", growth {p.growth_per_year:.0%}/yr" if p.growth_per_year else ""
    rows = []
    for r in report.regions:
        e, t = r.edge, r.transcode
        rows.append(
            (
                r.stack,
                f"{r.egress_gbps:g}" + ("*" if r.egress_source == "viewers" else ""),
                f"{e.node_gbps:g}",
                f"{e.nodes_per_zone}x{e.zones}",
                f"{e.nodes_per_zone_needed}x{e.zones}",
                _verdict(e.verdict.value),
                "-" if t is None else f"{t.upload_hours_per_hour:g}",
                "-" if t is None else f"{t.min_size}-{t.max_size}",
                "-" if t is None else f"{t.needed}/{t.needed_n1}",
                "-" if t is None else _verdict(t.verdict.value),
                "; ".join(
                    x
                    for x in (
                        _fix(e.fix_nodes, e.fix_month_usd, "edge"),
                        "" if t is None else _fix(t.fix_instances, t.fix_month_usd, "tc"),
                    )
                    if x not in ("-", "")
                )
                or "-",
                _months(r.months_left, p.horizon_months, p.growth_per_year),
            )
        )
    render.out.print(
        render.table(
            f"capacity, {report.env}: {Path(report.demand_path).name}{growth}; "
            f"N+1 per zone, edge at {p.edge_utilisation:.0%} of a node",
            [
                "stack",
                "egress Gbit/s",
                "Gbit/s/node",
                "edge nodes",
                "N+1 needs",
                "edge",
                "upload h/h",
                "transcode min-max",
                "needed/N+1",
                "transcode",
                "fix (monthly)",
                "runs out",
            ],
            rows,
        )
    )
    render.note(
        f"fix total: {_usd(report.add_month_usd)} to add, {_usd(report.save_month_usd)} "
        f"to save per month (prices {report.prices_as_of}; transcode additions are an "
        "upper bound: autoscaled instances run only near peak)"
    )
    if any(r.egress_source == "viewers" for r in report.regions):
        render.note("* egress derived from concurrent viewers x mean bitrate")
    for r in report.regions:
        for n in r.notes:
            render.note(f"{r.stack}: {n}")
    if report.no_demand:
        render.note(f"no demand given for: {', '.join(report.no_demand)}")
    m = report.measured
    render.note(
        f"defaults measured {m.measured_at} on {m.machine.cpu} ({m.machine.vcpus} vCPUs), "
        "see docs/capacity.md"
    )


# -- charts ---------------------------------------------------------------------------


def _bars(region: RegionPlan) -> tuple[float, float, float]:
    """(demand, capacity, capacity with a zone lost) in Gbit/s."""
    e = region.edge
    return region.egress_gbps, e.capacity_gbps, e.n1_capacity_gbps


def terminal_chart(report: CapacityReport, width: int = 80) -> None:
    """Edge demand vs capacity, one block of three bars per region, in `width` columns."""
    label = max((len(r.region) for r in report.regions), default=0)
    bar_room = max(10, width - label - 16)
    top = max((max(_bars(r)) for r in report.regions), default=0.0) or 1.0
    lines = [f"edge Gbit/s per region: █ demand  ▓ capacity  ░ with a zone down (max {top:g})"]
    for r in report.regions:
        demand, cap, n1 = _bars(r)
        for name, value, ch in (
            (r.region, demand, "█"),
            ("", cap, "▓"),
            ("", n1, "░"),
        ):
            n = round(value / top * bar_room)
            mark = " <" if ch == "░" and value < demand else ""
            lines.append(f"{name:<{label}} {ch * n} {value:g}{mark}")
    lines.append("< : cannot carry the peak with a zone down")
    for line in lines:
        render.note(line)


def png_chart(report: CapacityReport, path: Path) -> None:
    """Grouped bars per region: edge (Gbit/s) and transcode (instances)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regions = report.regions
    names = [r.region for r in regions]
    xs = list(range(len(regions)))
    w = 0.27
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(8.0, 1.3 * len(regions)), 8.5))
    demand = [r.egress_gbps for r in regions]
    cap = [r.edge.capacity_gbps for r in regions]
    n1 = [r.edge.n1_capacity_gbps for r in regions]
    ax1.bar([x - w for x in xs], demand, w, label="peak demand", color="#d62728")
    ax1.bar(xs, cap, w, label="capacity (all zones)", color="#1f77b4")
    ax1.bar([x + w for x in xs], n1, w, label="capacity with a zone down (N+1)", color="#9ecae1")
    for x, r in zip(xs, regions, strict=True):
        if r.edge.verdict.value != "ok":
            ax1.annotate(
                r.edge.verdict.value,
                (x, max(_bars(r))),
                ha="center",
                va="bottom",
                fontsize=9,
                color="#d62728" if r.edge.verdict.value == "under" else "#ff7f0e",
            )
    ax1.set_ylabel("edge egress, Gbit/s")
    ax1.set_xticks(xs, names)
    ax1.set_title("Edge: peak egress vs capacity")
    ax1.legend(fontsize=8, loc="upper right")
    ax1.grid(axis="y", alpha=0.3)

    tc = [r.transcode for r in regions]
    need = [t.needed if t else 0 for t in tc]
    need_n1 = [t.needed_n1 if t else 0 for t in tc]
    mx = [t.max_size if t else 0 for t in tc]
    mn = [t.min_size if t else 0 for t in tc]
    ax2.bar([x - w for x in xs], need, w, label="needed at peak", color="#d62728")
    ax2.bar(xs, need_n1, w, label="needed with N+1", color="#ff9896")
    ax2.bar([x + w for x in xs], mx, w, label="spec max_size", color="#2ca02c")
    ax2.scatter([x + w for x in xs], mn, marker="_", s=300, color="black", label="spec min_size")
    for x, t in zip(xs, tc, strict=True):
        if t is not None and t.verdict.value != "ok":
            ax2.annotate(
                t.verdict.value,
                (x, max(t.needed_n1, t.max_size)),
                ha="center",
                va="bottom",
                fontsize=9,
                color="#d62728" if t.verdict.value == "under" else "#ff7f0e",
            )
    ax2.set_ylabel("transcode instances")
    ax2.set_xticks(xs, names)
    ax2.set_title("Transcode: instances needed vs the autoscaling group")
    ax2.legend(fontsize=8, loc="upper right")
    ax2.grid(axis="y", alpha=0.3)
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelrotation=20)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    growth = report.params.growth_per_year
    fig.suptitle(
        f"fleetctl capacity - {report.env}, demand {Path(report.demand_path).name}"
        f"{f', growth {growth:.0%}/yr' if growth else ''} - {date}"
    )
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
