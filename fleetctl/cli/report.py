"""`fleetctl rollout report ID --out FILE.html`: a rollout as one HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.options import writable_file
from fleetctl.cli.state import open_state
from fleetctl.errors import BadInput


def report(
    ctx: typer.Context,
    rollout_id: Annotated[str, typer.Argument(help="Rollout id (a unique prefix is enough).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The HTML file to write.", callback=writable_file)
    ],
) -> None:
    """Write one self-contained HTML page of a rollout: the timeline of steps
    and decisions, and for every gate run the canary against the baseline
    with the thresholds drawn (inline SVG plots; no network needed to view).

    Example:  fleetctl rollout report r-20260101-120000-ab12 --out rollout.html
    """
    from fleetctl.services import report as svc

    store = open_state(ctx, write=False)
    try:
        doc, page = svc.build(store, rollout_id)
    finally:
        store.close()
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot write it: {exc.strerror or exc}") from None
    render.ok(f"wrote {out} ({len(page) // 1024} KiB) for rollout {doc['id']}")
