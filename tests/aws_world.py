"""Build, with plain boto3 against moto, the AWS resources a stack's spec describes.

Mirrors what the Pulumi program (stacks/components) creates for drift's
purposes: buckets with tags, versioning, lifecycle, public access block and
replication; launch templates; one edge ASG per zone in that zone's subnet; the
transcode ASG; the job queue and its dead-letter queue. Names and tags come
from `fleetctl.spec.naming`, so "drift = none" is asserted against the same
rules the program uses.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import boto3

from fleetctl.spec import Stack, naming

AMI = "ami-12c6146b"  # one of moto's built-in images


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def build_bucket_side(stack: Stack) -> None:
    s3 = boto3.client("s3", region_name=stack.region)
    for b in stack.spec.storage.buckets:
        name = naming.bucket_name(stack.env, stack.region, b.name)
        kwargs: dict[str, Any] = {"Bucket": name}
        if stack.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": stack.region}
        s3.create_bucket(**kwargs)
        tags = {**naming.tags(stack), "bucket": b.name, "storage-class": b.storage_class.value}
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(tags)})
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_versioning(
            Bucket=name,
            VersioningConfiguration={"Status": "Enabled" if b.versioning else "Suspended"},
        )
        rules: list[dict[str, Any]] = []
        lc = b.lifecycle
        if lc.transitions or lc.expiration_days:
            rule: dict[str, Any] = {"ID": "tiering", "Status": "Enabled", "Filter": {"Prefix": ""}}
            if lc.transitions:
                rule["Transitions"] = [
                    {"Days": t.days, "StorageClass": t.storage_class.value} for t in lc.transitions
                ]
            if lc.expiration_days:
                rule["Expiration"] = {"Days": lc.expiration_days}
            rules.append(rule)
        if lc.noncurrent_expiration_days:
            rules.append(
                {
                    "ID": "noncurrent",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {
                        "NoncurrentDays": lc.noncurrent_expiration_days
                    },
                }
            )
        if rules:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": rules}
            )
        if b.replication_targets:
            s3.put_bucket_replication(
                Bucket=name,
                ReplicationConfiguration={
                    "Role": "arn:aws:iam::123456789012:role/replication",
                    "Rules": [
                        {
                            "ID": f"to-{target}",
                            "Priority": i,
                            "Status": "Enabled",
                            "Filter": {"Prefix": ""},
                            "DeleteMarkerReplication": {"Status": "Enabled"},
                            "Destination": {
                                "Bucket": "arn:aws:s3:::"
                                + naming.bucket_name(stack.env, target, b.name),
                                "StorageClass": "STANDARD",
                            },
                        }
                        for i, target in enumerate(sorted(b.replication_targets))
                    ],
                },
            )


def build_compute_side(stack: Stack) -> None:
    ec2 = boto3.client("ec2", region_name=stack.region)
    asg = boto3.client("autoscaling", region_name=stack.region)
    sqs = boto3.client("sqs", region_name=stack.region)
    net = ipaddress.ip_network(stack.spec.network.cidr)
    vpc = ec2.create_vpc(CidrBlock=str(net))["Vpc"]["VpcId"]
    subnets = {
        zone: ec2.create_subnet(VpcId=vpc, CidrBlock=str(cidr), AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for zone, cidr in zip(stack.spec.zones, net.subnets(new_prefix=20), strict=False)
    }
    edge, tc = stack.spec.edge, stack.spec.transcode
    if edge is not None:
        tags = naming.tags(stack, naming.EDGE)
        lt = naming.launch_template_name(stack.env, stack.region, naming.EDGE)
        ec2.create_launch_template(
            LaunchTemplateName=lt,
            LaunchTemplateData={
                "ImageId": AMI,
                "InstanceType": edge.instance_type,
                "TagSpecifications": [{"ResourceType": "instance", "Tags": _tag_list(tags)}],
            },
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": _tag_list(tags)}],
        )
        for zone in stack.edge_zones:
            name = naming.edge_asg_name(stack.env, stack.region, zone)
            asg.create_auto_scaling_group(
                AutoScalingGroupName=name,
                LaunchTemplate={"LaunchTemplateName": lt, "Version": "$Latest"},
                MinSize=edge.nodes_per_zone,
                MaxSize=edge.nodes_per_zone,
                DesiredCapacity=edge.nodes_per_zone,
                VPCZoneIdentifier=subnets[zone],
                Tags=[
                    {
                        "ResourceId": name,
                        "ResourceType": "auto-scaling-group",
                        "Key": k,
                        "Value": v,
                        "PropagateAtLaunch": True,
                    }
                    for k, v in sorted({**tags, "zone": zone}.items())
                ],
            )
    if tc is not None:
        tags = naming.tags(stack, naming.TRANSCODE)
        lt = naming.launch_template_name(stack.env, stack.region, naming.TRANSCODE)
        ec2.create_launch_template(
            LaunchTemplateName=lt,
            LaunchTemplateData={"ImageId": AMI, "InstanceType": tc.instance_type},
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": _tag_list(tags)}],
        )
        name = naming.transcode_asg_name(stack.env, stack.region)
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": lt, "Version": "$Latest"},
            MinSize=tc.min_size,
            MaxSize=tc.max_size,
            DesiredCapacity=tc.min_size,
            VPCZoneIdentifier=",".join(subnets.values()),
            Tags=[
                {
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                    "Key": k,
                    "Value": v,
                    "PropagateAtLaunch": True,
                }
                for k, v in sorted(tags.items())
            ],
        )
        for q in (
            naming.dead_letter_queue_name(stack.env, stack.region),
            naming.queue_name(stack.env, stack.region),
        ):
            sqs.create_queue(QueueName=q, tags=tags)


def build_stack(stack: Stack) -> None:
    """Create everything drift checks for `stack`, matching its spec."""
    build_bucket_side(stack)
    build_compute_side(stack)
