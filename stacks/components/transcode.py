"""TranscodeCluster: a job queue and an auto scaling group of ffmpeg workers
that scales on CPU, with an instance role that can read jobs and write renditions."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.edge import DEBIAN_AMI
from fleetctl.spec import naming

USER_DATA = """#cloud-config
package_update: true
packages: [ffmpeg, python3, supervisor]
write_files:
  - path: /etc/fleet/role
    content: transcode
"""


@dataclass
class TranscodeClusterArgs:
    env: str
    region: str
    instance_type: str
    min_size: int
    max_size: int
    scaling_target: float
    ladder: list[str]
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    media_bucket_arn: pulumi.Input[str] | None
    tags: dict[str, str] = field(default_factory=dict)


class TranscodeCluster(pulumi.ComponentResource):
    queue_url: pulumi.Output[str]
    group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: TranscodeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleet:index:TranscodeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, naming.TAG_ROLE: naming.TRANSCODE}
        queue_name = naming.queue_name(args.env, args.region)
        dead = aws.sqs.Queue(
            f"{name}-jobs-dlq",
            name=f"{queue_name}-dlq",
            message_retention_seconds=14 * 24 * 3600,
            tags=tags,
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-jobs",
            name=queue_name,
            visibility_timeout_seconds=900,  # longer than the slowest ladder
            redrive_policy=dead.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
            ),
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-worker",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        statements: list[dict[str, object]] = [
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": [queue.arn],
            }
        ]
        if args.media_bucket_arn is not None:
            statements.append(
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": [pulumi.Output.concat(args.media_bucket_arn, "/*")],
                }
            )
        aws.iam.RolePolicy(
            f"{name}-worker",
            role=role.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
            opts=pulumi.ResourceOptions(parent=role),
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-worker", role=role.name, tags=tags, opts=pulumi.ResourceOptions(parent=role)
        )
        template = aws.ec2.LaunchTemplate(
            f"{name}-template",
            name=naming.launch_template_name(args.env, args.region, "transcode"),
            image_id=DEBIAN_AMI,
            instance_type=args.instance_type,
            vpc_security_group_ids=[args.security_group_id],
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            user_data=base64.b64encode(
                (
                    USER_DATA
                    + f"  - path: /etc/fleet/ladder\n    content: {','.join(args.ladder)}\n"
                ).encode()
            ).decode(),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_tokens="required", http_endpoint="enabled"
            ),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags=tags)
            ],
            tags=tags,
            opts=child,
        )
        group = aws.autoscaling.Group(
            f"{name}-workers",
            name=naming.transcode_asg_name(args.env, args.region),
            min_size=args.min_size,
            max_size=args.max_size,
            vpc_zone_identifiers=args.subnet_ids,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=template.id, version="$Latest"
            ),
            tags=[
                aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True)
                for k, v in sorted(tags.items())
            ],
            # The scaling policy owns desired capacity; a deploy must not reset it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"]),
        )
        aws.autoscaling.Policy(
            f"{name}-cpu-target",
            autoscaling_group_name=group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ASGAverageCPUUtilization"
                ),
                target_value=args.scaling_target,
            ),
            opts=pulumi.ResourceOptions(parent=group),
        )
        self.queue_url = queue.url
        self.group_name = group.name
        self.register_outputs({"queueUrl": queue.url, "groupName": group.name})
