"""Load the team's policy pack (`policies/*.py` in the workspace) and check previews.

Each module of the pack is loaded from its file (not through sys.path, so two
workspaces in one process never share modules); every `Rule` at module level
counts. A module that does not load (syntax error, exception at import, a bad
rule id) is a `JobFailed` naming the file and line - never a traceback - and
stops the preview before any program runs.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
import types
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from fleetctl.core.guardrails import GuardrailsReport, Rule, StackContext, evaluate
from fleetctl.core.preview_model import PreviewResult, ResourceGraph, StackStatus
from fleetctl.errors import JobFailed
from fleetctl.services.workspace import Workspace
from fleetctl.spec.models import FleetSpec

PACK_DIR = "policies"
_MODULE_PREFIX = "_fleetctl_policy_pack"


def pack_dir(ws: Workspace) -> Path:
    return ws.root / PACK_DIR


def _rel(path: str | Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _broken(path: Path, root: Path, exc: BaseException) -> JobFailed:
    rel = _rel(path, root)
    if isinstance(exc, SyntaxError):
        where = f"{rel}:{exc.lineno}" if exc.lineno else rel
        text = f"{where}: syntax error: {exc.msg}"
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        where = f"{rel}:{frames[-1].lineno}" if frames else rel
        text = f"{where}: {type(exc).__name__}: {exc}"
    return JobFailed(
        f"policy pack: {text}",
        hint=f"fix {rel} (every preview loads {PACK_DIR}/); `fleetctl policy list` re-checks it",
    )


def _register_package(directory: Path) -> None:
    """A fresh package for the pack, so its modules can share helpers with relative
    imports (`from ._util import x`); the previous workspace's modules are dropped."""
    for name in [m for m in sys.modules if m.split(".", 1)[0] == _MODULE_PREFIX]:
        del sys.modules[name]
    package = types.ModuleType(_MODULE_PREFIX, "the policy pack being loaded")
    package.__path__ = [str(directory)]
    sys.modules[_MODULE_PREFIX] = package


def load_rules(ws: Workspace) -> list[Rule]:
    """Every rule of the workspace's pack, in file then definition order (none: no pack)."""
    root = ws.root
    directory = pack_dir(ws)
    if not directory.is_dir():
        return []
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    _register_package(directory)
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"{_MODULE_PREFIX}.{path.stem}"
        sys.modules.pop(name, None)
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and typing look modules up by name
            spec.loader.exec_module(module)
        except Exception as exc:  # SyntaxError included: report file:line, not a traceback
            sys.modules.pop(name, None)
            raise _broken(path, root, exc) from None
        for value in vars(module).values():
            if not isinstance(value, Rule):
                continue
            source = _rel(value.source.rsplit(":", 1)[0], root)
            line = value.source.rsplit(":", 1)[-1]
            where = f"{source}:{line}" if value.source else _rel(path, root)
            if value.id in seen and seen[value.id] != where:
                raise JobFailed(
                    f"policy pack: rule id {value.id} is defined twice: {seen[value.id]} and "
                    f"{where}",
                    hint="give each rule its own id",
                )
            if value.id not in seen:
                seen[value.id] = where
                rules.append(replace(value, source=where))
    return rules


def contexts(
    result: PreviewResult,
    head_graphs: Mapping[str, ResourceGraph],
    base_graphs: Mapping[str, ResourceGraph],
    specs: Mapping[str, FleetSpec],
    project: str,
) -> list[StackContext]:
    """One context per stack the preview has a head graph for: changed and unchanged
    stacks, and skipped ones only when the pack changed (their heads were then loaded);
    never failed ones. A stack deleted by the change gets an empty head and no spec."""
    out = []
    for s in result.stacks:
        if s.status is StackStatus.failed or s.engine_counts is not None:
            continue
        head = head_graphs.get(s.stack)
        if head is None:
            if s.stack in specs or s.status is StackStatus.skipped:
                continue  # no graph to judge
            head = ResourceGraph(s.stack, project, ())
        env, _, region = s.stack.partition("-")
        out.append(
            StackContext(
                stack=s.stack,
                env=env,
                region=region,
                spec=specs.get(s.stack),
                head=head,
                base=base_graphs.get(s.stack),
                changes=s.changes,
            )
        )
    return out


def check(rules: Sequence[Rule], ctxs: Sequence[StackContext]) -> GuardrailsReport:
    return GuardrailsReport(
        rules=tuple(r.id for r in rules),
        checked=tuple(c.stack for c in ctxs),
        violations=tuple(evaluate(rules, ctxs)),
    )
