"""Pure drift logic: expected resources from the spec, and the comparison rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.core.drift import Resource, compare, expected_resources
from fleetctl.spec import load_fleet

pytestmark = pytest.mark.unit


def test_expected_resources_of_a_prod_stack(repo_root: Path) -> None:
    stack = load_fleet(repo_root / "stacks").stack("prod-us-east-1")
    res = {(r.kind, r.name): r for r in expected_resources(stack)}
    origin = res[("bucket", "fleet-prod-us-east-1-media-origin")].props
    assert origin["versioning"] is True
    assert origin["replication"] == ["fleet-prod-eu-west-1-media-origin"]
    assert origin["lifecycle"]["transitions"] == [[30, "STANDARD_IA"], [180, "GLACIER_IR"]]
    assert origin["tags"]["storage-class"] == "STANDARD"
    scratch = res[("bucket", "fleet-prod-us-east-1-transcode-scratch")].props
    assert scratch["versioning"] is False and scratch["lifecycle"]["expiration_days"] == 14
    edges = [r for (kind, name), r in res.items() if kind == "asg" and "-edge-" in name]
    assert len(edges) == len(stack.edge_zones)
    a = res[("asg", "fleet-prod-us-east-1-edge-us-east-1a")].props
    assert a["min"] == a["max"] == a["desired"] == 12
    assert a["instances_per_zone"] == {"us-east-1a": 12}
    assert a["tags"]["zone"] == "us-east-1a" and a["tags"]["role"] == "edge"
    tc = res[("asg", "fleet-prod-us-east-1-transcode")].props
    assert "desired" not in tc  # the scaling policy owns it
    assert ("queue", "fleet-prod-us-east-1-transcode-jobs-dlq") in res


def _r(kind: str, name: str, **props: object) -> Resource:
    return Resource(kind, name, "qa-x", "us-east-1", props)


def test_compare_reports_missing_extra_and_changed() -> None:
    expected = [
        _r("bucket", "a", versioning=True, tags={"env": "qa"}),
        _r("bucket", "b", versioning=True),
        _r("asg", "g", min=1, max=1),
    ]
    actual = [
        _r("bucket", "a", versioning=False, tags={"env": "qa", "added-by": "finance"}),
        _r("asg", "g", min=1, max=1, desired=7),  # unexpected keys are not compared
        _r("queue", "q"),
    ]
    report = compare(expected, actual)
    got = [
        (i.status, i.name, [(c.key, c.expected, c.actual) for c in i.changes]) for i in report.items
    ]
    assert got == [
        ("changed", "a", [("versioning", True, False)]),
        ("missing", "b", []),
        ("extra", "q", []),
    ]
    assert report.counts() == {"missing": 1, "extra": 1, "changed": 1}
    assert report.checked == 3 and report.has_drift


def test_tags_compare_only_our_keys() -> None:
    exp = [_r("bucket", "a", tags={"env": "qa", "role": "edge"})]
    act = [_r("bucket", "a", tags={"env": "prod", "other": "x"})]
    [item] = compare(exp, act).items
    assert [(c.key, c.expected, c.actual) for c in item.changes] == [
        ("tags.env", "qa", "prod"),
        ("tags.role", "edge", None),
    ]


def test_same_name_in_another_region_is_another_resource() -> None:
    exp = [Resource("asg", "g", "s", "us-east-1", {})]
    act = [Resource("asg", "g", "s", "eu-west-1", {})]
    assert sorted((i.status, i.region) for i in compare(exp, act).items) == [
        ("extra", "eu-west-1"),
        ("missing", "us-east-1"),
    ]
    assert not compare(exp, exp).has_drift


def test_markdown_report_for_an_issue() -> None:
    from fleetctl.cli.drift import MARKDOWN_MARKER, render_markdown
    from fleetctl.core.drift import DriftItem, DriftReport, PropChange

    clean = render_markdown(DriftReport(("qa-us-east-1",), 4, ()))
    assert clean.startswith(MARKDOWN_MARKER) and "**No drift** in qa-us-east-1" in clean
    items = (
        *tuple(
            DriftItem(
                "changed",
                "bucket",
                f"b{i}",
                "qa-us-east-1",
                "us-east-1",
                (PropChange("tags.team", "a|b", None),),
            )
            for i in range(50)
        ),
        DriftItem("missing", "asg", "g", "qa-us-east-1", "us-east-1"),
    )
    report = DriftReport(("qa-us-east-1",), 60, items)
    full = render_markdown(report)
    assert "1 missing, 0 extra, 50 changed (60 resources checked)" in full
    assert "| `changed` | `qa-us-east-1` | `bucket` | `b0` | `tags.team` | `a\\|b` | `-` |" in full
    assert "| `missing` | `qa-us-east-1` | `asg` | `g` |  | `exists` | `-` |" in full
    cut = render_markdown(report, limit=1200)
    assert len(cut) < 1200 + 200
    assert "more row(s) not shown" in cut and "--format json" in cut
