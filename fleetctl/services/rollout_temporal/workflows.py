"""The coordinator and region workflows. Deterministic: no I/O, no clocks but
`workflow.now()`, timers are durable (`wait_condition(..., timeout=)`); every
side effect is an activity named by string, so this module imports nothing
heavy inside the SDK's sandbox.

The coordinator decides, the regions execute. For each step the coordinator
checks freeze and deploy window, journals `step_started`, orders the region
child to apply it (`go`), counts the batch against the global budget, orders
it to bake and judge (`bake`), and journals the verdict. A failure anywhere
sets `stop`: every region is told to stop before its next batch, then the
coordinator rolls back every touched host, one rollback activity per region
in parallel.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from fleetctl.services.rollout_temporal.model import (
        COORDINATOR_WORKFLOW,
        HEARTBEAT_S,
        REGION_WORKFLOW,
        Admission,
        AdmissionRequest,
        BatchRequest,
        BatchResult,
        Decision,
        Ending,
        GatesRequest,
        GatesResult,
        JournalWrite,
        Order,
        RegionInput,
        Result,
        RollbackRequest,
        RollbackResult,
        StartInput,
        StepRef,
        region_queue,
    )

SECRET_MISSING = "SecretMissing"  # activities.SECRET_MISSING: refused before Ansible ran
_QUICK = timedelta(seconds=60)  # journal and admission: small store writes/reads
_RETRY = RetryPolicy(maximum_attempts=5, non_retryable_error_types=["BadInput", "LockHeld"])
_FREEZE_POLL_S = 30.0


def _region_of(steps: list[StepRef]) -> dict[str, str]:
    return {h: s.region for s in steps for h in s.hosts}


@workflow.defn(name=REGION_WORKFLOW)
class RegionWorkflow:
    """One region's waves, in order, on task queue `region-<name>`."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.stop = False

    @workflow.signal
    def order(self, o: Order) -> None:
        if o.phase == "stop":
            self.stop = True
        else:
            self.orders[f"{o.step}:{o.phase}"] = o

    @workflow.query
    def stopped(self) -> bool:
        return self.stop

    def _long(self, inp: RegionInput) -> bool:
        """Is this run's history long enough to go on in a fresh one?"""
        info = workflow.info()
        return info.is_continue_as_new_suggested() or (
            0 < inp.history_events <= info.get_current_history_length()
        )

    @workflow.run
    async def run(self, inp: RegionInput) -> list[int]:
        parent = workflow.get_external_workflow_handle(inp.parent_id)
        queue = workflow.info().task_queue
        self.stop = self.stop or inp.stop
        for o in inp.orders:
            self.orders[f"{o.step}:{o.phase}"] = o
        judged: list[int] = list(inp.judged)
        for n, step in enumerate(inp.steps):
            if n > 0 and not self.stop and self._long(inp):
                # Between steps nothing is in flight: go on in a fresh run with the
                # rest, carrying what was ordered and judged. Its workflow ID stays,
                # so the coordinator's signals (by ID) and its wait reach the new run.
                workflow.continue_as_new(
                    RegionInput(
                        inp.rollout_id,
                        inp.region,
                        inp.steps[n:],
                        inp.parent_id,
                        inp.history_events,
                        judged,
                        [o for o in self.orders.values() if o.step not in judged],
                        self.stop,
                    )
                )
            go = f"{step.index}:go"
            await workflow.wait_condition(lambda go=go: self.stop or go in self.orders)  # type: ignore[misc]
            if self.stop:
                break
            applied = await workflow.execute_activity(
                "apply_batch",
                BatchRequest(inp.rollout_id, step),
                result_type=BatchResult,
                task_queue=queue,
                start_to_close_timeout=timedelta(seconds=step.deadline_s + 60),
                heartbeat_timeout=timedelta(seconds=HEARTBEAT_S),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            await parent.signal("applied", applied)
            bake = f"{step.index}:bake"
            await workflow.wait_condition(lambda bake=bake: self.stop or bake in self.orders)  # type: ignore[misc]
            if self.stop:
                break
            if step.bake_s > 0:  # a durable timer, cut short by `stop`
                with suppress(TimeoutError):
                    await workflow.wait_condition(lambda: self.stop, timeout=step.bake_s)
            if self.stop:
                break
            o = self.orders[bake]
            verdict = await workflow.execute_activity(
                "run_gates",
                GatesRequest(inp.rollout_id, step, o.changed, o.touched, o.failed, o.unreachable),
                result_type=GatesResult,
                task_queue=queue,
                start_to_close_timeout=timedelta(seconds=step.deadline_s + 600),
                heartbeat_timeout=timedelta(seconds=HEARTBEAT_S * 3),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            await parent.signal("judged", verdict)
            judged.append(step.index)
        return judged


@workflow.defn(name=COORDINATOR_WORKFLOW)
class Coordinator:
    """One rollout of one env; its workflow ID is the env's lock."""

    def __init__(self) -> None:
        self.status = "running"
        self.touched: set[str] = set()
        self.failed: set[str] = set()
        self.unreachable: set[str] = set()
        self.accepted_unreachable: set[str] = set()
        self.finished: list[int] = []
        self.pause: dict[str, Any] | None = None
        self.stop_reason = ""
        self.decision: tuple[str, Decision] | None = None  # (kind, who/why) for a pause
        self.reports: dict[str, Any] = {}
        self.children: dict[str, Any] = {}
        self.seq = 0
        self.message = ""
        self.rid = ""
        self.env = ""

    # -- people and regions talk to it ----------------------------------------------

    @workflow.signal
    def applied(self, r: BatchResult) -> None:
        self.reports[f"{r.step}:applied"] = r

    @workflow.signal
    def judged(self, r: GatesResult) -> None:
        self.reports[f"{r.step}:judged"] = r

    @workflow.signal
    def promote(self, d: Decision) -> None:
        if self.pause is not None and self.pause["kind"] in ("gate", "approval", "unreachable"):
            self.decision = ("promote", d)

    @workflow.signal
    def approve(self, d: Decision) -> None:
        if self.pause is not None and self.pause["kind"] == "approval":
            self.decision = ("promote", d)

    @workflow.signal
    def resume(self, d: Decision) -> None:
        self.decision = ("resume", d)  # re-check a freeze now

    @workflow.signal
    def abort(self, d: Decision) -> None:
        if not self.stop_reason:
            self.stop_reason = f"aborted by {d.by}: {d.reason}"
        self.decision = ("abort", d)

    @workflow.query
    def state(self) -> dict[str, Any]:
        return {
            "id": self.rid,
            "env": self.env,
            "status": self.status,
            "pause": self.pause,
            "finished_steps": list(self.finished),
            "touched": sorted(self.touched),
            "failed_hosts": sorted(self.failed),
            "unreachable_hosts": sorted(self.unreachable),
            "stopping": self.stop_reason,
            "message": self.message,
        }

    # -- the journal (the read model) ------------------------------------------------

    def _doc(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "pause": self.pause,
            "touched": sorted(self.touched),
            "failed_hosts": sorted(self.failed),
            "unreachable_hosts": sorted(self.unreachable),
            "accepted_unreachable": sorted(self.accepted_unreachable),
            "next_step": len(self.finished),
            "finished_steps": sorted(self.finished),
            "message": self.message,
        }

    async def _journal(self, *events: dict[str, Any], save: bool = True) -> None:
        self.seq += 1
        await workflow.execute_local_activity(
            "journal",
            JournalWrite(self.rid, self.seq, list(events), self._doc() if save else {}),
            start_to_close_timeout=_QUICK,
            retry_policy=_RETRY,
        )

    # -- the run ---------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: StartInput) -> Result:
        self.rid, self.env = inp.rollout_id, inp.env
        self.inp = inp
        self.host_region = _region_of(inp.steps)
        try:
            await workflow.execute_local_activity(
                "prepare", inp, start_to_close_timeout=_QUICK, retry_policy=_RETRY
            )
        except Exception as exc:  # the store's env lock is held by a local-engine rollout
            return Result(self.rid, "failed", f"not started: {_cause(exc)}")
        units = _units(inp.steps)
        await self._drive(0, units[0])  # the canary: first and alone
        rest = list(enumerate(units[1:], start=1))

        async def lane() -> None:
            while rest and not self.stop_reason:
                n, unit = rest.pop(0)
                await self._drive(n, unit)

        width = max(1, min(inp.limits.max_parallel_regions, len(rest)))
        await asyncio.gather(*(lane() for _ in range(width)))
        if self.stop_reason:
            return await self._rollback(self.stop_reason)
        return await self._end(Ending(self.rid, "completed", ""))

    async def _drive(self, n: int, steps: list[StepRef]) -> None:
        """Run one region's steps through its child workflow."""
        region = steps[0].region
        child = await workflow.start_child_workflow(
            REGION_WORKFLOW,
            RegionInput(
                self.rid,
                region,
                steps,
                workflow.info().workflow_id,
                self.inp.limits.region_history_events,
            ),
            id=f"{workflow.info().workflow_id}/{self.rid}/{n}-{region}",
            task_queue=region_queue(region),
            result_type=list,
        )
        self.children[region] = child
        current = steps[0]
        try:
            for step in steps:
                current = step
                if self.stop_reason or not await self._admit(step):
                    break
                if not await self._step(child, step):
                    break
        finally:
            await _order(child, Order(-1, "stop"))
            try:
                await child
            except Exception as exc:  # the region's executor failed for good
                applied = f"{current.index}:applied" in self.reports
                if not applied and _error_type(exc) != SECRET_MISSING:
                    self.touched |= set(current.hosts)  # maybe changed: roll them back too
                await self._fail(current, f"region {region} failed at {current.label}: "
                                 f"{_cause(exc)}")  # fmt: skip
            self.children.pop(region, None)

    async def _step(self, child: Any, step: StepRef) -> bool:
        """One step; False when the region must stop."""
        await self._journal(
            {
                "type": "step_started",
                "step": step.index,
                "label": step.label,
                "region": step.region,
                "hosts": list(step.hosts),
                "engine": "temporal",
            },
        )
        await _order(child, Order(step.index, "go"))
        key = f"{step.index}:applied"
        await workflow.wait_condition(lambda: key in self.reports or child.done())
        if key not in self.reports:
            return False
        r: BatchResult = self.reports[key]
        fine = {h for h, o in r.hosts.items() if o.get("state") in ("ok", "changed")}
        self.touched |= {h for h in step.hosts if h not in r.unreachable}
        self.failed = (self.failed - fine) | set(r.failed)
        self.unreachable = (self.unreachable - fine) | set(r.unreachable)
        lim = self.inp.limits
        applied = {
            "type": "step_applied",
            "step": step.index,
            "label": step.label,
            "status": r.status,
            "error": r.error,
            "duration_s": r.duration_s,
            "hosts": r.hosts,
            "failed": r.failed,
            "unreachable": r.unreachable,
            "total_failed": len(self.failed),
            "max_failed_hosts": lim.max_failed_hosts,
            "total_unreachable": len(self.unreachable),
            "max_unreachable_hosts": lim.max_unreachable_hosts,
            "region": r.region,
            "attempt": r.attempt,
        }
        why = ""
        if r.status in ("timeout", "canceled"):
            why = f"progress deadline of {step.deadline_s:g}s passed during {step.label}"
        elif r.status == "error":
            why = f"Ansible could not run: {r.error or 'error'}"
        elif len(self.failed) > lim.max_failed_hosts:
            why = (
                f"{len(self.failed)} host(s) failed the change ({', '.join(sorted(self.failed))}) "
                f"> max_failed_hosts {lim.max_failed_hosts}"
            )
        elif r.missing and not r.failed and r.status != "successful":
            why = f"no result for host(s) {', '.join(r.missing)}"
        counted = sorted(self.unreachable - self.accepted_unreachable)
        bake = {"type": "bake", "step": step.index, "seconds": step.bake_s}
        clean = not why and len(counted) <= lim.max_unreachable_hosts and not self.stop_reason
        # one journal write per phase where nothing went wrong (bookkeeping is per step)
        await self._journal(applied, *([bake] if clean and step.bake_s > 0 else []))
        if why:
            await self._fail(step, why)
            return False
        if len(counted) > lim.max_unreachable_hosts:
            kind = await self._pause(
                step,
                "unreachable",
                f"{len(counted)} host(s) unreachable ({', '.join(counted)}) > "
                f"max_unreachable_hosts {lim.max_unreachable_hosts}; not counted as change "
                "failures",
            )
            if kind != "promote":
                return False
            self.accepted_unreachable |= set(counted)
            if step.bake_s > 0:
                await self._journal(bake, save=False)
        if self.stop_reason:
            return False
        changed = [h for h in step.hosts if h not in r.unreachable and h not in r.failed]
        await _order(
            child,
            Order(
                step.index,
                "bake",
                sorted(self.touched),
                sorted(self.failed),
                sorted(self.unreachable),
                changed,
            ),
        )
        key = f"{step.index}:judged"
        await workflow.wait_condition(lambda: key in self.reports or child.done())
        if key not in self.reports:
            return False
        g: GatesResult = self.reports[key]
        judged = [
            *({"type": "gate", "phase": "step", **r} for r in g.results),
            {
                "type": "step_verdict",
                "step": step.index,
                "label": step.label,
                "verdict": g.verdict,
                "gates": g.gates,
            },
        ]
        if g.verdict in ("pass", "skipped") and not step.approval and not self.stop_reason:
            self.finished.append(step.index)
            await self._journal(
                *judged,
                {
                    "type": "step_finished",
                    "step": step.index,
                    "label": step.label,
                    "promoted": False,
                },
            )
            return True
        await self._journal(*judged, save=False)
        if g.verdict == "fail":
            why = "; ".join(f"{k}: {v}" for k, v in g.reasons.items() if g.gates[k] == "fail")
            await self._fail(step, f"gate failed at {step.label}: {why}")
            return False
        pause_kind = ""
        if g.verdict == "inconclusive":
            why = "; ".join(
                f"{k}: {v}" for k, v in g.reasons.items() if g.gates[k] == "inconclusive"
            )
            pause_kind = await self._pause(step, "gate", f"inconclusive at {step.label}: {why}")
        elif step.approval:
            pause_kind = await self._pause(
                step, "approval", f"manual approval required after {step.label}"
            )
        if pause_kind and pause_kind != "promote":
            return False
        self.finished.append(step.index)
        await self._journal(
            {
                "type": "step_finished",
                "step": step.index,
                "label": step.label,
                "promoted": pause_kind == "promote",
            },
        )
        return not self.stop_reason

    # -- freeze, window, pauses ------------------------------------------------------

    async def _admission(self, step: StepRef) -> Admission:
        return await workflow.execute_local_activity(
            "admission",
            AdmissionRequest(self.rid, step.region),
            result_type=Admission,
            start_to_close_timeout=_QUICK,
            retry_policy=_RETRY,
        )

    async def _admit(self, step: StepRef) -> bool:
        """Wait (durably) while the env is frozen or outside its deploy window."""
        while not self.stop_reason:
            a = await self._admission(step)
            if a.frozen:
                reason = f"env frozen by {a.frozen}"
                wait = _FREEZE_POLL_S
            elif a.window_wait_s > 0:
                reason = a.window  # "outside b's deploy window (...); opens ..."
                wait = a.window_wait_s
            else:
                if self.pause is not None:
                    pause, self.pause = self.pause, None
                    self.status = "running"
                    by = self.decision[1].by if self.decision else "the coordinator's timer"
                    await self._journal(
                        {
                            "type": "resumed",
                            "previous_status": "paused",
                            "next_step": step.index,
                            "pause": pause,
                            "by": by,
                        }
                    )
                return True
            if self.pause is None or self.pause.get("reason") != reason:
                kind = "freeze" if a.frozen else "window"
                self.status = "paused"
                self.pause = {
                    "kind": kind,
                    "reason": reason,
                    "step": step.index,
                    "at": workflow.now().timestamp(),
                }
                self.message = reason
                await self._journal(
                    {
                        "type": "paused",
                        "step": step.index,
                        "label": step.label,
                        "kind": kind,
                        "reason": reason,
                        "until_s": wait,
                    },
                )
            self.decision = None
            with suppress(TimeoutError):  # a durable timer; `resume` or `abort` cut it short
                await workflow.wait_condition(
                    lambda: self.decision is not None or bool(self.stop_reason), timeout=wait
                )
        return False

    async def _pause(self, step: StepRef, kind: str, reason: str) -> str:
        """Pause for a person: returns "promote" or "abort"."""
        self.status = "paused"
        self.pause = {
            "kind": kind,
            "reason": reason,
            "step": step.index,
            "at": workflow.now().timestamp(),
        }
        self.message = reason
        self.decision = None
        await self._journal(
            {
                "type": "paused",
                "step": step.index,
                "label": step.label,
                "kind": kind,
                "reason": reason,
            },
        )
        await workflow.wait_condition(
            lambda: (
                (self.decision is not None and self.decision[0] != "resume")
                or bool(self.stop_reason)
            )
        )
        pause, self.pause = self.pause, None
        if self.decision is not None and self.decision[0] == "promote" and not self.stop_reason:
            d = self.decision[1]
            self.status = "running"
            await self._journal(
                {
                    "type": "promoted",
                    "step": step.index,
                    "label": step.label,
                    "pause_kind": kind,
                    "pause_reason": pause["reason"] if pause else reason,
                    "by": d.by,
                    "reason": d.reason,
                },
            )
            return "promote"
        return "abort"

    # -- endings ---------------------------------------------------------------------

    async def _fail(self, step: StepRef, reason: str) -> None:
        first = not self.stop_reason
        if first:
            self.stop_reason = reason
        await self._journal(
            {"type": "failed", "step": step.index, "label": step.label, "reason": reason}
        )
        if first:  # stop new batches everywhere
            for child in list(self.children.values()):
                await _order(child, Order(-1, "stop"))

    async def _rollback(self, reason: str) -> Result:
        for child in list(self.children.values()):  # (all ended by now; belt and braces)
            await child
        self.status = "rolling_back"
        self.message = reason
        touched = sorted(self.touched)
        await self._journal(
            {
                "type": "rollback_started",
                "reason": reason,
                "to": self.inp.doc.get("rollback_to_id"),
                "hosts": touched,
            },
        )
        if not touched:
            proof: dict[str, Any] = {"ok": True, "hosts": 0}
            msg = f"{reason}; no host was changed, nothing to roll back"
            return await self._end(Ending(self.rid, "rolled_back", msg, proof=proof))
        if not self.inp.doc.get("rollback_to"):
            msg = (
                f"{reason}; NOT rolled back: group {self.inp.doc['group']} has no last "
                f"known-good release (refusing to guess). Hosts changed: {', '.join(touched)}"
            )
            return await self._end(Ending(self.rid, "failed", msg))
        by_region: dict[str, list[str]] = {}
        for h in touched:
            by_region.setdefault(self.host_region.get(h, ""), []).append(h)

        async def one(region: str, hosts: list[str]) -> RollbackResult:
            try:
                return await workflow.execute_activity(
                    "rollback_region",
                    RollbackRequest(
                        self.rid,
                        region,
                        hosts,
                        sorted(self.touched | self.unreachable),
                        sorted(self.failed),
                    ),
                    result_type=RollbackResult,
                    task_queue=region_queue(region),
                    start_to_close_timeout=timedelta(seconds=3600),
                    heartbeat_timeout=timedelta(seconds=HEARTBEAT_S * 3),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
            except ActivityError as exc:  # its worker failed for good: not proven, say why
                error = f"region {region}: {_cause(exc)}"
                return RollbackResult(region, False, {"ok": False, "error": error})

        results = await asyncio.gather(
            *(one(region, hosts) for region, hosts in sorted(by_region.items()))
        )
        evidence = [ev for r in results for ev in r.evidence]
        if evidence:
            await self._journal(*evidence, save=False)
        proof = _merge_proofs(results, len(touched))
        if proof["ok"]:
            msg = (
                f"{reason}; rolled back {len(touched)} host(s) to {proof['release']} "
                f"(proof: --check --diff 0 changed, gates {proof['gate_verdict']})"
            )
            return await self._end(Ending(self.rid, "rolled_back", msg, proof=proof))
        msg = f"{reason}; ROLLBACK NOT PROVEN: {proof}"
        return await self._end(Ending(self.rid, "rollback_failed", msg, proof=proof))

    async def _end(self, ending: Ending) -> Result:
        self.status = ending.status
        msg = ending.message
        self.message = msg
        done = Ending(ending.rollout_id, ending.status, msg, self._doc(), [], ending.proof)
        out = await workflow.execute_local_activity(
            "finish", done, result_type=str, start_to_close_timeout=_QUICK, retry_policy=_RETRY
        )
        self.message = out or msg
        return Result(self.rid, ending.status, self.message)


async def _order(child: Any, o: Order) -> None:
    """Signal a region child; one that already ended (its last step judged, or
    stopped) needs no order, and the race with its ending is not an error."""
    if child.done():
        return
    try:
        await child.signal("order", o)
    except Exception as exc:  # not found: it ended meanwhile; the caller waits on done()
        workflow.logger.info("order %s to an ended region child: %s", o.phase, exc)


def _units(steps: list[StepRef]) -> list[list[StepRef]]:
    """The canary step alone, then each region's remaining steps in plan order."""
    units: list[list[StepRef]] = [[steps[0]]]
    by_region: dict[str, list[StepRef]] = {}
    for s in steps[1:]:
        if s.region not in by_region:
            by_region[s.region] = []
            units.append(by_region[s.region])
        by_region[s.region].append(s)
    return units


def _merge_proofs(results: list[RollbackResult], hosts: int) -> dict[str, Any]:
    proofs = [r.proof for r in results]
    verdicts = [p.get("gate_verdict", "fail") for p in proofs]
    return {
        "ok": all(r.ok for r in results),
        "release": next((p["release"] for p in proofs if "release" in p), None),
        "hosts": hosts,
        "apply_status": "successful"
        if all(p.get("apply_status") == "successful" for p in proofs)
        else "failed",
        "check_changed": sum(int(p.get("check_changed", 0)) for p in proofs),
        "check_hosts": sum(int(p.get("check_hosts", 0)) for p in proofs),
        "gates": {
            f"{r.region}:{k}": v for r in results for k, v in r.proof.get("gates", {}).items()
        },
        "gate_verdict": "pass" if all(v == "pass" for v in verdicts) else "fail",
        "regions": {r.region: r.proof for r in results},
    }


def _error_type(exc: BaseException) -> str:
    """The type of the innermost ApplicationError under `exc` ("" if none)."""
    found = ""
    while exc is not None:
        if isinstance(exc, ApplicationError):
            found = exc.type or found
        exc = getattr(exc, "cause", None) or exc.__cause__  # type: ignore[assignment]
    return found


def _cause(exc: BaseException) -> str:
    while (getattr(exc, "cause", None) or exc.__cause__) is not None:
        exc = getattr(exc, "cause", None) or exc.__cause__  # type: ignore[assignment]
    return str(exc.message) if isinstance(exc, ApplicationError) else str(exc)


__all__ = ["Coordinator", "RegionWorkflow", "asdict"]
