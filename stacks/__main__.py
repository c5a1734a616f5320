"""The fleet's Pulumi program: one stack per environment and region.

The stack name is `<env>-<region>`; `fleet:spec` (validated by fleetctl.spec,
the same code `fleetctl validate` runs) says what the region holds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi

sys.path.insert(0, str(Path(__file__).resolve().parent))

from components import (
    EdgePool,
    EdgePoolArgs,
    OriginStorage,
    OriginStorageArgs,
    RegionNetwork,
    RegionNetworkArgs,
    TranscodeCluster,
    TranscodeClusterArgs,
)

from fleetctl.spec import Stack, naming, parse_spec

stack = pulumi.get_stack()
env, _, region = stack.partition("-")
config = pulumi.Config("fleet")
spec = parse_spec(config.require_object("spec"), config.get_object("defaults") or {}, where=stack)
tags = naming.tags(Stack(env=env, region=region, spec=spec, source=__file__))
name = naming.prefix(env, region)

network = RegionNetwork(
    name,
    RegionNetworkArgs(env=env, region=region, cidr=spec.network.cidr, zones=spec.zones, tags=tags),
)
storage = OriginStorage(
    f"{name}-origin",
    OriginStorageArgs(env=env, region=region, buckets=spec.storage.buckets, tags=tags),
)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("buckets", storage.bucket_names)

if spec.edge is not None:
    edge_zones = spec.edge.zones or spec.zones
    edge = EdgePool(
        f"{name}-edge",
        EdgePoolArgs(
            env=env,
            region=region,
            pop=spec.edge.pop,
            instance_type=spec.edge.instance_type,
            nodes_per_zone=spec.edge.nodes_per_zone,
            cache_size_gb=spec.edge.cache_size_gb,
            traffic_weight=spec.edge.traffic_weight,
            subnet_ids={z: network.subnet_ids[z] for z in edge_zones},
            security_group_id=network.edge_sg_id,
            signing_key=config.require_secret("originSigningKey"),
            tags=tags,
        ),
    )
    pulumi.export("edgeGroups", edge.group_names)

if spec.transcode is not None:
    media = next(iter(storage.bucket_arns.values()), None)
    transcode = TranscodeCluster(
        f"{name}-transcode",
        TranscodeClusterArgs(
            env=env,
            region=region,
            instance_type=spec.transcode.instance_type,
            min_size=spec.transcode.min_size,
            max_size=spec.transcode.max_size,
            scaling_target=spec.transcode.scaling_target,
            ladder=[p.value for p in spec.transcode.ladder],
            subnet_ids=list(network.subnet_ids.values()),
            security_group_id=network.transcode_sg_id,
            media_bucket_arn=media,
            tags=tags,
        ),
    )
    pulumi.export("transcodeQueueUrl", transcode.queue_url)
