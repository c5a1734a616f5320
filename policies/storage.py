"""Origin storage: buckets are versioned, never public, and originals are replicated."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from fleetctl.core.guardrails import Finding, Level, StackContext, number, rule, tags_of
from fleetctl.core.preview_model import Resource

BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACL = "aws:s3/bucketAcl:BucketAcl"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"

# A bucket whose every object expires within this many days is scratch space:
# version history buys nothing there, so it may stay unversioned.
SCRATCH_MAX_DAYS = 30
# Buckets holding originals (uploads we cannot re-create), by logical name.
ORIGINALS = re.compile(r"origin")
# Environments whose originals must be replicated to another region.
REPLICATED_ENVS = frozenset({"prod"})
PUBLIC_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})


def logical(bucket: Resource) -> str:
    """The spec's name of a bucket (the program tags it), else its Pulumi name."""
    tags = tags_of(bucket) or {}
    value = tags.get("bucket")
    return value if isinstance(value, str) else bucket.name


def _expires_within(ctx: StackContext, bucket: Resource, days: int) -> bool:
    for cfg in ctx.attached(bucket, LIFECYCLE):
        for r in cfg.inputs.get("rules") or []:
            if not isinstance(r, dict) or r.get("status") != "Enabled":
                continue
            prefix = (r.get("filter") or {}).get("prefix", "")
            exp = number((r.get("expiration") or {}).get("days"))
            if prefix in ("", None) and exp is not None and exp <= days:
                return True
    return False


@rule(
    id="storage.bucket-versioned",
    level=Level.mandatory,
    description="Every S3 bucket has versioning Enabled (a deleted or overwritten object "
    f"can be restored), unless all its objects expire within {SCRATCH_MAX_DAYS} days.",
)
def bucket_versioned(ctx: StackContext) -> Iterator[Finding]:
    for bucket in ctx.resources(BUCKET):
        statuses = [
            (v.inputs.get("versioningConfiguration") or {}).get("status")
            for v in ctx.attached(bucket, VERSIONING)
        ]
        if "Enabled" in statuses or _expires_within(ctx, bucket, SCRATCH_MAX_DAYS):
            continue
        state = statuses[0] if statuses else "not configured"
        yield Finding(
            bucket,
            f"bucket {logical(bucket)!r} ({bucket.name}) has versioning {state}: a deleted "
            "or overwritten object cannot be restored",
            f"set `versioning: true` on bucket {logical(bucket)!r} in {ctx.config_file()} (or, "
            f"for scratch data, `lifecycle.expiration_days` <= {SCRATCH_MAX_DAYS})",
        )


def _public_policy(doc: object) -> bool:
    """A bucket policy allowing Principal "*" (or {"AWS": "*"}) without a condition."""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            return False
    if not isinstance(doc, dict):
        return False
    statements = doc.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") != "Allow" or st.get("Condition"):
            continue
        principal = st.get("Principal")
        if isinstance(principal, dict):
            principal = principal.get("AWS")
        if principal == "*" or principal == ["*"]:
            return True
    return False


@rule(
    id="storage.bucket-not-public",
    level=Level.mandatory,
    description="Every S3 bucket has a public access block with all four flags on, and no "
    "public ACL or bucket policy: video reaches viewers through the edge, never from S3.",
)
def bucket_not_public(ctx: StackContext) -> Iterator[Finding]:
    for bucket in ctx.resources(BUCKET):
        name = logical(bucket)
        blocks = ctx.attached(bucket, PUBLIC_ACCESS_BLOCK)
        off = sorted({f for b in blocks for f in PUBLIC_FLAGS if b.inputs.get(f) is not True})
        if not blocks or off:
            what = "has no public access block" if not blocks else f"has {', '.join(off)} off"
            yield Finding(
                bucket,
                f"bucket {name!r} ({bucket.name}) {what}: it could be made public",
                "give the bucket an aws.s3.BucketPublicAccessBlock with block_public_acls, "
                "block_public_policy, ignore_public_acls and restrict_public_buckets = True "
                "(stacks/components/storage.py)",
            )
        acls = [bucket.inputs.get("acl")]
        acls += [a.inputs.get("acl") for a in ctx.attached(bucket, ACL)]
        public = sorted({a for a in acls if isinstance(a, str) and a in PUBLIC_ACLS})
        if public:
            yield Finding(
                bucket,
                f"bucket {name!r} ({bucket.name}) has the public ACL {', '.join(public)}",
                "drop the ACL (objects are private; the edge serves them)",
            )
        if any(_public_policy(p.inputs.get("policy")) for p in ctx.attached(bucket, POLICY)):
            yield Finding(
                bucket,
                f"bucket {name!r} ({bucket.name}) has a policy that allows Principal '*'",
                "grant access to named roles (the edge's, the transcoders') instead of '*'",
            )


@rule(
    id="storage.originals-replicated",
    level=Level.mandatory,
    description="In prod, buckets holding originals (logical name matching 'origin') "
    "replicate to another region: losing a region must not lose uploads.",
)
def originals_replicated(ctx: StackContext) -> Iterator[Finding]:
    if ctx.env not in REPLICATED_ENVS:
        return
    for bucket in ctx.resources(BUCKET):
        name = logical(bucket)
        if not ORIGINALS.search(name):
            continue
        rules = [
            r
            for cfg in ctx.attached(bucket, REPLICATION)
            for r in cfg.inputs.get("rules") or []
            if isinstance(r, dict) and r.get("status") == "Enabled"
        ]
        if not rules:
            yield Finding(
                bucket,
                f"bucket {name!r} ({bucket.name}) holds originals and replicates nowhere",
                f"set `replication_targets: [<another region>]` on bucket {name!r} in "
                f"{ctx.config_file()}",
            )
