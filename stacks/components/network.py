"""RegionNetwork: the VPC of one region, a public subnet per zone, security groups."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# Edge nodes serve HLS over HTTP(S) to the world; transcoders only call out.
EDGE_PORTS = (80, 443)


@dataclass
class RegionNetworkArgs:
    env: str
    region: str
    cidr: str
    zones: list[str]
    tags: dict[str, str] = field(default_factory=dict)


class RegionNetwork(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]
    edge_sg_id: pulumi.Output[str]
    transcode_sg_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegionNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleet:index:RegionNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**args.tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={**args.tags, "Name": f"{name}-igw"}, opts=child
        )
        routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**args.tags, "Name": f"{name}-public"},
            opts=child,
        )
        # One /20 per zone, in zone order: stable as long as zones are only appended.
        blocks = ipaddress.ip_network(args.cidr).subnets(new_prefix=20)
        self.subnet_ids = {}
        for zone, block in zip(args.zones, blocks, strict=False):
            subnet = aws.ec2.Subnet(
                f"{name}-{zone}",
                vpc_id=vpc.id,
                cidr_block=str(block),
                availability_zone=zone,
                map_public_ip_on_launch=True,
                tags={**args.tags, "Name": f"{name}-{zone}", "zone": zone},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-{zone}-public", subnet_id=subnet.id, route_table_id=routes.id, opts=child
            )
            self.subnet_ids[zone] = subnet.id

        edge_sg = aws.ec2.SecurityGroup(
            f"{name}-edge",
            vpc_id=vpc.id,
            description="Edge nodes: HTTP(S) from viewers",
            tags={**args.tags, "Name": f"{name}-edge", "role": "edge"},
            opts=child,
        )
        for port in EDGE_PORTS:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-edge-in-{port}",
                security_group_id=edge_sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4="0.0.0.0/0",
                opts=pulumi.ResourceOptions(parent=edge_sg),
            )
        transcode_sg = aws.ec2.SecurityGroup(
            f"{name}-transcode",
            vpc_id=vpc.id,
            description="Transcode workers: no inbound",
            tags={**args.tags, "Name": f"{name}-transcode", "role": "transcode"},
            opts=child,
        )
        for sg, label in ((edge_sg, "edge"), (transcode_sg, "transcode")):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{label}-out",
                security_group_id=sg.id,
                ip_protocol="-1",
                cidr_ipv4="0.0.0.0/0",
                opts=pulumi.ResourceOptions(parent=sg),
            )
        self.vpc_id = vpc.id
        self.edge_sg_id = edge_sg.id
        self.transcode_sg_id = transcode_sg.id
        self.register_outputs(
            {
                "vpcId": vpc.id,
                "subnetIds": self.subnet_ids,
                "edgeSecurityGroupId": edge_sg.id,
                "transcodeSecurityGroupId": transcode_sg.id,
            }
        )
