"""`fleetctl certs status|rotate`: the edges' TLS certificates."""

from __future__ import annotations

from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.options import Env
from fleetctl.cli.state import workspace
from fleetctl.cli.status import LabDirOpt, TimeoutOpt
from fleetctl.errors import JobFailed

app = typer.Typer(help="The edges' TLS certificates: status and rotation.", no_args_is_help=True)

WarnDaysOpt = Annotated[
    float,
    typer.Option("--warn-days", min=0.0, help="A certificate expiring sooner is a problem."),
]


@app.command("status")
def status(
    ctx: typer.Context,
    env: Env,
    warn_days: WarnDaysOpt = 21.0,
    fmt: Annotated[render.Format, typer.Option("--format", help="Output format.")] = (
        render.Format.table
    ),
    timeout: TimeoutOpt = 3.0,
    lab_dir: LabDirOpt = None,
) -> None:
    """Each edge's certificate, read by a verified TLS handshake: subject,
    SHA-256 fingerprint, not-after and days left. Exits 1 when a handshake
    fails or a certificate expires within --warn-days.

    Example:  fleetctl certs status --env lab --warn-days 30
    """
    from fleetctl.core.certs import cert_problems
    from fleetctl.services import certs as svc

    readings = svc.read_all(svc.tls_targets(workspace(ctx), env, lab_dir), timeout)
    problems = cert_problems(readings, warn_days)
    if fmt is render.Format.json:
        render.emit_json(
            {
                "env": env,
                "warn_days": warn_days,
                "ok": not problems,
                "certs": [r.to_dict() for r in readings],
                "problems": [p.to_dict() for p in problems],
            }
        )
    else:
        rows = [
            (
                r.host,
                f"{r.address}:{r.port}",
                r.subject or "-",
                r.sha256[:16] or "-",
                r.not_after[:19] or "-",
                round(r.days_left, 1) if r.days_left is not None else "-",
                r.error or "ok",
            )
            for r in readings
        ]
        render.out.print(
            render.table(
                f"certificates of {env}",
                ["host", "endpoint", "subject", "sha256", "not after (UTC)", "days", "check"],
                rows,
            )
        )
        for p in problems:
            render.note(f"{p.severity}: {p.message}")
    if problems:
        raise JobFailed(
            f"{len(problems)} certificate problem(s) in {env}",
            hint="rotate: fleetctl certs rotate --env ENV --cert FILE --key FILE",
        )
