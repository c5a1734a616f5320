"""`fleetctl metrics serve|dump`: `fleetctl status` as Prometheus metrics."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from fleetctl.cli import options, render
from fleetctl.cli.options import Env
from fleetctl.cli.state import state_url, workspace
from fleetctl.cli.status import SourceOpt, TimeoutOpt
from fleetctl.errors import OutsideError

app = typer.Typer(
    help="Fleet health, release mix, rollout state and gate verdicts for Prometheus.",
    no_args_is_help=True,
)

EnvOpt = Env


@app.command("serve")
def serve(
    ctx: typer.Context,
    env: EnvOpt,
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port.")] = 9464,
    address: Annotated[
        str, typer.Option("--address", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.0,
            help="Reuse a snapshot for this many seconds; scrapes in between do not probe.",
        ),
    ] = 10.0,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0.1, help="Stop after this many seconds (tests, demos)."),
    ] = None,
    timeout: TimeoutOpt = 2.0,
    lab_dir: options.LabDir = None,
    host_source: SourceOpt = "inventory",
) -> None:
    """Serve /metrics (Prometheus text format) until Ctrl-C.

    Every scrape older than --interval takes a fresh `fleetctl status` snapshot;
    the numbers are the same as `fleetctl status --format json` shows. Metric
    names start with fleet_ (docs/monitoring.md lists them; a Grafana dashboard
    and a scrape config are in docs/monitoring/).

    Example:  fleetctl metrics serve --env lab --port 9464
    """
    from fleetctl.services import metrics as msvc
    from fleetctl.services import status as svc

    source = svc.StatusSource(
        workspace(ctx),
        env,
        state_url=state_url(ctx),
        lab_dir=lab_dir,
        timeout_s=timeout,
        source=host_source,
    )
    source.targets()  # a bad env or a missing lab fails now, not at the first scrape
    collector = msvc.FleetCollector(source.snapshot, env, ttl_s=interval)
    try:
        server, thread = msvc.serve(collector, address, port)
    except OSError as exc:  # the port is taken: the environment, not the flags (exit 3)
        raise OutsideError(
            f"cannot listen on {address}:{port}: {exc.strerror or exc}",
            hint="pick another --port (or --port 0 for any free one)",
        ) from None
    host, real_port = server.server_address[:2]
    render.ok(f"serving http://{host}:{real_port}/metrics for env {env} (Ctrl-C stops)")
    try:
        end = None if duration is None else time.monotonic() + duration
        while end is None or time.monotonic() < end:
            time.sleep(0.2 if end is None else max(0.0, min(0.2, end - time.monotonic())))
    except KeyboardInterrupt:
        render.note("stopped")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@app.command("dump")
def dump(
    ctx: typer.Context,
    env: EnvOpt,
    timeout: TimeoutOpt = 2.0,
    lab_dir: options.LabDir = None,
    host_source: SourceOpt = "inventory",
) -> None:
    """Print the metrics once (Prometheus text format) on stdout, e.g. for
    node_exporter's textfile collector.

    Example:  fleetctl metrics dump --env lab > /var/lib/node_exporter/fleet.prom
    """
    import sys

    from fleetctl.services import metrics as msvc
    from fleetctl.services import status as svc

    snap = svc.snapshot(
        workspace(ctx),
        env,
        state_url=state_url(ctx),
        lab_dir=lab_dir,
        timeout_s=timeout,
        source=host_source,
    )
    sys.stdout.write(msvc.exposition(snap))
    sys.stdout.flush()
