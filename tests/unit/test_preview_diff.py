"""Diffing two resource graphs: create / update / replace / delete, nested
paths, unknowns, secrets, replace reasons and the cascade of new ids."""

from __future__ import annotations

from typing import Any

import pytest

from fleetctl.core.diff import diff_graphs, diff_values
from fleetctl.core.preview_model import (
    MISSING,
    UNKNOWN,
    Op,
    Resource,
    ResourceGraph,
    Secret,
    graph_from_json,
    graph_to_json,
)
from fleetctl.core.replace_rules import forces_replace, replace_properties, unlisted_types

pytestmark = pytest.mark.unit

STACK = "urn:pulumi:prod-eu-west-1::fleet::pulumi:pulumi:Stack::fleet-prod-eu-west-1"


def urn(qtype: str, name: str) -> str:
    return f"urn:pulumi:prod-eu-west-1::fleet::{qtype}::{name}"


def res(type_: str, name: str, inputs: dict[str, Any], **kw: Any) -> Resource:
    parent = kw.pop("parent", STACK)
    qtype = kw.pop("qtype", type_)
    return Resource(urn(qtype, name), type_, name, parent=parent, inputs=inputs, **kw)


def graph(*resources: Resource) -> ResourceGraph:
    root = Resource(STACK, "pulumi:pulumi:Stack", "fleet-prod-eu-west-1", custom=False)
    return ResourceGraph("prod-eu-west-1", "fleet", (root, *resources))


BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"


def bucket(name: str = "fleet-prod-eu-west-1-media", **kw: Any) -> Resource:
    return res(BUCKET, "media", {"bucket": name, "tags": {"team": "video"}}, **kw)


def versioning(status: str) -> Resource:
    return res(
        VERSIONING,
        "media-versioning",
        {"bucket": UNKNOWN, "versioningConfiguration": {"status": status}},
        property_deps={"bucket": (urn(BUCKET, "media"),)},
    )


def test_everything_is_a_create_without_a_base() -> None:
    changes = diff_graphs(None, graph(bucket(), versioning("Enabled")))
    assert [(c.op, c.name) for c in changes] == [
        (Op.create, "media"),
        (Op.create, "media-versioning"),
    ]
    assert changes[0].stateful and not changes[1].stateful
    assert {d.path for d in changes[0].diffs} == {"bucket", "tags"}


def test_identical_graphs_have_no_changes() -> None:
    g = graph(bucket(), versioning("Enabled"))
    assert diff_graphs(g, g) == []


def test_versioning_turned_on_is_an_update_with_a_nested_path() -> None:
    base = graph(bucket(), versioning("Suspended"))
    head = graph(bucket(), versioning("Enabled"))
    [change] = diff_graphs(base, head)
    assert change.op is Op.update
    assert change.name == "media-versioning"
    [d] = change.diffs
    assert (d.path, d.old, d.new, d.forces_replace) == (
        "versioningConfiguration.status",
        "Suspended",
        "Enabled",
        False,
    )


def test_bucket_rename_replaces_it_and_its_dependents() -> None:
    base = graph(bucket(), versioning("Enabled"))
    head = graph(bucket("fleet-prod-eu-west-1-media-v2"), versioning("Enabled"))
    changes = {c.name: c for c in diff_graphs(base, head)}
    assert changes["media"].op is Op.replace
    assert changes["media"].replace_reasons == ("bucket",)
    assert changes["media"].stateful
    # The versioning config points at the new bucket's id, unknown until apply,
    # and `bucket` forces a replace of it too (as the real engine would show).
    dep = changes["media-versioning"]
    assert dep.op is Op.replace and dep.replace_reasons == ("bucket",)
    assert dep.diffs[0].new is UNKNOWN


def test_a_tag_change_is_an_update_not_a_replace() -> None:
    base = graph(bucket())
    head = graph(res(BUCKET, "media", {"bucket": "fleet-prod-eu-west-1-media", "tags": {}}))
    [change] = diff_graphs(base, head)
    assert change.op is Op.update
    assert [(d.path, d.old, d.new) for d in change.diffs] == [("tags.team", "video", MISSING)]


def test_removed_resources_are_deleted_dependents_first() -> None:
    base = graph(bucket(), versioning("Enabled"))
    changes = diff_graphs(base, graph())
    assert [(c.op, c.name) for c in changes] == [
        (Op.delete, "media-versioning"),
        (Op.delete, "media"),
    ]


def test_changed_secret_is_an_update_compared_by_fingerprint() -> None:
    def param(fp: str) -> Resource:
        return res("aws:ssm/parameter:Parameter", "key", {"value": Secret(fp), "name": "/k"})

    assert diff_graphs(graph(param("aaa")), graph(param("aaa"))) == []
    [change] = diff_graphs(graph(param("aaa")), graph(param("bbb")))
    assert change.op is Op.update
    assert change.diffs[0].old == Secret("aaa") and change.diffs[0].new == Secret("bbb")


def test_unknown_on_both_sides_is_not_a_change_unless_its_source_is_new() -> None:
    vpc = res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.1.0.0/16"})
    subnet = res(
        "aws:ec2/subnet:Subnet",
        "subnet-a",
        {"vpcId": UNKNOWN, "cidrBlock": "10.1.0.0/24"},
        property_deps={"vpcId": (vpc.urn,)},
    )
    assert diff_graphs(graph(vpc, subnet), graph(vpc, subnet)) == []
    new_vpc = res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.9.0.0/16"})
    changes = {c.name: c for c in diff_graphs(graph(vpc, subnet), graph(new_vpc, subnet))}
    assert changes["vpc"].replace_reasons == ("cidrBlock",)
    assert changes["subnet-a"].op is Op.replace
    assert changes["subnet-a"].replace_reasons == ("vpcId",)


def test_ignore_changes_and_replace_on_changes_options() -> None:
    q = "aws:sqs/queue:Queue"
    base = graph(
        res(q, "jobs", {"name": "jobs", "visibilityTimeoutSeconds": 30, "tags": {"a": "1"}})
    )
    head_ignored = graph(
        res(
            q,
            "jobs",
            {"name": "jobs", "visibilityTimeoutSeconds": 30, "tags": {"a": "2"}},
            ignore_changes=("tags",),
        )
    )
    assert diff_graphs(base, head_ignored) == []
    head_forced = graph(
        res(
            q,
            "jobs",
            {"name": "jobs", "visibilityTimeoutSeconds": 60, "tags": {"a": "1"}},
            replace_on_changes=("visibilityTimeoutSeconds",),
        )
    )
    [change] = diff_graphs(base, head_forced)
    assert change.op is Op.replace and change.replace_reasons == ("visibilityTimeoutSeconds",)


def test_an_alias_keeps_a_renamed_resource_instead_of_delete_and_create() -> None:
    old = bucket()
    new = res(BUCKET, "origin", dict(old.inputs), aliases=(old.urn,))
    assert diff_graphs(graph(old), graph(new)) == []


def test_integral_floats_equal_ints_and_lists_diff_by_index() -> None:
    assert diff_values({"n": 3.0}, {"n": 3}) == []
    found = diff_values({"rules": [{"days": 30}, {"days": 90}]}, {"rules": [{"days": 30}]})
    assert [(d.path, d.old, d.new) for d in found] == [("rules[1]", {"days": 90}, MISSING)]
    assert diff_values(True, 1) != []


def test_graph_json_round_trip_keeps_sentinels() -> None:
    g = graph(
        res("aws:ssm/parameter:Parameter", "k", {"value": Secret("f00"), "arn": UNKNOWN}),
    )
    again = graph_from_json(graph_to_json(g))
    assert again == g


def test_replace_table_covers_region_and_options() -> None:
    assert "region" in replace_properties("aws:iam/role:Role")
    assert forces_replace("aws:ec2/subnet:Subnet", "availabilityZone")
    assert not forces_replace("aws:ec2/subnet:Subnet", "tags")
    assert forces_replace("aws:ec2/subnet:Subnet", "tags", ("*",))
    assert unlisted_types(["aws:s3/bucket:Bucket", "fleet:index:Edge", "aws:foo/bar:Baz"]) == [
        "aws:foo/bar:Baz"
    ]


def test_json_documents_in_strings_diff_inside() -> None:
    old = '{"Version": "2012-10-17", "Statement": [{"Action": ["s3:GetObject"]}]}'
    new = '{"Version": "2012-10-17", "Statement": [{"Action": ["s3:GetObject", "s3:PutObject"]}]}'
    found = diff_values({"policy": old}, {"policy": new})
    assert [(d.path, d.old, d.new) for d in found] == [
        ("policy.Statement[0].Action[1]", MISSING, "s3:PutObject")
    ]
    assert [d.path for d in diff_values("{not json", "{still not")] == [""]


def _asg_tags(keys: list[str]) -> list[dict[str, Any]]:
    return [{"key": k, "value": f"v-{k}", "propagateAtLaunch": True} for k in keys]


def test_tag_lists_diff_by_key_not_by_index() -> None:
    """Two tags added to an ASG's sorted tag list: two lines, not every shifted index."""
    asg = "aws:autoscaling/group:Group"
    keys = ["app", "cost-center", "env", "fleet:stack", "pop", "region", "role", "team", "tier"]
    old = res(asg, "edge-a", {"minSize": 1, "tags": _asg_tags(keys)})
    new = res(asg, "edge-a", {"minSize": 1, "tags": _asg_tags(sorted([*keys, "owner", "beta"]))})
    (change,) = diff_graphs(graph(old), graph(new))
    assert change.op is Op.update
    assert [(d.path, d.old) for d in change.diffs] == [
        ('tags["beta"]', MISSING),
        ('tags["owner"]', MISSING),
    ]
    assert change.diffs[0].new == {"key": "beta", "value": "v-beta", "propagateAtLaunch": True}
    # a changed value is one line under its key; a removed tag one line
    changed = _asg_tags(keys[1:])
    changed[0]["value"] = "finance"
    got = diff_values(_asg_tags(keys), changed, "tags")
    assert [(d.path, d.old, d.new) for d in got] == [
        ('tags["app"]', _asg_tags(["app"])[0], MISSING),
        ('tags["cost-center"].value', "v-cost-center", "finance"),
    ]


def test_lists_that_are_not_keyed_still_diff_by_index() -> None:
    dup = [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]
    assert [d.path for d in diff_values(dup, [dup[1], dup[0]], "x")] == [
        "x[0].value",
        "x[1].value",
    ]
    assert [d.path for d in diff_values(["a", "b"], ["b", "a"], "y")] == ["y[0]", "y[1]"]
