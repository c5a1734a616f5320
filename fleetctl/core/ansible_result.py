"""The outcome of one playbook run, as data (no Ansible import here).

Built by `fleetctl.adapters.ansible` from ansible-runner events; used by the
apply command and by the rollout engine (which hosts changed, failed or were
unreachable in a step).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class RunStatus(StrEnum):
    successful = "successful"  # every host ok (ansible rc 0)
    failed = "failed"  # at least one host failed or was unreachable
    canceled = "canceled"  # the cancel callback asked to stop
    timeout = "timeout"  # timeout_s passed
    error = "error"  # Ansible itself could not run (bad playbook, syntax error)


@dataclass(frozen=True)
class HostOutcome:
    """Per-host counters (from Ansible's stats) and what changed or failed."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0
    changed_tasks: tuple[str, ...] = ()
    failed_msgs: tuple[str, ...] = ()  # "task: message" for failed/unreachable results
    diffs: tuple[str, ...] = ()  # unified diffs of changed tasks (when run with diff)

    @property
    def is_unreachable(self) -> bool:
        return self.unreachable > 0

    @property
    def is_failed(self) -> bool:
        """Failed by the change (a task failed), as opposed to unreachable."""
        return self.failed > 0 and not self.is_unreachable

    @property
    def state(self) -> str:
        """One word: unreachable, failed, changed or ok."""
        if self.is_unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        if self.changed:
            return "changed"
        return "ok"

    def to_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "ok": self.ok,
            "changed": self.changed,
            "failed": self.failed,
            "unreachable": self.unreachable,
            "skipped": self.skipped,
            "rescued": self.rescued,
            "ignored": self.ignored,
            "changed_tasks": list(self.changed_tasks),
            "failed_msgs": list(self.failed_msgs),
            "diffs": list(self.diffs),
        }


@dataclass(frozen=True)
class PlaybookResult:
    status: RunStatus
    rc: int
    hosts: Mapping[str, HostOutcome]
    duration_s: float
    playbook: str = ""
    strategy: str = ""  # the strategy that actually ran: linear or mitogen_linear
    check: bool = False
    notices: tuple[str, ...] = ()  # one-line notes for people (e.g. mitogen fallback)
    error: str = ""  # why Ansible could not run, when status is error
    run_id: str = ""  # FLEETCTL_RUN_ID in the environment of the run's processes
    stdout_tail: tuple[str, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.successful and not self.failed_hosts

    @property
    def changed_hosts(self) -> list[str]:
        return sorted(h for h, o in self.hosts.items() if o.changed and o.state == "changed")

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(h for h, o in self.hosts.items() if o.is_failed)

    @property
    def unreachable_hosts(self) -> list[str]:
        return sorted(h for h, o in self.hosts.items() if o.is_unreachable)

    @property
    def total_changed(self) -> int:
        return sum(o.changed for o in self.hosts.values())

    def to_dict(self) -> dict[str, object]:
        return {
            "status": str(self.status),
            "rc": self.rc,
            "playbook": self.playbook,
            "strategy": self.strategy,
            "check": self.check,
            "duration_s": round(self.duration_s, 3),
            "summary": {
                "hosts": len(self.hosts),
                "changed": len(self.changed_hosts),
                "failed": len(self.failed_hosts),
                "unreachable": len(self.unreachable_hosts),
            },
            "hosts": {h: self.hosts[h].to_dict() for h in sorted(self.hosts)},
            "notices": list(self.notices),
            "error": self.error,
        }


def outcomes_from_events(
    stats: Mapping[str, Mapping[str, int]] | None,
    changed_tasks: Mapping[str, list[str]],
    failed_msgs: Mapping[str, list[str]],
    seen: Mapping[str, Mapping[str, int]],
    diffs: Mapping[str, list[str]] | None = None,
) -> dict[str, HostOutcome]:
    """Per-host outcomes: Ansible's final stats when present, else the counters
    we kept from individual events (a canceled run has no stats event)."""
    hosts = set(changed_tasks) | set(failed_msgs) | set(seen)
    if stats:
        for key in ("ok", "changed", "failures", "dark", "skipped"):
            hosts |= set(stats.get(key, {}))
    out: dict[str, HostOutcome] = {}
    for h in sorted(hosts):
        if stats:

            def s(key: str, host: str = h) -> int:
                return int(stats.get(key, {}).get(host, 0))

            counts = {
                "ok": s("ok"),
                "changed": s("changed"),
                "failed": s("failures"),
                "unreachable": s("dark"),
                "skipped": s("skipped"),
                "rescued": s("rescued"),
                "ignored": s("ignored"),
            }
        else:
            counts = {k: int(v) for k, v in seen.get(h, {}).items()}
        out[h] = HostOutcome(
            changed_tasks=tuple(changed_tasks.get(h, [])),
            failed_msgs=tuple(failed_msgs.get(h, [])),
            diffs=tuple((diffs or {}).get(h, [])),
            **counts,
        )
    return out
