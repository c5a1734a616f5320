"""Region drains in AWS: Route 53 weighted records changed with boto3, against
moto server. Drains compose, undrain restores the weights exactly, a drain
the rest cannot carry is refused."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from aws_fixture import MotoServer
from typer.testing import CliRunner

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.core.traffic import integer_weights
from fleetctl.services import traffic as svc
from fleetctl.services.traffic_aws import Route53Weights
from fleetctl.services.workspace import Workspace
from fleetctl.spec.traffic import load_traffic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RECORD = "play.video.example.com."


def weights_in_route53(zone_id: str) -> dict[str, int]:
    r53 = boto3.client("route53")
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {s["SetIdentifier"]: int(s["Weight"]) for s in sets if s["Name"] == RECORD}


def values_in_route53(zone_id: str) -> dict[str, tuple[str, int]]:
    r53 = boto3.client("route53")
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {
        s["SetIdentifier"]: (s["ResourceRecords"][0]["Value"], int(s["TTL"]))
        for s in sets
        if s["Name"] == RECORD
    }


def make_zone() -> str:
    r53 = boto3.client("route53")
    zone = r53.create_hosted_zone(Name="video.example.com", CallerReference="fleetctl-test")
    return str(zone["HostedZone"]["Id"].split("/")[-1])


def test_route53_drains_compose_and_undrain_restores_exactly(
    aws: MotoServer,
    tmp_path: Path,
) -> None:
    zone_id = make_zone()
    ws = Workspace(REPO)
    store = SqliteStore(str(tmp_path / "state.db"))
    spec = svc.spec_weights(ws, "prod")
    base = integer_weights(spec)
    assert load_traffic(REPO / "stacks")["prod"].peak_gbps == 500

    def drain(region: str, on: bool = True) -> svc.TrafficResult:
        plan = svc.plan_change(ws, store, "prod", region, drain=on)
        return svc.change(ws, store, plan, reason=f"test {region}")

    first = drain("eu-west-1")
    assert weights_in_route53(zone_id) == {**base, "eu-west-1": 0}
    assert first.evidence["weights_read_back"] == {**base, "eu-west-1": 0}
    # records that did not exist point at the configured per-region target
    assert values_in_route53(zone_id)["eu-west-1"] == ("edge-eu-west-1.video.example.com", 60)

    drain("ap-south-1")
    assert weights_in_route53(zone_id) == {**base, "eu-west-1": 0, "ap-south-1": 0}
    shares = {r.region: r.weight for r in svc.region_traffic(ws, store, "prod")}
    assert shares["eu-west-1"] == shares["ap-south-1"] == 0.0
    assert sum(shares.values()) == pytest.approx(1.0)

    # undrain one of two: exactly the weights of draining the other alone
    drain("eu-west-1", on=False)
    assert weights_in_route53(zone_id) == {**base, "ap-south-1": 0}
    drain("ap-south-1", on=False)
    assert weights_in_route53(zone_id) == base
    assert store.get(svc.KIND, "prod") is None
    assert [r.weight for r in svc.region_traffic(ws, store, "prod")] == [
        spec[r] for r in sorted(spec)
    ]
    store.close()


def test_route53_keeps_hand_set_weights_and_values(
    aws: MotoServer,
    tmp_path: Path,
) -> None:
    """Weights in Route 53 before the first drain are what an undrain restores,
    even when they differ from the spec; record values are never rewritten."""
    zone_id = make_zone()
    ws = Workspace(REPO)
    spec = svc.spec_weights(ws, "prod")
    hand = {r: 10 + i for i, r in enumerate(sorted(spec))}
    boto3.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": RECORD,
                        "Type": "CNAME",
                        "SetIdentifier": r,
                        "Weight": w,
                        "TTL": 30,
                        "ResourceRecords": [{"Value": f"lb-{r}.elb.example.net"}],
                    },
                }
                for r, w in hand.items()
            ]
        },
    )
    store = SqliteStore(str(tmp_path / "state.db"))
    plan = svc.plan_change(ws, store, "prod", "us-west-2", drain=True, peak_gbps=100)
    svc.change(ws, store, plan, reason="test")
    assert weights_in_route53(zone_id) == {**hand, "us-west-2": 0}
    svc.change(ws, store, svc.plan_change(ws, store, "prod", "us-west-2", drain=False), reason="")
    assert weights_in_route53(zone_id) == hand
    assert values_in_route53(zone_id) == {r: (f"lb-{r}.elb.example.net", 30) for r in hand}
    store.close()


def test_cli_refuses_a_route53_drain_with_the_numbers(
    aws: MotoServer,
    tmp_path: Path,
) -> None:
    zone_id = make_zone()
    env = {"FLEETCTL_ROOT": str(REPO), "FLEETCTL_STATE": str(tmp_path / "state.db")}
    r = CliRunner().invoke(
        app, ["drain", "us-east-1", "--env", "prod", "--reason", "test", "--yes"], env=env
    )
    assert r.exit_code == 1, r.output
    # peak 500 (fleet:traffic.prod.peak_gbps): eu-central-1 would need 500 x 0.1/0.7
    # = 71.43 Gbit/s, its 8 x c6in.2xlarge at 70 % give 70.00
    assert "eu-central-1: needs 71.43 Gbit/s" in r.output
    assert "has 70.00 Gbit/s" in r.output
    assert weights_in_route53(zone_id) == {}  # nothing written


def test_drain_takes_the_peak_from_a_demand_file(
    aws: MotoServer,
    tmp_path: Path,
) -> None:
    """--demand: the peak is the sum of the file's regions, as `capacity` plans it:
    190 + 70 + 120 + 48 + 40 + 24 (12,000 viewers x 2 Mbit/s) + 14 + 30 = 536."""
    zone_id = make_zone()
    env = {"FLEETCTL_ROOT": str(REPO), "FLEETCTL_STATE": str(tmp_path / "state.db")}
    demand = str(REPO / "examples" / "demand-prod.yaml")
    args = ["drain", "us-east-1", "--env", "prod", "--reason", "test", "--yes"]
    r = CliRunner().invoke(app, [*args, "--demand", demand], env=env)
    assert r.exit_code == 1, r.output
    assert "peak 536 Gbit/s" in r.output
    assert weights_in_route53(zone_id) == {}
    both = CliRunner().invoke(app, [*args, "--demand", demand, "--peak-gbps", "9"], env=env)
    assert both.exit_code == 2, both.output


def test_drain_uses_the_node_figures_capacity_uses(
    aws: MotoServer,
    tmp_path: Path,
) -> None:
    """A demand file that makes edge nodes CPU-bound (nginx 1 Gbit/s per vCPU:
    8 Gbit/s per c6in.2xlarge, not the NIC's 12.5): `capacity --demand` says
    eu-central-1 has 44.8 Gbit/s, so draining ap-south-1 (eu-central-1 then
    needs 500 x 0.10 / 0.96 = 52.08) is refused. The NIC figure (70) let it pass."""
    zone_id = make_zone()
    demand = REPO / "tests" / "fixtures" / "demand-cpu-bound.yaml"
    env = {"FLEETCTL_ROOT": str(REPO), "FLEETCTL_STATE": str(tmp_path / "state.db")}
    cap = CliRunner().invoke(
        app, ["capacity", "--env", "prod", "--demand", str(demand), "--format", "json"], env=env
    )
    assert cap.exit_code == 0, cap.output
    edge = {r["region"]: r["edge"] for r in json.loads(cap.stdout)["regions"]}
    assert (edge["eu-central-1"]["capacity_gbps"], edge["eu-central-1"]["node_limit"]) == (
        44.8,
        "cpu",
    )
    args = ["drain", "ap-south-1", "--env", "prod", "--reason", "test", "--yes"]
    r = CliRunner().invoke(app, [*args, "--demand", str(demand)], env=env)
    assert r.exit_code == 1, r.output
    assert "eu-central-1: needs 52.08 Gbit/s" in r.output
    assert "has 44.80 Gbit/s" in r.output
    assert weights_in_route53(zone_id) == {}  # nothing written


def test_a_stale_zero_weight_is_not_taken_as_the_base(
    aws: MotoServer,
    tmp_path: Path,
) -> None:
    """A region at weight 0 that fleetctl never drained (a hand edit) is not what
    an undrain restores: the base falls back to the spec's integer weights."""
    zone_id = make_zone()
    ws = Workspace(REPO)
    spec = svc.spec_weights(ws, "prod")
    base = integer_weights(spec)
    store = SqliteStore(str(tmp_path / "state.db"))
    # write a stale set: sa-east-1 at 0
    backend = Route53Weights(load_traffic(REPO / "stacks")["prod"])
    backend.apply({**base, "sa-east-1": 0}, "hand edit")
    plan = svc.plan_change(ws, store, "prod", "ap-south-1", drain=True, peak_gbps=100)
    assert plan.base_int == base
    svc.change(ws, store, plan, reason="test")
    assert weights_in_route53(zone_id) == {**base, "ap-south-1": 0}
    svc.change(ws, store, svc.plan_change(ws, store, "prod", "ap-south-1", drain=False), reason="")
    assert weights_in_route53(zone_id) == base
    store.close()
