"""`fleetctl apply`: run a playbook on an environment's inventory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fleetctl.core.ansible_result import PlaybookResult
from fleetctl.errors import BadInput
from fleetctl.services import lab as lab_service
from fleetctl.services import secrets as secrets_service
from fleetctl.services.secrets import SecretVar
from fleetctl.services.workspace import Workspace
from fleetctl.spec.safe_yaml import MAX_BYTES, YamlLimitError, load_yaml_text


def resolve_playbook(ws: Workspace, name: str) -> Path:
    """A path to a playbook, or a name in playbooks/ ("site", "edge.yml")."""
    p = Path(name)
    if p.is_file():
        return p.resolve()
    for candidate in (ws.playbooks_dir / name, ws.playbooks_dir / f"{name}.yml"):
        if candidate.is_file():
            return candidate.resolve()
    known = sorted(x.stem for x in ws.playbooks_dir.glob("*.yml"))
    raise BadInput(f"no playbook {name!r}", hint=f"playbooks: {', '.join(known) or 'none'}")


def resolve_inventory(ws: Workspace, env: str, lab_dir: Path | None = None) -> Path:
    """lab: the running lab's generated inventory; other envs: inventories/<env>/.

    Its YAML files are read through our input limits first (Ansible has none).
    """
    from fleetctl.adapters.ansible_hosts import check_inventory_files

    if env == "lab":
        lab = lab_service.require(lab_service.resolve_dir(lab_dir, ws.root))
        inv = Path(lab.inventory)
    else:
        inv = env_inventory(ws, env)
    if inv.exists():
        check_inventory_files(inv)
    return inv


def env_inventory(ws: Workspace, env: str) -> Path:
    """inventories/<env>/ of the workspace; BadInput naming the known ones if absent."""
    inv = ws.inventories_dir / env
    if not inv.exists():
        known = (
            sorted(x.name for x in ws.inventories_dir.iterdir())
            if ws.inventories_dir.exists()
            else []
        )
        raise BadInput(f"no inventory for env {env!r}", hint=f"inventories: {', '.join(known)}")
    return inv.resolve()


def parse_extravars(pairs: list[str]) -> dict[str, Any]:
    """-e key=value (value parsed as YAML: numbers, lists, booleans)."""
    if not pairs:
        return {}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise BadInput(f"bad extra var {pair!r}", hint="use -x name=value")
        if len(value.encode()) > MAX_BYTES:
            raise BadInput(f"extra var {key!r} is larger than {MAX_BYTES // 1024} KiB")
        try:
            out[key] = load_yaml_text(value, f"-x {key}", typ="safe") if value else ""
        except YamlLimitError as exc:
            if not exc.syntax:  # depth, alias bomb, control characters: refuse
                raise BadInput(
                    f"extra var --extra-var {key}: {exc.problem}", hint="pass a plain value"
                ) from None
            out[key] = value  # not YAML: the text itself
    return out


def apply(
    ws: Workspace,
    playbook: str,
    env: str,
    *,
    limit: str | None = None,
    check: bool = False,
    diff: bool = False,
    forks: int | None = None,
    strategy: str = "auto",
    extravars: dict[str, Any] | None = None,
    secrets: Sequence[SecretVar] = (),
    allow_plain_secrets: bool = False,
    inventory: Path | None = None,
    lab_dir: Path | None = None,
    timeout_s: float | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> PlaybookResult:
    from fleetctl.adapters.ansible import run_playbook
    from fleetctl.adapters.ansible_hosts import check_inventory

    if strategy not in ("auto", "linear", "mitogen"):
        raise BadInput(f"unknown strategy {strategy!r}", hint="auto, linear or mitogen")
    if forks is not None and forks < 1:
        raise BadInput("--forks must be at least 1")
    secrets_service.refuse_plain(extravars or {}, allow=allow_plain_secrets)
    secrets_service.check_names(extravars or {}, secrets)
    extravars = {**(extravars or {}), **{s.name: s.value for s in secrets}}
    path = resolve_playbook(ws, playbook)
    inventory = inventory or resolve_inventory(ws, env, lab_dir)
    check_inventory(inventory)
    result = run_playbook(
        path,
        inventory,
        limit=limit,
        check=check,
        diff=diff,
        forks=forks,
        extravars=extravars or None,
        strategy=strategy,  # type: ignore[arg-type]
        timeout_s=timeout_s,
        on_event=on_event,
    )
    return _scrubbed(result, [s.value for s in secrets])


def _scrubbed(result: PlaybookResult, values: list[str]) -> PlaybookResult:
    """What Ansible said back (failed tasks' messages, diffs, its output) may
    quote a secret var: never print it."""
    if not values:
        return result

    def scrub(v: Any) -> Any:
        return secrets_service.scrub(v, values)

    hosts = {
        h: replace(o, failed_msgs=scrub(o.failed_msgs), diffs=scrub(o.diffs))
        for h, o in result.hosts.items()
    }
    return replace(
        result, hosts=hosts, error=scrub(result.error), stdout_tail=scrub(result.stdout_tail)
    )
