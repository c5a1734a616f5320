"""Monthly cost estimates: in every preview, and `fleetctl cost` for what the fleet runs now.

The arithmetic is `fleetctl.core.cost` over the preview's resource graphs; this
module finds the inputs: the price table (loaded once per process and path),
the stacks' regions, and the buckets' usage estimates from the spec.

Usage estimates (the rule, docs/cost.md): the head side of a preview uses the
working tree's spec; the base side of a git `--base` uses the spec at that ref
(read with `git show`, only for stacks that ran), so a PR that only changes a
usage figure shows its cost; a snapshot base uses the head's usage (a snapshot
holds graphs, not specs).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from fleetctl.core import cost as model
from fleetctl.core.preview_model import PreviewResult, ResourceGraph, Status
from fleetctl.errors import FleetctlError
from fleetctl.services.workspace import Workspace
from fleetctl.spec import BucketUsage, Fleet, Stack, naming, parse_spec
from fleetctl.spec.prices import DEFAULT_PRICES, PriceTable, load_prices

if TYPE_CHECKING:
    from fleetctl.services.preview import PreviewOptions, PreviewRun


PRICES_CACHE = "cache/prices"


@cache
def _load(path: Path | None, cache_dir: Path | None) -> PriceTable:
    """Parsing the YAML (with line numbers for errors) takes ~50 ms, a third of
    a cached preview: keep the validated table as JSON, keyed by the file's
    content hash, and parse the YAML only when the file changed."""
    source = path or DEFAULT_PRICES
    cached: Path | None = None
    if cache_dir is not None:
        try:
            digest = hashlib.sha256(source.read_bytes()).hexdigest()[:32]
        except OSError:
            digest = ""
        if digest:
            cached = cache_dir / f"{digest}.json"
            try:
                table = PriceTable.model_validate_json(cached.read_bytes())
                return table.model_copy(update={"path": str(source)})
            except (OSError, ValueError):
                pass
    table = load_prices(path)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(table.model_dump_json(), encoding="utf-8")
            os.replace(tmp, cached)
        except OSError:
            pass  # a read-only state dir only costs the parse
    return table


def prices(path: Path | None = None, ws: Workspace | None = None) -> PriceTable:
    """The price table, loaded once per process (and from the workspace's cache
    of the parsed table when `ws` is given). Its `path`, which its errors name,
    is `prices_file`'s: never the runner's absolute path."""
    table = _load(
        path.resolve() if path is not None else None,
        ws.state_dir / PRICES_CACHE if ws is not None else None,
    )
    return table.model_copy(update={"path": prices_file(path, ws.root if ws else None)})


def prices_file(path: Path | None, root: Path | None = None) -> str:
    """How output names a price table: relative to the repo root (else the working
    directory), else its file name. Never an absolute path: it lands in PR comments."""
    if path is None:
        return f"fleetctl/data/{DEFAULT_PRICES.name}"
    full = path.resolve()
    for base in (root, Path.cwd()):
        if base is not None and full.is_relative_to(base.resolve()):
            return full.relative_to(base.resolve()).as_posix()
    return full.name


def _without_abs_path(text: str, path: Path | None, shown: str) -> str:
    for p in (path, path.resolve()) if path is not None else (DEFAULT_PRICES,):
        text = text.replace(str(p), shown)
    return text


def region_of(stack: str) -> str:
    return stack.partition("-")[2]


def usage_of(stacks: Iterable[Stack]) -> dict[str, BucketUsage]:
    """Bucket physical name -> its usage estimate, for every bucket that has one."""
    return {
        naming.bucket_name(s.env, s.region, b.name): b.usage
        for s in stacks
        for b in s.spec.storage.buckets
        if b.usage is not None
    }


def _base_usage(
    ws: Workspace, ref: str, names: Iterable[str], warnings: list[str]
) -> tuple[dict[str, BucketUsage], list[str]]:
    """Usage estimates of `names` as the spec at git `ref` declares them, and the
    stacks that could be read there."""
    from fleetctl.adapters import git
    from fleetctl.spec.config import stack_config

    names = sorted(names)
    read: list[str] = []
    if not names:
        return {}, read
    repo = git.repo_root(ws.root)
    commit = git.resolve(repo, ref)
    prefix = git.prefix_in_repo(repo, ws.root)
    stacks_rel = f"{prefix}/stacks" if prefix else "stacks"
    out: dict[str, BucketUsage] = {}
    with tempfile.TemporaryDirectory(prefix="fleetctl-cost-") as tmp:
        d = Path(tmp)
        project = git.show(repo, commit, f"{stacks_rel}/Pulumi.yaml")
        if project is None:
            return {}, read
        (d / "Pulumi.yaml").write_text(project, encoding="utf-8")
        for name in names:
            text = git.show(repo, commit, f"{stacks_rel}/Pulumi.{name}.yaml")
            if text is None:
                continue
            (d / f"Pulumi.{name}.yaml").write_text(text, encoding="utf-8")
            try:
                cfg = stack_config(d, name)
                spec = parse_spec(cfg.get("fleet:spec"), cfg.get("fleet:defaults"), where=name)
            except FleetctlError as exc:
                warnings.append(
                    f"cost: cannot read {name}'s usage estimates at {ref} ({exc.message}); "
                    "the base side uses the head's"
                )
                continue
            env, _, region = name.partition("-")
            stack = Stack(env=env, region=region, spec=spec, source=name)
            out.update(usage_of([stack]))
            read.append(name)
    return out, read


def _estimate(
    graph: ResourceGraph | None, table: PriceTable, usage: Mapping[str, BucketUsage]
) -> model.StackCost | None:
    if graph is None:
        return None
    return model.stack_cost(graph, region_of(graph.stack), table, usage)


def with_costs(run: PreviewRun, ws: Workspace, fleet: Fleet, opts: PreviewOptions) -> PreviewResult:
    """The run's result with each stack's monthly cost before/after.

    Never raises for a cost problem: a missing price or an unreadable table
    makes the cost unknown, with the reason, and the preview still shows the
    changes.
    """
    result = run.result
    try:
        table = prices(opts.prices, ws)
    except FleetctlError as exc:
        shown = prices_file(opts.prices, ws.root)
        err = _without_abs_path("; ".join([exc.message, *exc.details[:3]]), opts.prices, shown)
        stacks = tuple(
            dataclasses.replace(s, cost=model.CostDelta(error=err)) for s in result.stacks
        )
        used = model.PricesUsed("(unreadable)", "", "USD", shown)
        run.warnings.append(f"cost: {err}")
        return dataclasses.replace(result, stacks=stacks, prices=used)
    head_usage = usage_of(fleet.stacks)
    base_usage = head_usage
    from fleetctl.services.preview import is_snapshot

    if opts.base is not None and not is_snapshot(opts.base):
        try:
            at_base, read = _base_usage(ws, opts.base, run.base_graphs, run.warnings)
            prefixes = tuple(f"{naming.prefix(*n.split('-', 1))}-" for n in read)
            base_usage = {k: v for k, v in head_usage.items() if not k.startswith(prefixes)}
            base_usage.update(at_base)
        except FleetctlError as exc:
            run.warnings.append(f"cost: base usage estimates unavailable ({exc.message})")
    stacks = []
    for s in result.stacks:
        stacks.append(
            dataclasses.replace(
                s, cost=_stack_delta(s.stack, s.status, run, table, head_usage, base_usage)
            )
        )
    return dataclasses.replace(
        result, stacks=tuple(stacks), prices=model.prices_used(table, table.path)
    )


def _stack_delta(
    name: str,
    status: Status,
    run: PreviewRun,
    table: PriceTable,
    head_usage: Mapping[str, BucketUsage],
    base_usage: Mapping[str, BucketUsage],
) -> model.CostDelta:
    if status is Status.failed:
        return model.CostDelta(error="the preview of this stack failed")
    try:
        if status is Status.skipped:
            graph = run.unchanged_graphs.get(name)
            if graph is None:
                return model.CostDelta(notes=("unchanged and not run: delta 0, no estimate",))
            return model.unchanged(model.stack_cost(graph, region_of(name), table, head_usage))
        before = _estimate(run.base_graphs.get(name), table, base_usage)
        after = _estimate(run.head_graphs.get(name), table, head_usage)
        return model.cost_delta(before, after)
    except FleetctlError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        return model.CostDelta(error=f"{exc.message}{hint}")


# --- fleetctl cost -------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetCost:
    stacks: tuple[model.StackCost, ...]
    prices: model.PricesUsed
    failed: tuple[str, ...] = ()  # stacks whose program failed (not in the figures)
    seconds: float = 0.0
    cache_hits: int = 0

    @property
    def monthly(self) -> float:
        return sum(s.monthly for s in self.stacks)

    @property
    def monthly_max(self) -> float:
        return sum(s.monthly_max for s in self.stacks)


def fleet_cost(
    ws: Workspace,
    env: str | None = None,
    stacks: tuple[str, ...] = (),
    prices_path: Path | None = None,
    use_cache: bool = True,
) -> FleetCost:
    """The monthly estimate of what the working tree declares (graphs from the preview
    machinery, so from the cache when it is warm). A missing price raises PriceMissing."""
    from fleetctl.services import preview

    table = prices(prices_path, ws)  # a bad table fails before any program runs
    run = preview.run_preview(
        ws,
        preview.PreviewOptions(
            env=env, stacks=stacks, use_cache=use_cache, prices=prices_path, policy=False
        ),
    )
    fleet = ws_fleet(ws)
    usage = usage_of(fleet.stacks)
    out = [
        model.stack_cost(run.head_graphs[s.stack], region_of(s.stack), table, usage)
        for s in run.result.stacks
        if s.stack in run.head_graphs
    ]
    return FleetCost(
        stacks=tuple(out),
        prices=model.prices_used(table, table.path),
        failed=tuple(s.stack for s in run.result.failed),
        seconds=run.seconds,
        cache_hits=run.cache_hits,
    )


def ws_fleet(ws: Workspace) -> Fleet:
    from fleetctl.spec import load_fleet

    return load_fleet(ws.stacks_dir)
