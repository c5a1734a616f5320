"""EdgePool: the CDN nodes of one region, one auto scaling group per zone.

A group per zone keeps the node count per zone exact (the spec says
`nodes_per_zone`) and lets a rollout or an incident drain one zone.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from fleetctl.spec import naming

# Debian 12 from AWS's public SSM parameter: resolved by EC2 at launch, so
# no AMI lookup (and no cloud call) is needed to plan the template.
DEBIAN_AMI = "resolve:ssm:/aws/service/debian/release/12/latest/amd64"

USER_DATA = """#cloud-config
package_update: true
packages: [nginx-light, python3]
write_files:
  - path: /etc/fleet/role
    content: edge
"""


@dataclass
class EdgePoolArgs:
    env: str
    region: str
    pop: str
    instance_type: str
    nodes_per_zone: int
    cache_size_gb: int
    traffic_weight: float
    subnet_ids: dict[str, pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    signing_key: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)


class EdgePool(pulumi.ComponentResource):
    group_names: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: EdgePoolArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleet:index:EdgePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, naming.TAG_ROLE: naming.EDGE, naming.TAG_POP: args.pop}
        # The URL-signing key lives in SSM as a SecureString; nodes read it at boot.
        key = aws.ssm.Parameter(
            f"{name}-signing-key",
            name=f"/{naming.prefix(args.env, args.region)}/edge/signing-key",
            type="SecureString",
            value=args.signing_key,
            tags=tags,
            opts=child,
        )
        template = aws.ec2.LaunchTemplate(
            f"{name}-template",
            name=naming.launch_template_name(args.env, args.region, "edge"),
            image_id=DEBIAN_AMI,
            instance_type=args.instance_type,
            vpc_security_group_ids=[args.security_group_id],
            user_data=base64.b64encode(USER_DATA.encode()).decode(),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvdb",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.cache_size_gb, volume_type="gp3", encrypted="true"
                    ),
                )
            ],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_tokens="required", http_endpoint="enabled"
            ),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags=tags)
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key]),
        )
        self.group_names = {}
        for zone, subnet_id in args.subnet_ids.items():
            group = aws.autoscaling.Group(
                f"{name}-{zone}",
                name=naming.edge_asg_name(args.env, args.region, zone),
                min_size=args.nodes_per_zone,
                max_size=args.nodes_per_zone,
                desired_capacity=args.nodes_per_zone,
                vpc_zone_identifiers=[subnet_id],
                launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                    id=template.id, version="$Latest"
                ),
                health_check_type="EC2",
                tags=[
                    aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True)
                    for k, v in sorted({**tags, "zone": zone}.items())
                ],
                opts=child,
            )
            self.group_names[zone] = group.name
        self.register_outputs(
            {
                "groupNames": self.group_names,
                "launchTemplateId": template.id,
                "trafficWeight": args.traffic_weight,
            }
        )
