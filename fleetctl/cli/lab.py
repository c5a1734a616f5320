"""`fleetctl lab ...`: a real fleet on this machine (sshd + nginx per host)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import options, render
from fleetctl.cli.state import state_url, workspace

app = typer.Typer(
    help="A real fleet on this machine: one sshd and nginx per loopback address.",
    no_args_is_help=True,
)

DirOpt = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        envvar="FLEETCTL_LAB_DIR",
        help="Lab directory (default: .fleetctl/lab in the project).",
    ),
]
SubnetOpt = Annotated[
    str,
    typer.Option(
        "--subnet",
        envvar="FLEETCTL_LAB_SUBNET",
        help="Loopback block for host addresses: <subnet>.11, .12, ...",
    ),
]


def lab_dir_of(ctx: typer.Context, lab_dir: Path | None) -> Path:
    from fleetctl.services import lab as lab_service

    if lab_dir is None and not os.environ.get("FLEETCTL_LAB_DIR"):
        return lab_service.resolve_dir(None, workspace(ctx).root)
    return lab_service.resolve_dir(lab_dir)


@app.command("up")
def up(
    ctx: typer.Context,
    hosts: Annotated[int, typer.Option("--hosts", "-n", help="Number of hosts (4-200).")] = 6,
    lab_dir: DirOpt = None,
    subnet: SubnetOpt = "127.0.10",
    strategy: Annotated[
        str, typer.Option("--strategy", help="Ansible strategy: auto, linear or mitogen.")
    ] = "auto",
    no_apply: Annotated[
        bool, typer.Option("--no-apply", help="Start hosts but do not run site.yml.")
    ] = False,
    prometheus: Annotated[
        bool,
        typer.Option(
            "--prometheus",
            help="Also run Prometheus and an mtail exporter per edge (for the slo_burn gate).",
        ),
    ] = False,
    temporal: Annotated[
        bool,
        typer.Option(
            "--temporal",
            help="Also run a Temporal dev server and the rollout workers (a coordinator and "
            "one per region) for `rollout start --engine temporal`.",
        ),
    ] = False,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """Start the lab (or reconcile it) and configure it with site.yml. Idempotent.

    Example:  fleetctl lab up --hosts 6

    With monitoring (Prometheus on <subnet>.1:9090):  fleetctl lab up --prometheus

    With Temporal (a dev server, a worker per region):  fleetctl lab up --temporal
    """
    import time

    from fleetctl.cli.apply_render import Progress
    from fleetctl.services import lab as lab_service

    if strategy not in ("auto", "linear", "mitogen"):
        from fleetctl.errors import BadInput

        raise BadInput(f"unknown strategy {strategy!r}", hint="auto, linear or mitogen")
    ws = workspace(ctx)
    d = lab_dir_of(ctx, lab_dir)
    default_dir = d == lab_service.resolve_dir(None, ws.root) and not os.environ.get(
        "FLEETCTL_LAB_DIR"
    )
    inventory = ws.inventories_dir / "lab" / "hosts.yml" if default_dir else None
    start = time.monotonic()
    progress = Progress(enabled=fmt is render.Format.table)
    lab = lab_service.lab_up(
        hosts,
        lab_dir=d,
        playbooks_dir=ws.playbooks_dir,
        subnet=subnet,
        inventory_copy=inventory,
        apply=not no_apply,
        strategy=strategy,
        on_event=progress.on_event,
        progress=render.note,
        prometheus=prometheus,
        temporal={"root": ws.root, "state_url": state_url(ctx)} if temporal else None,
    )
    progress.close()
    if fmt is render.Format.json:
        render.emit_json(lab.to_json())
        return
    fleet = [h for h in lab.hosts if h.role != "router"]
    router = " + traffic router" if len(fleet) < len(lab.hosts) else ""
    render.ok(
        f"lab up: {len(fleet)} hosts{router} on {lab.subnet}.x in {time.monotonic() - start:.1f}s"
    )
    render.note(f"inventory: {lab.inventory}")
    from fleetctl.services import lab_monitoring

    if lab_monitoring.enabled(Path(lab.dir)):
        render.note(f"prometheus: {lab_monitoring.url(lab)} (mtail on every edge)")
    from fleetctl.services import lab_temporal

    if lab_temporal.enabled(Path(lab.dir)):
        cfg = lab_temporal.config(Path(lab.dir))
        render.note(f"temporal: {cfg['address']} (UI {cfg['ui']}); workers for "
                    f"{', '.join(lab_temporal.regions(lab))}")  # fmt: skip
    render.note("next: fleetctl lab status")


@app.command("status")
def status(
    ctx: typer.Context,
    lab_dir: DirOpt = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """Hosts, role, region, address, process state, deployed release and health.

    Health is an HTTP probe of /healthz plus a video segment fetched through each edge.

    Example:  fleetctl lab status --format json
    """
    from fleetctl.services import lab as lab_service

    lab, rows = lab_service.lab_status(lab_dir_of(ctx, lab_dir))
    if fmt is render.Format.json:
        render.emit_json(
            {"dir": lab.dir, "inventory": lab.inventory, "hosts": [r.to_dict() for r in rows]}
        )
        return
    render.out.print(
        render.table(
            f"lab {lab.dir}",
            ["host", "role", "region", "address", "processes", "release", "health", "segment"],
            [
                (
                    r.host.name,
                    r.host.role,
                    r.host.region,
                    f"{r.host.address}:{r.host.ssh_port}",
                    " ".join(f"{k}={v}" for k, v in r.processes.items()),
                    r.release or "-",
                    r.health,
                    r.segment,
                )
                for r in rows
            ],
        )
    )
    bad = [r.host.name for r in rows if r.health not in ("ok", "n/a", "drained")]
    if bad:
        render.note(f"unhealthy: {', '.join(bad)}")


@app.command("down")
def down(ctx: typer.Context, lab_dir: DirOpt = None) -> None:
    """Stop every lab process and remove the lab directory. Safe to run twice.

    Example:  fleetctl lab down
    """
    from fleetctl.services import lab as lab_service

    d = lab_dir_of(ctx, lab_dir)
    done = lab_service.lab_down(d)
    for line in done:
        render.note(line)
    render.ok("lab down" if done else f"no lab in {d}")


@app.command("stop")
def stop(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="Lab host name.")],
    program: Annotated[str, typer.Argument(help="sshd, nginx or worker.")] = "sshd",
    lab_dir: DirOpt = None,
) -> None:
    """Stop one daemon of one lab host (fault injection: sshd stopped = unreachable).

    Example:  fleetctl lab stop lab-edge-big-01 sshd
    """
    from fleetctl.services import lab as lab_service

    lab_service.stop(lab_dir_of(ctx, lab_dir), host, program)
    render.ok(f"stopped {program} on {host}")


@app.command("start")
def start(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="Lab host name.")],
    program: Annotated[str, typer.Argument(help="sshd, nginx or worker.")] = "sshd",
    lab_dir: DirOpt = None,
) -> None:
    """Start one daemon of one lab host again.

    Example:  fleetctl lab start lab-edge-big-01 sshd
    """
    from fleetctl.services import lab as lab_service

    lab_service.start(lab_dir_of(ctx, lab_dir), host, program)
    render.ok(f"started {program} on {host}")
