"""The policy pack (policies/) and its framework (fleetctl.core.guardrails):
every rule passes on a well-formed stack and fails on one broken thing; a
broken rule or pack is reported with file:line, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fleetctl.core.guardrails import (
    Finding,
    GuardrailsReport,
    Level,
    Rule,
    StackContext,
    Violation,
    evaluate,
    rule,
)
from fleetctl.core.preview_model import (
    UNKNOWN,
    Change,
    Op,
    PreviewResult,
    Resource,
    ResourceGraph,
    StackPreview,
    StackStatus,
)
from fleetctl.errors import JobFailed
from fleetctl.services import guardrails as pack
from fleetctl.services.workspace import Workspace
from fleetctl.spec import parse_spec
from policies import changes, compute, edge, storage, tags, transcode

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
STACK = "prod-eu-west-1"
TAGS = {"team": "video", "cost-center": "cdn", "env": "prod"}


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::fleet::{type_}::{name}"


def res(
    type_: str,
    name: str,
    parent: Resource | None = None,
    pdeps: dict[str, tuple[str, ...]] | None = None,
    **inputs: Any,
) -> Resource:
    return Resource(
        urn=urn(type_, name),
        type=type_,
        name=name,
        parent=parent.urn if parent else None,
        custom=not type_.startswith("fleet:"),
        inputs=inputs,
        property_deps=pdeps or {},
    )


def asg_tags(extra: dict[str, str]) -> list[dict[str, Any]]:
    return [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in {**TAGS, **extra}.items()]


def good_resources() -> list[Resource]:
    """A small stack shaped like the real program's output, passing every rule."""
    out: list[Resource] = []
    storage_c = res("fleet:index:OriginStorage", "origin")
    b = res(
        storage.BUCKET, "origin-media-origin", storage_c, tags={**TAGS, "bucket": "media-origin"}
    )
    on_b = {"bucket": (b.urn,)}
    flags = dict.fromkeys(storage.PUBLIC_FLAGS, True)
    out += [storage_c, b]
    out.append(res(storage.PUBLIC_ACCESS_BLOCK, "media-pab", b, on_b, bucket=UNKNOWN, **flags))
    out.append(
        res(storage.VERSIONING, "media-v", b, on_b, versioningConfiguration={"status": "Enabled"})
    )
    out.append(
        res(
            storage.REPLICATION,
            "media-repl",
            b,
            on_b,
            rules=[{"id": "to-us-east-1", "status": "Enabled"}],
        )
    )
    # scratch bucket: unversioned, but everything expires in 14 days
    s = res(storage.BUCKET, "origin-scratch", storage_c, tags={**TAGS, "bucket": "scratch"})
    on_s = {"bucket": (s.urn,)}
    out += [s, res(storage.PUBLIC_ACCESS_BLOCK, "scratch-pab", s, on_s, **flags)]
    out.append(
        res(
            storage.VERSIONING,
            "scratch-v",
            s,
            on_s,
            versioningConfiguration={"status": "Suspended"},
        )
    )
    out.append(
        res(
            storage.LIFECYCLE,
            "scratch-life",
            s,
            on_s,
            rules=[{"status": "Enabled", "filter": {"prefix": ""}, "expiration": {"days": 14.0}}],
        )
    )
    subnets = [
        res(edge.SUBNET, f"subnet-{z}", None, availabilityZone=z, tags=TAGS)
        for z in ("eu-west-1a", "eu-west-1b")
    ]
    out += subnets
    pool = res(edge.EDGE_COMPONENT, "edge")
    out.append(pool)
    out.append(
        res(compute.LAUNCH_TEMPLATE, "edge-template", pool, instanceType="c6in.2xlarge", tags=TAGS)
    )
    for sn in subnets:
        zone = sn.inputs["availabilityZone"]
        out.append(
            res(
                edge.GROUP,
                f"edge-{zone}",
                pool,
                {"vpcZoneIdentifiers": (sn.urn,)},
                minSize=2.0,
                maxSize=2.0,
                desiredCapacity=2.0,
                vpcZoneIdentifiers=[UNKNOWN],
                tags=asg_tags({"role": "edge", "zone": zone}),
            )
        )
    tc = res(transcode.TRANSCODE_COMPONENT, "transcode")
    out.append(tc)
    out.append(
        res(compute.LAUNCH_TEMPLATE, "tc-template", tc, instanceType="c6i.4xlarge", tags=TAGS)
    )
    workers = res(
        transcode.GROUP,
        "transcode-workers",
        tc,
        minSize=2.0,
        maxSize=20.0,
        tags=asg_tags({"role": "transcode"}),
    )
    out.append(workers)
    out.append(
        res(
            transcode.SCALING_POLICY,
            "cpu-target",
            workers,
            {"autoscalingGroupName": (workers.urn,)},
        )
    )
    out.append(res("aws:sqs/queue:Queue", "jobs", tc, tags=TAGS))
    return out


SPEC_RAW: dict[str, Any] = {
    "zones": ["eu-west-1a", "eu-west-1b"],
    "network": {"cidr": "10.20.0.0/16"},
    "tags": {"team": "video", "cost-center": "cdn"},
}


def ctx(
    resources: list[Resource] | None = None,
    *,
    stack: str = STACK,
    changes_: tuple[Change, ...] = (),
    allow: list[str] | None = None,
    spec: bool = True,
    base: bool = False,
) -> StackContext:
    env, _, region = stack.partition("-")
    raw = {**SPEC_RAW, "allow_delete": allow or []}
    head = ResourceGraph(
        stack, "fleet", tuple(good_resources() if resources is None else resources)
    )
    return StackContext(
        stack=stack,
        env=env,
        region=region,
        spec=parse_spec(raw) if spec else None,
        head=head,
        base=ResourceGraph(stack, "fleet", ()) if base else None,
        changes=changes_,
    )


def edit(name: str, **inputs: Any) -> list[Resource]:
    """The good stack with one resource's inputs changed (None removes an input)."""
    out = []
    for r in good_resources():
        if r.name == name:
            merged = {**r.inputs, **inputs}
            r = replace(r, inputs={k: v for k, v in merged.items() if v is not None})
        out.append(r)
    return out


def without(name: str) -> list[Resource]:
    return [r for r in good_resources() if r.name != name]


ALL_RULES: list[Rule] = [
    storage.bucket_versioned,
    storage.bucket_not_public,
    storage.originals_replicated,
    edge.multi_zone,
    transcode.max_ge_min,
    transcode.scaling_policy,
    compute.allowed_families,
    tags.required_tags,
    changes.stateful_delete_allowed,
    changes.allow_delete_unused,
]


@pytest.mark.parametrize("r", ALL_RULES, ids=lambda r: r.id)
def test_every_rule_passes_on_a_well_formed_stack(r: Rule) -> None:
    assert r(ctx()) == []


def test_the_pack_loads_every_rule_with_its_source() -> None:
    rules = pack.load_rules(Workspace(REPO))
    assert {r.id for r in rules} == {r.id for r in ALL_RULES}
    assert all(r.source.startswith("policies/") and ":" in r.source for r in rules)
    assert {r.level for r in rules} == {Level.mandatory, Level.advisory}


def one(r: Rule, c: StackContext) -> Finding:
    found = r(c)
    assert len(found) == 1, found
    return found[0]


def test_unversioned_bucket_fails_and_names_the_bucket_and_fix() -> None:
    f = one(
        storage.bucket_versioned,
        ctx(edit("media-v", versioningConfiguration={"status": "Suspended"})),
    )
    assert f.resource is not None and f.resource.name == "origin-media-origin"
    assert "'media-origin'" in f.message and "Suspended" in f.message
    assert "versioning: true" in f.fix and f"stacks/Pulumi.{STACK}.yaml" in f.fix
    # a scratch bucket expiring later than SCRATCH_MAX_DAYS is no longer exempt
    late = [{"status": "Enabled", "filter": {"prefix": ""}, "expiration": {"days": 90.0}}]
    f = one(storage.bucket_versioned, ctx(edit("scratch-life", rules=late)))
    assert f.resource is not None and f.resource.name == "origin-scratch"
    assert "not configured" in one(storage.bucket_versioned, ctx(without("media-v"))).message


def test_public_bucket_fails() -> None:
    f = one(storage.bucket_not_public, ctx(edit("media-pab", blockPublicPolicy=False)))
    assert "blockPublicPolicy off" in f.message
    assert (
        "no public access block"
        in one(storage.bucket_not_public, ctx(without("scratch-pab"))).message
    )
    f = one(storage.bucket_not_public, ctx(edit("origin-media-origin", acl="public-read")))
    assert "public-read" in f.message
    policy = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"}]}
    )
    b = next(r for r in good_resources() if r.name == "origin-media-origin")
    pol = res(storage.POLICY, "media-policy", b, {"bucket": (b.urn,)}, policy=policy)
    f = one(storage.bucket_not_public, ctx([*good_resources(), pol]))
    assert "Principal '*'" in f.message


def test_originals_without_replication_fail_in_prod_only() -> None:
    f = one(storage.originals_replicated, ctx(without("media-repl")))
    assert "replicates nowhere" in f.message and "replication_targets" in f.fix
    disabled = [{"id": "x", "status": "Disabled"}]
    assert storage.originals_replicated(ctx(edit("media-repl", rules=disabled)))
    assert storage.originals_replicated(ctx(without("media-repl"), stack="staging-us-east-2")) == []


def test_edge_pool_in_one_zone_fails() -> None:
    one_zone = [r for r in good_resources() if r.name != "edge-eu-west-1b"]
    f = one(edge.multi_zone, ctx(one_zone))
    assert f.resource is not None and f.resource.type == edge.EDGE_COMPONENT
    assert "1 zone(s) only (eu-west-1a)" in f.message and "edge.zones" in f.fix
    # two groups but one of them empty: still one serving zone
    assert edge.multi_zone(ctx(edit("edge-eu-west-1b", desiredCapacity=0.0, minSize=0.0)))
    # no nodes at all: a drained region is not a single-zone pool
    drained = [
        replace(r, inputs={**r.inputs, "desiredCapacity": 0.0, "minSize": 0.0})
        if r.type == edge.GROUP and r.name.startswith("edge-")
        else r
        for r in good_resources()
    ]
    assert edge.multi_zone(ctx(drained)) == []


def test_transcode_max_below_min_fails() -> None:
    f = one(transcode.max_ge_min, ctx(edit("transcode-workers", maxSize=1.0)))
    assert "max_size 1 < min_size 2" in f.message and "transcode.max_size" in f.fix
    f = one(transcode.max_ge_min, ctx(edit("transcode-workers", desiredCapacity=50.0)))
    assert "outside [2, 20]" in f.message


def test_transcode_group_without_scaling_policy_is_advisory() -> None:
    f = one(transcode.scaling_policy, ctx(without("cpu-target")))
    assert "no scaling policy" in f.message
    assert transcode.scaling_policy.level is Level.advisory


def test_instance_family_not_allowed_fails() -> None:
    f = one(compute.allowed_families, ctx(edit("edge-template", instanceType="c7g.2xlarge")))
    assert "'c7g'" in f.message and "ALLOWED_FAMILIES" in f.fix
    assert compute.allowed_families(ctx(edit("edge-template", instanceType=UNKNOWN))) == []


def test_missing_required_tags_fail_grouped_per_missing_set() -> None:
    no_cc = [
        replace(
            r, inputs={**r.inputs, "tags": {k: v for k, v in TAGS.items() if k != "cost-center"}}
        )
        if isinstance(r.inputs.get("tags"), dict)
        else r
        for r in good_resources()
    ]
    f = one(tags.required_tags, ctx(no_cc))
    assert "lack the tag(s) cost-center" in f.message and "more resource(s)" in f.message
    asg_no_team = asg_tags({"role": "transcode"})[1:]  # drops "team"
    f = one(tags.required_tags, ctx(edit("transcode-workers", tags=asg_no_team)))
    assert f.resource is not None and f.resource.name == "transcode-workers"
    assert f.message.endswith("lack the tag(s) team")


def bucket_change(op: Op, name: str = "origin-media-origin", protected: bool = False) -> Change:
    return Change(
        urn(storage.BUCKET, name), storage.BUCKET, name, op, stateful=True, protected=protected
    )


def test_stateful_delete_needs_an_allow_in_the_spec() -> None:
    rule_ = changes.stateful_delete_allowed
    delete = bucket_change(Op.delete, protected=True)
    f = one(rule_, ctx(changes_=(delete,)))
    assert f.resource is not None and f.resource.name == "origin-media-origin"
    assert "allow_delete: [origin-media-origin]" in f.fix and "protect" in f.fix
    assert "replaces" in one(rule_, ctx(changes_=(bucket_change(Op.replace),))).message
    assert rule_(ctx(changes_=(delete,), allow=["origin-media-origin"])) == []
    # only stateful losses count; a deleted stack has no spec to allow it
    queue_update = Change(
        urn("aws:sqs/queue:Queue", "q"), "aws:sqs/queue:Queue", "q", Op.update, stateful=True
    )
    assert rule_(ctx(changes_=(queue_update,))) == []
    f = one(rule_, ctx([], changes_=(delete,), spec=False))
    assert "deleted stack" in f.fix


def test_stale_allow_delete_is_advisory() -> None:
    rule_ = changes.allow_delete_unused
    f = one(rule_, ctx(allow=["origin-media-origin"], base=True))
    assert f.resource is None and "origin-media-origin" in f.message
    assert (
        rule_(ctx(allow=["origin-media-origin"], base=True, changes_=(bucket_change(Op.delete),)))
        == []
    )
    assert rule_(ctx(allow=["origin-media-origin"], base=False)) == []  # no base, no verdict


# --- the framework ---------------------------------------------------------------------------


def test_evaluate_orders_mandatory_first_and_reports_a_raising_rule() -> None:
    @rule(id="t.boom", level="advisory", description="raises")
    def boom(c: StackContext) -> Iterator[Finding]:
        yield from ()
        raise KeyError("minSize")

    source = boom.source.rsplit(":", 1)[0]
    vs = evaluate([boom, storage.bucket_versioned], [ctx(without("media-v"))])
    assert [v.rule_id for v in vs] == ["storage.bucket-versioned", "t.boom"]
    assert vs[0].blocking and vs[0].resource is not None and vs[0].stack == STACK
    err = vs[1]
    assert err.error and not err.blocking and err.level is Level.advisory
    assert f"rule t.boom failed at {source}:" in err.message and "KeyError" in err.message
    report = GuardrailsReport(("a",), (STACK,), tuple(vs))
    assert report.blocking and report.counts() == {"mandatory": 1, "advisory": 1}


def test_rule_decorator_rejects_bad_ids_and_levels() -> None:
    with pytest.raises(ValueError, match="dotted lower-case"):
        rule(id="NoDots", level="mandatory", description="x")
    with pytest.raises(ValueError):
        rule(id="a.b", level="blocking", description="x")


def write_pack(root: Path, files: dict[str, str]) -> Workspace:
    (root / "policies").mkdir()
    for name, text in files.items():
        (root / "policies" / name).write_text(text)
    return Workspace(root)


GOOD = """
from fleetctl.core.guardrails import Level, rule

@rule(id="t.ok", level=Level.advisory, description="fine")
def ok(ctx):
    return []
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x = 1\ndef broken(:\n", "policies/bad.py:2: syntax error"),
        (
            "x = 1\n\nraise RuntimeError('no config')\n",
            "policies/bad.py:3: RuntimeError: no config",
        ),
        (
            "from fleetctl.core.guardrails import rule\n@rule(id='Bad', level='advisory', "
            "description='d')\ndef f(c):\n    return []\n",
            "policies/bad.py:2: ValueError",
        ),
        (GOOD, "rule id t.ok is defined twice: policies/a.py:4 and policies/bad.py:4"),
    ],
    ids=["syntax", "import-raises", "bad-id", "duplicate-id"],
)
def test_a_broken_pack_is_an_error_naming_file_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    ws = write_pack(tmp_path, {"a.py": GOOD, "bad.py": text})
    with pytest.raises(JobFailed) as info:
        pack.load_rules(ws)
    assert expected in info.value.message
    assert info.value.exit_code == 1


def test_pack_modules_starting_with_underscore_are_helpers_not_rules(tmp_path: Path) -> None:
    shared = GOOD.replace("from fleetctl", "from ._util import DESC\nfrom fleetctl").replace(
        'description="fine"', "description=DESC"
    )
    files = {"a.py": shared, "__init__.py": "raise SystemError", "_util.py": "DESC = 'shared'\n"}
    ws = write_pack(tmp_path, {**files, "_x.py": "1/0"})
    assert [(r.id, r.description) for r in pack.load_rules(ws)] == [("t.ok", "shared")]
    assert pack.load_rules(Workspace(tmp_path / "nowhere")) == []


def test_contexts_skip_skipped_and_failed_stacks_and_keep_deleted_ones() -> None:
    head = ResourceGraph(STACK, "fleet", tuple(good_resources()))
    result = PreviewResult(
        (
            StackPreview(STACK, StackStatus.changed),
            StackPreview("prod-us-east-1", StackStatus.skipped),
            StackPreview("prod-ap-south-1", StackStatus.failed),
            StackPreview(
                "prod-sa-east-1", StackStatus.changed, changes=(bucket_change(Op.delete),)
            ),
        )
    )
    spec = parse_spec(SPEC_RAW)
    ctxs = pack.contexts(result, {STACK: head}, {}, {STACK: spec}, "fleet")
    assert [c.stack for c in ctxs] == [STACK, "prod-sa-east-1"]
    gone = ctxs[1]
    assert gone.spec is None and gone.head.resources == () and gone.env == "prod"
    report = pack.check([changes.stateful_delete_allowed], ctxs)
    assert report.checked == (STACK, "prod-sa-east-1")
    assert [v.stack for v in report.violations] == ["prod-sa-east-1"]
    # a skipped stack is judged only when its head was loaded (the pack changed)
    heads = {STACK: head, "prod-us-east-1": replace(head, stack="prod-us-east-1")}
    ctxs = pack.contexts(result, heads, {}, {STACK: spec, "prod-us-east-1": spec}, "fleet")
    assert [c.stack for c in ctxs] == [STACK, "prod-us-east-1", "prod-sa-east-1"]


def test_violation_json_shape() -> None:
    from fleetctl.core.guardrails import ResourceRef, report_to_json

    v = Violation("a.b", Level.mandatory, STACK, ResourceRef("u", "n", "t"), "m", "f")
    doc = report_to_json(GuardrailsReport(("a.b",), (STACK,), (v,)))
    assert doc["blocking"] is True and doc["summary"] == {"mandatory": 1, "advisory": 0}
    assert doc["violations"][0] == {
        "rule": "a.b",
        "level": "mandatory",
        "stack": STACK,
        "resource": {"urn": "u", "name": "n", "type": "t"},
        "message": "m",
        "fix": "f",
        "error": False,
    }


def test_allow_delete_in_the_spec_is_validated(tmp_path: Path) -> None:
    from fleetctl.errors import SpecError
    from fleetctl.spec import load_project

    assert parse_spec({**SPEC_RAW, "allow_delete": ["fleet-prod-x-origin-a"]}).allow_delete == [
        "fleet-prod-x-origin-a"
    ]
    for bad, why in (([" spaced name"], "not a resource name"), (["a", "a"], "duplicate")):
        with pytest.raises(SpecError) as info:
            parse_spec({**SPEC_RAW, "allow_delete": bad})
        assert any("allow_delete" in d and why in d for d in info.value.details), info.value.details
    # never in the project defaults: that would allow the delete in every stack
    (tmp_path / "Pulumi.yaml").write_text(
        "name: fleet\nruntime: python\nconfig:\n  fleet:defaults:\n    value:\n"
        "      allow_delete: [x]\n"
    )
    _, problems = load_project(tmp_path)
    assert [(p.line, p.key) for p in problems] == [(6, "fleet:defaults.allow_delete")]
