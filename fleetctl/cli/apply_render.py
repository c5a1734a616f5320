"""Rendering for `fleetctl apply` and `lab up`: live per-host progress and the summary."""

from __future__ import annotations

import threading
from typing import Any

from rich.markup import escape

from fleetctl.cli import render
from fleetctl.core.ansible_result import PlaybookResult


class Progress:
    """Live per-host counters on a TTY (stderr); silent elsewhere."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and render.err.is_terminal
        self.hosts: dict[str, dict[str, Any]] = {}
        self.play = ""
        self._lock = threading.Lock()
        self._live: Any = None
        if self.enabled:
            from rich.live import Live

            self._live = Live(
                self._table(), console=render.err, refresh_per_second=8, transient=True
            )
            self._live.start()

    def _table(self) -> Any:
        rows = []
        for h in sorted(self.hosts):
            c = self.hosts[h]
            rows.append((h, c["ok"], c["changed"], c["failed"], c["unreachable"], c["task"]))
        return render.table(
            self.play or "starting ansible",
            ["host", "ok", "changed", "failed", "unreachable", "task"],
            rows,
        )

    def on_event(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        name = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host")
        with self._lock:
            if name == "playbook_on_play_start":
                self.play = f"play: {data.get('play', '')}"
            if host:
                c = self.hosts.setdefault(
                    host, {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "task": ""}
                )
                if name == "runner_on_start":
                    c["task"] = data.get("task", "")
                elif name == "runner_on_ok":
                    c["ok"] += 1
                    if (data.get("res") or {}).get("changed"):
                        c["changed"] += 1
                elif name == "runner_on_failed" and not data.get("ignore_errors"):
                    c["failed"] += 1
                elif name == "runner_on_unreachable":
                    c["unreachable"] += 1
            if self._live is not None:
                self._live.update(self._table())

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def summary(result: PlaybookResult) -> None:
    rows = []
    for h in sorted(result.hosts):
        o = result.hosts[h]
        rows.append((h, o.state, o.ok, o.changed, o.failed, o.unreachable, o.skipped))
    render.out.print(
        render.table(
            None,
            ["host", "state", "ok", "changed", "failed", "unreachable", "skipped"],
            rows,
        )
    )
    for h in sorted(result.hosts):
        for text in result.hosts[h].diffs:
            render.err.print(f"[bold]--- diff on {h}[/]", markup=True)
            render.err.print(text.rstrip("\n"), markup=False, highlight=False)
    for h in sorted(result.hosts):
        o = result.hosts[h]
        for t in o.changed_tasks:
            render.err.print(f"  [yellow]changed[/] {h}: {escape(t)}", markup=True)
        for m in o.failed_msgs:
            kind = "unreachable" if o.is_unreachable else "failed"
            render.err.print(f"  [red]{kind}[/] {h}: {escape(m)}", markup=True)
    parts = [f"{len(result.hosts)} hosts"]
    parts.append(f"{len(result.changed_hosts)} changed")
    parts.append(f"{len(result.failed_hosts)} failed")
    parts.append(f"{len(result.unreachable_hosts)} unreachable")
    mode = " (check mode: nothing applied)" if result.check else ""
    render.note(
        f"{result.status}: {', '.join(parts)} in {result.duration_s:.1f}s [{result.strategy}]{mode}"
    )
