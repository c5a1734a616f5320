"""How rollouts look for people: plans, live events, status, `why`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.table import Table

from fleetctl.cli import render
from fleetctl.core.rollout import events as ev
from fleetctl.core.rollout.record import RolloutRecord, Status

_VERDICT_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "inconclusive": "yellow",
    "skipped": "dim",
}
_STATUS_STYLE = {
    Status.running: "cyan",
    Status.paused: "yellow",
    Status.completed: "green",
    Status.rolling_back: "magenta",
    Status.rolled_back: "red",
    Status.rollback_failed: "bold red",
    Status.failed: "bold red",
    Status.superseded: "yellow",
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


def _duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


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
    "http": (
        "samples",
        "errors",
        "error_rate",
        "max_error_rate",
        "p95_ms",
        "max_p95_ms",
        "scheme",
    ),
    "canary_analysis": (
        "changed_median_ms",
        "baseline_median_ms",
        "latency_p",
        "errors",
        "error_p",
        "alpha",
        "changed_latency_n",
        "baseline_latency_n",
        "scheme",
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
        "scheme",
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
        "scheme",
    ),
    "slo_burn": ("slo", "window_scale", "min_requests"),
}


def event_line(event: ev.Event | dict[str, Any], *, verbose: bool = False) -> str:
    """One line (Rich markup) per journal event."""
    e = event if isinstance(event, ev.Event) else ev.parse(event)
    line = _LINES.get(type(e))
    if line is None:
        return f"{e.to_dict().get('type', '?')}: {e.to_dict()}"
    return line(e, verbose)


def print_event(event: dict[str, Any]) -> None:
    render.err.print(event_line(event), markup=True, highlight=False, soft_wrap=True)


def _shown(value: Any) -> Any:
    """An extra var as a line can carry it: a PEM certificate (public, e.g.
    `certs rotate`'s) by its SHA-256 prefix as `certs status` shows it,
    instead of a dozen lines of base64 in the rollout's header."""
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN CERTIFICATE-----"):
        import hashlib
        import ssl

        try:
            der = ssl.PEM_cert_to_DER_cert(value.strip() + "\n")
        except ValueError:
            return f"<PEM, {len(value)} chars>"
        return f"<certificate sha256 {hashlib.sha256(der).hexdigest()[:16]}>"
    return value


def _created(e: ev.Created) -> str:
    shown = {k: _shown(v) for k, v in e.extravars.items()}
    extra = f" extra vars {shown}" if e.extravars else ""
    if e.secret_vars:  # names only; the fingerprints are for comparing
        extra += f" secret vars {', '.join(sorted(e.secret_vars))}"
    drained = f"; drained, left out: {', '.join(e.skipped_drained)}" if e.skipped_drained else ""
    return (
        f"[bold]rollout of {e.playbook}[/] on {e.env}: release "
        f"[bold]{e.release}[/] (git {(e.git_sha or '-')[:10]}"
        f"{', dirty' if e.git_dirty else ''}){extra}; {e.steps} steps, "
        f"{e.hosts} hosts; last known-good: {e.rollback_to or 'none'}{drained}"
    )


def _lock_taken_over(e: ev.LockTakenOver) -> str:
    how = {"live": "with --force-live", True: "with --force"}.get(
        e.forced, "(its lease had expired)" if e.expired else ""
    )
    return (
        f"[yellow]lock {e.lock} TAKEN OVER from {e.previous_holder} "
        f"({e.previous_status or 'holder'}, held {e.held_for_s}s) by {e.by} {how}[/]"
    )


def _step_applied(e: ev.StepApplied, verbose: bool) -> str:
    counts: dict[str, int] = {}
    for o in e.hosts.values():
        counts[o.get("state", "?")] = counts.get(o.get("state", "?"), 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no host results"
    # The Temporal engine runs regions in parallel and journals which region
    # and which activity attempt applied the step: name the step (its lines
    # interleave with another region's) and say when a batch was retried
    # (a worker died or timed out mid-batch), which is otherwise invisible.
    region, attempt = e.extra.get("region"), e.extra.get("attempt")
    what = f" {e.label}" if region else ""
    line = f"  applied{what} in {e.duration_s}s: {summary}"
    if isinstance(attempt, int) and attempt > 1:
        line += f" [yellow](attempt {attempt}: an earlier attempt of this batch did not finish)[/]"
    if e.failed or e.unreachable or verbose:
        line += (
            f"; failed {e.total_failed}/{e.max_failed_hosts} allowed, "
            f"unreachable {e.total_unreachable}/{e.max_unreachable_hosts} allowed"
        )
    if e.error:
        line += f" [red]{e.error}[/]"
    return line


def _gate(e: ev.Gate, verbose: bool) -> str:
    style = _VERDICT_STYLE.get(e.verdict, "")
    phase = "rollback " if e.phase == "rollback" else ""
    line = f"  {phase}gate {e.gate}: [{style}]{e.verdict.upper()}[/] {e.reason}"
    if verbose:
        nums = _numbers(e.numbers, _KEY_NUMBERS.get(e.gate, ()))
        if nums:
            line += f"\n      [dim]{nums}[/]"
    return line


def _rollback_check(e: ev.RollbackCheck) -> str:
    bad = f", failed/unreachable {e.failed_or_unreachable}" if e.failed_or_unreachable else ""
    return (
        f"  proof: --check --diff of {e.release}: {e.total_changed} changed on "
        f"{len(e.changed)} host(s){bad}"
    )


def _lock_acquired(e: ev.LockAcquired) -> str:
    gen = f", generation {e.generation}" if e.generation else ""
    return f"[dim]lock {e.lock} taken (lease {e.ttl_s:g}s{gen})[/]"


def _lock_released(e: ev.LockReleased) -> str:
    taken = f" (taken over by {e.taken_over_by})" if e.taken_over_by else ""
    return f"[dim]lock {e.lock} released{taken}[/]"


def _promoted(e: ev.Promoted) -> str:
    return f"[bold]promoted[/] {e.label} by {e.by}: {e.reason} (was paused: {e.pause_reason})"


def _rollback_started(e: ev.RollbackStarted) -> str:
    return (
        f"[magenta]↩ rolling back {len(e.hosts)} host(s) to {e.to or '(no known-good release)'}[/]"
    )


# One line per event class; `verbose` (for `why`) adds the numbers behind a verdict.
_LINES: dict[type[ev.Event], Callable[[Any, bool], str]] = {
    ev.Created: lambda e, v: _created(e),
    ev.LockAcquired: lambda e, v: _lock_acquired(e),
    ev.LockTakenOver: lambda e, v: _lock_taken_over(e),
    ev.LockReleased: lambda e, v: _lock_released(e),
    ev.Superseded: lambda e, v: (
        f"[bold yellow]superseded[/] by {e.by_rollout} ({e.by} took over the env "
        f"lock while this rollout was {e.previous_status}); it will not run again"
    ),
    ev.BookkeepingFinished: lambda e, v: (
        f"[dim]bookkeeping of the dead run finished by {e.by}: added "
        f"{', '.join(e.added) or 'nothing'}; temp dirs swept: {len(e.swept_dirs)}[/]"
    ),
    ev.StepStarted: lambda e, v: (
        f"[bold cyan]▶ {e.label}[/]: {len(e.hosts)} host(s) {_hosts(e.hosts)}"
    ),
    ev.StepApplied: _step_applied,
    ev.Bake: lambda e, v: f"  [dim]baking {e.seconds:g}s[/]",
    ev.Gate: _gate,
    ev.StepVerdict: lambda e, v: (
        f"  ⇒ {e.label}: [{_VERDICT_STYLE.get(e.verdict, '')}]{e.verdict.upper()}[/]"
    ),
    ev.StepFinished: lambda e, v: (
        f"  [green]✓ {e.label} done{' (promoted)' if e.promoted else ''}[/]"
    ),
    ev.Paused: lambda e, v: f"[yellow]⏸ paused at {e.label} ({e.kind}): {e.reason}[/]",
    ev.WindowWait: lambda e, v: (
        f"[yellow]⏳ {e.label}: waiting for {e.region} window ({e.window}), opens {e.opens}[/]"
    ),
    ev.WindowOpened: lambda e, v: (
        f"[green]{e.region} window open[/] after waiting {_duration(e.waited_s)}: {e.label} starts"
    ),
    ev.Promoted: lambda e, v: _promoted(e),
    ev.Resumed: lambda e, v: (
        f"[bold]resumed[/] by {e.by} (was {e.previous_status}, next step {e.next_step})"
    ),
    ev.OrphansKilled: lambda e, v: (
        f"[yellow]killed {len(e.pids)} leftover Ansible process(es) of the dead run[/]"
    ),
    ev.AbortRequested: lambda e, v: f"[yellow]abort requested by {e.by}: {e.reason}[/]",
    ev.Failed: lambda e, v: f"[bold red]✗ {e.label} failed:[/] {e.reason}",
    ev.RollbackStarted: lambda e, v: _rollback_started(e),
    ev.RollbackImpossible: lambda e, v: f"[bold red]cannot roll back: {e.reason}[/]",
    ev.RollbackApplied: lambda e, v: f"  re-applied {e.release}: {e.status}",
    ev.RollbackCheck: lambda e, v: _rollback_check(e),
    ev.RollbackProofEvent: lambda e, v: (
        f"  rollback {'[green]PROVEN[/]' if e.ok else '[bold red]NOT PROVEN[/]'}"
    ),
    ev.Completed: lambda e, v: (
        f"[bold green]✓ completed[/]: release {e.release} on {e.hosts} host(s), "
        "now the last known-good"
    ),
    ev.RolledBack: lambda e, v: f"[bold]rolled back[/]: {e.message}",
    ev.RollbackFailed: lambda e, v: f"[bold]rollback failed[/]: {e.message}",
    ev.NotifyTargets: lambda e, v: (
        "[dim]notifications to "
        + ", ".join(f"{x['target']} ({x['format']}, {x['fingerprint']})" for x in e.targets)
        + "[/]"
    ),
    ev.NotifyFailed: lambda e, v: (
        f"[yellow]notification {e.kind or ''} not delivered"
        + (f" to {e.target} ({e.fingerprint})" if e.target else "")
        + f": {e.error}"
        + (f" after {e.attempts} attempt(s)" if e.attempts else "")
        + "[/]"
    ),
    ev.ApprovalReceived: lambda e, v: (
        f"[bold]signed approval[/] of step {e.step} by {e.by}: {e.reason} "
        f"[dim](nonce {e.nonce[:8]}…, key {e.key})[/]"
    ),
}


def why_lines(rec: RolloutRecord, journal: Sequence[ev.Event]) -> list[str]:
    out = [
        f"[bold]{rec.id}[/]: {rec.playbook} on {rec.env} — "
        f"[{_STATUS_STYLE.get(rec.status, '')}]{rec.status.value}[/]",
    ]
    pol = rec.policy
    out.append(
        f"[dim]policy: bake {pol['bake_s']:g}s, max_failed_hosts {pol['max_failed_hosts']}, "
        f"max_unreachable_hosts {pol['max_unreachable_hosts']}, deadline "
        f"{pol['progress_deadline_s']:g}s/step, consecutive_error_limit "
        f"{pol['gates']['consecutive_error_limit']}, canary alpha "
        f"{pol['gates']['canary_analysis']['alpha']}[/]"
    )
    for e in journal:
        out.append(f"[dim]{_ts(e.at)}[/] {event_line(e, verbose=True)}")
    if rec.message:
        out.append(f"[bold]outcome:[/] {rec.message}")
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
    rec: RolloutRecord, plan: dict[str, Any], journal: Sequence[ev.Event], freeze: Any
) -> Table:
    steps = plan["steps"]
    state: dict[int, str] = {}
    gates: dict[int, list[str]] = {}
    current = None
    for e in journal:
        match e:
            case ev.StepStarted():
                state[e.step] = "applying"
                current = e.step
            case ev.Bake():
                state[e.step] = "baking"
            case ev.Gate() if e.phase != "rollback" and current is not None:
                nums = _brief(e.gate, e.numbers)
                gates.setdefault(current, []).append(
                    f"{e.gate} [{_VERDICT_STYLE.get(e.verdict, '')}]{e.verdict}[/]"
                    + (f" ({nums})" if nums else "")
                )
            case ev.StepVerdict():
                state[e.step] = e.verdict
            case ev.StepFinished():
                state[e.step] = "done"
            case ev.Paused():
                state[e.step] = "paused"
            case ev.WindowWait():
                state[e.step] = f"waiting for window, opens {e.opens}"
            case ev.WindowOpened():
                state[e.step] = "window open"
            case ev.Failed():
                state[e.step] = "failed"
    title = (
        f"{rec.id}  {rec.playbook} on {rec.env}  release {rec.release_id}  "
        f"[{_STATUS_STYLE.get(rec.status, '')}]{rec.status.value}[/]"
    )
    if freeze is not None:
        title += f"  [yellow]FROZEN by {freeze.by}: {freeze.reason}[/]"
    wait = rec.pause
    if rec.status is Status.running and wait is not None and wait.until is not None:
        left = max(0.0, wait.until - time.time())
        title += f"  [yellow]{wait.reason} (in {_duration(left)})[/]"
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


def list_table(recs: Sequence[RolloutRecord]) -> Table:
    rows = []
    for r in recs:
        n = r.plan_steps
        rows.append(
            (
                r.id,
                r.env,
                r.playbook,
                r.release_id,
                f"[{_STATUS_STYLE.get(r.status, '')}]{r.status.value}[/]",
                f"{min(r.next_step, n)}/{n}",
                _age(r.created_at),
                r.message[:80],
            )
        )
    return render.table(
        None, ["id", "env", "playbook", "release", "status", "steps", "started", "message"], rows
    )
