"""Diff two resource graphs of one stack: what `pulumi preview` would show.

Pure. Resources match by URN (or by an alias URN of the new resource). Each
match is compared input by input down to leaf paths; a change to a
replace-forcing property (`replace_rules`) makes it a replace. Values that
depend on a resource being created or replaced become "(known after apply)"
on the new side, which can in turn force a replace of the dependent (a new
VPC replaces its subnets), as the real engine does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from fleetctl.core.preview_model import (
    MISSING,
    ROOT_STACK_TYPE,
    UNKNOWN,
    Change,
    Op,
    PropertyDiff,
    ResourceGraph,
    Secret,
)
from fleetctl.core.replace_rules import forces_replace, is_stateful


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if path == "":
        return key
    return f"{path}.{key}"


def _same_leaf(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return float(old) == float(new)
    return bool(type(old) is type(new) and old == new)


class _Keyed(dict[str, Any]):
    """A keyed list seen as a map: its paths read `tags["team"]`, not `tags.team`."""


def _by_key(items: list[Any]) -> _Keyed | None:
    """A list of dicts with a distinct string `key` each, as a map by that key; else None."""
    out = _Keyed()
    for item in items:
        key = item.get("key") if isinstance(item, Mapping) else None
        if not isinstance(key, str) or key in out:
            return None
        out[key] = item
    return out


def _json_doc(text: str) -> dict[str, Any] | list[Any] | None:
    if not text.startswith(("{", "[")):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict | list) else None


def diff_values(old: Any, new: Any, path: str = "", *, fresh: bool = False) -> list[PropertyDiff]:
    """Leaf-level differences between two input values (nested paths).

    Two unknowns compare equal (a preview cannot know better) unless `fresh`:
    the value depends on a resource that gets a new id in this preview.
    Secrets compare by fingerprint.
    """
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[PropertyDiff] = []
        keyed = isinstance(old, _Keyed)
        for key in list(old) + [k for k in new if k not in old]:
            o = old.get(key, MISSING)
            n = new.get(key, MISSING)
            sub = f"{path}[{json.dumps(key)}]" if keyed else _join(path, str(key))
            out.extend(diff_values(o, n, sub, fresh=fresh))
        return out
    if isinstance(old, list) and isinstance(new, list) and old and new:
        old_keyed, new_keyed = _by_key(old), _by_key(new)
        if old_keyed is not None and new_keyed is not None:
            # Tag lists ({key, value, ...} items, e.g. an ASG's): AWS treats them as
            # a map, so diff by key; by index one added tag shifts every line after it.
            return diff_values(old_keyed, new_keyed, path, fresh=fresh)
        out = []
        for i in range(max(len(old), len(new))):
            o = old[i] if i < len(old) else MISSING
            n = new[i] if i < len(new) else MISSING
            out.extend(diff_values(o, n, _join(path, i), fresh=fresh))
        return out
    if isinstance(old, str) and isinstance(new, str) and old != new:
        old_doc, new_doc = _json_doc(old), _json_doc(new)
        if old_doc is not None and new_doc is not None:
            # A JSON document in a string (an IAM policy): diff inside it.
            return diff_values(old_doc, new_doc, path, fresh=fresh)
    if old is MISSING and new is MISSING:
        return []
    if old is UNKNOWN and new is UNKNOWN:
        return [PropertyDiff(path, old, new)] if fresh else []
    if isinstance(old, Secret) and isinstance(new, Secret):
        return [] if old == new else [PropertyDiff(path, old, new)]
    if _same_leaf(old, new):
        return []
    return [PropertyDiff(path, old, new)]


def _top_key(path: str) -> str:
    head = path.split(".", 1)[0]
    return head.split("[", 1)[0]


def _ignored(path: str, ignore_changes: Iterable[str]) -> bool:
    for pattern in ignore_changes:
        if pattern in ("*", path):
            return True
        if path.startswith(pattern + ".") or path.startswith(pattern + "["):
            return True
    return False


def diff_graphs(base: ResourceGraph | None, head: ResourceGraph) -> list[Change]:
    """Every change needed to go from `base` (None: nothing exists) to `head`."""
    old_by_urn = base.by_urn() if base is not None else {}
    head_urns = head.by_urn()
    matched_old: set[str] = set()
    pending: set[str] = set()  # URNs that get a new id: created or replaced
    changes: list[Change] = []

    for res in head.resources:
        if res.type == ROOT_STACK_TYPE:
            continue
        old = old_by_urn.get(res.urn)
        if old is None:
            for alias in res.aliases:
                if alias in old_by_urn and alias not in head_urns:
                    old = old_by_urn[alias]
                    break
        if old is None:
            pending.add(res.urn)
            changes.append(
                Change(
                    res.urn,
                    res.type,
                    res.name,
                    Op.create,
                    diffs=tuple(PropertyDiff(k, MISSING, v) for k, v in sorted(res.inputs.items())),
                    stateful=is_stateful(res.type),
                    protected=res.protect,
                )
            )
            continue
        matched_old.add(old.urn)
        diffs: list[PropertyDiff] = []
        for key in list(old.inputs.keys()) + [k for k in res.inputs if k not in old.inputs]:
            o = old.inputs.get(key, MISSING)
            n = res.inputs.get(key, MISSING)
            # A value pointing at a resource that gets a new id changes even
            # when the base could not know the old value either.
            fresh = any(u in pending for u in res.property_deps.get(key, ()))
            diffs.extend(diff_values(o, n, key, fresh=fresh))
        diffs = [d for d in diffs if not _ignored(d.path, res.ignore_changes)]
        reasons: list[str] = []
        marked: list[PropertyDiff] = []
        for d in diffs:
            top = _top_key(d.path)
            forced = forces_replace(res.type, top, res.replace_on_changes)
            if forced and top not in reasons:
                reasons.append(top)
            marked.append(PropertyDiff(d.path, d.old, d.new, forced))
        if old.type != res.type and old.urn == res.urn:
            reasons.append("type")
        if not marked and not reasons:
            continue
        op = Op.replace if reasons else Op.update
        if op is Op.replace:
            pending.add(res.urn)
        changes.append(
            Change(
                res.urn,
                res.type,
                res.name,
                op,
                diffs=tuple(marked),
                replace_reasons=tuple(reasons),
                stateful=is_stateful(res.type),
                protected=res.protect or old.protect,
            )
        )

    changes = _tree_order(head, changes)
    if base is not None:
        for old in reversed(base.resources):  # dependents are deleted first
            if old.type == ROOT_STACK_TYPE or old.urn in matched_old or old.urn in head_urns:
                continue
            changes.append(
                Change(
                    old.urn,
                    old.type,
                    old.name,
                    Op.delete,
                    diffs=tuple(PropertyDiff(k, v, MISSING) for k, v in sorted(old.inputs.items())),
                    stateful=is_stateful(old.type),
                    protected=old.protect,
                )
            )
    return changes


def _tree_order(graph: ResourceGraph, changes: list[Change]) -> list[Change]:
    """Changes in the order `pulumi preview` lists them: depth first down the
    parent tree, siblings in registration order (the graph's order: the worker
    records resources in the order the program created them)."""
    children: dict[str | None, list[str]] = {}
    urns = graph.by_urn()
    for r in graph.resources:
        parent = r.parent if r.parent in urns else None
        children.setdefault(parent, []).append(r.urn)
    position: dict[str, int] = {}
    stack = list(reversed(children.get(None, [])))
    while stack:
        urn = stack.pop()
        if urn in position:
            continue
        position[urn] = len(position)
        stack.extend(reversed(children.get(urn, [])))
    return sorted(changes, key=lambda c: position.get(c.urn, len(position)))


def resource_count(graph: ResourceGraph | None) -> int:
    if graph is None:
        return 0
    return sum(1 for r in graph.resources if r.type != ROOT_STACK_TYPE)
