"""A peak event's life: `event plan` records it, `event start` freezes the env
and gives the pre-scale patch to merge, `event end` lifts that freeze and gives
the scale-down patch.

The record (`event/<name>` in the state store) keeps what the plan decided:
the window and, per stack, each key's value before and after the pre-scale. The
patches are computed against the working tree at the time they are asked for,
so a pre-scale merged already, or a key someone changed since, is seen and not
overwritten. fleetctl never edits the working tree: it prints the patch
(`git apply`-able) for a person or CI to merge like any other spec change.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from fleetctl.adapters.state.base import StateCorrupt, StateStore
from fleetctl.errors import BadInput
from fleetctl.services import freeze as freeze_service
from fleetctl.services.event import EventPlan
from fleetctl.services.workspace import Workspace
from fleetctl.spec.config_edit import read_int, set_ints

KIND = "event"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}$")


def check_name(name: str) -> str:
    """An event name: it is a state key and goes into a freeze reason."""
    name = name.strip()
    if not _NAME.match(name):
        shown = name if len(name) <= 70 else f"{name[:60]}... ({len(name)} characters)"
        raise BadInput(
            f"bad event name {shown!r}",
            hint="1-64 letters, digits, spaces and . _ : -, starting with a letter or digit",
        )
    return name


class Phase(StrEnum):
    PLANNED = "planned"
    STARTED = "started"
    ENDED = "ended"


@dataclass(frozen=True)
class KeyChange:
    """One fleet:spec key of one stack config: the plan's value before and after."""

    file: str  # relative to the project root
    key: str  # e.g. "edge.nodes_per_zone"
    before: int
    after: int


@dataclass(frozen=True)
class EventRecord:
    name: str
    env: str
    start: datetime
    end: datetime
    freeze_from: datetime
    peak_gbps: float
    changes: tuple[KeyChange, ...]
    phase: Phase = Phase.PLANNED
    planned_by: str = ""
    planned_at: float = 0.0
    started_by: str = ""
    started_at: float = 0.0
    ended_by: str = ""
    ended_at: float = 0.0
    froze: bool = False  # `event start` turned the freeze on, so `event end` lifts it

    @property
    def freeze_reason(self) -> str:
        return f"event {self.name}: {self.start.isoformat()} to {self.end.isoformat()}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "env": self.env,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "freeze_from": self.freeze_from.isoformat(),
            "peak_gbps": self.peak_gbps,
            "changes": [
                {"file": c.file, "key": c.key, "before": c.before, "after": c.after}
                for c in self.changes
            ],
            "phase": self.phase.value,
            "planned_by": self.planned_by,
            "planned_at": self.planned_at,
            "started_by": self.started_by,
            "started_at": self.started_at,
            "ended_by": self.ended_by,
            "ended_at": self.ended_at,
            "froze": self.froze,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any], where: str) -> EventRecord:
        try:
            return cls(
                name=str(doc["name"]),
                env=str(doc["env"]),
                start=datetime.fromisoformat(doc["start"]),
                end=datetime.fromisoformat(doc["end"]),
                freeze_from=datetime.fromisoformat(doc["freeze_from"]),
                peak_gbps=float(doc["peak_gbps"]),
                changes=tuple(
                    KeyChange(str(c["file"]), str(c["key"]), int(c["before"]), int(c["after"]))
                    for c in doc["changes"]
                ),
                phase=Phase(doc["phase"]),
                planned_by=str(doc.get("planned_by", "")),
                planned_at=float(doc.get("planned_at", 0.0)),
                started_by=str(doc.get("started_by", "")),
                started_at=float(doc.get("started_at", 0.0)),
                ended_by=str(doc.get("ended_by", "")),
                ended_at=float(doc.get("ended_at", 0.0)),
                froze=bool(doc.get("froze", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateCorrupt(where, f"event record is malformed ({exc})") from None


def record_plan(store: StateStore, plan: EventPlan, by: str | None = None) -> EventRecord:
    """Save (or re-plan) the event. Re-planning a started event keeps its phase
    and freeze; re-planning an ended one starts a new life under the same name."""
    w = plan.request.window
    record = EventRecord(
        name=check_name(w.name),
        env=plan.request.env,
        start=w.start,
        end=w.end,
        freeze_from=w.freeze_from,
        peak_gbps=plan.request.peak_gbps,
        changes=tuple(
            KeyChange(p.file, c.key, c.before, c.after)
            for p in plan.patches
            for c in p.region.changes
        ),
        planned_by=by or freeze_service.who(),
        planned_at=time.time(),
    )
    old = find(store, record.name)
    if old is not None and old.phase is Phase.STARTED:
        if old.env != record.env:
            raise BadInput(
                f"event {record.name} is running in {old.env}",
                hint=f"`fleetctl event end {record.name}` first, or plan it under another name",
            )
        # The scale-down must return each key to its value before the event. After
        # the pre-scale was merged the new plan sees the raised value as "before"
        # (or needs no change at all): keep the first plan's `before`, and keep
        # its keys the new plan no longer names.
        first = {(c.file, c.key): c for c in old.changes}
        changes = {
            (c.file, c.key): replace(c, before=first[c.file, c.key].before)
            if (c.file, c.key) in first
            else c
            for c in record.changes
        }
        for k, c in first.items():
            changes.setdefault(k, c)
        record = replace(
            record,
            changes=tuple(changes.values()),
            phase=old.phase,
            started_by=old.started_by,
            started_at=old.started_at,
            froze=old.froze,
        )
    store.put(KIND, record.name, record.to_doc())
    return record


def find(store: StateStore, name: str) -> EventRecord | None:
    doc = store.get(KIND, name)
    return None if doc is None else EventRecord.from_doc(doc, f"event/{name}")


def load(store: StateStore | None, name: str) -> EventRecord:
    record = None if store is None else find(store, check_name(name))
    if record is None:
        known = [] if store is None else [str(d.get("name")) for d in store.list(KIND)]
        raise BadInput(
            f"no event {name!r}",
            hint=(f"known events: {', '.join(sorted(known))}; " if known else "")
            + f"plan it first: fleetctl event plan --env ENV --name {name!r} ...",
        )
    return record


def records(store: StateStore | None, env: str | None = None) -> list[EventRecord]:
    if store is None:
        return []
    out = [EventRecord.from_doc(d, f"event/{d.get('name')}") for d in store.list(KIND)]
    return sorted((r for r in out if env is None or r.env == env), key=lambda r: r.start)


@dataclass(frozen=True)
class Patch:
    """A spec change to merge: a unified diff against the working tree, and what
    was left alone and why."""

    diff: str  # "" when there is nothing to change
    files: tuple[str, ...]
    notes: tuple[str, ...]


def _patch(ws: Workspace, wanted: dict[str, dict[str, int]], notes: list[str]) -> Patch:
    out: list[str] = []
    files: list[str] = []
    for rel, values in sorted(wanted.items()):
        if not values:
            continue
        text = _read(ws, rel)
        new = set_ints(text, values, rel)
        out += difflib.unified_diff(
            text.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
        )
        files.append(rel)
    return Patch("".join(out), tuple(files), tuple(notes))


def _read(ws: Workspace, rel: str) -> str:
    try:
        return (ws.root / rel).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{rel}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{rel}: not UTF-8 text (byte {exc.start + 1})",
            hint="`fleetctl validate` names the line",
        ) from None


def _current(ws: Workspace, change: KeyChange) -> int | None:
    return read_int(_read(ws, change.file), change.key, change.file)


def prescale_patch(ws: Workspace, record: EventRecord) -> Patch:
    """Grow each planned key to its `after`, unless the tree has that much already."""
    wanted: dict[str, dict[str, int]] = {}
    notes: list[str] = []
    for c in record.changes:
        now = _current(ws, c)
        if now is not None and now >= c.after:
            notes.append(f"{c.file}: {c.key} is {now} already (the plan needs {c.after})")
            continue
        wanted.setdefault(c.file, {})[c.key] = c.after
    return _patch(ws, wanted, notes)


def scaledown_patch(ws: Workspace, record: EventRecord) -> Patch:
    """Each key the pre-scale set back to its value before the event; a key that
    is no longer the pre-scale's value was changed by someone since: left alone."""
    wanted: dict[str, dict[str, int]] = {}
    notes: list[str] = []
    for c in record.changes:
        now = _current(ws, c)
        if now == c.after:
            wanted.setdefault(c.file, {})[c.key] = c.before
        elif now == c.before:
            notes.append(f"{c.file}: {c.key} is back to {c.before} already")
        else:
            notes.append(
                f"{c.file}: {c.key} is {now}, neither the pre-scale's {c.after} nor the "
                f"{c.before} before it: changed since, left alone"
            )
    return _patch(ws, wanted, notes)


@dataclass(frozen=True)
class Transition:
    """What `event start` or `event end` did."""

    record: EventRecord
    freeze: str  # what happened to the env's freeze, one line
    patch: Patch
    notes: tuple[str, ...]
    again: bool  # the event was in this phase already: nothing new was recorded


def start(ws: Workspace, store: StateStore, name: str, now: datetime | None = None) -> Transition:
    """Freeze the env (unless frozen already) and give the pre-scale to merge."""
    record = load(store, name)
    now = now or datetime.now(UTC)
    if record.phase is Phase.ENDED:
        raise BadInput(
            f"event {record.name} ended {_when(record.ended_at)}",
            hint="plan it again to run it again: fleetctl event plan ...",
        )
    if now >= record.end:
        raise BadInput(
            f"event {record.name} was planned to end at {record.end.isoformat()}",
            hint=f"re-plan it with new times, or close it: fleetctl event end {record.name}",
        )
    notes: list[str] = []
    if now < record.freeze_from - timedelta(minutes=1) and record.phase is Phase.PLANNED:
        notes.append(
            f"starting early: the plan freezes {record.env} from {record.freeze_from.isoformat()}"
        )
    # The patch first: a stack file it cannot read must fail the command before
    # the freeze is set (a freeze the record does not own is never lifted by `end`).
    patch = prescale_patch(ws, record)
    current = freeze_service.current(store, record.env)
    froze = record.froze
    if current is None:
        freeze_service.set_freeze(store, record.env, True, record.freeze_reason)
        froze = True
        line = f"{record.env} frozen: {record.freeze_reason}"
    elif record.froze and current.reason == record.freeze_reason:
        line = f"{record.env} frozen by this event since {_when(current.at)}"
    else:
        line = (
            f"{record.env} was frozen already by {current.by} ({current.reason}): kept; "
            "`event end` will not lift it"
        )
    again = record.phase is Phase.STARTED
    if not again:
        record = replace(
            record,
            phase=Phase.STARTED,
            started_by=freeze_service.who(),
            started_at=time.time(),
            froze=froze,
        )
    elif froze != record.froze:
        record = replace(record, froze=froze)
    store.put(KIND, record.name, record.to_doc())
    return Transition(record, line, patch, tuple(notes), again)


def end(ws: Workspace, store: StateStore, name: str) -> Transition:
    """Lift the event's freeze (only its own) and give the scale-down to merge."""
    record = load(store, name)
    again = record.phase is Phase.ENDED
    notes: list[str] = []
    if record.phase is Phase.PLANNED:
        notes.append(f"event {record.name} was never started: no freeze of its own to lift")
    patch = scaledown_patch(ws, record)  # before the freeze is lifted: a failure changes nothing
    current = freeze_service.current(store, record.env)
    if not record.froze:
        line = (
            f"{record.env} is frozen by {current.by} ({current.reason}): not this event's, left on"
            if current is not None
            else f"{record.env} is not frozen"
        )
    elif current is None:
        line = f"{record.env} is not frozen (lifted already)"
    elif current.reason != record.freeze_reason:
        line = f"{record.env} was frozen again by {current.by} ({current.reason}): left on"
    else:
        freeze_service.set_freeze(store, record.env, False, f"event {record.name} ended")
        line = f"{record.env} unfrozen (the freeze of event {record.name})"
    if not again:
        record = replace(
            record, phase=Phase.ENDED, ended_by=freeze_service.who(), ended_at=time.time()
        )
        store.put(KIND, record.name, record.to_doc())
    return Transition(record, line, patch, tuple(notes), again)


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def transition_json(t: Transition) -> dict[str, Any]:
    return {
        **record_json(t.record),
        "freeze": t.freeze,
        "again": t.again,
        "patch": t.patch.diff,
        "patch_files": list(t.patch.files),
        "notes": [*t.notes, *t.patch.notes],
    }


def record_json(r: EventRecord) -> dict[str, Any]:
    return {
        "name": r.name,
        "env": r.env,
        "phase": r.phase.value,
        "start": r.start.isoformat(),
        "end": r.end.isoformat(),
        "freeze_from": r.freeze_from.isoformat(),
        "peak_gbps": r.peak_gbps,
        "froze": r.froze,
        "changes": [
            {"file": c.file, "key": f"fleet:spec.{c.key}", "before": c.before, "after": c.after}
            for c in r.changes
        ],
    }


def write_patch(path: Path, patch: Patch) -> None:
    path.write_text(patch.diff, encoding="utf-8")
