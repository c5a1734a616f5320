"""How rollouts look for people: plans, live events, status, `why`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.table import Table

from fleetctl.cli import render

_VERDICT_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "inconclusive": "yellow",
    "skipped": "dim",
}
_STATUS_STYLE = {
    "running": "cyan",
    "paused": "yellow",
    "completed": "green",
    "rolling_back": "magenta",
    "rolled_back": "red",
    "rollback_failed": "bold red",
    "failed": "bold red",
    "superseded": "yellow",
}


def _ts(at: float | None) -> str:
    if not at:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


def _age(at: float | None) -> str:
    if not at:
        return "-"
    s = max(0, int(time.time() - at))
    if s < 120:
        return f"{s}s ago"
    if s < 7200:
        return f"{s // 60}m ago"
    return f"{s // 3600}h ago"


def _hosts(names: Sequence[str], limit: int = 6) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", … (+{len(names) - limit})" if len(names) > limit else "")


def plan_table(plan: dict[str, Any], title: str, can_run: dict[str, str] | None = None) -> Table:
    """The plan's steps; `can_run` (region -> when) adds a column from the deploy windows."""
    rows = []
    for s in plan["steps"]:
        row = [
            s["index"],
            s["label"],
            s["region"],
            len(s["hosts"]),
            _hosts(s["hosts"]),
            f"{s['bake_s']:g}",
            ", ".join(s["gates"]) or "-",
            "yes" if s["approval"] else "",
        ]
        if can_run is not None:
            row.append(can_run.get(s["region"], ""))
        rows.append(tuple(row))
    columns = ["#", "step", "region", "hosts #", "hosts", "bake s", "gates", "approval"]
    if can_run is not None:
        columns.append("can run")
    return render.table(title, columns, rows)


def _numbers(numbers: dict[str, Any], keys: Sequence[str]) -> str:
    parts = []
    for k in keys:
        if k in numbers and numbers[k] is not None:
            parts.append(f"{k}={numbers[k]}")
    return " ".join(parts)


_KEY_NUMBERS = {
    "http": ("samples", "errors", "error_rate", "max_error_rate", "p95_ms", "max_p95_ms"),
    "canary_analysis": (
        "changed_median_ms",
        "baseline_median_ms",
        "latency_p",
        "errors",
        "error_p",
        "alpha",
        "changed_latency_n",
        "baseline_latency_n",
    ),
    "hls_playback": (
        "changed_startup_p95_s",
        "baseline_startup_p95_s",
        "changed_rebuffer_ratio",
        "baseline_rebuffer_ratio",
        "changed_rebuffer_events",
        "changed_segments",
        "changed_min_download_ratio",
        "changed_failed_sessions",
        "startup_p",
        "stall_p",
    ),
    "cache": (
        "changed_hit_ratio",
        "baseline_hit_ratio",
        "changed_origin_per_request",
        "baseline_origin_per_request",
        "region_peak_rps",
        "projected_origin_rps",
        "baseline_origin_rps",
        "origin_capacity_rps",
        "miss_p",
    ),
    "slo_burn": ("slo", "window_scale", "min_requests"),
}


def event_line(ev: dict[str, Any], *, verbose: bool = False) -> str:
    """One line (Rich markup) per journal event."""
    t = ev.get("type", "?")
    if t == "created":
        extra = f" extra vars {ev['extravars']}" if ev.get("extravars") else ""
        if ev.get("secret_vars"):  # names only; the fingerprints are for comparing
            extra += f" secret vars {', '.join(sorted(ev['secret_vars']))}"
        return (
            f"[bold]rollout of {ev['playbook']}[/] on {ev['env']}: release "
            f"[bold]{ev['release']}[/] (git {str(ev.get('git_sha') or '-')[:10]}"
            f"{', dirty' if ev.get('git_dirty') else ''}){extra}; {ev['steps']} steps, "
            f"{ev['hosts']} hosts; last known-good: {ev.get('rollback_to') or 'none'}"
            + (
                f"; drained, left out: {', '.join(ev['skipped_drained'])}"
                if ev.get("skipped_drained")
                else ""
            )
        )
    if t == "lock_acquired":
        gen = f", generation {ev['generation']}" if ev.get("generation") else ""
        return f"[dim]lock {ev['lock']} taken (lease {ev['ttl_s']:g}s{gen})[/]"
    if t == "lock_taken_over":
        how = {"live": "with --force-live", True: "with --force"}.get(
            ev.get("forced", True), "(its lease had expired)" if ev.get("expired") else ""
        )
        return (
            f"[yellow]lock {ev['lock']} TAKEN OVER from {ev['previous_holder']} "
            f"({ev.get('previous_status') or 'holder'}, held {ev['held_for_s']}s) by "
            f"{ev['by']} {how}[/]"
        )
    if t == "lock_released":
        taken = f" (taken over by {ev['taken_over_by']})" if ev.get("taken_over_by") else ""
        return f"[dim]lock {ev['lock']} released{taken}[/]"
    if t == "superseded":
        return (
            f"[bold yellow]superseded[/] by {ev['by_rollout']} ({ev['by']} took over the env "
            f"lock while this rollout was {ev['previous_status']}); it will not run again"
        )
    if t == "bookkeeping_finished":
        return (
            f"[dim]bookkeeping of the dead run finished by {ev['by']}: added "
            f"{', '.join(ev['added']) or 'nothing'}; temp dirs swept: {len(ev['swept_dirs'])}[/]"
        )
    if t == "step_started":
        return f"[bold cyan]▶ {ev['label']}[/]: {len(ev['hosts'])} host(s) {_hosts(ev['hosts'])}"
    if t == "step_applied":
        counts: dict[str, int] = {}
        for o in ev.get("hosts", {}).values():
            counts[o.get("state", "?")] = counts.get(o.get("state", "?"), 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no host results"
        line = f"  applied in {ev.get('duration_s', 0)}s: {summary}"
        if ev.get("failed") or ev.get("unreachable") or verbose:
            line += (
                f"; failed {ev['total_failed']}/{ev['max_failed_hosts']} allowed, "
                f"unreachable {ev['total_unreachable']}/{ev['max_unreachable_hosts']} allowed"
            )
        if ev.get("error"):
            line += f" [red]{ev['error']}[/]"
        return line
    if t == "bake":
        return f"  [dim]baking {ev['seconds']:g}s[/]"
    if t == "gate":
        v = ev["verdict"]
        style = _VERDICT_STYLE.get(v, "")
        phase = "rollback " if ev.get("phase") == "rollback" else ""
        line = f"  {phase}gate {ev['gate']}: [{style}]{v.upper()}[/] {ev['reason']}"
        if verbose:
            nums = _numbers(ev.get("numbers", {}), _KEY_NUMBERS.get(ev["gate"], ()))
            if nums:
                line += f"\n      [dim]{nums}[/]"
        return line
    if t == "step_verdict":
        v = ev["verdict"]
        return f"  ⇒ {ev['label']}: [{_VERDICT_STYLE.get(v, '')}]{v.upper()}[/]"
    if t == "step_finished":
        promoted = " (promoted)" if ev.get("promoted") else ""
        return f"  [green]✓ {ev['label']} done{promoted}[/]"
    if t == "paused":
        return f"[yellow]⏸ paused at {ev['label']} ({ev['kind']}): {ev['reason']}[/]"
    if t == "promoted":
        return (
            f"[bold]promoted[/] {ev['label']} by {ev['by']}: {ev['reason']} "
            f"(was paused: {ev['pause_reason']})"
        )
    if t == "resumed":
        return (
            f"[bold]resumed[/] by {ev['by']} (was {ev['previous_status']}, "
            f"next step {ev['next_step']})"
        )
    if t == "orphans_killed":
        return f"[yellow]killed {len(ev['pids'])} leftover Ansible process(es) of the dead run[/]"
    if t == "abort_requested":
        return f"[yellow]abort requested by {ev['by']}: {ev['reason']}[/]"
    if t == "failed":
        return f"[bold red]✗ {ev['label']} failed:[/] {ev['reason']}"
    if t == "rollback_started":
        return (
            f"[magenta]↩ rolling back {len(ev['hosts'])} host(s) to "
            f"{ev.get('to') or '(no known-good release)'}[/]"
        )
    if t == "rollback_impossible":
        return f"[bold red]cannot roll back: {ev['reason']}[/]"
    if t == "rollback_applied":
        return f"  re-applied {ev['release']}: {ev['status']}"
    if t == "rollback_check":
        return (
            f"  proof: --check --diff of {ev['release']}: {ev['total_changed']} changed on "
            f"{len(ev['changed'])} host(s)"
            + (
                f", failed/unreachable {ev['failed_or_unreachable']}"
                if ev["failed_or_unreachable"]
                else ""
            )
        )
    if t == "rollback_proof":
        ok = "[green]PROVEN[/]" if ev.get("ok") else "[bold red]NOT PROVEN[/]"
        return f"  rollback {ok}"
    if t == "completed":
        return (
            f"[bold green]✓ completed[/]: release {ev['release']} on {ev['hosts']} host(s), "
            "now the last known-good"
        )
    if t in ("rolled_back", "rollback_failed"):
        return f"[bold]{t.replace('_', ' ')}[/]: {ev['message']}"
    if t == "notify_targets":
        names = ", ".join(
            f"{x['target']} ({x['format']}, {x['fingerprint']})" for x in ev["targets"]
        )
        return f"[dim]notifications to {names}[/]"
    if t == "notify_failed":
        to = f" to {ev['target']} ({ev.get('fingerprint')})" if ev.get("target") else ""
        return (
            f"[yellow]notification {ev.get('kind') or ''} not delivered{to}: {ev.get('error')}"
            + (f" after {ev['attempts']} attempt(s)" if ev.get("attempts") else "")
            + "[/]"
        )
    if t == "approval_received":
        return (
            f"[bold]signed approval[/] of step {ev['step']} by {ev['by']}: {ev['reason']} "
            f"[dim](nonce {str(ev['nonce'])[:8]}…, key {ev.get('key')})[/]"
        )
    return f"{t}: {ev}"


def print_event(ev: dict[str, Any]) -> None:
    render.err.print(event_line(ev), markup=True, highlight=False, soft_wrap=True)


def why_lines(doc: dict[str, Any], events: Sequence[dict[str, Any]]) -> list[str]:
    out = [
        f"[bold]{doc['id']}[/]: {doc['playbook']} on {doc['env']} — "
        f"[{_STATUS_STYLE.get(doc['status'], '')}]{doc['status']}[/]",
    ]
    pol = doc["policy"]
    out.append(
        f"[dim]policy: bake {pol['bake_s']:g}s, max_failed_hosts {pol['max_failed_hosts']}, "
        f"max_unreachable_hosts {pol['max_unreachable_hosts']}, deadline "
        f"{pol['progress_deadline_s']:g}s/step, consecutive_error_limit "
        f"{pol['gates']['consecutive_error_limit']}, canary alpha "
        f"{pol['gates']['canary_analysis']['alpha']}[/]"
    )
    for ev in events:
        out.append(f"[dim]{_ts(ev.get('at'))}[/] {event_line(ev, verbose=True)}")
    if doc.get("message"):
        out.append(f"[bold]outcome:[/] {doc['message']}")
    return out


def _brief(gate: str, n: dict[str, Any]) -> str:
    """The two or three numbers that decided a gate, for the status table."""
    if gate == "http" and "p95_ms" in n:
        return f"err {n.get('errors')}/{n.get('samples')}, p95 {n.get('p95_ms')} ms"
    if gate == "canary_analysis" and "latency_p" in n:
        return (
            f"median {n.get('changed_median_ms')} vs {n.get('baseline_median_ms')} ms, "
            f"p={n.get('latency_p')}, err p={n.get('error_p')}"
        )
    if gate == "canary_analysis" and "errors" in n:
        return f"errors {n['errors']}, p={n.get('error_p')}"
    if gate == "hls_playback" and "changed_rebuffer_ratio" in n:
        return (
            f"rebuffer {n.get('changed_rebuffer_ratio')}, "
            f"startup p95 {n.get('changed_startup_p95_s')} s"
        )
    if gate == "cache" and "changed_hit_ratio" in n:
        return f"hit {n.get('changed_hit_ratio')} vs {n.get('baseline_hit_ratio')}"
    return ""


def status_view(
    doc: dict[str, Any], plan: dict[str, Any], events: Sequence[dict[str, Any]], freeze: Any
) -> Table:
    steps = plan["steps"]
    state: dict[int, str] = {}
    gates: dict[int, list[str]] = {}
    current = None
    for ev in events:
        i = ev.get("step")
        if ev["type"] == "step_started":
            state[i] = "applying"
            current = i
        elif ev["type"] == "bake":
            state[i] = "baking"
        elif ev["type"] == "gate" and ev.get("phase") != "rollback" and current is not None:
            v = ev["verdict"]
            nums = _brief(ev["gate"], ev.get("numbers", {}))
            gates.setdefault(current, []).append(
                f"{ev['gate']} [{_VERDICT_STYLE.get(v, '')}]{v}[/]" + (f" ({nums})" if nums else "")
            )
        elif ev["type"] == "step_verdict":
            state[i] = ev["verdict"]
        elif ev["type"] == "step_finished":
            state[i] = "done"
        elif ev["type"] == "paused":
            state[i] = "paused"
        elif ev["type"] == "failed":
            state[i] = "failed"
    title = (
        f"{doc['id']}  {doc['playbook']} on {doc['env']}  release {doc['release_id']}  "
        f"[{_STATUS_STYLE.get(doc['status'], '')}]{doc['status']}[/]"
    )
    if freeze is not None:
        title += f"  [yellow]FROZEN by {freeze.by}: {freeze.reason}[/]"
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in ("#", "step", "hosts", "state", "gates"):
        t.add_column(col)
    for s in steps:
        st = state.get(s["index"], "pending")
        t.add_row(
            str(s["index"]),
            s["label"],
            _hosts(s["hosts"], 4),
            st,
            ", ".join(gates.get(s["index"], [])),
        )
    return t


def list_table(docs: Sequence[dict[str, Any]]) -> Table:
    rows = []
    for d in docs:
        n = int(d["plan_steps"])
        rows.append(
            (
                d["id"],
                d["env"],
                d["playbook"],
                d["release_id"],
                f"[{_STATUS_STYLE.get(d['status'], '')}]{d['status']}[/]",
                f"{min(d['next_step'], n)}/{n}",
                _age(d.get("created_at")),
                (d.get("message") or "")[:80],
            )
        )
    return render.table(
        None, ["id", "env", "playbook", "release", "status", "steps", "started", "message"], rows
    )
