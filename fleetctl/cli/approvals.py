"""`fleetctl approvals serve|sign`: approve a paused rollout with a signed HTTP request."""

from __future__ import annotations

import ipaddress
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.state import state_url, workspace
from fleetctl.errors import BadInput, OutsideError

app = typer.Typer(
    help="Approve paused rollouts with signed HTTP requests (HMAC-SHA256, one use, expiry).",
    no_args_is_help=True,
)

KeyEnvOpt = Annotated[
    str, typer.Option("--key-env", help="Env var holding the shared key (16+ bytes).")
]
KeyFileOpt = Annotated[
    Path | None, typer.Option("--key-file", help="File holding the shared key (instead).")
]


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free).")
    ] = 8787,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Listen on a non-loopback address (behind TLS)."),
    ] = False,
    key_env: KeyEnvOpt = "FLEETCTL_APPROVAL_KEY",
    key_file: KeyFileOpt = None,
) -> None:
    """Accept signed approvals on POST /approve and promote the rollout they name.

    The body is JSON {rollout, step, by, reason, nonce, expires} and the header
    X-Fleetctl-Signature is sha256=<HMAC-SHA256 of the body under the shared key>
    (`fleetctl approvals sign` makes both). Each approval works once, before it
    expires, and only for an approval pause at that step; who and why are
    journaled, then the rollout continues exactly as `rollout promote` would, in
    this process: a region outside its deploy window is waited for here (the HTTP
    answer does not wait). Stopping the server turns such waits into pauses for
    the window (`rollout resume` continues them). Loopback only unless
    --allow-remote. Runs until Ctrl-C.

    Example:  FLEETCTL_APPROVAL_KEY=... fleetctl approvals serve --port 8787
    """
    from fleetctl.adapters.state import open_store
    from fleetctl.cli.rollout_render import print_event
    from fleetctl.services.approvals import ApprovalServer, key_fingerprint, load_key
    from fleetctl.services.notify import Notifier
    from fleetctl.services.rollout import Engine

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_remote:
        raise BadInput(
            f"--host {host} is not a loopback address",
            hint="put a TLS proxy in front and pass --allow-remote, or keep 127.0.0.1",
        )
    key = load_key(key_env, key_file)
    url, root = state_url(ctx), workspace(ctx).root

    def engine_for(store: object, who: str, stopping: Callable[[], bool]) -> Engine:
        notifier = Notifier([], store.append_event, base=root)  # type: ignore[attr-defined]
        return Engine(
            store,  # type: ignore[arg-type]
            root,
            on_event=print_event,
            notify=notifier.submit,
            who=f"{who} (signed approval)",
            # As `rollout promote` does: a closed window ahead is waited for in this
            # process (its worker thread, not the serving one) until the server stops.
            wait_windows=True,
            stop_waiting=stopping,
        )

    try:
        server = ApprovalServer(
            key, lambda: open_store(url), engine_for, host, port, log=render.note
        )
    except OSError as exc:
        # The address is taken or not this machine's: the environment, not the flags.
        raise OutsideError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="stop what listens there or pick another --port",
        ) from None
    render.ok(f"approvals on {server.url}/approve (key {key_fingerprint(key)}); Ctrl-C stops")

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (a service manager) stops it like Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        render.note("stopping; waiting for promotes under way")
    server.wait_idle()


@app.command("sign")
def sign(
    rollout_id: Annotated[str, typer.Argument(help="Rollout id (the full id).")],
    step: Annotated[int, typer.Option("--step", help="The paused step's index.")],
    by: Annotated[str, typer.Option("--by", help="Who approves.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (journaled).")],
    ttl: Annotated[float, typer.Option("--ttl", help="Seconds until it expires (max 3600).")] = 600,
    key_env: KeyEnvOpt = "FLEETCTL_APPROVAL_KEY",
    key_file: KeyFileOpt = None,
) -> None:
    """Print a signed approval as JSON {body, signature} for POST /approve.

    Example:  fleetctl approvals sign r-20260101-120000-ab12 --step 0 --by alice -r "looks good"
    """
    from fleetctl.services.approvals import HEADER, MAX_TTL_S, load_key, make, signature

    if not 0 < ttl <= MAX_TTL_S:
        raise BadInput(f"--ttl {ttl:g} must be within 1..{MAX_TTL_S:g} seconds")
    # What `approvals serve` would refuse with a 400, refused here where it is typed.
    if step < 0:
        raise BadInput(f"--step {step}: a step index is 0 or more")
    for flag, value in (("--by", by), ("--reason", reason)):
        if not value.strip():
            raise BadInput(f"{flag} is empty", hint="say who approves and why (journaled)")
    key = load_key(key_env, key_file)
    a = make(rollout_id, step, by, reason, ttl_s=ttl)
    body = a.body()
    render.emit_json({"body": body.decode(), "header": HEADER, "signature": signature(key, body)})
