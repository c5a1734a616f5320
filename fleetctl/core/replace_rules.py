"""Which property changes force a replace, per resource type.

The real engine asks the provider (`Diff` returns `replaces`); offline there
is no provider, so this table stands in for the pulumi-aws (terraform-provider-
aws) `ForceNew` schema flags of the resource types the stacks use. Keys are
the camelCased input names the program sends. Maintain it when the program
starts using a new resource type: a type missing here never shows a replace
(`unlisted_types` helps a test catch that).

Every pulumi-aws v7 resource also takes `region`; moving a resource to another
region always replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable

ALWAYS = frozenset({"region"})

REPLACE_ON: dict[str, frozenset[str]] = {
    # network
    "aws:ec2/vpc:Vpc": frozenset(
        {"cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength", "ipv6IpamPoolId"}
    ),
    "aws:ec2/subnet:Subnet": frozenset(
        {"availabilityZone", "availabilityZoneId", "cidrBlock", "vpcId", "outpostArn"}
    ),
    "aws:ec2/securityGroup:SecurityGroup": frozenset(
        {"name", "namePrefix", "vpcId", "description"}
    ),
    "aws:ec2/securityGroupRule:SecurityGroupRule": frozenset(
        {
            "type",
            "fromPort",
            "toPort",
            "protocol",
            "cidrBlocks",
            "ipv6CidrBlocks",
            "prefixListIds",
            "securityGroupId",
            "sourceSecurityGroupId",
            "self",
        }
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": frozenset({"securityGroupId"}),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": frozenset({"securityGroupId"}),
    "aws:ec2/internetGateway:InternetGateway": frozenset(),
    "aws:ec2/routeTable:RouteTable": frozenset({"vpcId"}),
    "aws:ec2/route:Route": frozenset(
        {
            "routeTableId",
            "destinationCidrBlock",
            "destinationIpv6CidrBlock",
            "destinationPrefixListId",
        }
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": frozenset({"subnetId", "gatewayId"}),
    "aws:ec2/eip:Eip": frozenset({"domain", "publicIpv4Pool"}),
    "aws:ec2/natGateway:NatGateway": frozenset({"allocationId", "subnetId", "connectivityType"}),
    # storage
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    "aws:s3/bucketVersioning:BucketVersioning": frozenset({"bucket", "expectedBucketOwner"}),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": frozenset(
        {"bucket", "expectedBucketOwner"}
    ),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": frozenset({"bucket"}),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": frozenset({"bucket"}),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        frozenset({"bucket", "expectedBucketOwner"})
    ),
    "aws:s3/bucketPolicy:BucketPolicy": frozenset({"bucket"}),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": frozenset({"bucket"}),
    # identity
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/rolePolicy:RolePolicy": frozenset({"name", "namePrefix", "role"}),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": frozenset({"role", "policyArn"}),
    "aws:iam/instanceProfile:InstanceProfile": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/policy:Policy": frozenset({"name", "namePrefix", "path", "description"}),
    # compute
    "aws:ec2/launchTemplate:LaunchTemplate": frozenset({"name", "namePrefix"}),
    "aws:autoscaling/group:Group": frozenset({"name", "namePrefix"}),
    "aws:autoscaling/policy:Policy": frozenset({"autoscalingGroupName", "name"}),
    "aws:ec2/instance:Instance": frozenset(
        {"ami", "availabilityZone", "subnetId", "keyName", "privateIp", "tenancy"}
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": frozenset({"name"}),
    # queues
    "aws:sqs/queue:Queue": frozenset({"name", "namePrefix", "fifoQueue"}),
    "aws:sqs/queuePolicy:QueuePolicy": frozenset({"queueUrl"}),
    "aws:ssm/parameter:Parameter": frozenset({"name"}),
}

# Resources that hold data: replacing or deleting one loses what is in it.
STATEFUL_TYPES = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:sqs/queue:Queue",
        "aws:dynamodb/table:Table",
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:efs/fileSystem:FileSystem",
        "aws:ebs/volume:Volume",
    }
)


def replace_properties(type_: str) -> frozenset[str]:
    """Top-level input names whose change forces `type_` to be replaced."""
    return REPLACE_ON.get(type_, frozenset()) | ALWAYS


def forces_replace(type_: str, top_level_key: str, replace_on_changes: Iterable[str] = ()) -> bool:
    """True when changing input `top_level_key` replaces the resource.

    `replace_on_changes` is the resource option (`"*"` means any property).
    """
    roc = set(replace_on_changes)
    if "*" in roc or top_level_key in roc:
        return True
    if any(p.split(".", 1)[0].split("[", 1)[0] == top_level_key for p in roc):
        return True
    return top_level_key in replace_properties(type_)


def is_stateful(type_: str) -> bool:
    return type_ in STATEFUL_TYPES


def unlisted_types(types: Iterable[str]) -> list[str]:
    """Custom resource types the table does not cover (components excluded)."""
    return sorted({t for t in types if t.startswith("aws:") and t not in REPLACE_ON})
