"""Route 53 weighted records: one record per region under one name.

Every region's record has the same name and type, `SetIdentifier` = the
region and its own target; Route 53 answers with one of them chosen by
weight (weight / sum of weights; 0 = never, unless every weight is 0).
boto3 is imported inside functions only (through `aws_session`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleetctl.adapters.aws_session import aws_errors, client
from fleetctl.errors import BadInput


@dataclass(frozen=True)
class WeightedRecord:
    region: str  # SetIdentifier
    weight: int
    value: str
    ttl: int


def zone_id(zone_name: str) -> str:
    """The hosted zone id of `zone_name` (a public or private zone, exact name)."""
    r53 = client("route53")
    want = zone_name.rstrip(".") + "."
    with aws_errors(f"looking up the hosted zone {want}"):
        zones = r53.list_hosted_zones_by_name(DNSName=want).get("HostedZones", [])
    ids = [z["Id"].split("/")[-1] for z in zones if z["Name"] == want]
    if not ids:
        raise BadInput(
            f"no Route 53 hosted zone {want}",
            hint="check fleet:traffic.<env>.zone in stacks/Pulumi.yaml and the AWS account",
        )
    return ids[0]


def weighted_records(zone: str, name: str, type_: str) -> dict[str, WeightedRecord]:
    """The weighted records named `name` of `type_`, by SetIdentifier."""
    r53 = client("route53")
    want = name.rstrip(".") + "."
    out: dict[str, WeightedRecord] = {}
    kwargs: dict[str, Any] = {
        "HostedZoneId": zone,
        "StartRecordName": want,
        "StartRecordType": type_,
    }
    with aws_errors(f"reading the weighted records {want}"):
        while True:
            page = r53.list_resource_record_sets(**kwargs)
            for rrs in page.get("ResourceRecordSets", []):
                if rrs["Name"] != want or rrs["Type"] != type_:
                    continue
                if "SetIdentifier" not in rrs or "Weight" not in rrs:
                    continue
                values = [r["Value"] for r in rrs.get("ResourceRecords", [])]
                out[rrs["SetIdentifier"]] = WeightedRecord(
                    region=rrs["SetIdentifier"],
                    weight=int(rrs["Weight"]),
                    value=values[0] if values else "",
                    ttl=int(rrs.get("TTL", 60)),
                )
            if not page.get("IsTruncated"):
                break
            kwargs = {
                "HostedZoneId": zone,
                "StartRecordName": page["NextRecordName"],
                "StartRecordType": page["NextRecordType"],
            }
            if page.get("NextRecordIdentifier"):
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
            if page["NextRecordName"] != want:
                break
    return out


def set_weights(
    zone: str,
    name: str,
    type_: str,
    weights: Mapping[str, int],
    values: Mapping[str, str],
    ttl: int,
    comment: str,
) -> str:
    """UPSERT every region's weighted record in ONE change batch (Route 53 applies
    a batch atomically: viewers never see a half-changed set). Returns the change id."""
    r53 = client("route53")
    want = name.rstrip(".") + "."
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": want,
                "Type": type_,
                "SetIdentifier": region,
                "Weight": int(weight),
                "TTL": int(ttl),
                "ResourceRecords": [{"Value": values[region]}],
            },
        }
        for region, weight in sorted(weights.items())
    ]
    with aws_errors(f"changing the weights of {want}"):
        resp = r53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Comment": comment[:256], "Changes": changes}
        )
    return str(resp["ChangeInfo"]["Id"])


def wait_in_sync(change_id: str, timeout_s: float = 120.0) -> str:
    """Wait until Route 53 has propagated the change to its name servers."""
    import time

    r53 = client("route53")
    deadline = time.monotonic() + timeout_s
    status = "PENDING"
    with aws_errors(f"waiting for change {change_id}"):
        while True:
            status = str(r53.get_change(Id=change_id)["ChangeInfo"]["Status"])
            if status == "INSYNC" or time.monotonic() > deadline:
                return status
            time.sleep(2.0)
