"""`fleetctl event plan|start|end|list`: get the fleet ready for a peak event
(a match, a launch), freeze it for the event and scale it back afterwards."""

from __future__ import annotations

import math
import re
import shlex
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fleetctl.cli import render
from fleetctl.cli.application import Application
from fleetctl.cli.capacity import MAX_PEAK_GBPS
from fleetctl.cli.options import Env, Fmt, OnlyEnv, writable_file
from fleetctl.cli.state import workspace

if TYPE_CHECKING:
    from fleetctl.services.event import EventPlan
    from fleetctl.services.event_lifecycle import Transition

app = typer.Typer(
    no_args_is_help=True,
    help="Peak events: plan (capacity, pre-scale, freeze), start, end, list.",
)

_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
# Bounds that keep every date the plan derives (freeze start, certificate
# deadline) inside what datetime can hold; real events sit far inside them.
YEARS = (1970, 2999)
MAX_FREEZE_MARGIN = timedelta(days=30)
MAX_CERT_MARGIN_DAYS = 3650.0


def parse_time(text: str, flag: str) -> datetime:
    """An ISO 8601 time with a zone ('Z' or an offset); anything else is exit 2 on `flag`."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-12-20T18:00:00Z", param_hint=flag
        ) from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise typer.BadParameter(
            f"{text!r} has no zone: add Z or an offset, e.g. {text.strip()}+00:00",
            param_hint=flag,
        )
    if not YEARS[0] <= t.year <= YEARS[1]:
        raise typer.BadParameter(
            f"{text!r} is not between the years {YEARS[0]} and {YEARS[1]}", param_hint=flag
        )
    return t


def parse_duration(text: str, flag: str) -> timedelta:
    """'2h', '90m', '1h30m' or '0' -> a timedelta."""
    m = _DURATION.match(text)
    if text.strip() == "0":
        return timedelta(0)
    if not m or not (m.group(1) or m.group(2)):
        raise typer.BadParameter(f"{text!r}: expected e.g. 2h, 90m or 1h30m", param_hint=flag)
    hours, minutes = int(m.group(1) or 0), int(m.group(2) or 0)
    if hours * 60 + minutes > MAX_FREEZE_MARGIN.total_seconds() / 60:
        raise typer.BadParameter(
            f"{text!r}: at most {MAX_FREEZE_MARGIN.days * 24}h", param_hint=flag
        )
    return timedelta(hours=hours, minutes=minutes)


def _regions(values: list[str] | None) -> tuple[str, ...]:
    """--regions a,b --regions c -> (a, b, c)."""
    out: list[str] = []
    for v in values or []:
        out += [r.strip() for r in v.split(",") if r.strip()]
    if values and not out:  # an empty value (an unset shell variable) is not "all regions"
        raise typer.BadParameter("names no region", param_hint="--regions")
    return tuple(dict.fromkeys(out))


@app.command("plan")
def plan(
    ctx: typer.Context,
    env: Env,
    name: Annotated[str, typer.Option("--name", "-n", help="The event, e.g. 'cup-final'.")],
    start: Annotated[
        str, typer.Option("--start", help="Start, ISO 8601 with a zone: 2026-12-20T18:00:00Z.")
    ],
    end: Annotated[str, typer.Option("--end", help="End, ISO 8601 with a zone.")],
    peak_gbps: Annotated[
        float, typer.Option("--peak-gbps", help="The event's global peak egress, Gbit/s.")
    ],
    regions: Annotated[
        list[str] | None,
        typer.Option(
            "--regions",
            help="Regions serving the event (comma-separated or repeated; default: all). "
            "The peak is split over them by their traffic weights.",
        ),
    ] = None,
    demand: Annotated[
        Path | None,
        typer.Option(
            "--demand",
            help="Demand file: upload hours per region (transcode) and the model's "
            "parameters, as `fleetctl capacity --demand`.",
            dir_okay=False,
        ),
    ] = None,
    freeze_margin: Annotated[
        str, typer.Option("--freeze-margin", help="Freeze this long before the start.")
    ] = "2h",
    no_preview: Annotated[
        bool,
        typer.Option(
            "--no-preview", help="Skip the preview (and its cost) of the pre-scale: faster."
        ),
    ] = False,
    cert_margin: Annotated[
        float,
        typer.Option(
            "--cert-margin-days",
            min=0.0,
            help="A certificate expiring before the event's end + this many days is a "
            "readiness problem.",
        ),
    ] = 7.0,
    fmt: Fmt = render.Format.table,
) -> None:
    """Plan a peak event: the edge nodes and transcode instances each region needs
    for the peak with N+1 per zone (the capacity model), the spec change that
    pre-scales them previewed with its cost for the event's duration, the
    freeze to set, and a readiness report (capacity, certificates, running
    rollouts, drains). Changes nothing in the fleet; records the event so that
    `fleetctl event start NAME` can apply it.

    Example:  fleetctl event plan --env prod --name cup-final
    --start 2026-12-20T18:00:00Z --end 2026-12-20T21:00:00Z --peak-gbps 900
    --regions eu-west-1,eu-central-1
    """
    from fleetctl.core.capacity.event import EventWindow
    from fleetctl.errors import BadInput
    from fleetctl.services import event as svc
    from fleetctl.services import event_lifecycle as lifecycle

    t_start = parse_time(start, "--start")
    t_end = parse_time(end, "--end")
    if t_end <= t_start:
        raise typer.BadParameter(f"{end} is not after --start {start}", param_hint="--end")
    if not math.isfinite(cert_margin) or cert_margin > MAX_CERT_MARGIN_DAYS:
        raise typer.BadParameter(
            f"{cert_margin:g}: expected 0 to {MAX_CERT_MARGIN_DAYS:g} days",
            param_hint="--cert-margin-days",
        )
    if not math.isfinite(peak_gbps) or not 0 < peak_gbps <= MAX_PEAK_GBPS:
        raise typer.BadParameter(
            f"{peak_gbps:g}: expected a number > 0 and <= {MAX_PEAK_GBPS:g}",
            param_hint="--peak-gbps",
        )
    try:
        name = lifecycle.check_name(name)
    except BadInput as exc:
        raise typer.BadParameter(f"{exc.message} ({exc.hint})", param_hint="--name") from None
    if demand is not None and not demand.is_file():
        raise BadInput(f"no demand file {demand}", hint="see examples/demand-prod.yaml")
    window = EventWindow(
        name.strip(), t_start, t_end, parse_duration(freeze_margin, "--freeze-margin")
    )
    ws = workspace(ctx)
    req = svc.EventRequest(
        env=env,
        window=window,
        peak_gbps=peak_gbps,
        regions=_regions(regions),
        demand_path=demand,
        preview=not no_preview,
        cert_margin_days=cert_margin,
    )
    with Application(ctx) as app:
        if req.preview and fmt is render.Format.table:
            render.note("previewing the pre-scale (the Pulumi program under mocks)...")
        store = app.store(write=True)
        result = svc.plan(ws, store, req)
        lifecycle.record_plan(store, result)
    if fmt is render.Format.json:
        render.emit_json(svc.plan_json(result))
    else:
        _show(result)


def _show(p: EventPlan) -> None:
    from rich.markup import escape

    from fleetctl.core.cost import usd

    w = p.request.window
    con = render.err
    con.print(
        f"[bold]event {escape(w.name)}[/] in {p.request.env}: {w.start.isoformat()} to "
        f"{w.end.isoformat()} ({w.hours:g} h), peak {p.request.peak_gbps:g} Gbit/s, "
        f"utilisation {p.params.edge_utilisation:.0%}"
    )
    rows = []
    for r in p.regions:
        e, tc = r.plan.edge, r.plan.transcode
        rows.append(
            (
                r.region,
                f"{r.share:.1%}",
                round(r.plan.egress_gbps, 1),
                f"{e.node_gbps:g} ({e.node_limit})",
                f"{e.nodes_per_zone}x{e.zones}",
                f"{e.nodes_per_zone_needed}x{e.zones}",
                "-" if tc is None else f"{tc.needed_n1} / {tc.min_size}-{tc.max_size}",
                r.plan.verdict.value,
                ", ".join(f"{c.key} {c.before}->{c.after}" for c in r.changes) or "-",
            )
        )
    con.print(
        render.table(
            "what each region needs at the event's peak (N+1 per zone)",
            [
                "region",
                "share",
                "egress Gbit/s",
                "Gbit/s/node",
                "edge now",
                "N+1 needs",
                "transcode N+1 / min-max",
                "verdict",
                "pre-scale",
            ],
            rows,
        )
    )
    if not p.patches:
        render.ok("the spec carries the event's peak with N+1 as it is: no pre-scale")
    else:
        con.print("[bold]spec change that pre-scales the event regions[/]")
        for s in p.patches:
            for c in s.changes:
                con.print(f"  {s.file}: {c['key']}: {c['before']} -> {c['after']}")
    if p.preview is not None:
        from fleetctl.cli import preview_render

        con.print("\n[bold]preview of the pre-scale[/]")
        preview_render.render_table(p.preview, con)
    if p.cost is not None:
        con.print(
            f"pre-scale cost: {usd(p.cost.month_delta, sign=True)} a month; for the "
            f"event's {p.cost.hours:g} h: [bold]{usd(p.cost.event_usd, sign=True)}[/]"
        )
    f = p.freeze
    quoted = shlex.quote(w.name)
    con.print(f"\n[bold]freeze[/] {f.start.isoformat()} to {f.end.isoformat()}")
    con.print(
        f"  at {f.start.isoformat()}:  fleetctl event start {escape(quoted)}"
        "   (freezes, prints the pre-scale patch to merge)",
        soft_wrap=True,
    )
    con.print(
        f"  after {f.end.isoformat()}:  fleetctl event end {escape(quoted)}"
        "   (lifts the freeze, prints the scale-down patch)",
        soft_wrap=True,
    )
    rd = p.readiness
    con.print("\n[bold]readiness[/]")
    for region, verdict in rd.capacity.items():
        con.print(f"  capacity {region}: {escape(verdict)}")
    certs = rd.certificates
    con.print(
        f"  certificates (must last past {certs.deadline.isoformat()}: the end + "
        f"{certs.margin_days:g}d):"
    )
    for r in p.regions:
        con.print(f"    {r.region}: {escape(certs.summary(r.region))}", soft_wrap=True)
    con.print(
        "  rollouts running: "
        + (", ".join(f"{r.id} ({r.status})" for r in rd.rollouts_running) or "none")
    )
    con.print("  drained regions: " + (", ".join(rd.drained_regions) or "none"))
    con.print("  drained hosts: " + (", ".join(rd.drained_hosts) or "none"))
    for n in p.notes:
        render.note(n)


Name = Annotated[str, typer.Argument(help="The event's name, as given to `event plan --name`.")]
PatchOut = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Also write the patch to this file.",
        dir_okay=False,
        callback=writable_file,
    ),
]


@app.command("start")
def start(
    ctx: typer.Context, name: Name, out: PatchOut = None, fmt: Fmt = render.Format.table
) -> None:
    """Start an event: freeze its env (no rollout step starts until `event end`)
    and print the pre-scale patch to merge (a unified diff of the stack configs;
    already-merged keys are skipped). Run it again to see the patch again.

    Example:  fleetctl event start cup-final > prescale.patch && git apply prescale.patch
    """
    from fleetctl.services import event_lifecycle as lifecycle

    with Application(ctx) as app:
        t = lifecycle.start(app.ws, app.store(write=True), name)
    _transition(t, out, fmt, "pre-scale")


@app.command("end")
def end(
    ctx: typer.Context, name: Name, out: PatchOut = None, fmt: Fmt = render.Format.table
) -> None:
    """End an event: lift the freeze it set (never anyone else's) and print the
    scale-down patch (each pre-scaled key back to its value before the event;
    keys changed since are left alone and named).

    Example:  fleetctl event end cup-final --out scaledown.patch
    """
    from fleetctl.services import event_lifecycle as lifecycle

    with Application(ctx) as app:
        t = lifecycle.end(app.ws, app.store(write=True), name)
    _transition(t, out, fmt, "scale-down")


@app.command("list")
def list_(ctx: typer.Context, env: OnlyEnv = None, fmt: Fmt = render.Format.table) -> None:
    """Planned, running and ended events.

    Example:  fleetctl event list --env prod
    """
    from fleetctl.services import event_lifecycle as lifecycle

    with Application(ctx) as app:
        events = lifecycle.records(app.readonly_store(), env)
    if fmt is render.Format.json:
        render.emit_json([lifecycle.record_json(r) for r in events])
        return
    if not events:
        render.note("no events: plan one with `fleetctl event plan`")
        return
    rows = [
        (r.name, r.env, r.phase.value, r.start.isoformat(), r.end.isoformat(), len(r.changes))
        for r in events
    ]
    render.err.print(
        render.table(None, ["event", "env", "phase", "start", "end", "keys pre-scaled"], rows)
    )


def _transition(t: Transition, out: Path | None, fmt: render.Format, what: str) -> None:

    if out is not None:
        try:
            out.write_text(t.patch.diff, encoding="utf-8")
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot write {out}: {exc.strerror}", param_hint="--out"
            ) from None
    if fmt is render.Format.json:
        from fleetctl.services import event_lifecycle as lifecycle

        render.emit_json(lifecycle.transition_json(t))
        return
    r = t.record
    state = "already " + r.phase.value if t.again else r.phase.value
    render.ok(f"event {r.name} ({r.env}) {state}: {t.freeze}")
    for n in (*t.notes, *t.patch.notes):
        render.note(n)
    if not t.patch.diff:
        render.note(f"no {what} to merge")
        return
    files = ", ".join(t.patch.files)
    hint = f" (written to {out})" if out is not None else ""
    render.note(f"the {what} to merge{hint}, touching {files}:")
    # the patch itself on stdout, so `> file.patch` captures exactly it
    sys.stdout.write(t.patch.diff)
    sys.stdout.flush()
    render.err.print(
        "[dim]merge it like any spec change: git apply, PR (preview), then `fleetctl up`[/]"
    )
