"""Read what exists in AWS for one stack, normalised for drift comparison.

Every list call goes through a paginator (a region with thousands of groups
or instances is never cut at the first page); clients use the standard retry
mode (throttling backs off and retries); AWS_ENDPOINT_URL points everything at
moto or any other endpoint. Failures become OutsideError (exit 3).

The output is plain data: `{"kind", "name", "region", "props"}` with the
property shapes documented in `fleetctl.core.drift` (this adapter does not
import core: the service turns these records into `core.drift.Resource`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fleetctl.adapters import aws_session
from fleetctl.adapters.aws_session import aws_errors, error_code

_LIVE_STATES = frozenset({"Pending", "Pending:Wait", "Pending:Proceed", "InService"})


def _tags(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def normalise_lifecycle(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Enabled lifecycle rules folded into the normalised form of `core.drift`."""
    transitions: set[tuple[int, str]] = set()
    expiration: list[int] = []
    noncurrent: list[int] = []
    for rule in rules:
        if rule.get("Status") != "Enabled":
            continue
        for t in rule.get("Transitions", []):
            if "Days" in t:
                transitions.add((int(t["Days"]), str(t["StorageClass"])))
        if "Days" in rule.get("Expiration", {}):
            expiration.append(int(rule["Expiration"]["Days"]))
        if "NoncurrentDays" in rule.get("NoncurrentVersionExpiration", {}):
            noncurrent.append(int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"]))
    return {
        "transitions": [list(t) for t in sorted(transitions)],
        "expiration_days": min(expiration) if expiration else None,
        "noncurrent_expiration_days": min(noncurrent) if noncurrent else None,
    }


def _bucket_of_arn(arn: str) -> str:
    return arn.removeprefix("arn:aws:s3:::").split("/")[0]


def _optional(call: Any, missing: tuple[str, ...], **kwargs: Any) -> Any:
    """Call an S3 getter; None when the configuration is absent (a NoSuch... code)."""
    try:
        return call(**kwargs)
    except Exception as exc:
        if error_code(exc) in missing:
            return None
        raise


def _all_items(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """Every item under `key` across all pages of a paginated call (never
    just the first page: a region can hold thousands of groups)."""
    return [
        item
        for page in client.get_paginator(operation).paginate(**kwargs)
        for item in page.get(key, [])
    ]


def read_buckets(region: str, name_prefix: str) -> list[dict[str, Any]]:
    s3 = aws_session.client("s3", region)
    out: list[dict[str, Any]] = []
    with aws_errors(f"listing S3 buckets ({region})"):
        names = [
            b["Name"]
            for b in _all_items(s3, "list_buckets", "Buckets")
            if b["Name"].startswith(name_prefix)
        ]
    for name in sorted(names):
        with aws_errors(f"reading bucket {name}"):
            status = _optional(s3.get_bucket_versioning, ("NoSuchBucket",), Bucket=name)
            if status is None:  # deleted since the listing: it does not exist
                continue
            versioning = status.get("Status") == "Enabled"
            lc = _optional(
                s3.get_bucket_lifecycle_configuration,
                ("NoSuchLifecycleConfiguration",),
                Bucket=name,
            )
            pab = _optional(
                s3.get_public_access_block,
                ("NoSuchPublicAccessBlockConfiguration",),
                Bucket=name,
            )
            repl = _optional(
                s3.get_bucket_replication,
                ("ReplicationConfigurationNotFoundError",),
                Bucket=name,
            )
            tagging = _optional(s3.get_bucket_tagging, ("NoSuchTagSet",), Bucket=name)
        blocked = False
        if pab is not None:
            conf = pab.get("PublicAccessBlockConfiguration", {})
            blocked = all(
                conf.get(k) is True
                for k in (
                    "BlockPublicAcls",
                    "IgnorePublicAcls",
                    "BlockPublicPolicy",
                    "RestrictPublicBuckets",
                )
            )
        rules = (repl or {}).get("ReplicationConfiguration", {}).get("Rules", [])
        destinations = sorted(
            {
                _bucket_of_arn(r["Destination"]["Bucket"])
                for r in rules
                if r.get("Status") == "Enabled" and "Destination" in r
            }
        )
        out.append(
            {
                "kind": "bucket",
                "name": name,
                "region": region,
                "props": {
                    "versioning": versioning,
                    "lifecycle": normalise_lifecycle((lc or {}).get("Rules", [])),
                    "public_access_blocked": blocked,
                    "replication": destinations,
                    "tags": _tags((tagging or {}).get("TagSet")),
                },
            }
        )
    return out


def read_launch_templates(region: str, name_prefix: str) -> list[dict[str, Any]]:
    ec2 = aws_session.client("ec2", region)
    out: list[dict[str, Any]] = []
    with aws_errors(f"listing launch templates ({region})"):
        templates = [
            lt
            for lt in _all_items(ec2, "describe_launch_templates", "LaunchTemplates")
            if lt["LaunchTemplateName"].startswith(name_prefix)
        ]
        for lt in templates:
            versions = _all_items(
                ec2,
                "describe_launch_template_versions",
                "LaunchTemplateVersions",
                LaunchTemplateId=lt["LaunchTemplateId"],
                Versions=["$Latest"],
            )
            data = versions[0].get("LaunchTemplateData", {}) if versions else {}
            out.append(
                {
                    "kind": "launch_template",
                    "name": lt["LaunchTemplateName"],
                    "region": region,
                    "props": {
                        "instance_type": data.get("InstanceType"),
                        "tags": _tags(lt.get("Tags")),
                    },
                }
            )
    return out


def read_groups(region: str, name_prefix: str) -> list[dict[str, Any]]:
    asg = aws_session.client("autoscaling", region)
    out: list[dict[str, Any]] = []
    with aws_errors(f"listing auto scaling groups ({region})"):
        groups = [
            g
            for g in _all_items(asg, "describe_auto_scaling_groups", "AutoScalingGroups")
            if g["AutoScalingGroupName"].startswith(name_prefix)
        ]
    for g in groups:
        spec = g.get("LaunchTemplate") or (g.get("MixedInstancesPolicy") or {}).get(
            "LaunchTemplate", {}
        ).get("LaunchTemplateSpecification", {})
        per_zone = Counter(
            i["AvailabilityZone"]
            for i in g.get("Instances", [])
            if i.get("LifecycleState") in _LIVE_STATES
        )
        out.append(
            {
                "kind": "asg",
                "name": g["AutoScalingGroupName"],
                "region": region,
                "props": {
                    "min": g["MinSize"],
                    "max": g["MaxSize"],
                    "desired": g["DesiredCapacity"],
                    "instances_per_zone": dict(sorted(per_zone.items())),
                    "launch_template": (spec or {}).get("LaunchTemplateName"),
                    "zones": sorted(g.get("AvailabilityZones", [])),
                    "tags": _tags(g.get("Tags")),
                },
            }
        )
    return out


def read_queues(region: str, name_prefix: str) -> list[dict[str, Any]]:
    sqs = aws_session.client("sqs", region)
    out: list[dict[str, Any]] = []
    with aws_errors(f"listing SQS queues ({region})"):
        urls = _all_items(sqs, "list_queues", "QueueUrls", QueueNamePrefix=name_prefix)
        for url in urls:
            tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
            out.append(
                {
                    "kind": "queue",
                    "name": url.rstrip("/").rsplit("/", 1)[-1],
                    "region": region,
                    "props": {"tags": dict(tags)},
                }
            )
    return out


def read_stack_resources(region: str, name_prefix: str) -> list[dict[str, Any]]:
    """Buckets, launch templates, groups and queues whose names start with the prefix."""
    return [
        *read_buckets(region, name_prefix),
        *read_launch_templates(region, name_prefix),
        *read_groups(region, name_prefix),
        *read_queues(region, name_prefix),
    ]
