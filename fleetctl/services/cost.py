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

import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from fleetctl.adapters import git
from fleetctl.core import cost as model
from fleetctl.core.preview_model import ResourceGraph, StackStatus
from fleetctl.errors import FleetctlError
from fleetctl.services.workspace import Workspace
from fleetctl.spec import BucketUsage, Fleet, Stack, naming, parse_spec
from fleetctl.spec.config import stack_config
from fleetctl.spec.prices import DEFAULT_PRICES, PriceTable, load_prices

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


@dataclass(frozen=True)
class PreviewCosts:
    """A preview's stacks priced: before/after per stack, and each head's estimate."""

    deltas: dict[str, model.CostDelta]
    prices: model.PricesUsed
    heads: dict[str, model.StackCost] = field(default_factory=dict)  # head estimates made
    failures: dict[str, FleetctlError] = field(default_factory=dict)  # heads that could not be


def preview_costs(
    ws: Workspace,
    fleet: Fleet,
    statuses: Mapping[str, StackStatus],
    heads: Mapping[str, ResourceGraph],
    bases: Mapping[str, ResourceGraph],
    unchanged: Mapping[str, ResourceGraph],
    *,
    prices_path: Path | None,
    git_base: str | None,
    warnings: list[str],
) -> PreviewCosts:
    """Each stack's monthly cost before/after, from its graphs (`unchanged`: graphs of
    stacks identical at the base that were not run) and the buckets' usage estimates.

    Never raises for a cost problem: a missing price or an unreadable table
    makes the cost unknown, with the reason, and the preview still shows the
    changes. `git_base`: the git ref the base side comes from (None: no base,
    or a snapshot, whose usage is the head's).
    """
    try:
        table = prices(prices_path, ws)
    except FleetctlError as exc:
        shown = prices_file(prices_path, ws.root)
        err = _without_abs_path("; ".join([exc.message, *exc.details[:3]]), prices_path, shown)
        warnings.append(f"cost: {err}")
        return PreviewCosts(
            {name: model.CostDelta(error=err) for name in statuses},
            model.PricesUsed("(unreadable)", "", "USD", shown),
        )
    head_usage = usage_of(fleet.stacks)
    base_usage = head_usage
    if git_base is not None:
        try:
            at_base, read = _base_usage(ws, git_base, bases, warnings)
            prefixes = tuple(f"{naming.prefix(*n.split('-', 1))}-" for n in read)
            base_usage = {k: v for k, v in head_usage.items() if not k.startswith(prefixes)}
            base_usage.update(at_base)
        except FleetctlError as exc:
            warnings.append(f"cost: base usage estimates unavailable ({exc.message})")
    out = PreviewCosts({}, model.prices_used(table, table.path))
    for name, status in statuses.items():
        out.deltas[name] = _stack_delta(
            name, status, heads, bases, unchanged, table, head_usage, base_usage, out
        )
    return out


def _stack_delta(
    name: str,
    status: StackStatus,
    heads: Mapping[str, ResourceGraph],
    bases: Mapping[str, ResourceGraph],
    unchanged: Mapping[str, ResourceGraph],
    table: PriceTable,
    head_usage: Mapping[str, BucketUsage],
    base_usage: Mapping[str, BucketUsage],
    out: PreviewCosts,
) -> model.CostDelta:
    if status is StackStatus.failed:
        return model.CostDelta(error="the preview of this stack failed")
    try:
        if status is StackStatus.skipped:
            graph = unchanged.get(name)
            if graph is None:
                return model.CostDelta(notes=("unchanged and not run: delta 0, no estimate",))
            return model.unchanged(_head(out, name, graph, table, head_usage))
        before = _estimate(bases.get(name), table, base_usage)
        head = heads.get(name)
        after = None if head is None else _head(out, name, head, table, head_usage)
        return model.cost_delta(before, after)
    except FleetctlError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        return model.CostDelta(error=f"{exc.message}{hint}")


def _head(
    out: PreviewCosts,
    name: str,
    graph: ResourceGraph,
    table: PriceTable,
    usage: Mapping[str, BucketUsage],
) -> model.StackCost:
    """The head's estimate, kept (`fleetctl cost` reads it: no second pricing)."""
    try:
        cost = model.stack_cost(graph, region_of(name), table, usage)
    except FleetctlError as exc:
        out.failures[name] = exc
        raise
    out.heads[name] = cost
    return cost
