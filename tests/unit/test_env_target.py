"""One place knows what an env is: EnvTarget, HostVars both ways, the one
playbook resolver and the one -x parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.core.host_vars import HostVars
from fleetctl.errors import BadInput
from fleetctl.services import lab as lab_service
from fleetctl.services import target as env_target
from fleetctl.services.extra_vars import parse_extra_vars
from fleetctl.services.workspace import Workspace

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def _lab(tmp_path: Path) -> lab_service.Lab:
    return lab_service.Lab(
        dir=str(tmp_path),
        subnet="127.0.10",
        user="u",
        hosts=tuple(lab_service.plan_hosts(6, "127.0.10", tmp_path)),
        key_file="k",
        known_hosts="kh",
        inventory=str(tmp_path / "hosts.yml"),
        python="python3",
    )


def test_host_vars_round_trip_and_one_set_of_defaults() -> None:
    h = HostVars(
        "e1", "prod", "eu-west-1", "edge", pop="dub", zone="eu-west-1a", traffic_weight=0.3,
        address="10.0.0.1", ssh_port=2222, http_port=8080, extra={"lab_root": "/x"},
    )  # fmt: skip
    assert HostVars.from_vars("e1", h.to_vars()) == h
    odd = HostVars.from_vars(
        "h", {"role": "origin", "region": None, "traffic_weight": "n/a", "http_port": "80a"}
    )
    assert (odd.region, odd.role, odd.traffic_weight, odd.http_port, odd.address) == (
        "default", "origin", 0.0, None, "",
    )  # fmt: skip
    assert HostVars.from_vars("h", {"ansible_port": True}).ssh_port is None


def test_lab_host_vars_are_what_its_inventory_writes(tmp_path: Path) -> None:
    lab = _lab(tmp_path)
    written = lab_service.inventory_data(lab)["all"]["hosts"]
    for h in lab.hosts:
        hv = HostVars.from_vars(h.name, written[h.name])
        assert hv == lab_service.host_vars(lab, h)
        assert (hv.address, hv.ssh_port, hv.http_port, hv.env) == (
            h.address, h.ssh_port, h.http_port, "lab",
        )  # fmt: skip


def test_inventory_rendering_gets_router_weights_passed_in(tmp_path: Path) -> None:
    """Rendering reads no traffic state: the weights given are the weights used."""
    lab = _lab(tmp_path)
    (tmp_path / "traffic.json").write_text("not json")  # would fail a mid-render read
    data = lab_service.inventory_data(lab, {"lab-big": 0, "lab-mid": 30, "lab-small": 10})
    assert data["all"]["children"]["router"]["vars"]["router_region_weights"] == {
        "lab-big": 0, "lab-mid": 30, "lab-small": 10,
    }  # fmt: skip


def test_env_target_decides_lab_once(tmp_path: Path) -> None:
    ws = Workspace(REPO)
    prod = env_target.resolve(ws, "prod")
    assert (prod.is_lab, prod.traffic_backend, prod.lab) == (False, "route53", None)
    assert prod.inventory() == (REPO / "inventories" / "prod").resolve()
    lab = env_target.resolve(ws, "lab", tmp_path / "none")
    assert (lab.is_lab, lab.traffic_backend) == (True, "lab-router")
    with pytest.raises(BadInput, match="no lab in"):
        lab.inventory()
    with pytest.raises(BadInput, match="no inventory for env 'nope'"):
        env_target.resolve(ws, "nope").inventory()


def test_one_playbook_resolver(tmp_path: Path) -> None:
    ws = Workspace(REPO)
    edge = (REPO / "playbooks" / "edge.yml").resolve()
    for name in ("edge", "edge.yml", "playbooks/edge.yml", str(edge)):
        assert env_target.resolve_playbook(ws, name) == edge
        assert env_target.resolve_playbook(ws, name, release=True) == edge
    outside = tmp_path / "x.yml"
    outside.write_text("- hosts: all\n")
    assert env_target.resolve_playbook(ws, str(outside)) == outside.resolve()
    with pytest.raises(BadInput, match="is not under"):
        env_target.resolve_playbook(ws, str(outside), release=True)
    with pytest.raises(BadInput, match=r"no playbook 'nope\.yml'"):
        env_target.resolve_playbook(ws, "nope.yml")


def test_one_extra_vars_parser_yaml_and_json() -> None:
    assert parse_extra_vars(
        ['a={"k": [1, 2]}', "b=200", "c=true", "d=not_a_directive on;", "e=", "f=[/a/, /b/]"]
    ) == {"a": {"k": [1, 2]}, "b": 200, "c": True, "d": "not_a_directive on;", "e": "",
          "f": ["/a/", "/b/"]}  # fmt: skip
    for bad in ("novalue", "@vars.yml", "not-an-id=1"):
        with pytest.raises(BadInput):
            parse_extra_vars([bad])
    with pytest.raises(BadInput, match="nested"):
        parse_extra_vars(["v=" + "[" * 5000 + "]" * 5000])


def test_rollout_targets_go_through_the_shared_pieces(tmp_path: Path) -> None:
    from fleetctl.services.rollout import hosts_from_vars, plan_for
    from fleetctl.services.rollout_policy import load_policy

    pol = load_policy(None)
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "edge.yml").write_text("- hosts: all\n  tasks: []\n")
    with pytest.raises(BadInput, match="no inventory for env 'lab'") as exc:
        plan_for(tmp_path, "lab", "edge.yml", pol)
    assert "fleetctl lab up" in exc.value.hint
    (tmp_path / "inventories" / "qa").mkdir(parents=True)
    with pytest.raises(BadInput, match="no inventory for env 'qa'"):
        plan_for(tmp_path, "qa", "edge.yml", pol)
    (tmp_path / "other.yml").write_text("- hosts: all\n  tasks: []\n")
    with pytest.raises(BadInput, match="is not under"):
        plan_for(tmp_path, "qa", "other.yml", pol)
    # The policy's port_var gives the probe port; odd values get HostVars' defaults.
    (h,) = hosts_from_vars(
        {"e1": {"region": None, "fleet_role": "edge", "traffic_weight": "x", "http_port": "81"}},
        pol,
    )
    assert (h.region, h.role, h.traffic_weight, h.port) == ("default", "edge", 0.0, 81)
