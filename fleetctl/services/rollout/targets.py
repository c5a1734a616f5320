"""What a rollout runs on: the playbook (under playbooks/), its target hosts
in `inventories/<env>/`, and the plan made from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fleetctl.core.host_vars import HostVars, int_var
from fleetctl.core.planner import Host, Plan, PlanError, make_plan
from fleetctl.core.policy import Policy
from fleetctl.errors import BadInput, OutsideError
from fleetctl.services import target as env_target
from fleetctl.services.workspace import Workspace

_LAB_HINT = (
    "for the lab run `fleetctl lab up` first (rollouts use the lab at its "
    "default place, which writes inventories/lab/hosts.yml)"
)


def probe_endpoint(v: Mapping[str, Any], policy: Policy) -> tuple[str, int | None, str]:
    """(scheme, port, CA file) a host's probes use. `scheme: auto` follows the
    env: a host that declares `https_port` is probed over https there (the
    policy's `ca_file`, else the host's `tls_ca_file`); else http on `port_var`."""
    cfg = policy.gates.http
    https_port = int_var(v, "https_port")
    if cfg.scheme == "https" or (cfg.scheme == "auto" and https_port is not None):
        port = https_port if cfg.scheme == "auto" else int_var(v, cfg.port_var)
        return "https", port, cfg.ca_file or str(v.get("tls_ca_file") or "")
    return "http", int_var(v, cfg.port_var), ""


def hosts_from_vars(hostvars: Mapping[str, Mapping[str, Any]], policy: Policy) -> list[Host]:
    """The planner's hosts from inventory vars, each with where its probes go
    (`probe_endpoint`)."""
    hosts = []
    for name, v in hostvars.items():
        hv = HostVars.from_vars(name, v)
        scheme, port, ca_file = probe_endpoint(v, policy)
        hosts.append(
            Host(
                name=hv.name,
                region=hv.region,
                role=hv.role,
                traffic_weight=hv.traffic_weight,
                address=hv.address,
                port=port,
                scheme=scheme,
                ca_file=ca_file,
            )
        )
    return hosts


def check_ca_files(hosts: Sequence[Host], policy: Policy) -> None:
    """Every CA file the probes will verify against can be read and holds a
    certificate: a bad one is a clear error before anything runs, not a
    gate that cannot tell a broken edge from a broken CA path. The policy's
    file: exit 2; the inventory's (e.g. a lab that is not up): exit 3."""
    from fleetctl.adapters import tls

    probed = set(policy.gates.http.roles)
    seen: set[str] = set()
    for h in hosts:
        if h.scheme != "https" or not h.ca_file or h.role not in probed or h.ca_file in seen:
            continue
        seen.add(h.ca_file)
        problem = tls.ca_problem(h.ca_file)
        if not problem:
            continue
        if h.ca_file == policy.gates.http.ca_file:
            raise BadInput(
                f"gates.http.ca_file {h.ca_file}: {problem}",
                hint="a PEM file with the CA certificate(s) the edges' certificates chain to "
                "(relative to the working directory)",
            )
        raise OutsideError(
            f"CA file {h.ca_file} (host var tls_ca_file of {h.name}): {problem}",
            hint="for the lab run `fleetctl lab up` (it writes the lab CA); or set "
            "gates.http.ca_file in the rollout policy",
        )


def _inventory(ws: Workspace, env: str) -> Path:
    """inventories/<env>/ with at least one inventory source in it.

    The rollout reads the inventory directory (the lab writes inventories/lab/),
    not the running lab's state: so no `target.resolve` (which loads lab.json).
    """
    try:
        inventory = env_target.EnvTarget(ws, env).env_inventory()
    except BadInput as exc:
        if not env_target.is_lab(env):
            raise
        raise BadInput(exc.message, hint=_LAB_HINT) from None
    sources = (
        [p for p in inventory.iterdir() if not p.name.endswith(".md") and p.name[0] != "."]
        if inventory.is_dir()
        else [inventory]
    )
    if not sources:
        raise BadInput(
            f"no inventory for env {env!r} ({inventory})",
            hint=_LAB_HINT if env_target.is_lab(env) else "",
        )
    return inventory


def plan_for(
    root: Path,
    env: str,
    playbook: str,
    policy: Policy,
    exclude: frozenset[str] = frozenset(),
) -> tuple[Path, Plan]:
    """Resolve the playbook and its target hosts in `inventories/<env>/`, and plan.

    Hosts in `exclude` (drained ones) are left out: a drained host answers 503
    on /healthz, which would fail the gates, and is not serving viewers anyway.
    """
    from fleetctl.adapters.ansible_hosts import target_hosts

    ws = Workspace(root)
    path = env_target.resolve_playbook(ws, playbook, release=True)
    inventory = _inventory(ws, env)
    hostvars = {h: v for h, v in target_hosts(inventory, path).items() if h not in exclude}
    try:
        plan = make_plan(hosts_from_vars(hostvars, policy), policy)
    except PlanError as exc:
        raise BadInput(f"cannot plan {playbook} on {env}: {exc}") from None
    check_ca_files(plan.hosts, policy)
    return path, plan


def group_of(env: str, playbook: Path | str) -> str:
    """The unit of last known-good: one per env and playbook."""
    return f"{env}/{Path(playbook).name}"
