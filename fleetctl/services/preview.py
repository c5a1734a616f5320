"""`fleetctl preview`: which stacks to run, run them (cached, in parallel), diff.

The head side is the working tree; the base side (with `--base REF`) is the
same program and configs at REF. A stack runs only when its *input key*
differs between the two sides: a hash of every program file (stacks/**/*.py,
stacks/Pulumi.yaml and the fleetctl files the program imports, transitively,
as its source says: `fleetctl.core.program_imports`), the stack's config
file, the fleetctl/worker/pulumi versions and the fingerprint key id. That one
key is both the "did this stack change?" test (a change to stacks/__main__.py,
components/ or fleetctl/spec/ changes every key; a change to one stack config
changes one; a change to a fleetctl module the program does not import changes
none) and the cache key. Base keys come from `git ls-tree` blob ids, so
a base that is fully cached never even gets checked out.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from fleetctl import __version__
from fleetctl.adapters import git, pulumi_auto
from fleetctl.adapters import pulumi_preview as engine
from fleetctl.core import program_imports, shards
from fleetctl.core.cost import StackCost
from fleetctl.core.diff import diff_graphs, resource_count
from fleetctl.core.guardrails import GuardrailsReport, Rule
from fleetctl.core.preview_model import (
    PreviewResult,
    ResourceGraph,
    StackError,
    StackPreview,
    StackStatus,
    error_from_json,
    graph_from_json,
    graph_to_json,
)
from fleetctl.core.preview_report import PreviewReport
from fleetctl.errors import BadInput, FleetctlError
from fleetctl.services import cost as cost_service
from fleetctl.services import guardrails
from fleetctl.services.workspace import Workspace
from fleetctl.spec import Fleet, load_fleet
from fleetctl.spec.config import stack_configs
from fleetctl.spec.loader import STACK_FILE

CACHE_DIR = "cache/preview"
SPEC_CACHE = "cache/spec.json"  # parsed stack files (fleetctl.spec.parse_cache)
KEY_FILE = "fingerprint.key"
PRELOAD_FILE = "preload.json"  # library modules programs imported last time
WARM_FILE = "warm.json"  # SDK classes whose type hints programs resolved
PRELOAD_MAX = 5000
CACHE_MAX_ENTRIES = 2000  # oldest graphs beyond this are pruned after a run


@dataclass(frozen=True)
class PreviewOptions:
    env: str | None = None
    stacks: tuple[str, ...] = ()
    base: str | None = None
    jobs: int | None = None
    use_cache: bool = True
    timeout: float = 300.0
    prices: Path | None = None  # price table for the cost estimate (default: the shipped one)
    guardrails: bool = True  # check the workspace's policy pack (policies/) on the heads
    # `--shard K/N`: run only this shard's share of the stacks that need running.
    shard: tuple[int, int] | None = None
    # `preview merge`: graphs and errors the shards produced, by input key; nothing runs.
    supplied: Mapping[str, Entry] | None = None
    key_id: str | None = None  # the shards' fingerprint key id (merge)
    plan_only: bool = False  # `--plan`: say which stacks would run, run nothing


@dataclass(frozen=True)
class Entry:
    """What one stack side's input key resolved to: a graph or an error, and
    whether it was run (and how long) or came from the cache."""

    graph: ResourceGraph | None = None
    error: StackError | None = None
    ran: bool = False
    seconds: float = 0.0


@dataclass
class PreviewRun:
    """The report (changes, cost, guardrails) plus how it was made."""

    report: PreviewReport
    logs: dict[str, str] = field(default_factory=dict)  # "<stack> (head|base)" -> worker log
    ran: list[str] = field(default_factory=list)  # "<stack> (head|base)" actually executed
    cache_hits: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    head_graphs: dict[str, ResourceGraph] = field(default_factory=dict)
    key_id: str = ""
    # preload_s; program_s, program_cpu_s: the children's wall and CPU seconds, summed
    stats: dict[str, float] = field(default_factory=dict)
    base_graphs: dict[str, ResourceGraph] = field(default_factory=dict)
    # Skipped stacks (identical at the base) whose graph the cache holds: their cost.
    unchanged_graphs: dict[str, ResourceGraph] = field(default_factory=dict)
    head_costs: dict[str, StackCost] = field(default_factory=dict)  # priced heads (`cost` reads)
    cost_failures: dict[str, FleetctlError] = field(default_factory=dict)  # heads not priced
    entries: dict[str, Entry] = field(default_factory=dict)  # input key -> what it gave
    shard_stacks: list[str] = field(default_factory=list)  # --shard: the stacks of this shard
    to_run: list[str] = field(default_factory=list)  # stacks with a side to run (not cached)

    @property
    def result(self) -> PreviewResult:
        """The changes alone."""
        return self.report.result


Progress = Callable[[str, int, int], None]  # (message, done, total)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# --- input keys ----------------------------------------------------------------------------


def _is_stack_config(rel: str) -> bool:
    return rel.startswith("stacks/Pulumi.") and rel.count("/") == 1 and rel != "stacks/Pulumi.yaml"


def _is_candidate(rel: str) -> bool:
    """Files that may be part of a program: stacks/ and the fleetctl package's sources."""
    if "__pycache__" in rel:
        return False
    if rel.startswith("stacks/"):
        return rel.endswith(".py") or rel.startswith("stacks/Pulumi.")
    return rel.startswith("fleetctl/") and rel.endswith(".py")


@dataclass(frozen=True)
class ProgramFiles:
    """One side's program: {file: blob sha} of what a stack's key covers (stacks/**/*.py,
    Pulumi.yaml, the fleetctl files the program imports) plus every stack config, and
    the modules the program imports (fleetctl's, then its own under stacks/: warmed in
    the worker)."""

    blobs: dict[str, str]
    modules: tuple[str, ...]


def program_files(candidates: dict[str, str], read: program_imports.Read) -> ProgramFiles:
    """`candidates`: {file: blob sha} of one side; `read` gives a file's text."""
    entries = sorted(p for p in candidates if p.startswith("stacks/") and p.endswith(".py"))
    closure = program_imports.import_closure(
        entries, lambda rel: read(rel) if rel in candidates else None
    )
    keep = set(entries) | closure | {"stacks/Pulumi.yaml"}
    blobs = {p: b for p, b in candidates.items() if p in keep or _is_stack_config(p)}
    modules = sorted(
        p.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for p in closure
    )
    # The program's own modules (stacks/components/...) too: their import is the
    # same for every stack, and stacks/** is in every key already.
    own = program_imports.stack_modules(
        "stacks/__main__.py", lambda rel: read(rel) if rel in candidates else None
    )
    return ProgramFiles(blobs, (*modules, *own))


def _head_program(root: Path) -> ProgramFiles:
    paths = [*root.glob("stacks/**/*.py"), *root.glob("stacks/Pulumi.*y*ml")]
    paths += root.glob("fleetctl/**/*.py")
    rels = {p.relative_to(root).as_posix(): p for p in paths if p.is_file()}
    rels = {r: p for r, p in rels.items() if _is_candidate(r)}

    def read(rel: str) -> str | None:
        try:
            return rels[rel].read_text(encoding="utf-8", errors="replace")
        except (KeyError, OSError):
            return None

    found = program_files(dict.fromkeys(rels, ""), read)
    return ProgramFiles({r: git.blob_sha(rels[r]) for r in found.blobs}, found.modules)


def _base_program(repo: Path, blobs: dict[str, str]) -> ProgramFiles:
    candidates = {p: b for p, b in blobs.items() if _is_candidate(p)}
    texts = git.cat_blobs(repo, (b for p, b in candidates.items() if p.endswith(".py")))
    return program_files(candidates, lambda rel: texts.get(candidates.get(rel, "")))


@cache
def _engine_tag() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [__version__, git.blob_sha(engine.WORKER)]
    for dist in ("pulumi", "pulumi-aws"):
        try:
            parts.append(version(dist))
        except PackageNotFoundError:
            parts.append("-")
    return "/".join(parts)


def stack_key(blobs: dict[str, str], stack: str, key_id: str) -> str | None:
    """The input key of one stack on one side; None when the stack does not exist there."""
    cfg = next(
        (
            blobs[p]
            for p in (f"stacks/Pulumi.{stack}.yaml", f"stacks/Pulumi.{stack}.yml")
            if p in blobs
        ),
        None,
    )
    if cfg is None:
        return None
    program = sorted((p, b) for p, b in blobs.items() if not _is_stack_config(p))
    blob = json.dumps([_engine_tag(), key_id, program, cfg], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _stacks_in(blobs: dict[str, str]) -> list[str]:
    names = []
    for path in blobs:
        if path.startswith("stacks/") and path.count("/") == 1:
            m = STACK_FILE.match(path.split("/", 1)[1])
            if m:
                names.append(f"{m['env']}-{m['region']}")
    return sorted(names)


# --- fingerprint key and cache -------------------------------------------------------------


def fingerprint_key(ws: Workspace, warnings: list[str] | None = None) -> bytes:
    """The per-workspace HMAC key for secret fingerprints (created once, mode 0600).

    The cache directory is optional: when it cannot be written (read-only
    checkout), the key lives for this run only and a warning says so.
    """
    path = ws.state_dir / CACHE_DIR / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex())
    except OSError as exc:
        if warnings is not None:
            warnings.append(_no_cache(path.parent, exc))
    return key


def _no_cache(where: Path, exc: OSError) -> str:
    return (
        f"preview cache {where} is not writable ({exc.strerror or exc}): running "
        "without the cache (a saved snapshot's secrets will show as changed)"
    )


def _prune_cache(ws: Workspace) -> None:
    entries = list((ws.state_dir / CACHE_DIR).glob("*.json"))
    entries = [p for p in entries if p.name not in (PRELOAD_FILE, WARM_FILE)]
    if len(entries) <= CACHE_MAX_ENTRIES:
        return
    entries.sort(key=lambda p: p.stat().st_mtime)
    for path in entries[: len(entries) - CACHE_MAX_ENTRIES]:
        path.unlink(missing_ok=True)


def _preload_get(ws: Workspace) -> list[str]:
    try:
        names = json.loads((ws.state_dir / CACHE_DIR / PRELOAD_FILE).read_text())
    except (OSError, ValueError):
        return []
    return [str(n) for n in names][:PRELOAD_MAX] if isinstance(names, list) else []


def _preload_put(ws: Workspace, names: set[str]) -> None:
    d = ws.state_dir / CACHE_DIR
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{PRELOAD_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(sorted(names)[:PRELOAD_MAX]))
    os.replace(tmp, d / PRELOAD_FILE)


def _warm_get(ws: Workspace) -> list[str]:
    """SDK classes ("module:Class") whose type hints the worker resolves before forking."""
    try:
        doc = json.loads((ws.state_dir / CACHE_DIR / WARM_FILE).read_text())
        return [str(n) for n in doc["hints"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _warm_put(ws: Workspace, hints: set[str]) -> None:
    d = ws.state_dir / CACHE_DIR
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{WARM_FILE}.{os.getpid()}.tmp"
        doc = {"hints": sorted(hints)[:PRELOAD_MAX]}
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, d / WARM_FILE)
    except OSError:  # only a speed-up: a read-only cache still previews
        return


def _cache_get(ws: Workspace, key: str) -> ResourceGraph | None:
    path = ws.state_dir / CACHE_DIR / f"{key}.json"
    try:
        graph = graph_from_json(json.loads(path.read_text(encoding="utf-8")))
        os.utime(path)  # recently used: kept by the pruning
    except (OSError, ValueError, KeyError):
        return None
    return graph


def _cache_put(ws: Workspace, key: str, graph: ResourceGraph) -> None:
    d = ws.state_dir / CACHE_DIR
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(graph_to_json(graph), separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, d / f"{key}.json")


def _cache_write(
    warnings: list[str], write: Callable[..., None], ws: Workspace, *args: Any
) -> None:
    """Run one cache write; the cache is optional, so a failure is one warning."""
    try:
        write(ws, *args)
    except OSError as exc:
        msg = _no_cache(ws.state_dir / CACHE_DIR, exc)
        if msg not in warnings:
            warnings.append(msg)


# --- the use case --------------------------------------------------------------------------


def _select(
    head: Sequence[str], base: Sequence[str], env: str | None, names: Sequence[str]
) -> list[str]:
    known = sorted(set(head) | set(base))
    envs = sorted({n.split("-", 1)[0] for n in known})
    if env is not None and env not in envs:
        raise BadInput(f"unknown env {env!r}", hint=f"known envs: {', '.join(envs)}")
    chosen = [n for n in known if env is None or n.split("-", 1)[0] == env]
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise BadInput(
                f"unknown stack{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                hint=f"known stacks: {', '.join(known)}",
            )
        chosen = [n for n in chosen if n in names]
        if not chosen:
            raise BadInput(f"none of {', '.join(names)} is in env {env!r}")
    return chosen


def run_preview(
    ws: Workspace, opts: PreviewOptions, progress: Progress | None = None
) -> PreviewRun:
    started = time.monotonic()
    # SpecError (exit 2, file:line) for a broken head; unchanged files come parsed.
    fleet = load_fleet(ws.stacks_dir, parse_cache=ws.state_dir / SPEC_CACHE)
    project = fleet.project.name
    rules = _guardrail_rules(ws, opts)  # a broken pack fails before any program runs
    cache_warnings: list[str] = []
    key = fingerprint_key(ws, cache_warnings)
    key_id = opts.key_id or hashlib.sha256(key).hexdigest()[:16]
    head = _head_program(ws.root)
    head_blobs = head.blobs
    base_modules: tuple[str, ...] = ()
    head_names = [s.name for s in fleet.stacks]

    base_commit: str | None = None
    base_blobs: dict[str, str] = {}
    repo: Path | None = None
    prefix = ""
    pack_changed = False  # the policy pack differs from the base: judge skipped stacks too
    snapshot: dict[str, ResourceGraph] | None = None
    warnings: list[str] = cache_warnings
    if opts.base is not None and is_snapshot(opts.base):
        snapshot, snap_key = load_snapshot(Path(opts.base))
        if snap_key != key_id:
            warnings.append(
                f"{opts.base} was saved with another fingerprint key: every secret in it "
                "shows as changed (copy .fleetctl/cache/preview/fingerprint.key along)"
            )
    elif opts.base is not None:
        repo = git.repo_root(ws.root)
        base_commit = git.resolve(repo, opts.base)
        prefix = git.prefix_in_repo(repo, ws.root)
        paths = [f"{prefix}/stacks" if prefix else "stacks"]
        paths += [f"{prefix}/fleetctl" if prefix else "fleetctl"]
        paths += [f"{prefix}/{guardrails.PACK_DIR}" if prefix else guardrails.PACK_DIR]
        raw = git.tree_blobs(repo, base_commit, paths)
        cut = len(prefix) + 1 if prefix else 0
        base_blobs = {p[cut:]: b for p, b in raw.items()}
        pack_changed = rules is not None and _pack_changed(ws, base_blobs)
        base = _base_program(repo, base_blobs)
        base_blobs, base_modules = base.blobs, base.modules
    if snapshot is not None:
        base_names = sorted(snapshot)
    else:
        base_names = _stacks_in(base_blobs) if opts.base is not None else []
    chosen = _select(head_names, base_names, opts.env, opts.stacks)

    run = PreviewRun(PreviewReport(PreviewResult(())), warnings=warnings, key_id=key_id)
    graphs: dict[tuple[str, str], ResourceGraph] = {}
    errors: dict[tuple[str, str], StackError] = {}
    keys: dict[tuple[str, str], str] = {}
    skipped: set[str] = set()
    misses: list[tuple[str, str]] = []
    ran_elsewhere: set[tuple[str, str]] = set()  # merge: run by a shard
    seconds: dict[str, float] = {}

    def lookup(k: str) -> Entry | None:
        if opts.supplied is not None and k in opts.supplied:
            return opts.supplied[k]
        hit = _cache_get(ws, k) if opts.use_cache else None
        return None if hit is None else Entry(graph=hit)

    pairs: dict[str, tuple[str | None, str | None]] = {}
    for name in chosen:
        hk = stack_key(head_blobs, name, key_id) if name in head_names else None
        bk = None
        if snapshot is not None:
            if name in snapshot:
                graphs[(name, "base")] = snapshot[name]
        elif opts.base is not None:
            bk = stack_key(base_blobs, name, key_id)
        pairs[name] = (hk, bk)
    need = [n for n, (hk, bk) in pairs.items() if not (bk is not None and hk == bk)]
    if pack_changed:  # unchanged stacks too: the new pack must see their heads
        need = list(pairs)
    others: set[str] = set()
    if opts.shard is not None:
        run.shard_stacks = shards.share(need, fleet, *opts.shard)
        others = set(need) - set(run.shard_stacks)
    for name, (hk, bk) in pairs.items():
        if name in others:
            continue
        if bk is not None and hk == bk:
            skipped.add(name)
            entry = lookup(hk) if hk is not None else None
            if entry is not None and entry.graph is not None:
                run.unchanged_graphs[name] = entry.graph
                run.entries[hk] = replace(entry, ran=False, seconds=0.0)
            if not pack_changed:
                continue
            bk = None  # unchanged, but the new pack must see its head (cache or run)
        for side, k in (("head", hk), ("base", bk)):
            if k is None:
                continue
            keys[(name, side)] = k
            entry = lookup(k)
            if entry is None:
                misses.append((name, side))
                continue
            run.entries[k] = entry
            if entry.error is not None:
                errors[(name, side)] = entry.error
            elif entry.graph is not None:
                graphs[(name, side)] = entry.graph
            if entry.ran:
                ran_elsewhere.add((name, side))
                seconds[name] = seconds.get(name, 0.0) + entry.seconds
            else:
                run.cache_hits += 1
    if opts.supplied is not None and misses:
        missing = ", ".join(f"{n} ({side})" for n, side in misses)
        raise BadInput(
            f"the shard outputs do not cover {missing}",
            hint="merge the outputs of every shard 1..N of one run (same commit, same flags)",
        )

    run.to_run = sorted({name for name, _ in misses})
    if opts.plan_only:
        run.seconds = time.monotonic() - started
        return run
    total = len(misses)
    if progress is not None:
        progress(f"{len(chosen)} stack(s), {total} to run", 0, total)
    preload = _preload_get(ws) if misses else []
    hints = _warm_get(ws) if misses else []
    results: dict[str, engine.JobResult] = {}
    with ExitStack() as stack:
        worker: engine.Worker | None = None
        if misses:  # first: its second of imports overlaps the checkout and configs below
            worker = stack.enter_context(
                engine.Worker(
                    pycache=ws.state_dir / "cache" / "pycache", preload=preload, hints=hints
                )
            )
        base_dir: Path | None = None
        if any(side == "base" for _, side in misses):
            assert repo is not None and base_commit is not None
            checkout = stack.enter_context(git.worktree(repo, base_commit))
            base_dir = checkout / prefix if prefix else checkout
        jobs = []
        configs: dict[Path, dict[str, dict[str, Any]]] = {}
        for name, side in misses:
            root = ws.root if side == "head" else base_dir
            assert root is not None
            if root not in configs:
                sides = [n for n, s in misses if s == side]
                configs[root] = stack_configs(root / "stacks", sides)
            jobs.append(
                engine.Job(
                    id=f"{name} ({side})",
                    root=root,
                    stacks_dir=root / "stacks",
                    stack=name,
                    project=project,
                    config=configs[root][name],
                    warm=head.modules if side == "head" else base_modules,
                )
            )
        # Largest programs first: the last ones to finish are small, so neither core
        # idles long at the end (longest processing time first).
        jobs.sort(key=lambda j: -shards.weight(j.stack, fleet))
        done = 0

        def _done(res: engine.JobResult) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(res.id, done, total)

        if worker is not None:
            results = worker.run(
                jobs,
                key=key,
                parallel=opts.jobs or default_jobs(),
                timeout=opts.timeout,
                on_done=_done,
                stats=run.stats,
            )
    for (name, side), res_key in ((m, keys[m]) for m in misses):
        res = results[f"{name} ({side})"]
        run.ran.append(res.id)
        if res.log.strip():
            run.logs[res.id] = res.log
        raw_error = res.error
        if raw_error is not None:
            errors[(name, side)] = error_from_json({**raw_error, "log": res.log})
            run.entries[res_key] = Entry(error=errors[(name, side)], ran=True)
            continue
        assert res.data is not None
        run.stats["program_s"] = run.stats.get("program_s", 0.0) + float(
            res.data.get("seconds", 0.0)
        )
        run.stats["program_cpu_s"] = run.stats.get("program_cpu_s", 0.0) + float(
            res.data.get("cpu_seconds", 0.0)
        )
        seconds[name] = seconds.get(name, 0.0) + float(res.data.get("seconds", 0.0))
        outside = [p for p in res.data.get("imports", ()) if p not in head_blobs]
        if outside and side == "head":
            run.warnings.append(
                f"{name}: the program imports {', '.join(outside)}, which the preview cache "
                "and change detection do not track; use --no-cache after changing them"
            )
        graph = graph_from_json({"stack": name, "project": project, **res.data})
        graphs[(name, side)] = graph
        run.entries[res_key] = Entry(
            graph=graph, ran=True, seconds=round(float(res.data.get("seconds", 0.0)), 4)
        )
        if opts.use_cache:
            _cache_write(run.warnings, _cache_put, ws, res_key, graph)

    learned = {m for r in results.values() if r.data for m in r.data.get("new_modules", ()) if m}
    if learned - set(preload):
        _cache_write(run.warnings, _preload_put, ws, set(preload) | learned)
    new_hints = {h for r in results.values() if r.data for h in r.data.get("hints", ())}
    if new_hints - set(hints):
        _warm_put(ws, set(hints) | new_hints)
    if misses and opts.use_cache:
        _cache_write(run.warnings, _prune_cache, ws)

    ran_keys = set(misses) | ran_elsewhere
    run.ran += [f"{n} ({side})" for n, side in sorted(ran_elsewhere)]
    previews: list[StackPreview] = []
    for name in chosen:
        if name in others:
            continue
        if name in skipped:
            previews.append(StackPreview(name, StackStatus.skipped))
            if (name, "head") in graphs:  # only when the policy pack changed
                run.head_graphs[name] = graphs[(name, "head")]
                run.unchanged_graphs.setdefault(name, graphs[(name, "head")])
            continue
        err = errors.get((name, "head")) or errors.get((name, "base"))
        if err is not None:
            if (name, "head") not in errors:
                err = StackError(
                    f"base ({opts.base}): {err.message}", err.file, err.line, err.details, err.log
                )
            previews.append(StackPreview(name, StackStatus.failed, error=err))
            continue
        head = graphs.get((name, "head"))
        base = graphs.get((name, "base"))
        if head is not None:
            run.head_graphs[name] = head
        if base is not None:
            run.base_graphs[name] = base
        if head is None:  # the stack exists only at the base: everything goes
            head = ResourceGraph(name, project, ())
        changes = tuple(diff_graphs(base, head))
        previews.append(
            StackPreview(
                name,
                StackStatus.changed if changes else StackStatus.unchanged,
                changes=changes,
                resources=resource_count(head),
                seconds=round(seconds.get(name, 0.0), 3),
                cached=all(
                    (name, side) not in ran_keys
                    for side in ("head", "base")
                    if (name, side) in keys
                ),
            )
        )
    result = PreviewResult(
        tuple(previews), base=opts.base, engine="mock", fleetctl_version=__version__
    )
    costs = cost_service.preview_costs(
        ws,
        fleet,
        {s.stack: s.status for s in result.stacks},
        run.head_graphs,
        run.base_graphs,
        run.unchanged_graphs,
        prices_path=opts.prices,
        git_base=opts.base if opts.base is not None and snapshot is None else None,
        warnings=run.warnings,
    )
    run.head_costs = costs.heads
    run.cost_failures = costs.failures
    found = None
    if rules is not None:
        bases = {n: g for (n, side), g in graphs.items() if side == "base"}
        found = _check_guardrails(result, rules, run.head_graphs, bases, fleet, project)
    run.report = PreviewReport(result, costs.deltas, costs.prices, found)
    run.seconds = time.monotonic() - started
    return run


def _guardrail_rules(ws: Workspace, opts: PreviewOptions) -> list[Rule] | None:
    """The pack's rules; None when the guardrails are off or the workspace has no pack."""
    if not opts.guardrails or not guardrails.pack_dir(ws).is_dir():
        return None
    return guardrails.load_rules(ws)


def _pack_changed(ws: Workspace, base_blobs: dict[str, str]) -> bool:
    top = guardrails.PACK_DIR + "/"
    base = {p: b for p, b in base_blobs.items() if p.startswith(top) and p.endswith(".py")}
    head = {
        path.relative_to(ws.root).as_posix(): git.blob_sha(path)
        for path in guardrails.pack_dir(ws).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    return base != head


def _check_guardrails(
    result: PreviewResult,
    rules: list[Rule],
    heads: dict[str, ResourceGraph],
    bases: dict[str, ResourceGraph],
    fleet: Fleet,
    project: str,
) -> GuardrailsReport:
    specs = {s.name: s.spec for s in fleet.stacks}
    ctxs = guardrails.contexts(result, heads, bases, specs, project)
    return guardrails.check(rules, ctxs)


SNAPSHOT_KIND = "fleetctl-preview-snapshot"


def is_snapshot(base: str) -> bool:
    """`--base` names a saved snapshot (an existing .json file) rather than a git ref."""
    return base.endswith(".json") and Path(base).is_file()


def save_snapshot(run: PreviewRun, path: Path) -> None:
    """The head graphs of a run, to diff a later preview against (`--base FILE.json`).

    Secrets are fingerprints keyed with this workspace's key; nothing else is secret.
    """
    skipped = [s.stack for s in run.result.stacks if s.status is StackStatus.skipped]
    failed = [s.stack for s in run.result.stacks if s.status is StackStatus.failed]
    if skipped or failed:
        raise BadInput(
            "a snapshot needs every selected stack previewed",
            hint="save snapshots without --base, and fix failing stacks first",
        )
    doc = {
        "kind": SNAPSHOT_KIND,
        "version": 1,
        "fleetctl_version": __version__,
        "fingerprint_key_id": run.key_id,
        "stacks": {n: graph_to_json(g) for n, g in sorted(run.head_graphs.items())},
    }
    path.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")


def load_snapshot(path: Path) -> tuple[dict[str, ResourceGraph], str]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("kind") != SNAPSHOT_KIND:
            raise ValueError("not a fleetctl preview snapshot")
        graphs = {str(n): graph_from_json(g) for n, g in doc["stacks"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInput(
            f"cannot read snapshot {path}: {exc}",
            hint="make one with `fleetctl preview --save-snapshot FILE.json`",
        ) from None
    return graphs, str(doc.get("fingerprint_key_id", ""))


def run_engine_preview(
    ws: Workspace, opts: PreviewOptions, progress: Progress | None = None
) -> PreviewRun:
    """`--engine pulumi`: the real `pulumi preview` per stack through the Automation API."""

    pulumi_auto.find_cli()  # exit 3 with an install hint before anything else
    if opts.base is not None:
        raise BadInput(
            "--base works with the offline engine only",
            hint="the real engine previews against the deployed state; drop --base",
        )
    started = time.monotonic()
    fleet = load_fleet(ws.stacks_dir)
    chosen = _select([s.name for s in fleet.stacks], [], opts.env, opts.stacks)
    workspace = pulumi_auto.open_workspace(ws.stacks_dir)
    previews: list[StackPreview] = []
    run = PreviewRun(PreviewReport(PreviewResult(())))
    for i, name in enumerate(chosen):
        t0 = time.monotonic()
        try:
            ep = pulumi_auto.preview(ws.stacks_dir, name, ws=workspace)
        except FleetctlError as exc:
            err = StackError(exc.message, details=tuple(exc.details))
            previews.append(StackPreview(name, StackStatus.failed, error=err))
            continue
        finally:
            if progress is not None:
                progress(name, i + 1, len(chosen))
        run.ran.append(name)
        if ep.stdout.strip():
            run.logs[name] = ep.stdout
        changed = any(ep.counts.get(k, 0) for k in ("create", "update", "replace", "delete"))
        previews.append(
            StackPreview(
                name,
                StackStatus.changed if changed else StackStatus.unchanged,
                resources=sum(ep.counts.values()),
                seconds=time.monotonic() - t0,
                engine_counts=ep.counts,
            )
        )
    run.report = PreviewReport(
        PreviewResult(tuple(previews), base=None, engine="pulumi", fleetctl_version=__version__)
    )
    run.seconds = time.monotonic() - started
    return run
