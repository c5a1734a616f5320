"""The offline preview's data model: resource graphs, changes, results.

Pure data and pure (de)serialisation; no I/O. Two sentinels stand for what a
preview cannot show:

* `UNKNOWN` - a value only the cloud knows (shown as "(known after apply)");
* `Secret(fingerprint)` - a secret value. The fingerprint is a keyed hash of
  the plaintext (or of a config value's ciphertext), so a changed secret still
  compares as changed; the plaintext never enters this model.

A graph as the worker emits it is plain JSON: sentinels are encoded as
``{"$unknown": true}`` and ``{"$secret": "<fingerprint>"}``. The user-facing
JSON (see `result_to_json`) drops the fingerprint: ``{"$secret": true}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

SCHEMA_VERSION = 1
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


class _Unknown:
    """Singleton for a value known only after apply."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Secret:
    """A secret value, represented only by a keyed fingerprint."""

    fingerprint: str

    def __repr__(self) -> str:
        return "[secret]"


class Op(Enum):
    create = "create"
    update = "update"
    replace = "replace"
    delete = "delete"


OP_SYMBOL = {Op.create: "+", Op.update: "~", Op.replace: "+-", Op.delete: "-"}


class StackStatus(StrEnum):
    """How one stack's preview went (a rollout's status is core.rollout.record.Status)."""

    changed = "changed"  # ran; has changes
    unchanged = "unchanged"  # ran; no changes
    skipped = "skipped"  # not run: program and config identical to the base
    failed = "failed"  # the program raised or the worker died


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    parent: str | None = None
    custom: bool = True
    inputs: Mapping[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    property_deps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    provider: str | None = None
    protect: bool = False
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    aliases: tuple[str, ...] = ()  # alias URNs


@dataclass(frozen=True)
class ResourceGraph:
    """Every resource one stack's program registered, in registration order
    (which is a topological order: dependencies register first)."""

    stack: str
    project: str
    resources: tuple[Resource, ...] = ()

    def by_urn(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.resources}


@dataclass(frozen=True)
class StackError:
    """Why a stack could not be previewed: where in stacks/ and what."""

    message: str
    file: str | None = None
    line: int | None = None
    details: tuple[str, ...] = ()
    log: str = ""  # worker stderr (deprecation warnings etc.), shown only on request

    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class PropertyDiff:
    path: str  # e.g. "tags.team", "rules[0].expiration.days"
    old: Any  # a value, UNKNOWN, Secret, or MISSING
    new: Any
    forces_replace: bool = False


class _Missing:
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass(frozen=True)
class Change:
    urn: str
    type: str
    name: str
    op: Op
    diffs: tuple[PropertyDiff, ...] = ()
    replace_reasons: tuple[str, ...] = ()  # properties that force the replace
    stateful: bool = False  # holds data (bucket, queue): replace/delete loses it
    protected: bool = False


@dataclass(frozen=True)
class StackPreview:
    stack: str
    status: StackStatus
    changes: tuple[Change, ...] = ()
    resources: int = 0  # resources in the head graph (excluding the root stack)
    error: StackError | None = None
    cached: bool = False
    seconds: float = 0.0
    # Counts reported by the real engine (`--engine pulumi`), which gives no per-resource diff.
    engine_counts: Mapping[str, int] | None = None

    def counts(self) -> dict[str, int]:
        out = {op.value: 0 for op in Op}
        if self.engine_counts is not None:
            for op in Op:
                out[op.value] = int(self.engine_counts.get(op.value, 0))
            return out
        for c in self.changes:
            out[c.op.value] += 1
        return out


@dataclass(frozen=True)
class PreviewResult:
    stacks: tuple[StackPreview, ...]
    base: str | None = None
    engine: str = "mock"
    fleetctl_version: str = ""

    def counts(self) -> dict[str, int]:
        out = {op.value: 0 for op in Op}
        for s in self.stacks:
            for k, v in s.counts().items():
                out[k] += v
        return out

    @property
    def has_changes(self) -> bool:
        return any(any(s.counts().values()) for s in self.stacks)

    @property
    def failed(self) -> list[StackPreview]:
        return [s for s in self.stacks if s.status is StackStatus.failed]

    def stateful_losses(self) -> list[tuple[str, Change]]:
        """Replaces and deletes of resources that hold data, for the callout."""
        return [
            (s.stack, c)
            for s in self.stacks
            for c in s.changes
            if c.stateful and c.op in (Op.replace, Op.delete)
        ]


# --- values: worker JSON <-> model ---------------------------------------------------------


def decode_value(v: Any) -> Any:
    """Worker JSON -> model value (sentinels restored)."""
    if isinstance(v, dict):
        if len(v) == 1 and v.get("$unknown") is True:
            return UNKNOWN
        if len(v) == 1 and isinstance(v.get("$secret"), str):
            return Secret(v["$secret"])
        return {k: decode_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [decode_value(x) for x in v]
    return v


def encode_value(v: Any, *, fingerprints: bool = True) -> Any:
    """Model value -> JSON. With fingerprints=False secrets become {"$secret": true}."""
    if v is UNKNOWN:
        return {"$unknown": True}
    if isinstance(v, Secret):
        return {"$secret": v.fingerprint if fingerprints else True}
    if v is MISSING:
        return None
    if isinstance(v, Mapping):
        return {k: encode_value(x, fingerprints=fingerprints) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [encode_value(x, fingerprints=fingerprints) for x in v]
    return v


def resource_from_json(d: Mapping[str, Any]) -> Resource:
    return Resource(
        urn=str(d["urn"]),
        type=str(d["type"]),
        name=str(d["name"]),
        parent=d.get("parent") or None,
        custom=bool(d.get("custom", True)),
        inputs=decode_value(d.get("inputs") or {}),
        deps=tuple(d.get("deps") or ()),
        property_deps={k: tuple(v) for k, v in (d.get("property_deps") or {}).items()},
        provider=d.get("provider") or None,
        protect=bool(d.get("protect", False)),
        ignore_changes=tuple(d.get("ignore_changes") or ()),
        replace_on_changes=tuple(d.get("replace_on_changes") or ()),
        delete_before_replace=bool(d.get("delete_before_replace", False)),
        retain_on_delete=bool(d.get("retain_on_delete", False)),
        aliases=tuple(d.get("aliases") or ()),
    )


def resource_to_json(r: Resource) -> dict[str, Any]:
    return {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "parent": r.parent,
        "custom": r.custom,
        "inputs": encode_value(r.inputs),
        "deps": list(r.deps),
        "property_deps": {k: list(v) for k, v in r.property_deps.items()},
        "provider": r.provider,
        "protect": r.protect,
        "ignore_changes": list(r.ignore_changes),
        "replace_on_changes": list(r.replace_on_changes),
        "delete_before_replace": r.delete_before_replace,
        "retain_on_delete": r.retain_on_delete,
        "aliases": list(r.aliases),
    }


def graph_from_json(d: Mapping[str, Any]) -> ResourceGraph:
    return ResourceGraph(
        stack=str(d["stack"]),
        project=str(d.get("project", "")),
        resources=tuple(resource_from_json(r) for r in d.get("resources", ())),
    )


def graph_to_json(g: ResourceGraph) -> dict[str, Any]:
    return {
        "stack": g.stack,
        "project": g.project,
        "resources": [resource_to_json(r) for r in g.resources],
    }


def error_from_json(d: Mapping[str, Any]) -> StackError:
    line = d.get("line")
    return StackError(
        message=str(d.get("message", "")),
        file=d.get("file"),
        line=int(line) if line is not None else None,
        details=tuple(str(x) for x in d.get("details") or ()),
        log=str(d.get("log", "")),
    )


# --- user-facing JSON (docs/preview-schema.json) ---------------------------------------------


def _value_out(v: Any) -> Any:
    return encode_value(v, fingerprints=False)


def change_to_json(c: Change) -> dict[str, Any]:
    return {
        "urn": c.urn,
        "type": c.type,
        "name": c.name,
        "op": c.op.value,
        "stateful": c.stateful,
        "protected": c.protected,
        "replace_reasons": list(c.replace_reasons),
        "diffs": [
            {
                "path": d.path,
                "kind": ("add" if d.old is MISSING else "delete" if d.new is MISSING else "update"),
                "old": _value_out(d.old),
                "new": _value_out(d.new),
                "forces_replace": d.forces_replace,
            }
            for d in c.diffs
        ],
    }


def stack_to_json(s: StackPreview) -> dict[str, Any]:
    err = None
    if s.error is not None:
        err = {
            "message": s.error.message,
            "file": s.error.file,
            "line": s.error.line,
            "details": list(s.error.details),
        }
    return {
        "stack": s.stack,
        "status": s.status.value,
        "cached": s.cached,
        "resources": s.resources,
        "summary": s.counts(),
        "error": err,
        "changes": [change_to_json(c) for c in s.changes],
    }


def result_to_json(r: PreviewResult) -> dict[str, Any]:
    """The changes part of the documented output; `preview_report.report_to_json`
    adds each stack's cost and the totals and policy (docs/preview-schema.json)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "fleetctl_version": r.fleetctl_version,
        "engine": r.engine,
        "base": r.base,
        "has_changes": r.has_changes,
        "summary": r.counts(),
        "stacks": [stack_to_json(s) for s in r.stacks],
    }
