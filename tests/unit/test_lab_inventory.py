"""Pure parts of the lab plan, the spec inventory and the playbook result."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fleetctl.adapters.ansible import _diff_text, _msg
from fleetctl.core.ansible_result import PlaybookResult, RunStatus, outcomes_from_events
from fleetctl.core.host_vars import HostVars
from fleetctl.errors import BadInput
from fleetctl.services import inventory as inv
from fleetctl.services import lab as lab_service
from fleetctl.services.extra_vars import parse_extra_vars as parse_extravars
from fleetctl.spec import load_fleet

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("n", [4, 5, 6, 10, 20])
def test_lab_plan_has_origin_and_edges_in_three_regions(n: int) -> None:
    planned = lab_service.plan_hosts(n, "127.0.10", Path("/tmp/x"))
    # n fleet hosts, then the traffic router on top (last: fleet addresses stay put)
    assert len(planned) == n + 1
    assert planned[-1].role == "router" and planned[-1].name == lab_service.ROUTER_NAME
    assert planned[-1].address == f"127.0.10.{11 + n}"
    hosts = planned[:-1]
    roles = Counter(h.role for h in hosts)
    assert roles["origin"] == 1
    assert roles["transcode"] == (1 if n >= 5 else 0)
    edges = [h for h in hosts if h.role == "edge"]
    per_region = Counter(h.region for h in edges)
    assert set(per_region) == {"lab-small", "lab-mid", "lab-big"}
    assert per_region["lab-big"] >= per_region["lab-mid"] >= per_region["lab-small"]
    assert len({h.address for h in hosts}) == n
    assert all(h.address.startswith("127.0.10.") for h in hosts)
    assert len({h.name for h in hosts}) == n
    weights = {h.region: h.traffic_weight for h in edges}
    assert len(set(weights.values())) == 3


@pytest.mark.parametrize("bad", ["10.0.0", "127.0", "127.0.300", "192.168.1"])
def test_lab_subnet_must_be_loopback(bad: str) -> None:
    with pytest.raises(BadInput):
        lab_service.plan_hosts(6, bad, Path("/tmp/x"))


def test_lab_size_bounds() -> None:
    with pytest.raises(BadInput):
        lab_service.plan_hosts(3, "127.0.10", Path("/tmp/x"))
    with pytest.raises(BadInput):
        lab_service.plan_hosts(lab_service.MAX_HOSTS + 1, "127.0.10", Path("/tmp/x"))


def test_spec_inventory_names_groups_and_vars() -> None:
    fleet = load_fleet(REPO / "stacks")
    records = inv.hosts_from_fleet(fleet, env="prod", region="us-east-1")
    edges = [r for r in records if r.role == "edge"]
    stack = fleet.stack("prod-us-east-1")
    assert len(edges) == stack.edge_nodes
    assert "edge-iad-1a-01" in {r.name for r in edges}
    assert len([r for r in records if r.role == "transcode"]) == stack.spec.transcode.min_size  # type: ignore[union-attr]
    data = inv.ansible_inventory(records)
    assert set(data["edge"]["hosts"]) == {r.name for r in edges}
    assert set(data["prod"]["hosts"]) == {r.name for r in records}
    assert set(data["us_east_1"]["hosts"]) == {r.name for r in records}
    hv = data["_meta"]["hostvars"]["edge-iad-1a-01"]
    assert hv["region"] == "us-east-1"
    assert hv["pop"] == "iad"
    assert hv["fleet_role"] == "edge"
    assert hv["traffic_weight"] == pytest.approx(stack.traffic_weight)
    assert "origin" not in data  # the origin is S3, no host


def test_records_from_any_source_make_the_same_json() -> None:
    records = [
        HostVars("i-1", "prod", "eu-west-1", "edge", pop="dub", address="10.0.0.1"),
        HostVars("i-2", "prod", "eu-west-1", "transcode", pop="dub"),
    ]
    data = inv.ansible_inventory(records)
    assert data["_meta"]["hostvars"]["i-1"]["ansible_host"] == "10.0.0.1"
    assert data["eu_west_1"]["hosts"] == ["i-1", "i-2"]
    assert inv.host_vars(records, "i-2")["fleet_role"] == "transcode"
    assert inv.host_vars(records, "nope") == {}
    with pytest.raises(BadInput):
        inv.ansible_inventory(records + records[:1])


def test_unknown_env_or_role_is_bad_input() -> None:
    fleet = load_fleet(REPO / "stacks")
    with pytest.raises(BadInput):
        inv.hosts_from_fleet(fleet, env="nope")
    with pytest.raises(BadInput):
        inv.hosts_from_fleet(fleet, role="database")


def test_outcomes_prefer_stats_and_keep_unreachable_apart() -> None:
    stats = {
        "ok": {"a": 5, "b": 1},
        "changed": {"a": 2},
        "failures": {},
        "dark": {"b": 1},
        "skipped": {},
    }
    hosts = outcomes_from_events(stats, {"a": ["t1", "t2"]}, {"b": ["t: unreachable"]}, {})
    assert hosts["a"].state == "changed"
    assert hosts["a"].changed_tasks == ("t1", "t2")
    assert hosts["b"].state == "unreachable"
    assert not hosts["b"].is_failed
    result = PlaybookResult(status=RunStatus.failed, rc=4, hosts=hosts, duration_s=1.0)
    assert result.unreachable_hosts == ["b"]
    assert result.failed_hosts == []
    assert result.to_dict()["summary"] == {"hosts": 2, "changed": 1, "failed": 0, "unreachable": 1}


def test_outcomes_without_stats_use_event_counts() -> None:
    hosts = outcomes_from_events(None, {}, {"x": ["t: boom"]}, {"x": {"ok": 1, "failed": 1}})
    assert hosts["x"].state == "failed"


def test_diff_text_and_messages() -> None:
    d = [{"before": "a\nb\n", "after": "a\nc\n", "before_header": "f", "after_header": "f"}]
    text = _diff_text(d, "task")
    assert "-b" in text and "+c" in text
    assert _diff_text([{"before": "x", "after": "x"}], "t") == ""
    res = {"msg": "All items completed", "results": [{"failed": True, "msg": "no dir"}]}
    assert _msg(res) == "no dir"
    assert "emerg" in _msg({"msg": "failed to validate", "stderr": "nginx: [emerg] bad"})


def test_extravars_are_yaml_values() -> None:
    ev = parse_extravars(["fleet_release=r1", "edge_response_delay_ms=200", "p=[/a/, /b/]"])
    assert ev == {"fleet_release": "r1", "edge_response_delay_ms": 200, "p": ["/a/", "/b/"]}
    with pytest.raises(BadInput):
        parse_extravars(["novalue"])


def test_extravars_that_yaml_makes_dates_stay_text() -> None:
    # A release manifest is JSON: a date object there would be a traceback.
    ev = parse_extravars(["day=2024-01-01", "at=2024-01-01 10:00:00", "m={d: 2024-01-01}"])
    assert ev == {"day": "2024-01-01", "at": "2024-01-01 10:00:00", "m": "{d: 2024-01-01}"}
    assert parse_extravars(['j={"a": [1, true, null]}']) == {"j": {"a": [1, True, None]}}


def test_lab_router_vars_weight_regions_and_follow_the_traffic_file(tmp_path: Path) -> None:
    hosts = lab_service.plan_hosts(6, "127.0.10", tmp_path)
    lab = lab_service.Lab(
        dir=str(tmp_path),
        subnet="127.0.10",
        user="u",
        hosts=tuple(hosts),
        key_file="k",
        known_hosts="kh",
        inventory=str(tmp_path / "hosts.yml"),
        python="python3",
    )
    v = lab_service.router_vars(lab)
    assert v["router_region_weights"] == {"lab-big": 60, "lab-mid": 30, "lab-small": 10}
    by_name = {b["name"]: b["weight"] for b in v["router_backends"]}
    # lab-big has 2 edges in a 6-host lab: 60 x (2/2) each vs 10 x 2, 30 x 2
    assert by_name == {
        "lab-edge-big-01": 60,
        "lab-edge-big-02": 60,
        "lab-edge-mid-01": 60,
        "lab-edge-small-01": 20,
    }
    lab_service.set_router_weights(lab, {"lab-big": 0, "lab-mid": 30, "lab-small": 10})
    drained = {b["name"]: b["weight"] for b in lab_service.router_vars(lab)["router_backends"]}
    assert drained == {
        "lab-edge-big-01": 0,
        "lab-edge-big-02": 0,
        "lab-edge-mid-01": 30,
        "lab-edge-small-01": 10,
    }
    assert "lab-edge-big-01" in (tmp_path / "hosts.yml").read_text()
    lab_service.set_router_weights(lab, None)
    assert lab_service.router_weights(tmp_path) == {"lab-big": 60, "lab-mid": 30, "lab-small": 10}


def test_lab_edges_serve_https_and_clients_know_the_ca(tmp_path: Path) -> None:
    hosts = lab_service.plan_hosts(5, "127.0.10", tmp_path)
    lab = lab_service.Lab(
        dir=str(tmp_path),
        subnet="127.0.10",
        user="u",
        hosts=tuple(hosts),
        key_file="k",
        known_hosts="kh",
        inventory=str(tmp_path / "hosts.yml"),
        python="python3",
    )
    data = lab_service.inventory_data(lab)["all"]
    tls_hosts = {n for n, v in data["hosts"].items() if "https_port" in v}
    assert tls_hosts == set(lab.names("edge"))
    assert {data["hosts"][n]["https_port"] for n in tls_hosts} == {lab_service.HTTPS_PORT}
    assert data["vars"]["tls_ca_file"] == str(tmp_path / "tls" / "ca.pem")
    edge = lab.by_role("edge")[0]
    assert (edge.address, lab_service.HTTPS_PORT) in lab_service.endpoints(lab)  # lab down ends it
