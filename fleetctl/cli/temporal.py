"""`--engine temporal` options and `fleetctl worker` (a regional executor).

Connection: `--temporal host:port` (or FLEETCTL_TEMPORAL), `--temporal-namespace`
(FLEETCTL_TEMPORAL_NAMESPACE); for a real cluster, mTLS files
`--temporal-tls-ca/-cert/-key` (or FLEETCTL_TEMPORAL_TLS_CA/CERT/KEY).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from fleetctl.cli import options, render
from fleetctl.cli.state import state_url, workspace


class EngineName(StrEnum):
    local = "local"
    temporal = "temporal"


EngineOpt = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="local: this process runs the rollout (default). temporal: a coordinator "
        "workflow on a Temporal server and regional workers (`fleetctl worker`) run it.",
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--temporal",
        help="Temporal server host:port [env FLEETCTL_TEMPORAL; "
        "default 127.0.0.1:7233, the lab's].",
    ),
]
NamespaceOpt = Annotated[
    str | None,
    typer.Option("--temporal-namespace", help="Temporal namespace [default: default]."),
]
TlsCaOpt = Annotated[
    Path | None, typer.Option("--temporal-tls-ca", help="PEM of the cluster's CA (TLS).")
]
TlsCertOpt = Annotated[
    Path | None, typer.Option("--temporal-tls-cert", help="This client's certificate (mTLS).")
]
TlsKeyOpt = Annotated[
    Path | None, typer.Option("--temporal-tls-key", help="This client's private key (mTLS).")
]
ParallelOpt = Annotated[
    int,
    typer.Option(
        "--max-parallel-regions",
        min=1,
        max=1000,
        help="--engine temporal: regions rolled out at once after the canary "
        "(1 = one after the other in traffic order).",
    ),
]


def settings(
    address: str | None,
    namespace: str | None = None,
    ca: Path | None = None,
    cert: Path | None = None,
    key: Path | None = None,
    *,
    ctx: typer.Context | None = None,
    env: str | None = None,
) -> Any:
    """Connection settings; for `--env lab` with neither flag nor FLEETCTL_TEMPORAL,
    the server `lab up --temporal` runs."""
    import os

    from fleetctl.adapters import temporal

    if address is None and not os.environ.get(temporal.ENV_ADDRESS) and env == "lab" and ctx:
        from fleetctl.services import lab as lab_service
        from fleetctl.services import lab_temporal

        lab_dir = lab_service.resolve_dir(None, workspace(ctx).root)
        address = lab_temporal.address(lab_dir)
    return temporal.settings(address, namespace, tls_ca=ca, tls_cert=cert, tls_key=key)


def worker(
    ctx: typer.Context,
    env: options.Env,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", help="Serve this region's task queue region-<name> (repeatable)."),
    ] = None,
    coordinator: Annotated[
        bool,
        typer.Option(
            "--coordinator",
            help="Also serve the env's coordinator workflows "
            "(queue fleetctl-<env>) and their journal writes.",
        ),
    ] = False,
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    secret_var: Annotated[
        list[str] | None,
        typer.Option(
            "--secret-var",
            metavar="NAME[=@FILE]",
            help="A secret var the releases this worker applies may need (repeatable): "
            "value from $FLEETCTL_SECRET_<NAME> or FILE. Every other FLEETCTL_SECRET_* of "
            "its environment is taken too. Checked against the release's fingerprint; "
            "never sent to the server.",
        ),
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            help="--coordinator: also send every rollout's notifications to this webhook "
            "(repeatable; never sent to the server, printed or stored).",
        ),
    ] = None,
    notify_format: Annotated[
        str, typer.Option("--notify-format", help="Payload for --notify: slack or json.")
    ] = "json",
) -> None:
    """Run a regional executor for `rollout start --engine temporal`: it applies the
    region's batches with Ansible, runs the region's gates, rolls back and proves,
    heartbeating, until stopped (SIGTERM / Ctrl-C). Run one per region, near its hosts.

    Secret vars of a release (`rollout start --secret-var`) never travel through
    Temporal: each regional worker holds their values (FLEETCTL_SECRET_<NAME> or
    --secret-var NAME=@FILE) and checks them against the release's fingerprints.

    Example:  fleetctl worker --env lab --region lab-mid --temporal 127.0.0.1:7233

    Example:  FLEETCTL_SECRET_DB_PASSWORD=... fleetctl worker --env lab --region lab-mid

    Example:  fleetctl worker --env lab --coordinator
    """
    import asyncio
    import signal

    from fleetctl.errors import BadInput
    from fleetctl.services import secrets as secrets_service
    from fleetctl.services.notify import cli_targets
    from fleetctl.services.rollout_temporal import service

    if not region and not coordinator:
        raise BadInput(
            "a worker needs --region REGION (repeatable) or --coordinator",
            hint="e.g. fleetctl worker --env lab --region lab-mid",
        )
    from fleetctl.services.target import check_regions

    # Before anything touches the network: a typo must not wait on a server.
    check_regions(workspace(ctx), env, region or [])
    if notify and not coordinator:
        raise BadInput("--notify is for the coordinator worker (add --coordinator)")
    if notify_format not in ("slack", "json"):
        raise BadInput(
            f"--notify-format {notify_format!r} is not a format", hint="use slack or json"
        )
    targets = cli_targets(notify or [], notify_format)
    held = secrets_service.capture(secret_var or [])  # out of the environment, now
    s = settings(address, namespace, tls_ca, tls_cert, tls_key, ctx=ctx, env=env)
    url, root = state_url(ctx), workspace(ctx).root

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        queues = ", ".join(service.queues(env, region or [], coordinator))

        def ready() -> None:
            render.note(f"worker for {env} on {s.describe()}: serving {queues}")

        await service.serve(
            s,
            env,
            regions=region or [],
            coordinator=coordinator,
            state_url=url,
            root=root,
            ready=ready,
            stop=stop,
            secrets=held,
            notify=targets,
        )

    asyncio.run(main())
