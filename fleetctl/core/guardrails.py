"""Policy as code: rules that every preview checks, and what they found.

A rule is a plain function decorated with `rule(id=..., level=..., description=...)`.
It gets one `StackContext` per stack (the head resource graph - what will be
deployed -, the base graph, the preview's changes and the head spec) and yields
`Finding`s; `evaluate` turns them into `Violation`s. Rules live in the team's
policy pack (the top-level `policies/` package, loaded by
`fleetctl.services.guardrails`). Pure: no I/O here.

A rule that raises is reported as a violation of that rule with `error=True`
(file:line of the failing line), at the rule's own level: a broken mandatory
rule blocks like a failed mandatory check (fail closed).

(`fleetctl.core.policy` is something else: the rollout policy.)
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fleetctl.core.preview_model import UNKNOWN, Change, Resource, ResourceGraph
from fleetctl.spec.models import FleetSpec

RULE_ID = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$")  # e.g. storage.bucket-versioned


class Level(StrEnum):
    advisory = "advisory"  # shown; never changes the exit code
    mandatory = "mandatory"  # shown first; makes `fleetctl preview` exit 1


@dataclass(frozen=True)
class ResourceRef:
    """The resource a violation is about: its URN and Pulumi (logical) name."""

    urn: str
    name: str
    type: str

    @staticmethod
    def of(r: Resource | Change) -> ResourceRef:
        return ResourceRef(r.urn, r.name, r.type)


@dataclass(frozen=True)
class Finding:
    """What a rule yields: which resource (None = the whole stack), what is wrong, the fix."""

    resource: Resource | Change | ResourceRef | None
    message: str
    fix: str


@dataclass(frozen=True)
class Violation:
    rule_id: str
    level: Level
    stack: str
    resource: ResourceRef | None
    message: str
    fix: str
    error: bool = False  # the rule itself failed (raised); message says where

    @property
    def blocking(self) -> bool:
        return self.level is Level.mandatory


Check = Callable[["StackContext"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    description: str
    check: Check
    source: str = ""  # "policies/storage.py:12", where the rule is defined

    def __call__(self, ctx: StackContext) -> list[Finding]:
        return list(self.check(ctx))


def rule(*, id: str, level: Level | str, description: str) -> Callable[[Check], Rule]:
    """Decorator: turn `def check(ctx) -> Iterable[Finding]` into a `Rule`."""
    if not RULE_ID.match(id):
        raise ValueError(
            f"rule id {id!r} must be dotted lower-case words, e.g. 'storage.bucket-versioned'"
        )
    lvl = Level(level)
    if not description.strip():
        raise ValueError(f"rule {id}: description is empty")

    def wrap(fn: Check) -> Rule:
        code = getattr(fn, "__code__", None)
        source = f"{code.co_filename}:{code.co_firstlineno}" if code is not None else ""
        return Rule(id=id, level=lvl, description=description.strip(), check=fn, source=source)

    return wrap


@dataclass(frozen=True)
class StackContext:
    """Everything a rule may look at for one stack."""

    stack: str
    env: str
    region: str
    spec: FleetSpec | None  # None: the stack is deleted by this change
    head: ResourceGraph  # what will be deployed (empty when the stack is deleted)
    base: ResourceGraph | None = None  # what is deployed now, when known (--base)
    changes: tuple[Change, ...] = ()
    _by_urn: dict[str, Resource] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_urn.update(self.head.by_urn())

    # --- helpers for rules ---------------------------------------------------------------

    def resources(self, *types: str) -> list[Resource]:
        """Head resources of these types (all custom resources when none given)."""
        return [r for r in self.head.resources if (r.type in types if types else r.custom)]

    def get(self, urn: str) -> Resource | None:
        return self._by_urn.get(urn)

    def attached(self, target: Resource, type_: str, prop: str = "bucket") -> list[Resource]:
        """Resources of `type_` pointing at `target` through input `prop` (e.g. an S3
        side resource's `bucket`), or parented by it when the dependency is unknown."""
        out = []
        for r in self.head.resources:
            if r.type != type_:
                continue
            deps = r.property_deps.get(prop)
            if (deps and target.urn in deps) or (not deps and r.parent == target.urn):
                out.append(r)
        return out

    def ancestors(self, r: Resource) -> Iterator[Resource]:
        parent = r.parent
        while parent is not None:
            p = self._by_urn.get(parent)
            if p is None:
                return
            yield p
            parent = p.parent

    def config_file(self) -> str:
        return f"stacks/Pulumi.{self.stack}.yaml"


# --- reading inputs (values may be UNKNOWN or secrets) -------------------------------------


def known(v: Any) -> bool:
    return v is not UNKNOWN and v is not None


def tags_of(r: Resource) -> Mapping[str, Any] | None:
    """A resource's tags as a mapping (ASG tag lists included); None when unknown/absent."""
    tags = r.inputs.get("tags")
    if isinstance(tags, Mapping):
        return tags
    if isinstance(tags, list):
        out: dict[str, Any] = {}
        for t in tags:
            if isinstance(t, Mapping) and isinstance(t.get("key"), str):
                out[t["key"]] = t.get("value")
        return out
    return None


def number(v: Any) -> float | None:
    """An input number (inputs arrive as floats), or None when unknown or missing."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


# --- evaluation ----------------------------------------------------------------------------


def _where(exc: BaseException, rule_: Rule) -> str:
    """file:line of the deepest frame in the rule's own file (else the deepest frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    rule_file = rule_.source.rsplit(":", 1)[0]
    mine = [f for f in frames if rule_file and f.filename.endswith(rule_file)]
    if mine:
        return f"{rule_file}:{mine[-1].lineno}"
    if not frames:
        return rule_.source
    return f"{frames[-1].filename}:{frames[-1].lineno}"


def evaluate(rules: Sequence[Rule], contexts: Sequence[StackContext]) -> list[Violation]:
    """Every rule on every stack; mandatory first, then by stack, rule and resource."""
    out: list[Violation] = []
    for ctx in contexts:
        for r in rules:
            try:
                findings = r(ctx)
            except Exception as exc:  # a broken rule is reported, never a crash
                out.append(
                    Violation(
                        r.id,
                        r.level,
                        ctx.stack,
                        None,
                        f"rule {r.id} failed at {_where(exc, r)}: {type(exc).__name__}: {exc}",
                        "fix the rule in the policy pack (or ask its owners)",
                        error=True,
                    )
                )
                continue
            for f in findings:
                res = f.resource
                ref = res if isinstance(res, ResourceRef) or res is None else ResourceRef.of(res)
                out.append(Violation(r.id, r.level, ctx.stack, ref, f.message, f.fix))
    return sort_violations(out)


def sort_violations(vs: Iterable[Violation]) -> list[Violation]:
    return sorted(
        vs,
        key=lambda v: (
            v.level is not Level.mandatory,
            v.stack,
            v.rule_id,
            v.resource.name if v.resource else "",
        ),
    )


@dataclass(frozen=True)
class GuardrailsReport:
    """What the policy pack (the guardrails) found in one preview."""

    rules: tuple[str, ...]  # ids of the rules evaluated
    checked: tuple[str, ...]  # stacks evaluated (skipped/failed stacks are not)
    violations: tuple[Violation, ...] = ()

    @property
    def blocking(self) -> bool:
        return any(v.blocking for v in self.violations)

    def counts(self) -> dict[str, int]:
        out = {lvl.value: 0 for lvl in (Level.mandatory, Level.advisory)}
        for v in self.violations:
            out[v.level.value] += 1
        return out


def violation_to_json(v: Violation) -> dict[str, Any]:
    return {
        "rule": v.rule_id,
        "level": v.level.value,
        "stack": v.stack,
        "resource": (
            None
            if v.resource is None
            else {"urn": v.resource.urn, "name": v.resource.name, "type": v.resource.type}
        ),
        "message": v.message,
        "fix": v.fix,
        "error": v.error,
    }


def report_to_json(r: GuardrailsReport) -> dict[str, Any]:
    return {
        "blocking": r.blocking,
        "summary": r.counts(),
        "rules": list(r.rules),
        "checked": list(r.checked),
        "violations": [violation_to_json(v) for v in r.violations],
    }


def rule_to_json(r: Rule) -> dict[str, Any]:
    return {"id": r.id, "level": r.level.value, "description": r.description, "source": r.source}
