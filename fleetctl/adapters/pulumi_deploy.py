"""`pulumi up` / `pulumi destroy` through the Automation API, as plain data.

A LocalWorkspace on `stacks/` (the project's Pulumi.yaml and the committed
Pulumi.<stack>.yaml files). The `pulumi` CLI must be on PATH: without it the
error is an OutsideError (exit 3) with an install hint, never a traceback.
The backend comes from PULUMI_BACKEND_URL (or `pulumi login`); the AWS
provider inherits the environment (credentials, AWS_REGION, AWS_ENDPOINT_URL).

Engine events are turned into `Step`s and handed to a callback as they
arrive, so the CLI can stream progress; the result is an `Outcome`.
Self-contained on purpose (pulumi is imported inside functions only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fleetctl.adapters import pulumi_cli
from fleetctl.errors import OutsideError

ALTERNATIVE = "then make sure `pulumi` is on PATH"  # after the install hint
# Engine op names folded into the five a person reads.
_OPS = {
    "create": "create",
    "update": "update",
    "delete": "delete",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "",
    "discard-replaced": "",
    "same": "same",
    "read": "read",
    "read-replacement": "read",
    "refresh": "refresh",
    "import": "import",
    "import-replacement": "import",
    "remove-pending-replace": "",
}

Kind = Literal["preview", "up", "destroy-preview", "destroy"]


@dataclass(frozen=True)
class Step:
    op: str  # create | update | replace | delete | same | ...
    urn: str
    type: str
    name: str
    status: Literal["planned", "started", "done", "failed"]
    seconds: float | None = None


@dataclass
class Outcome:
    stack: str
    kind: Kind
    ok: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changes(self) -> int:
        return sum(n for op, n in self.counts.items() if op not in ("same", "read", ""))


OnStep = Callable[[Step], None]


def find_cli() -> str:
    return pulumi_cli.find_cli(ALTERNATIVE)


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _fail(exc: BaseException, what: str, outcome: Outcome | None = None) -> OutsideError:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    details = [*(outcome.errors if outcome else []), *lines[-12:]]
    return OutsideError(
        f"pulumi {what} failed",
        details=details,
        hint="the messages above come from Pulumi; fix the cause and run the command again",
    )


class _Collector:
    """Turns Automation API engine events into Steps, counts and error messages."""

    def __init__(self, outcome: Outcome, on_step: OnStep | None, planning: bool) -> None:
        self.outcome = outcome
        self.on_step = on_step
        self.planning = planning
        self.started: dict[str, float] = {}

    def _emit(self, step: Step) -> None:
        self.outcome.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)

    def __call__(self, event: Any) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            op = _OPS.get(str(meta.op.value), str(meta.op.value))
            if not op or meta.type == "pulumi:pulumi:Stack":
                return
            if self.planning:
                if op != "same":
                    self._emit(Step(op, meta.urn, meta.type, _name_of(meta.urn), "planned"))
            elif op != "same":
                self.started[meta.urn] = time.monotonic()
                self._emit(Step(op, meta.urn, meta.type, _name_of(meta.urn), "started"))
        elif event.res_outputs_event is not None and not self.planning:
            meta = event.res_outputs_event.metadata
            op = _OPS.get(str(meta.op.value), str(meta.op.value))
            if op and op != "same" and meta.type != "pulumi:pulumi:Stack":
                t0 = self.started.pop(meta.urn, None)
                secs = None if t0 is None else time.monotonic() - t0
                self._emit(Step(op, meta.urn, meta.type, _name_of(meta.urn), "done", secs))
        elif event.res_op_failed_event is not None:
            meta = event.res_op_failed_event.metadata
            op = _OPS.get(str(meta.op.value), str(meta.op.value)) or "update"
            self.outcome.ok = False
            self._emit(Step(op, meta.urn, meta.type, _name_of(meta.urn), "failed"))
        elif event.diagnostic_event is not None:
            diag = event.diagnostic_event
            if diag.severity == "error":
                where = f"{_name_of(diag.urn)}: " if diag.urn else ""
                self.outcome.errors.append(where + diag.message.strip())
        elif event.summary_event is not None:
            counts: dict[str, int] = {}
            for op, n in dict(event.summary_event.resource_changes or {}).items():
                key = _OPS.get(str(getattr(op, "value", op)), str(op))
                if key:
                    counts[key] = counts.get(key, 0) + int(n)
            self.outcome.counts = counts


class PulumiStack:
    """One stack of the project in `work_dir`, driven through the Automation API."""

    def __init__(
        self,
        work_dir: Path,
        stack: str,
        *,
        create: bool,
        env_vars: Mapping[str, str] | None = None,
    ) -> None:
        find_cli()
        from pulumi import automation as auto

        self.name = stack
        try:
            ws = auto.LocalWorkspace(work_dir=str(work_dir), env_vars=dict(env_vars or {}))
            if create:
                self._stack = auto.Stack.create_or_select(stack, ws)
            else:
                self._stack = auto.Stack.select(stack, ws)
        except FileNotFoundError:
            raise pulumi_cli.not_found(ALTERNATIVE) from None
        except auto.StackNotFoundError:
            raise OutsideError(
                f"stack {stack!r} does not exist in the Pulumi backend",
                hint="nothing to destroy there; check PULUMI_BACKEND_URL / `pulumi whoami`",
            ) from None
        except auto.CommandError as exc:
            raise _fail(exc, f"stack select {stack}") from None

    def _run(self, kind: Kind, on_step: OnStep | None) -> Outcome:
        from pulumi import automation as auto

        outcome = Outcome(self.name, kind)
        collect = _Collector(outcome, on_step, planning=kind in ("preview", "destroy-preview"))
        t0 = time.monotonic()
        try:
            if kind == "preview":
                self._stack.preview(on_event=collect)
            elif kind == "destroy-preview":
                self._stack.preview_destroy(on_event=collect)
            elif kind == "up":
                result = self._stack.up(on_event=collect)
                outcome.outputs = {k: v.value for k, v in (result.outputs or {}).items()}
            else:
                self._stack.destroy(on_event=collect)
        except auto.ConcurrentUpdateError:
            raise OutsideError(
                f"another update of {self.name} is in progress",
                hint="wait for it to finish; if it died, `pulumi cancel` in stacks/",
            ) from None
        except auto.CommandError as exc:
            outcome.ok = False
            raise _fail(exc, f"{kind} of {self.name}", outcome) from None
        except RuntimeError as exc:  # e.g. "summary event never found": a broken CLI run
            raise _fail(exc, f"{kind} of {self.name}", outcome) from None
        outcome.seconds = time.monotonic() - t0
        return outcome

    def preview(self, on_step: OnStep | None = None) -> Outcome:
        return self._run("preview", on_step)

    def up(self, on_step: OnStep | None = None) -> Outcome:
        return self._run("up", on_step)

    def preview_destroy(self, on_step: OnStep | None = None) -> Outcome:
        return self._run("destroy-preview", on_step)

    def destroy(self, on_step: OnStep | None = None) -> Outcome:
        return self._run("destroy", on_step)
