"""EC2 instances by tag, across regions, for the AWS-sourced inventory.

`describe_instances` goes through its paginator: a region with thousands of
instances is read page after page (`page_size` only exists so tests can force
several pages out of a small fleet). Standard retry mode; AWS_ENDPOINT_URL
honoured; failures become OutsideError (exit 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetctl.adapters import aws_session
from fleetctl.adapters.aws_session import aws_errors

LIVE_STATES = ("pending", "running")


def describe_instances(
    region: str,
    tags: Mapping[str, str | list[str]],
    *,
    states: tuple[str, ...] = LIVE_STATES,
    page_size: int | None = None,
) -> list[dict[str, Any]]:
    """Instances in `region` whose tags match (value or list of values), as plain records."""
    ec2 = aws_session.client("ec2", region)
    filters = [{"Name": "instance-state-name", "Values": list(states)}]
    for key, value in sorted(tags.items()):
        filters.append(
            {"Name": f"tag:{key}", "Values": [value] if isinstance(value, str) else value}
        )
    config: dict[str, Any] = {"PageSize": page_size} if page_size else {}
    out: list[dict[str, Any]] = []
    with aws_errors(f"listing EC2 instances ({region})"):
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=filters, PaginationConfig=config
        )
        for page in pages:
            for reservation in page.get("Reservations", []):
                for inst in reservation.get("Instances", []):
                    out.append(
                        {
                            "id": inst["InstanceId"],
                            "region": region,
                            "zone": inst.get("Placement", {}).get("AvailabilityZone", ""),
                            "type": inst.get("InstanceType", ""),
                            "state": inst.get("State", {}).get("Name", ""),
                            "private_ip": inst.get("PrivateIpAddress"),
                            "public_ip": inst.get("PublicIpAddress"),
                            "private_dns": inst.get("PrivateDnsName") or None,
                            "tags": {t["Key"]: t["Value"] for t in inst.get("Tags", [])},
                        }
                    )
    return out
