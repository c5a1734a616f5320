"""What an env is, decided in one place: `EnvTarget`, resolved once per command.

An env is either the lab (`lab`: the running lab on this machine, reached over
its own sshd on loopback with the lab key, traffic moved by the lab's router)
or an inventory env (`inventories/<env>/`, reached as its vars say, traffic
moved by Route 53). Also here: the one playbook resolver.

    target = resolve(ws, env, lab_dir)
    target.inventory()        # what Ansible reads (checked through our YAML limits)
    target.hosts()            # HostVars of every host
    target.traffic_backend    # "lab-router" | "route53"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetctl.core.host_vars import HostVars
from fleetctl.errors import BadInput
from fleetctl.services import lab as lab_service
from fleetctl.services.lab import LAB_ENV, Lab
from fleetctl.services.workspace import Workspace

__all__ = [
    "LAB_ENV",
    "EnvTarget",
    "check_regions",
    "env_regions",
    "is_lab",
    "resolve",
    "resolve_playbook",
    "traffic_backend",
]


def is_lab(env: str | None) -> bool:
    """The one test of "is this env the lab"."""
    return env == LAB_ENV


def traffic_backend(env: str) -> str:
    """What moves viewers between an env's regions: the lab's router, or Route 53."""
    return "lab-router" if is_lab(env) else "route53"


@dataclass(frozen=True)
class EnvTarget:
    """One env as a command acts on it. `lab`: the running lab (None when the
    env is not the lab, or no lab runs in `lab_dir`)."""

    ws: Workspace
    env: str
    lab_dir: Path | None = None  # the lab's directory (env lab only)
    lab: Lab | None = None

    @property
    def is_lab(self) -> bool:
        return is_lab(self.env)

    @property
    def traffic_backend(self) -> str:
        return traffic_backend(self.env)

    @property
    def reach(self) -> str:
        """How Ansible reaches the hosts (for people)."""
        if self.is_lab:
            return "ssh to each lab host's own sshd on loopback, with the lab key"
        return "ssh as the inventory's vars say"

    def require_lab(self) -> Lab:
        """The running lab; BadInput saying how to start one when none runs."""
        if self.lab is None:
            raise BadInput(f"no lab in {self.lab_dir}", hint="start one with: fleetctl lab up")
        return self.lab

    def inventory(self) -> Path:
        """The inventory Ansible reads: the running lab's generated one, else
        inventories/<env>/. Its YAML files are read through our input limits
        first (Ansible has none)."""
        from fleetctl.adapters.ansible_hosts import check_inventory_files

        inv = Path(self.require_lab().inventory) if self.is_lab else self.env_inventory()
        if inv.exists():
            check_inventory_files(inv)
        return inv

    def env_inventory(self) -> Path:
        """inventories/<env>/ of the workspace; BadInput naming the known ones if absent."""
        inv = self.ws.inventories_dir / self.env
        if not inv.exists():
            d = self.ws.inventories_dir
            known = sorted(x.name for x in d.iterdir()) if d.exists() else []
            raise BadInput(
                f"no inventory for env {self.env!r}", hint=f"inventories: {', '.join(known)}"
            )
        return inv.resolve()

    def hosts(self) -> list[HostVars]:
        """Every host of the env: the running lab's own state (in its order), else
        (and for a lab env without a running lab but with inventories/lab/) the
        env's Ansible inventory, by name."""
        if self.is_lab:
            if self.lab is not None:
                return [lab_service.host_vars(self.lab, h) for h in self.lab.hosts]
            if not (self.ws.inventories_dir / self.env / "hosts.yml").exists():
                self.require_lab()
        from fleetctl.adapters.ansible_hosts import hosts_matching

        found = hosts_matching(self.env_inventory(), ["all"])
        return [HostVars.from_vars(n, v) for n, v in sorted(found.items())]


def env_regions(ws: Workspace, env: str) -> list[str]:
    """Every region `env` has hosts in (lab: the lab's regions), from the spec alone:
    no lab, inventory script or network needed to check a --region."""
    if is_lab(env):
        return sorted([r for r, _pop, _w in lab_service.LAB_REGIONS] + [lab_service.CORE_REGION[0]])
    from fleetctl.spec import load_fleet

    return sorted({s.region for s in load_fleet(ws.stacks_dir).select(env)})


def check_regions(ws: Workspace, env: str, regions: list[str], flag: str = "--region") -> None:
    """BadInput naming the regions `env` does not have, and the ones it has."""
    known = env_regions(ws, env)
    unknown = [r for r in dict.fromkeys(regions) if r not in known]
    if unknown:
        raise BadInput(
            f"{flag} {', '.join(unknown)}: not a region of {env}",
            hint=f"regions of {env}: {', '.join(known) or 'none'}",
        )


def resolve(ws: Workspace, env: str, lab_dir: Path | None = None) -> EnvTarget:
    """The env as this command sees it (the lab: its directory and state, read once)."""
    if not is_lab(env):
        return EnvTarget(ws, env)
    d = lab_service.resolve_dir(lab_dir, ws.root)
    return EnvTarget(ws, env, lab_dir=d, lab=lab_service.load_lab(d))


def resolve_playbook(ws: Workspace, name: str, *, release: bool = False) -> Path:
    """A playbook by name in playbooks/ ("site", "edge.yml", "playbooks/edge.yml")
    or by path. `release`: it must live under playbooks/ (a release snapshots
    that directory)."""
    playbooks = ws.playbooks_dir
    candidates = [Path(name), ws.root / name, playbooks / name, playbooks / f"{name}.yml"]
    for c in candidates:
        if not c.is_file():
            continue
        path = c.resolve()
        if release and not path.is_relative_to(playbooks.resolve()):
            raise BadInput(
                f"{name} is not under {playbooks}",
                hint="a release snapshots playbooks/; keep the playbook there",
            )
        return path
    known = sorted(x.stem for x in playbooks.glob("*.yml"))
    raise BadInput(
        f"no playbook {name!r} in {playbooks}", hint=f"playbooks: {', '.join(known) or 'none'}"
    )
