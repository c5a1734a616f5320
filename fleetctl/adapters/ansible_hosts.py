"""Which hosts a playbook targets, with their inventory vars.

Uses Ansible's own inventory and variable managers (imported inside the
function, never at CLI start-up), so host patterns, groups, children and
group_vars/host_vars resolve exactly as `ansible-playbook` resolves them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetctl.errors import BadInput, OutsideError
from fleetctl.spec.safe_yaml import load_yaml_file

_IMPORT_KEYS = ("import_playbook", "ansible.builtin.import_playbook")


def play_patterns(playbook: Path, _seen: frozenset[Path] = frozenset()) -> list[str]:
    """The `hosts:` pattern of every play, following `import_playbook`."""
    path = playbook.resolve()
    if path in _seen:
        return []
    doc = load_yaml_file(path, typ="safe")
    if not isinstance(doc, list):
        raise BadInput(f"{playbook}: a playbook is a list of plays")
    patterns: list[str] = []
    for play in doc:
        if not isinstance(play, dict):
            continue
        imported = next((play[k] for k in _IMPORT_KEYS if k in play), None)
        if isinstance(imported, str):
            patterns += play_patterns(path.parent / imported, _seen | {path})
            continue
        hosts = play.get("hosts")
        if isinstance(hosts, list):
            patterns.append(":".join(str(h) for h in hosts))
        elif hosts is not None:
            patterns.append(str(hosts))
    return patterns


def check_inventory_files(inventory: Path) -> None:
    """Read every YAML file of an inventory (hosts.yml, group_vars/, host_vars/)
    through our limits first: Ansible's own loader has none, so an alias bomb
    or a 5 MB file would hang it."""
    if inventory.is_file():  # Ansible also reads group_vars/ and host_vars/ beside it
        files = [inventory]
        for sub in ("group_vars", "host_vars"):
            files += sorted((inventory.parent / sub).rglob("*"))
    else:
        files = sorted(inventory.rglob("*"))
    for path in files:
        if path.is_file() and path.suffix in (".yml", ".yaml"):
            load_yaml_file(path, typ="safe")


def target_hosts(inventory: Path, playbook: Path) -> dict[str, dict[str, Any]]:
    """Every host the playbook's plays match, name -> its merged inventory vars."""
    patterns = play_patterns(playbook)
    if not patterns:
        raise BadInput(f"{playbook}: no play with `hosts:`")
    return hosts_matching(inventory, patterns)


def hosts_matching(inventory: Path, patterns: list[str]) -> dict[str, dict[str, Any]]:
    """Every host of the inventory matching any pattern ("all": every host),
    name -> its merged inventory vars (scalars only)."""
    try:
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.vars.manager import VariableManager
    except ImportError as exc:  # pragma: no cover - ansible-core is a dependency
        raise OutsideError(f"ansible-core is not importable: {exc}") from exc
    if not inventory.exists():
        raise BadInput(f"no inventory at {inventory}")
    check_inventory_files(inventory)
    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[str(inventory.resolve())])
    variables = VariableManager(loader=loader, inventory=inv)
    out: dict[str, dict[str, Any]] = {}
    for pattern in patterns:
        for host in inv.get_hosts(pattern=pattern):
            if host.name in out:
                continue
            hv = variables.get_vars(host=host, include_hostvars=False)
            out[host.name] = {
                k: v
                for k, v in hv.items()
                if isinstance(v, str | int | float | bool) and not k.startswith("ansible_facts")
            }
    return dict(sorted(out.items()))
