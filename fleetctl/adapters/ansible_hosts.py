"""Which hosts a playbook targets, with their inventory vars.

Uses Ansible's own inventory and variable managers (imported inside the
function, never at CLI start-up), so host patterns, groups, children and
group_vars/host_vars resolve exactly as `ansible-playbook` resolves them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fleetctl.errors import BadInput, OutsideError
from fleetctl.spec.safe_yaml import load_yaml_file

_IMPORT_KEYS = ("import_playbook", "ansible.builtin.import_playbook")

# inventories/<env>/fleetctl-inventory runs `$FLEETCTL_PYTHON -m fleetctl`: the
# fleetctl that is running, wherever it is installed (a venv elsewhere, pipx).
PYTHON_ENV = "FLEETCTL_PYTHON"


def inventory_env() -> dict[str, str]:
    """What an inventory script needs to find this fleetctl (for ansible-playbook runs)."""
    return {PYTHON_ENV: sys.executable}


@contextlib.contextmanager
def _inventory_env() -> Iterator[None]:
    """inventory_env() in os.environ while Ansible runs inventory scripts in-process."""
    saved = {k: os.environ.get(k) for k in inventory_env()}
    os.environ.update(inventory_env())
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
    inv = load_inventory(InventoryManager, loader, inventory)
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


def check_inventory(inventory: Path) -> None:
    """Parse the inventory once (running its script): OutsideError with the cause
    when it fails, before a playbook run would only say 'failed to parse'."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    if not inventory.exists():
        raise BadInput(f"no inventory at {inventory}")
    load_inventory(InventoryManager, DataLoader(), inventory)


def load_inventory(manager_cls: Any, loader: Any, inventory: Path) -> Any:
    """Ansible's InventoryManager for `inventory`, but a source that fails to
    parse (e.g. an inventory script that exits non-zero) is an OutsideError
    with its cause, not a warning followed by an empty inventory."""
    import ansible.inventory.manager as manager_mod

    failures: list[tuple[str, str]] = []  # (plugin, why)
    unparsed: list[str] = []
    real = manager_mod.display

    class _Recorder:
        """Ansible's display, except that parse failures are kept, not printed."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def error_as_warning(self, msg: str, exception: BaseException, **_kw: Any) -> None:
            plugin = msg.split("'")[1] if msg.count("'") >= 2 else ""
            why = str(getattr(exception, "message", "") or exception)
            detail = getattr(exception, "_help_text", None)
            if detail:
                why += " " + " ".join(str(detail).split())
            failures.append((plugin, why))

        def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
            if msg.startswith(("Unable to parse", "No inventory was parsed")):
                unparsed.append(msg)
                return
            real.warning(msg, *args, **kwargs)

    manager_mod.display = _Recorder()
    try:
        with _inventory_env():
            inv = manager_cls(loader=loader, sources=[str(inventory.resolve())])
    finally:
        manager_mod.display = real
    if unparsed:
        # an executable is an inventory script: the other plugins' complaints are noise
        scripts = [why for plugin, why in failures if plugin == "script"]
        causes = scripts or [f"{plugin}: {why}" for plugin, why in failures] or unparsed
        raise OutsideError(
            f"inventory {inventory} could not be read: {causes[0]}",
            hint=f"run the inventory by hand to see why: ansible-inventory -i {inventory} --list",
            details=causes[1:],
        )
    return inv
