"""Rich views of a `FleetStatus` (the table of `fleetctl status` and its --watch)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from fleetctl.core import fleet_status as fs
from fleetctl.core.fleet_status import FleetStatus, RegionStatus

_HEALTH_STYLE = {
    fs.HEALTHY: "green",
    fs.DRAINED: "cyan",
    fs.UNHEALTHY: "red",
    fs.UNREACHABLE: "bold red",
    fs.DECLARED: "dim",
}
_SEVERITY_STYLE = {fs.CRITICAL: "bold red", fs.WARNING: "yellow", "ok": "green"}


def ago(at: float | None, now: float | None = None) -> str:
    if at is None:
        return "-"
    s = max(0, int((now or time.time()) - at))
    if s < 120:
        return f"{s}s ago"
    if s < 7200:
        return f"{s // 60}m ago"
    return f"{s // 3600}h ago"


def _hosts_cell(r: RegionStatus) -> Text:
    t = Text()
    parts = [(n, s) for s, n in r.health.items() if n]
    if not parts:
        return Text("no hosts", style="dim")
    for i, (n, s) in enumerate(parts):
        if i:
            t.append(" ")
        t.append(f"{n} {s}", style=_HEALTH_STYLE[s])
    return t


def _releases_cell(r: RegionStatus, target: str | None) -> str:
    """`rel (n)` per release; `*` marks the release an active rollout brings."""
    if not r.releases:
        return "-"
    return ", ".join(f"{rel}{'*' if rel == target else ''} ({n})" for rel, n in r.releases.items())


def regions_table(status: FleetStatus) -> Table:
    target = status.rollout.release if status.rollout and status.rollout.active else None
    t = Table(header_style="bold", title_justify="left")
    for col, justify in (
        ("", "left"),
        ("region", "left"),
        ("weight", "right"),
        ("drained", "left"),
        ("hosts", "left"),
        ("releases", "left"),
        ("problems", "left"),
    ):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in status.regions:
        sev = r.severity
        mark = {"ok": "✓", fs.WARNING: "!", fs.CRITICAL: "✗"}[sev]
        if sev == "ok" and r.hosts and all(h.health == fs.DECLARED for h in r.hosts):
            mark = "?"  # nothing was probed: not known to be ok
        weight = f"{r.weight:.0%}"
        if abs(r.weight - r.spec_weight) > 1e-9:
            weight += f" (spec {r.spec_weight:.0%})"
        t.add_row(
            Text(mark, style=_SEVERITY_STYLE[sev]),
            Text(r.region, style="bold" if r.problems else ""),
            weight,
            Text(
                "DRAINED: " + r.drain_reason if r.drained else "no",
                style="cyan" if r.drained else "dim",
            ),
            _hosts_cell(r),
            _releases_cell(r, target),
            Text(str(len(r.problems)) if r.problems else "-", style=_SEVERITY_STYLE[sev]),
        )
    return t


def header(status: FleetStatus) -> Text:
    h = status.health
    total = sum(h.values())
    t = Text()
    t.append(f"env {status.env}", style="bold")
    t.append(f"  {total} hosts: ")
    t.append(
        ", ".join(f"{n} {s}" for s, n in h.items() if n) or "none",
    )
    sev = status.severity
    t.append("  ")
    t.append(
        "OK" if sev == "ok" else f"{len(status.problems)} problem(s)", style=_SEVERITY_STYLE[sev]
    )
    t.append(
        f"  (took {status.took_s:.2f}s, {time.strftime('%H:%M:%S', time.gmtime(status.at))} UTC)",
        style="dim",
    )
    return t


def rollout_line(status: FleetStatus) -> Text:
    ro = status.rollout
    t = Text("rollout: ", style="bold")
    if ro is None:
        t.append("none recorded", style="dim")
        return t
    style = {"running": "cyan", "paused": "yellow", "completed": "green"}.get(ro.status, "red")
    t.append(f"{ro.id} ")
    t.append(ro.status, style=style)
    t.append(f" {ro.playbook} release {ro.release}")
    if ro.active and ro.step is not None:
        t.append(f"  step {ro.step + 1}/{ro.steps}")
        if ro.step_label:
            t.append(f" ({ro.step_label})")
    if ro.pause_reason:
        t.append(f"  paused: {ro.pause_reason}", style="yellow")
    if ro.gates:
        t.append("  gates: ")
        for i, g in enumerate(ro.gates):
            if i:
                t.append(", ")
            gstyle = {"pass": "green", "fail": "red", "inconclusive": "yellow"}.get(
                g.verdict, "dim"
            )
            phase = "" if g.phase == "step" else f"{g.phase} "
            t.append(f"{phase}{g.gate} ")
            t.append(g.verdict, style=gstyle)
    if ro.last_known_good:
        t.append(f"  last known-good {ro.last_known_good}", style="dim")
    t.append(f"  (updated {ago(ro.updated_at, status.at)})", style="dim")
    return t


def freeze_line(status: FleetStatus) -> Text:
    t = Text("freeze: ", style="bold")
    f = status.freeze
    if f is None:
        t.append("off", style="dim")
    else:
        t.append("FROZEN", style="bold yellow")
        t.append(f" by {f.by} {ago(f.at, status.at)}: {f.reason}")
    return t


def problems_block(status: FleetStatus) -> Text:
    t = Text()
    for i, p in enumerate(status.problems):
        if i:
            t.append("\n")
        t.append(f"  {p.severity:<8} ", style=_SEVERITY_STYLE[p.severity])
        t.append(f"{p.region + ': ' if p.region else ''}{p.message}")
    return t


def view(status: FleetStatus, *, footer: str = "") -> Any:
    parts: list[Any] = [
        header(status),
        regions_table(status),
        rollout_line(status),
        freeze_line(status),
    ]
    if status.problems:
        parts += [Text("problems:", style="bold"), problems_block(status)]
    if footer:
        parts.append(Text(footer, style="dim"))
    return Group(*parts)
