"""The real Pulumi engine through the Automation API (`--engine pulumi`, `up`, `destroy`).

Needs the `pulumi` CLI on PATH (and a backend/credentials for real stacks); its
absence is an OutsideError (exit 3) with an install hint, never a traceback.
Kept small and reusable: `open_workspace`, `select_stack`, `preview`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetctl.adapters import pulumi_cli
from fleetctl.errors import OutsideError

# what to do instead of installing the CLI
ALTERNATIVE = (
    "or drop `--engine pulumi`: the default engine previews offline, without the CLI or credentials"
)


@dataclass(frozen=True)
class EnginePreview:
    stack: str
    counts: dict[str, int]  # create/update/replace/delete/same as the engine reports them
    stdout: str


def find_cli() -> str:
    return pulumi_cli.find_cli(ALTERNATIVE)


def _outside(exc: BaseException, what: str) -> OutsideError:
    text = str(exc).strip().splitlines()
    return OutsideError(f"pulumi {what} failed", details=text[-15:], hint="see the output above")


def open_workspace(stacks_dir: Path, env_vars: dict[str, str] | None = None) -> Any:
    """A LocalWorkspace on the project in `stacks_dir` (the Pulumi.yaml there)."""
    find_cli()
    from pulumi import automation as auto

    try:
        return auto.LocalWorkspace(work_dir=str(stacks_dir), env_vars=env_vars or {})
    except FileNotFoundError:
        raise pulumi_cli.not_found(ALTERNATIVE) from None
    except Exception as exc:
        raise _outside(exc, "workspace") from None


def select_stack(ws: Any, name: str) -> Any:
    from pulumi import automation as auto

    try:
        return auto.Stack.select(name, ws)
    except auto.StackNotFoundError:
        raise OutsideError(
            f"stack {name!r} does not exist in the Pulumi backend",
            hint=f"create it with `pulumi stack init {name}` (in stacks/)",
        ) from None
    except Exception as exc:
        raise _outside(exc, f"stack select {name}") from None


def _counts(summary: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for op, n in dict(summary or {}).items():
        key = getattr(op, "value", op)
        key = {"create-replacement": "replace", "delete-replaced": "", "replace": "replace"}.get(
            str(key), str(key)
        )
        if key:
            out[key] = out.get(key, 0) + int(n)
    return out


def preview(
    stacks_dir: Path,
    stack_name: str,
    *,
    ws: Any = None,
    on_output: Callable[[str], None] | None = None,
) -> EnginePreview:
    """`pulumi preview --diff` of one stack."""
    ws = ws if ws is not None else open_workspace(stacks_dir)
    stack = select_stack(ws, stack_name)
    try:
        res = stack.preview(diff=True, on_output=on_output)
    except FileNotFoundError:
        raise pulumi_cli.not_found(ALTERNATIVE) from None
    except Exception as exc:
        raise _outside(exc, f"preview {stack_name}") from None
    return EnginePreview(stack_name, _counts(res.change_summary), res.stdout)
