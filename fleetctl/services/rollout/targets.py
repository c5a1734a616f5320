"""What a rollout runs on: the playbook (under playbooks/), its target hosts
in `inventories/<env>/`, and the plan made from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetctl.core.planner import Host, Plan, PlanError, make_plan
from fleetctl.core.policy import Policy
from fleetctl.errors import BadInput


def resolve_playbook(root: Path, playbook: str) -> Path:
    """`edge.yml`, `playbooks/edge.yml` or a path: must live under playbooks/."""
    candidates = [Path(playbook), root / playbook, root / "playbooks" / playbook]
    for c in candidates:
        if c.is_file():
            path = c.resolve()
            try:
                path.relative_to((root / "playbooks").resolve())
            except ValueError:
                raise BadInput(
                    f"{playbook} is not under {root / 'playbooks'}",
                    hint="a release snapshots playbooks/; keep the playbook there",
                ) from None
            return path
    raise BadInput(f"no playbook {playbook!r} in {root / 'playbooks'}")


def hosts_from_vars(hostvars: dict[str, dict[str, Any]], policy: Policy) -> list[Host]:
    port_var = policy.gates.http.port_var
    hosts = []
    for name, v in hostvars.items():
        port = v.get(port_var) if port_var else None
        hosts.append(
            Host(
                name=name,
                region=str(v.get("region", "default")),
                role=str(v.get("fleet_role", v.get("role", ""))),
                traffic_weight=float(v.get("traffic_weight", 0.0) or 0.0),
                address=str(v.get("ansible_host", "")),
                port=int(port) if isinstance(port, int | str) and str(port).isdigit() else None,
            )
        )
    return hosts


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

    path = resolve_playbook(root, playbook)
    inventory = root / "inventories" / env
    sources = (
        [p for p in inventory.iterdir() if not p.name.endswith(".md") and p.name[0] != "."]
        if inventory.is_dir()
        else [inventory]
        if inventory.exists()
        else []
    )
    if not sources:
        raise BadInput(
            f"no inventory for env {env!r} ({inventory})",
            hint="for the lab run `fleetctl lab up` first (rollouts use the lab at its "
            "default place, which writes inventories/lab/hosts.yml)",
        )
    hostvars = {h: v for h, v in target_hosts(inventory, path).items() if h not in exclude}
    try:
        return path, make_plan(hosts_from_vars(hostvars, policy), policy)
    except PlanError as exc:
        raise BadInput(f"cannot plan {playbook} on {env}: {exc}") from None


def group_of(env: str, playbook: Path | str) -> str:
    """The unit of last known-good: one per env and playbook."""
    return f"{env}/{Path(playbook).name}"
