"""What a rollout runs on: the playbook (under playbooks/), its target hosts
in `inventories/<env>/`, and the plan made from them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fleetctl.core.host_vars import HostVars, int_var
from fleetctl.core.planner import Host, Plan, PlanError, make_plan
from fleetctl.core.policy import Policy
from fleetctl.errors import BadInput
from fleetctl.services import target as env_target
from fleetctl.services.workspace import Workspace

_LAB_HINT = (
    "for the lab run `fleetctl lab up` first (rollouts use the lab at its "
    "default place, which writes inventories/lab/hosts.yml)"
)


def hosts_from_vars(hostvars: Mapping[str, Mapping[str, Any]], policy: Policy) -> list[Host]:
    """The planner's hosts from inventory vars; the HTTP port is the policy's `port_var`."""
    port_var = policy.gates.http.port_var
    hosts = []
    for name, v in hostvars.items():
        hv = HostVars.from_vars(name, v)
        hosts.append(
            Host(
                name=hv.name,
                region=hv.region,
                role=hv.role,
                traffic_weight=hv.traffic_weight,
                address=hv.address,
                port=int_var(v, port_var),
            )
        )
    return hosts


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
        return path, make_plan(hosts_from_vars(hostvars, policy), policy)
    except PlanError as exc:
        raise BadInput(f"cannot plan {playbook} on {env}: {exc}") from None


def group_of(env: str, playbook: Path | str) -> str:
    """The unit of last known-good: one per env and playbook."""
    return f"{env}/{Path(playbook).name}"
