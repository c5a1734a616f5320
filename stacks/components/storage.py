"""OriginStorage: the origin's S3 buckets with versioning, lifecycle,
encryption, a public access block and cross-region replication."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from fleetctl.spec import Bucket, naming


@dataclass
class OriginStorageArgs:
    env: str
    region: str
    buckets: list[Bucket]
    tags: dict[str, str] = field(default_factory=dict)


class OriginStorage(pulumi.ComponentResource):
    bucket_names: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: OriginStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleet:index:OriginStorage", name, None, opts)
        self.bucket_names = {}
        self.bucket_arns: dict[str, pulumi.Output[str]] = {}
        for spec in args.buckets:
            self._bucket(name, args, spec)
        self.register_outputs({"bucketNames": self.bucket_names, "bucketArns": self.bucket_arns})

    def _bucket(self, name: str, args: OriginStorageArgs, spec: Bucket) -> None:
        physical = naming.bucket_name(args.env, args.region, spec.name)
        bucket = aws.s3.Bucket(
            f"{name}-{spec.name}",
            bucket=physical,
            tags={**args.tags, "bucket": spec.name, "storage-class": spec.storage_class.value},
            opts=pulumi.ResourceOptions(parent=self, protect=args.env == "prod"),
        )
        # `protect` is inherited from the parent: only the bucket (the data) is
        # protected; its configuration may change or go like any resource.
        on_bucket = pulumi.ResourceOptions(parent=bucket, protect=False)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-{spec.name}-pab",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=on_bucket,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-{spec.name}-sse",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms"
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=on_bucket,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-{spec.name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled" if spec.versioning else "Suspended"
            ),
            opts=on_bucket,
        )
        rules = _lifecycle_rules(spec)
        if rules:
            aws.s3.BucketLifecycleConfiguration(
                f"{name}-{spec.name}-lifecycle",
                bucket=bucket.id,
                rules=rules,
                opts=pulumi.ResourceOptions(parent=bucket, protect=False, depends_on=[versioning]),
            )
        if spec.replication_targets:
            self._replication(name, args, spec, bucket, versioning)
        self.bucket_names[spec.name] = bucket.bucket
        self.bucket_arns[spec.name] = bucket.arn

    def _replication(
        self,
        name: str,
        args: OriginStorageArgs,
        spec: Bucket,
        bucket: aws.s3.Bucket,
        versioning: aws.s3.BucketVersioning,
    ) -> None:
        on_bucket = pulumi.ResourceOptions(parent=bucket, protect=False)
        targets = {
            region: f"arn:aws:s3:::{naming.bucket_name(args.env, region, spec.name)}"
            for region in spec.replication_targets
        }
        role = aws.iam.Role(
            f"{name}-{spec.name}-replication",
            assume_role_policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=args.tags,
            opts=on_bucket,
        )
        aws.iam.RolePolicy(
            f"{name}-{spec.name}-replication",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            "Resource": [bucket.arn],
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:GetObjectVersionForReplication",
                                "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging",
                            ],
                            "Resource": [bucket.arn.apply(lambda arn: f"{arn}/*")],
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:ReplicateObject",
                                "s3:ReplicateDelete",
                                "s3:ReplicateTags",
                            ],
                            "Resource": [f"{arn}/*" for arn in targets.values()],
                        },
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=role, protect=False),
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-{spec.name}-replication",
            bucket=bucket.id,
            role=role.arn,
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id=f"to-{region}",
                    priority=i,
                    status="Enabled",
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Enabled"
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=arn, storage_class="STANDARD"
                    ),
                )
                for i, (region, arn) in enumerate(sorted(targets.items()))
            ],
            opts=pulumi.ResourceOptions(parent=bucket, protect=False, depends_on=[versioning]),
        )


def _lifecycle_rules(spec: Bucket) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    life = spec.lifecycle
    rules = []
    if life.transitions or life.expiration_days:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="tiering",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                transitions=[
                    aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                        days=t.days, storage_class=t.storage_class.value
                    )
                    for t in life.transitions
                ]
                or None,
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                    days=life.expiration_days
                )
                if life.expiration_days
                else None,
            )
        )
    if life.noncurrent_expiration_days:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="noncurrent",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=life.noncurrent_expiration_days
                ),
            )
        )
    return rules
