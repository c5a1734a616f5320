"""`fleetctl apply`: run a playbook on an environment, with live per-host progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import options, render
from fleetctl.cli.options import Env
from fleetctl.cli.state import workspace


def apply(
    ctx: typer.Context,
    playbook: Annotated[
        str, typer.Argument(help="Playbook name in playbooks/ (site, edge) or a path.")
    ],
    env: Env,
    limit: Annotated[
        str | None, typer.Option("--limit", "-l", help="Ansible host pattern.")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Dry run: report, change nothing.")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show file changes.")] = False,
    forks: Annotated[
        int | None, typer.Option("--forks", help="Parallel hosts (default 2 x cores).")
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help="auto (mitogen when usable), linear or mitogen.")
    ] = "auto",
    extra: Annotated[
        list[str] | None,
        typer.Option("--extra-var", "-x", help="Extra var name=value (repeatable)."),
    ] = None,
    secret_var: options.SecretVars = None,
    allow_plain_secrets: options.AllowPlainSecrets = False,
    inventory: Annotated[
        Path | None, typer.Option("--inventory", "-i", help="Inventory path (default: by env).")
    ] = None,
    lab_dir: options.LabDir = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Abort after this many seconds.")
    ] = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """Apply a playbook to an environment and report ok/changed/failed/unreachable per host.

    Exit 1 when a host failed or was unreachable (listed apart), 3 when Ansible could not run.

    Example:  fleetctl apply site --env lab --check --diff

    Example:  FLEETCTL_SECRET_DB_PASSWORD=... fleetctl apply site --env lab --secret-var db_password
    """
    from fleetctl.cli.apply_render import Progress, summary
    from fleetctl.core.ansible_result import RunStatus
    from fleetctl.errors import JobFailed, OutsideError
    from fleetctl.services import apply as apply_service
    from fleetctl.services import secrets as secrets_service
    from fleetctl.services.extra_vars import parse_extra_vars

    ws = workspace(ctx)
    extravars = parse_extra_vars(extra or [])
    secrets = secrets_service.read(secret_var or [], prompt=options.secret_prompt())
    progress = Progress(enabled=fmt is render.Format.table)
    try:
        result = apply_service.apply(
            ws,
            playbook,
            env,
            limit=limit,
            check=check,
            diff=diff,
            forks=forks,
            strategy=strategy,
            extravars=extravars,
            secrets=secrets,
            allow_plain_secrets=allow_plain_secrets,
            inventory=inventory,
            lab_dir=lab_dir,
            timeout_s=timeout,
            on_event=progress.on_event,
        )
    finally:
        progress.close()
    for notice in result.notices:
        render.note(notice)
    if fmt is render.Format.json:
        render.emit_json(result.to_dict())
    else:
        summary(result)
    if result.status is RunStatus.error:
        raise OutsideError(
            "ansible could not run the playbook",
            details=[result.error] if result.error else list(result.stdout_tail[-10:]),
        )
    if result.status in (RunStatus.canceled, RunStatus.timeout):
        raise JobFailed(f"apply {result.status}")
    failed, unreachable = result.failed_hosts, result.unreachable_hosts
    if failed or unreachable:
        details = []
        if failed:
            details.append(f"failed: {', '.join(failed)}")
        if unreachable:
            details.append(f"unreachable: {', '.join(unreachable)}")
        raise JobFailed(
            f"{len(failed)} host(s) failed, {len(unreachable)} unreachable", details=details
        )
