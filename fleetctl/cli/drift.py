"""`fleetctl drift`: what differs between the spec and what exists in AWS."""

from __future__ import annotations

import json
from typing import Any

import typer

from fleetctl.cli import options, render
from fleetctl.cli.options import OnlyEnv, OnlyStacks
from fleetctl.cli.state import workspace


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def drift(
    ctx: typer.Context,
    env: OnlyEnv = None,
    stack: OnlyStacks = None,
    fmt: options.Fmt = render.Format.table,
) -> None:
    """Compare the spec with what exists in AWS: missing, extra and changed resources.

    Checks buckets (versioning, lifecycle, public access block, replication, tags),
    launch templates (instance type), auto scaling groups (min/max/desired, instances
    per zone) and transcode queues. AWS is reached through the standard credential
    chain; AWS_ENDPOINT_URL points it elsewhere (e.g. moto). Exit 0 no drift,
    2 drift, 3 AWS unreachable or access denied.

    Example:  fleetctl drift --env prod --format json
    """
    from fleetctl.services import drift as drift_service

    report = drift_service.check(workspace(ctx), env, stack or [])
    if fmt is render.Format.json:
        render.emit_json(report.to_json())
    else:
        rows: list[tuple[str, ...]] = []
        for item in report.items:
            if not item.changes:
                expected = "exists" if item.status == "missing" else "-"
                actual = "-" if item.status == "missing" else "exists"
                rows.append((item.status, item.stack, item.kind, item.name, "", expected, actual))
            for c in item.changes:
                rows.append(
                    (
                        item.status,
                        item.stack,
                        item.kind,
                        item.name,
                        c.key,
                        _show(c.expected),
                        _show(c.actual),
                    )
                )
        if rows:
            render.out.print(
                render.table(
                    None,
                    ["drift", "stack", "kind", "name", "property", "expected", "actual"],
                    rows,
                )
            )
        counts = report.counts()
        stacks = ", ".join(report.stacks)
        if report.has_drift:
            render.note(
                f"drift in {stacks}: {counts['missing']} missing, {counts['extra']} extra, "
                f"{counts['changed']} changed ({report.checked} resources checked)"
            )
        else:
            render.ok(f"no drift in {stacks} ({report.checked} resources checked)")
    if report.has_drift:
        raise typer.Exit(2)
