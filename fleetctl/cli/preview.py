"""`fleetctl preview`: what a change to stacks/ would do, offline, for every PR."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from fleetctl.cli import options, render
from fleetctl.cli.options import OnlyEnv, OnlyStacks
from fleetctl.cli.state import workspace
from fleetctl.errors import EXIT_JOB_FAILED, BadInput

if TYPE_CHECKING:
    from fleetctl.core.guardrails import GuardrailsReport
    from fleetctl.services.preview import PreviewRun


class PreviewFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


# Options `preview` and `preview merge` share: a merged report is a single run's.
FormatOpt = Annotated[PreviewFormat, typer.Option("--format", "-f", help="Output format.")]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="Write the output to this file.", callback=options.writable_file
    ),
]
DetailedExitOpt = Annotated[
    bool,
    typer.Option(
        "--detailed-exitcode",
        help="Exit 0 for no changes, 2 for changes, 1 for errors (like terraform plan).",
    ),
]


class PreviewEngine(StrEnum):
    mock = "mock"
    pulumi = "pulumi"


EXIT_CHANGES = 2

app = typer.Typer(invoke_without_command=True)


@app.callback()
def preview(
    ctx: typer.Context,
    env: OnlyEnv = None,
    stack: OnlyStacks = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Diff against the program and configs at this git ref (e.g. origin/main; "
            "only stacks that differ are run), or against a saved snapshot (FILE.json).",
        ),
    ] = None,
    fmt: FormatOpt = PreviewFormat.table,
    out: OutOpt = None,
    detailed_exitcode: DetailedExitOpt = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Stacks run at once (default: cores).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every stack; ignore the preview cache.")
    ] = False,
    engine: Annotated[
        PreviewEngine,
        typer.Option(
            "--engine",
            help="mock: offline, under the Pulumi SDK mock runtime (default). "
            "pulumi: the real `pulumi preview` (needs the CLI and a backend).",
        ),
    ] = PreviewEngine.mock,
    save_snapshot: Annotated[
        Path | None,
        typer.Option(
            "--save-snapshot",
            help="Save the resource graphs, for a later --base FILE.",
            callback=options.writable_file,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the programs' own output.")
    ] = False,
    prices: Annotated[
        Path | None,
        typer.Option(
            "--prices",
            exists=True,
            dir_okay=False,
            help="Price table for the monthly cost (default: fleetctl's own, "
            "shown by `fleetctl cost prices`).",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="K/N",
            help="Run only shard K of N of the stacks that need running (balanced by "
            "resources) and write its output to --out, for `fleetctl preview merge`.",
        ),
    ] = None,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan",
            help="Run nothing: print as JSON how many stacks would run (not cached) and "
            "their resources, e.g. for CI to pick a number of shards.",
        ),
    ] = False,
) -> None:
    """Preview infrastructure changes: create / update / replace / delete per resource.

    Runs the real Pulumi program of each stack under the SDK's mock runtime: no
    cloud credentials, no Pulumi CLI. With --base, diffs against the same
    program at a git ref and runs only the stacks whose program or config
    differ. Secrets are shown as [secret].

    Example:  fleetctl preview --base origin/main --format markdown --detailed-exitcode

    Sharded across CI runners: `--shard K/N --out shard-K.json` on each, then
    `fleetctl preview merge shard-*.json` (same report as one run).
    """
    if ctx.invoked_subcommand is not None:
        return
    from fleetctl.services import preview as svc

    ws = workspace(ctx)
    if engine is PreviewEngine.pulumi and save_snapshot is not None:
        raise BadInput("--save-snapshot works with the offline engine only")
    shard_of: tuple[int, int] | None = None
    if shard is not None:
        from fleetctl.services import preview_shard

        shard_of = preview_shard.parse_shard(shard)
        if out is None or engine is PreviewEngine.pulumi or save_snapshot is not None:
            raise BadInput(
                "--shard writes its output to --out, with the offline engine, no snapshot",
                hint="fleetctl preview --shard 1/3 --out shard-1.json",
            )
    opts = svc.PreviewOptions(
        env=env,
        stacks=tuple(stack or ()),
        base=base,
        jobs=jobs,
        use_cache=not no_cache,
        prices=prices,
        shard=shard_of,
        plan_only=plan,
    )
    if plan:
        import json

        from fleetctl.services import preview_shard

        run = svc.run_preview(ws, opts)
        doc = preview_shard.plan_json(run, ws)
        typer.echo(json.dumps(doc, indent=2))
        return
    runner = svc.run_engine_preview if engine is PreviewEngine.pulumi else svc.run_preview
    run = _run(runner, ws, opts)
    if shard_of is not None:
        from fleetctl.services import preview_shard

        assert out is not None
        preview_shard.save(run, opts, out)
        ran = len(run.ran)
        render.note(
            f"shard {shard}: {len(run.shard_stacks)} stack(s) to preview, {ran} program run(s), "
            f"{run.cache_hits} from cache; wrote {out} (combine with `fleetctl preview merge`)"
        )
        return
    _report(run, fmt, out, detailed_exitcode, verbose, save_snapshot)


@app.command("merge")
def merge(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, help="The outputs of every shard."),
    ],
    fmt: FormatOpt = PreviewFormat.table,
    out: OutOpt = None,
    detailed_exitcode: DetailedExitOpt = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the programs' own output.")
    ] = False,
) -> None:
    """Combine the outputs of `preview --shard K/N` into the report one run gives.

    Runs no program: every stack side comes from a shard output (all shards of
    one run: same commit, flags and fingerprint key); the diff, cost, policy,
    rendering and exit code are those of a single `fleetctl preview`.

    Example:  fleetctl preview merge shard-*.json --format markdown --detailed-exitcode
    """
    from fleetctl.services import preview as svc
    from fleetctl.services import preview_shard

    ws = workspace(ctx)
    opts = preview_shard.load(files)
    run = _run(svc.run_preview, ws, opts)
    _report(run, fmt, out, detailed_exitcode, verbose, None)


def _run(runner: Any, ws: Any, opts: Any) -> PreviewRun:
    if render.err.is_terminal:
        with render.err.status("previewing…") as status:

            def progress(msg: str, done: int, total: int) -> None:
                status.update(f"previewing… {done}/{total} {msg}")

            return cast("PreviewRun", runner(ws, opts, progress))
    return cast("PreviewRun", runner(ws, opts, None))


def _report(
    run: PreviewRun,
    fmt: PreviewFormat,
    out: Path | None,
    detailed_exitcode: bool,
    verbose: bool,
    save_snapshot: Path | None,
) -> None:
    """Print or write the report; exit 1 (failed stack, mandatory policy) or 2 (changes)."""
    from fleetctl.cli import preview_render as pr
    from fleetctl.services import preview as svc

    result = run.result

    if verbose:
        for name, log in run.logs.items():
            render.err.rule(f"output of {name}")
            render.err.print(log.rstrip(), markup=False, highlight=False, soft_wrap=True)
    for warning in dict.fromkeys(run.warnings):
        render.err.print(f"[yellow]warning:[/] {warning}", markup=True, soft_wrap=True)
    for s in result.failed:
        if s.error is not None and s.error.log.strip() and not verbose:
            render.note(f"{s.stack}: the program's output is available with --verbose")

    if fmt is PreviewFormat.table:
        if out is not None:
            with out.open("w", encoding="utf-8") as fh:
                from rich.console import Console

                pr.render_table(run.report, Console(file=fh, width=200, no_color=True))
        else:
            pr.render_table(run.report, render.out)
    else:
        text = (
            pr.render_json(run.report)
            if fmt is PreviewFormat.json
            else pr.render_markdown(run.report)
        )
        if out is not None:
            out.write_text(text, encoding="utf-8")
        else:
            typer.echo(text, nl=False)
    if out is not None:
        render.note(f"wrote {out}")
    if save_snapshot is not None:
        svc.save_snapshot(run, save_snapshot)
        render.note(f"saved snapshot {save_snapshot}")
    skipped = sum(1 for s in result.stacks if s.status.value == "skipped")
    render.err.print(
        f"[dim]{len(result.stacks)} stack(s), {skipped} unchanged (not run); "
        f"{len(run.ran)} program run(s), {run.cache_hits} from cache; {run.seconds:.1f}s[/]",
        markup=True,
    )
    if result.failed or _policy_blocks(run.report.guardrails):
        raise typer.Exit(EXIT_JOB_FAILED)
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(EXIT_CHANGES)


def _policy_blocks(report: GuardrailsReport | None) -> bool:
    """A mandatory policy violation fails the preview (exit 1), like a failed stack."""
    if report is None or not report.blocking:
        return False
    n = report.counts()["mandatory"]
    render.err.print(
        f"[red]policy:[/] {n} mandatory violation(s); see the Policy section "
        "(`fleetctl policy list` explains the rules)",
        markup=True,
        soft_wrap=True,
    )
    return True
