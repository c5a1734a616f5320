"""Changes that lose data need an explicit allow in the stack's spec."""

from __future__ import annotations

from collections.abc import Iterator

from fleetctl.core.guardrails import Finding, Level, StackContext, rule
from fleetctl.core.preview_model import Op


@rule(
    id="changes.stateful-delete-allowed",
    level=Level.mandatory,
    description="A change may delete or replace a stateful resource (bucket, queue, table, "
    "volume) only when the stack's spec lists it under `allow_delete`.",
)
def stateful_delete_allowed(ctx: StackContext) -> Iterator[Finding]:
    allowed = set(ctx.spec.allow_delete) if ctx.spec is not None else set()
    for c in ctx.changes:
        if not c.stateful or c.op not in (Op.delete, Op.replace) or c.name in allowed:
            continue
        verb = "deletes" if c.op is Op.delete else "replaces (deletes, then re-creates empty)"
        lost = f"this change {verb} {c.type.rsplit(':', 1)[-1]} {c.name} and the data in it"
        if ctx.spec is None:
            fix = (
                "a deleted stack cannot allow it: first remove the resource from the stack's "
                f"spec with `allow_delete: [{c.name}]` in {ctx.config_file()}, then delete the file"
            )
        else:
            fix = (
                f"if the data may go, add `allow_delete: [{c.name}]` to fleet:spec in "
                f"{ctx.config_file()}; otherwise keep the resource"
            )
        if c.protected:
            fix += " (it is protected: the engine also needs `protect` lifted)"
        yield Finding(c, lost, fix)


@rule(
    id="changes.allow-delete-unused",
    level=Level.advisory,
    description="Every `allow_delete` entry matches a delete or replace in this change; a "
    "stale allow would let a later change drop that data unnoticed.",
)
def allow_delete_unused(ctx: StackContext) -> Iterator[Finding]:
    if ctx.spec is None or ctx.base is None or not ctx.spec.allow_delete:
        return  # without a base there is no change to match against
    lost = {c.name for c in ctx.changes if c.op in (Op.delete, Op.replace)}
    for name in ctx.spec.allow_delete:
        if name not in lost:
            yield Finding(
                None,
                f"allow_delete lists {name}, which this change neither deletes nor replaces",
                f"remove {name} from `allow_delete` in {ctx.config_file()}",
            )
