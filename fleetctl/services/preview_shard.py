"""Previews sharded across CI runners: `preview --shard K/N` and `preview merge`.

Every shard computes the same thing first - which stacks need running (their
input keys differ from the base, from git and the spec alone) - and takes a
stable share of them, balanced by an estimate of each stack's resources from
its spec (not from a cache, which could differ between runners and make two
shards disagree). A shard writes, for the stack sides of its share, the
graph or error each input key gave (run or from its cache). `preview merge`
is then an ordinary preview whose only source of graphs is those files: the
same selection, diff, cost, policy and rendering code, hence exactly the
report one run gives; it runs no program, and a key no shard covered is an
error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fleetctl import __version__
from fleetctl.core import shards
from fleetctl.core.preview_model import (
    StackError,
    error_from_json,
    graph_from_json,
    graph_to_json,
)
from fleetctl.errors import BadInput
from fleetctl.services.preview import SPEC_CACHE, Entry, PreviewOptions, PreviewRun
from fleetctl.services.workspace import Workspace
from fleetctl.spec import load_fleet

KIND = "fleetctl-preview-shard"
VERSION = 1


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N), 1 <= K <= N."""
    k, sep, n = text.partition("/")
    try:
        shard = (int(k), int(n))
    except ValueError:
        shard = (0, 0)
    if not sep or not 1 <= shard[0] <= shard[1]:
        raise BadInput(
            f"--shard {text!r}: expected K/N with 1 <= K <= N",
            hint="e.g. --shard 2/3 for the second of three runners",
        )
    return shard


def plan_json(run: PreviewRun, ws: Workspace) -> dict[str, Any]:
    """`preview --plan`: what a run would do, for CI to size its matrix."""
    fleet = load_fleet(ws.stacks_dir, parse_cache=ws.state_dir / SPEC_CACHE)
    return {
        "count": len(run.to_run),
        "to_run": run.to_run,
        "resources": sum(shards.weight(n, fleet) for n in run.to_run),
    }


def _options_json(opts: PreviewOptions) -> dict[str, Any]:
    """The flags every shard and the merge must share."""
    return {
        "env": opts.env,
        "stacks": list(opts.stacks),
        "base": opts.base,
        "prices": str(opts.prices) if opts.prices is not None else None,
        "policy": opts.guardrails,
    }


def save(run: PreviewRun, opts: PreviewOptions, path: Path) -> None:
    assert opts.shard is not None
    entries: dict[str, Any] = {}
    for key, e in sorted(run.entries.items()):
        item: dict[str, Any] = {"ran": e.ran, "seconds": e.seconds}
        if e.graph is not None:
            item["graph"] = graph_to_json(e.graph)
        if e.error is not None:
            item["error"] = _error_json(e.error)
        entries[key] = item
    doc = {
        "kind": KIND,
        "version": VERSION,
        "fleetctl_version": __version__,
        "shard": list(opts.shard),
        "options": _options_json(opts),
        "fingerprint_key_id": run.key_id,
        "stacks": run.shard_stacks,
        "entries": entries,
    }
    path.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")


def _error_json(e: StackError) -> dict[str, Any]:
    return {
        "message": e.message,
        "file": e.file,
        "line": e.line,
        "details": list(e.details),
        "log": e.log,
    }


def _check_doc(doc: object) -> None:
    """ValueError saying what is wrong when `doc` is not a shard output's shape."""
    if not isinstance(doc, dict) or doc.get("kind") != KIND or doc.get("version") != VERSION:
        raise ValueError("not a fleetctl preview shard output")
    shard = doc.get("shard")
    if not (
        isinstance(shard, list)
        and len(shard) == 2
        and all(type(x) is int for x in shard)
        and 1 <= shard[0] <= shard[1]
    ):
        raise ValueError(f"its `shard` is {shard!r}, not [K, N] with 1 <= K <= N")
    for field, kind in (("options", dict), ("entries", dict), ("stacks", list)):
        if not isinstance(doc.get(field), kind):
            raise ValueError(f"its `{field}` is missing or not a {kind.__name__}")


def load(paths: Sequence[Path]) -> PreviewOptions:
    """The preview options of the shards, with their entries as the only source of graphs."""
    if not paths:
        raise BadInput("no shard outputs to merge", hint="fleetctl preview merge shard-*.json")
    docs = []
    for path in paths:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            _check_doc(doc)
            docs.append((path, doc))
        except (OSError, ValueError) as exc:
            raise BadInput(
                f"cannot read shard output {path}: {exc}",
                hint="shard outputs are written by `fleetctl preview --shard K/N --out FILE`",
            ) from None
    first = docs[0][1]
    n = first["shard"][1]
    by_k: dict[int, Path] = {}
    for path, doc in docs:
        for field in ("options", "fingerprint_key_id", "fleetctl_version"):
            if doc.get(field) != first.get(field):
                raise BadInput(
                    f"{path} was made with another {field.replace('_', ' ')} than {docs[0][0]}",
                    hint="merge the shards of one run: same commit, flags and .fleetctl/cache",
                )
        k, of = doc["shard"]
        if of != n:
            raise BadInput(f"{path} is a shard of {of}, {docs[0][0]} of {n}")
        if k in by_k:
            # Two outputs for one shard: from two runs (or one file twice); which
            # one is right cannot be told, so neither is guessed.
            raise BadInput(
                f"shard {k}/{n} given twice: {by_k[k]} and {path}",
                hint="pass each shard's output once",
            )
        by_k[k] = path
    missing = sorted(set(range(1, n + 1)) - set(by_k))
    if missing:
        raise BadInput(
            f"shard(s) {', '.join(f'{k}/{n}' for k in missing)} missing from the merge",
            hint="pass the outputs of every shard",
        )
    supplied: dict[str, Entry] = {}
    try:
        for _, doc in docs:
            for key, item in doc["entries"].items():
                graph = graph_from_json(item["graph"]) if "graph" in item else None
                error = error_from_json(item["error"]) if "error" in item else None
                supplied[key] = Entry(graph, error, bool(item["ran"]), float(item["seconds"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadInput(f"a shard output is damaged: {exc}") from None
    o = first["options"]
    return PreviewOptions(
        env=o["env"],
        stacks=tuple(o["stacks"]),
        base=o["base"],
        prices=Path(o["prices"]) if o["prices"] else None,
        guardrails=bool(o["policy"]),
        supplied=supplied,
        key_id=str(first["fingerprint_key_id"]),
    )
