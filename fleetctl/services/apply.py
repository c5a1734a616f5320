"""`fleetctl apply`: run a playbook on an environment's inventory (its `EnvTarget`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fleetctl.core.ansible_result import PlaybookResult
from fleetctl.errors import BadInput
from fleetctl.services import secrets as secrets_service
from fleetctl.services import target as env_target
from fleetctl.services.secrets import SecretVar
from fleetctl.services.target import EnvTarget
from fleetctl.services.workspace import Workspace


def apply(
    ws: Workspace,
    playbook: str,
    env: str | EnvTarget,
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
    path = env_target.resolve_playbook(ws, playbook)
    target = env if isinstance(env, EnvTarget) else env_target.resolve(ws, env, lab_dir)
    inventory = inventory or target.inventory()
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
