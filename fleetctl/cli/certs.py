"""`fleetctl certs status|rotate`: the edges' TLS certificates."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fleetctl.cli import render
from fleetctl.cli.options import Env, LabDir
from fleetctl.cli.state import workspace
from fleetctl.cli.status import TimeoutOpt
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
    lab_dir: LabDir = None,
) -> None:
    """Each edge's certificate, read by a verified TLS handshake: subject,
    SHA-256 fingerprint, not-after and days left. Exits 1 when a handshake
    fails or a certificate expires within --warn-days.

    Example:  fleetctl certs status --env lab --warn-days 30
    """
    from fleetctl.core.certs import cert_problems
    from fleetctl.services import certs as svc
    from fleetctl.services.status import read_certs

    readings = read_certs(svc.tls_targets(workspace(ctx), env, lab_dir), timeout)
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


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    env: Env,
    cert: Annotated[Path, typer.Option("--cert", help="The new certificate (one PEM).")],
    key: Annotated[
        Path,
        typer.Option("--key", help="Its private key (PEM); passed as a secret var, never kept."),
    ],
    policy: Annotated[
        Path | None,
        typer.Option("--policy", "-p", help="Rollout policy YAML (default: built-in defaults)."),
    ] = None,
    ca_file: Annotated[
        str | None,
        typer.Option(
            "--ca-file",
            help="CA to verify edges against (default: the lab's / the inventory's tls_ca_file).",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    lab_dir: LabDir = None,
    fmt: Annotated[render.Format, typer.Option("--format", help="Output format.")] = (
        render.Format.table
    ),
) -> None:
    """Roll a new certificate out to the env's edges as a rollout of
    playbooks/certs.yml: canary, waves, and after each step the `tls_cert`
    gate (each changed edge presents the new SHA-256 fingerprint in a
    verified handshake) beside the HTTP gates over https. A failure rolls
    back to the previous certificate, proven the same way. The key goes in
    as the secret var edge_tls_key: it is in no output, journal or release.

    The first rotation of an env first records the edges' current
    (bootstrap) certificates as the group's last known-good, so there is
    always something to roll back to.

    Example:  fleetctl certs rotate --env lab --cert new.crt --key new.key --yes
    """
    from fleetctl.cli.rollout_render import print_event
    from fleetctl.cli.state import open_state
    from fleetctl.services import certs as svc
    from fleetctl.services import secrets
    from fleetctl.services.rollout import (
        Engine,
        group_of,
        last_known_good,
        raise_for,
    )
    from fleetctl.services.rollout_policy import load_policy
    from fleetctl.services.target import resolve_playbook

    ws = workspace(ctx)
    new = svc.read_pair(cert, key)
    pol = svc.rotate_policy(load_policy(policy), ca_file or svc.ca_of(ws, env, lab_dir))
    values = secrets.read([f"{svc.KEY_VAR}=@{key}"], prompt=None)
    render.note(f"new certificate {new.subject}, sha256 {new.sha256[:16]}, until {new.not_after}")

    def confirm(p: Any, rel: Any) -> bool:
        route = " → ".join(f"{s.label} ({len(s.hosts)})" for s in p.steps[:6])
        render.note(f"release {rel.id}, plan {p.digest()}: {route}")
        if yes or not sys.stdin.isatty():
            return True
        return typer.confirm(f"Rotate the certificate of {p.host_count} edges on {env}?")

    store = open_state(ctx, write=True)
    try:
        group = group_of(env, resolve_playbook(ws, svc.PLAYBOOK, release=True))
        if last_known_good(store, group) is None:
            render.note(
                f"{group} has no last known-good release: first recording the edges' "
                "current certificates (certs.yml without a certificate) to roll back to"
            )
            base = Engine(store, ws.root, on_event=print_event).start(
                env, svc.PLAYBOOK, pol, extravars={}, confirm=confirm
            )
            raise_for(base)
        outcome = Engine(store, ws.root, on_event=print_event, secrets=values).start(
            env,
            svc.PLAYBOOK,
            pol,
            extravars={svc.CERT_VAR: new.pem},
            policy_file=str(policy) if policy else None,
            confirm=confirm,
        )
        if fmt is render.Format.json:
            render.emit_json(
                {
                    "id": outcome.id,
                    "status": outcome.status.value,
                    "message": outcome.message,
                    "sha256": new.sha256,
                }
            )
        raise_for(outcome)
        render.ok(f"certificate {new.sha256[:16]} rolled out: rollout {outcome.id}")
    finally:
        store.close()


@app.command("issue")
def issue(
    ctx: typer.Context,
    cert: Annotated[Path, typer.Option("--cert", help="Where to write the certificate.")],
    key: Annotated[Path, typer.Option("--key", help="Where to write its key (mode 0600).")],
    days: Annotated[float, typer.Option("--days", min=0.01, help="Validity in days.")] = 90.0,
    lab_dir: LabDir = None,
) -> None:
    """Lab only: a new certificate from the lab CA for every edge's address
    (what a real CA would hand you), ready for `certs rotate`.

    Example:  fleetctl certs issue --cert new.crt --key new.key --days 60
    """
    from fleetctl.adapters import tls
    from fleetctl.services import lab as lab_service

    lab = lab_service.require(lab_service.resolve_dir(lab_dir, workspace(ctx).root))
    addresses = [h.address for h in lab.by_role("edge")]
    pem, key_pem = tls.issue(
        Path(lab.dir) / lab_service.TLS_DIR, "edges.lab", addresses=addresses, days=days
    )
    tls.write_pair(cert, key, pem, key_pem)
    render.ok(f"wrote {cert} (sha256 {tls.fingerprint(pem)[:16]}, {days:g} days) and {key} (0600)")
