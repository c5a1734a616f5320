"""Drift: what the spec says should exist in AWS vs. what does. Pure functions.

`expected_resources(stack)` derives the resources a stack should have (names
and tags from `fleetctl.spec.naming`, values from the spec) in a normalised
form; the AWS reader produces the same form from describe calls, and
`compare` reports each difference as missing, extra or changed with the
expected and actual value.

Normalised properties (JSON-like values):

- bucket: versioning (bool; Suspended = off), lifecycle ({transitions: [[days, class]...],
  expiration_days, noncurrent_expiration_days}), public_access_blocked (bool,
  all four settings on), replication (sorted destination bucket names), tags
- asg: min, max, launch_template (name), tags; edge groups also desired and
  instances_per_zone ({zone: count}); a transcode group scales itself, so
  its desired size and instance count are not drift
- launch_template: instance_type (of the latest version), tags
- queue: tags (the job queue and its dead-letter queue)

Tags compare only the keys fleetctl sets: tags added by others (AWS, cost
tools) are not drift, a missing or different value of ours is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fleetctl.spec import naming
from fleetctl.spec.models import Bucket, Stack

Kind = Literal["bucket", "asg", "launch_template", "queue"]
Status = Literal["missing", "extra", "changed"]
KIND_ORDER: dict[str, int] = {"bucket": 0, "launch_template": 1, "asg": 2, "queue": 3}


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    stack: str
    region: str
    props: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> tuple[str, str, str]:
        return (self.region, self.kind, self.name)


@dataclass(frozen=True)
class PropChange:
    key: str  # e.g. "versioning", "tags.env", "instances_per_zone"
    expected: Any
    actual: Any


@dataclass(frozen=True)
class DriftItem:
    status: Status
    kind: str
    name: str
    stack: str
    region: str
    changes: tuple[PropChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "kind": self.kind,
            "name": self.name,
            "stack": self.stack,
            "region": self.region,
            "changes": [
                {"key": c.key, "expected": c.expected, "actual": c.actual} for c in self.changes
            ],
        }


@dataclass(frozen=True)
class DriftReport:
    stacks: tuple[str, ...]
    checked: int  # expected resources looked at
    items: tuple[DriftItem, ...]

    @property
    def has_drift(self) -> bool:
        return bool(self.items)

    def counts(self) -> dict[str, int]:
        out = {"missing": 0, "extra": 0, "changed": 0}
        for item in self.items:
            out[item.status] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "drift": self.has_drift,
            "stacks": list(self.stacks),
            "checked": self.checked,
            "summary": self.counts(),
            "items": [i.to_json() for i in self.items],
        }


# -- expected state -------------------------------------------------------------


def expected_lifecycle(bucket: Bucket) -> dict[str, Any]:
    lc = bucket.lifecycle
    return {
        "transitions": [[t.days, t.storage_class.value] for t in lc.transitions],
        "expiration_days": lc.expiration_days,
        "noncurrent_expiration_days": lc.noncurrent_expiration_days,
    }


def expected_resources(stack: Stack) -> list[Resource]:
    """Every AWS resource `stack` should have, with its normalised properties."""
    env, region, sname = stack.env, stack.region, stack.name
    out: list[Resource] = []
    for b in stack.spec.storage.buckets:
        out.append(
            Resource(
                "bucket",
                naming.bucket_name(env, region, b.name),
                sname,
                region,
                {
                    "versioning": b.versioning,
                    "lifecycle": expected_lifecycle(b),
                    "public_access_blocked": True,
                    "replication": sorted(
                        naming.bucket_name(env, target, b.name) for target in b.replication_targets
                    ),
                    # the program also tags a bucket with its logical name and class
                    "tags": {
                        **naming.tags(stack),
                        "bucket": b.name,
                        "storage-class": b.storage_class.value,
                    },
                },
            )
        )
    edge = stack.spec.edge
    if edge is not None:
        lt = naming.launch_template_name(env, region, naming.EDGE)
        out.append(
            Resource(
                "launch_template",
                lt,
                sname,
                region,
                {"instance_type": edge.instance_type, "tags": naming.tags(stack, naming.EDGE)},
            )
        )
        n = edge.nodes_per_zone
        for zone in stack.edge_zones:
            out.append(
                Resource(
                    "asg",
                    naming.edge_asg_name(env, region, zone),
                    sname,
                    region,
                    {
                        "min": n,
                        "max": n,
                        "desired": n,
                        "instances_per_zone": {zone: n},
                        "launch_template": lt,
                        "tags": {**naming.tags(stack, naming.EDGE), "zone": zone},
                    },
                )
            )
    tc = stack.spec.transcode
    if tc is not None:
        lt = naming.launch_template_name(env, region, naming.TRANSCODE)
        tags = naming.tags(stack, naming.TRANSCODE)
        out.append(
            Resource(
                "launch_template",
                lt,
                sname,
                region,
                {"instance_type": tc.instance_type, "tags": tags},
            )
        )
        out.append(
            Resource(
                "asg",
                naming.transcode_asg_name(env, region),
                sname,
                region,
                {"min": tc.min_size, "max": tc.max_size, "launch_template": lt, "tags": tags},
            )
        )
        for queue in (naming.queue_name(env, region), naming.dead_letter_queue_name(env, region)):
            out.append(Resource("queue", queue, sname, region, {"tags": tags}))
    return out


# -- comparison -----------------------------------------------------------------


def _prop_changes(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[PropChange]:
    changes: list[PropChange] = []
    for key, want in expected.items():
        have = actual.get(key)
        if key == "tags" and isinstance(want, Mapping):
            have_tags: Mapping[str, Any] = have if isinstance(have, Mapping) else {}
            for tag, value in sorted(want.items()):
                if have_tags.get(tag) != value:
                    changes.append(PropChange(f"tags.{tag}", value, have_tags.get(tag)))
        elif want != have:
            changes.append(PropChange(key, want, have))
    return changes


def compare(
    expected: Sequence[Resource], actual: Iterable[Resource], stacks: Sequence[str] = ()
) -> DriftReport:
    """Missing (expected, absent), extra (present, not expected) and changed resources."""
    have = {r.ref: r for r in actual}
    want = {r.ref: r for r in expected}
    items: list[DriftItem] = []
    for ref, exp in want.items():
        act = have.get(ref)
        if act is None:
            items.append(DriftItem("missing", exp.kind, exp.name, exp.stack, exp.region))
            continue
        changes = _prop_changes(exp.props, act.props)
        if changes:
            items.append(
                DriftItem("changed", exp.kind, exp.name, exp.stack, exp.region, tuple(changes))
            )
    for ref, act in have.items():
        if ref not in want:
            items.append(DriftItem("extra", act.kind, act.name, act.stack, act.region))
    items.sort(key=lambda i: (i.stack, KIND_ORDER.get(i.kind, 9), i.name, i.status))
    names = tuple(stacks) or tuple(sorted({r.stack for r in expected}))
    return DriftReport(names, len(want), tuple(items))
