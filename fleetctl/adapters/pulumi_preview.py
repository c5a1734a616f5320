"""Run Pulumi programs offline under the SDK mock runtime (see pulumi_preview_worker).

This side only launches the worker and collects what it wrote; it never
imports pulumi. Results are raw JSON dicts (the graph format of
`fleetctl.core.preview_model.graph_from_json`); the service turns them into
models.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetctl.errors import OutsideError

WORKER = Path(__file__).with_name("pulumi_preview_worker.py")
LOG_TAIL = 4000


@dataclass(frozen=True)
class Job:
    """One stack side to run: the program in `stacks_dir`, importing from `root`."""

    id: str
    root: Path
    stacks_dir: Path
    stack: str
    project: str
    config: dict[str, Any]
    program: str = "__main__.py"
    # Project modules the program imports (e.g. fleetctl.spec): imported once per
    # root in the worker, before the children fork.
    warm: tuple[str, ...] = ()


@dataclass
class JobResult:
    id: str
    data: dict[str, Any] | None = None  # {"resources": [...]} or {"error": {...}}
    log: str = ""
    rc: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def error(self) -> dict[str, Any] | None:
        if self.data is None:
            tail = self.log[-LOG_TAIL:].strip()
            return {
                "message": f"the preview worker died (exit {self.rc})",
                "file": None,
                "line": None,
                "details": tail.splitlines()[-20:] if tail else [],
            }
        err = self.data.get("error")
        return dict(err) if isinstance(err, dict) else None


def worker_env(pycache: Path | None) -> dict[str, str]:
    """The worker's environment: byte-compiled modules cached outside the tree.

    pulumi_aws is thousands of modules; without .pyc files every worker spends
    about a second compiling them. If PYTHONDONTWRITEBYTECODE is set (it keeps
    __pycache__ out of checkouts), the cache goes to a prefix directory instead.
    """
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    return env


class Worker:
    """The worker process, started before the jobs are known.

    Its first second is importing pulumi and pulumi-aws; starting it while
    the caller still reads stack configs (or checks out the base) lets both
    happen at once. `run` hands it the jobs; `close` (also on error) ends a
    worker that never got any: it reads end-of-input and exits.
    """

    def __init__(
        self,
        *,
        pycache: Path | None = None,
        python: str | None = None,
        preload: Sequence[str] = (),
        hints: Sequence[str] = (),
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="fleetctl-preview-")
        self.tmpdir = Path(self._tmp.name)
        self.started = time.monotonic()
        self._ran = False
        try:
            self.proc = subprocess.Popen(
                [python or sys.executable, str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=worker_env(pycache),
                cwd=str(self.tmpdir),
            )
        except OSError as exc:
            self._tmp.cleanup()
            raise OutsideError(f"cannot start the preview worker: {exc}") from None
        assert self.proc.stdin is not None
        # Line 1: what to import before any job is known.
        with contextlib.suppress(OSError):
            self.proc.stdin.write(json.dumps({"preload": list(preload), "hints": list(hints)}))
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()

    def run(
        self,
        jobs: Sequence[Job],
        *,
        key: bytes,
        parallel: int,
        timeout: float = 300.0,
        on_done: Callable[[JobResult], None] | None = None,
        stats: dict[str, float] | None = None,
    ) -> dict[str, JobResult]:
        """Run every job (at most `parallel` at once); one fresh process per job."""
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self._ran = True
        results: dict[str, JobResult] = {}
        by_id: dict[str, dict[str, Any]] = {}
        for i, job in enumerate(jobs):
            by_id[job.id] = {
                "id": job.id,
                "root": str(job.root),
                "stacks_dir": str(job.stacks_dir),
                "program": job.program,
                "project": job.project,
                "stack": job.stack,
                "config": job.config,
                "out": str(self.tmpdir / f"{i}.json"),
                "log": str(self.tmpdir / f"{i}.log"),
                "warm": list(job.warm),
            }
        request = {
            "jobs": list(by_id.values()),
            "parallel": parallel,
            "key": key.hex(),
            "timeout": timeout,
        }
        with contextlib.suppress(OSError):  # a dead worker: reported below from its exit
            proc.stdin.write(json.dumps(request))
            proc.stdin.close()
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if "ready" in event and stats is not None:
                stats["preload_s"] = float(event["ready"])
            spec = by_id.get(str(event.get("id")))
            if spec is None:
                continue
            res = _collect(spec, int(event.get("rc", 1)), time.monotonic() - self.started)
            results[spec["id"]] = res
            if on_done is not None:
                on_done(res)
        stderr = proc.stderr.read()
        rc = proc.wait()
        missing = [j for j in by_id if j not in results]
        if missing and rc != 0:
            raise OutsideError(
                f"the preview worker failed (exit {rc})",
                hint="run with --verbose for the worker's output",
                details=stderr.strip().splitlines()[-15:],
            )
        for job_id in missing:
            results[job_id] = _collect(by_id[job_id], 1, time.monotonic() - self.started)
        return results

    def close(self) -> None:
        proc = self.proc
        if proc.poll() is None and not self._ran:
            proc.kill()  # never got its jobs (the caller failed first): nothing forked yet
        if proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        self._tmp.cleanup()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_jobs(
    jobs: Sequence[Job],
    *,
    key: bytes,
    parallel: int,
    pycache: Path | None = None,
    timeout: float = 300.0,
    on_done: Callable[[JobResult], None] | None = None,
    python: str | None = None,
    stats: dict[str, float] | None = None,
    preload: Sequence[str] = (),
    hints: Sequence[str] = (),
) -> dict[str, JobResult]:
    """Run every job (at most `parallel` at once); one fresh process per job.

    `preload` (library modules) and `hints` (classes whose SDK type hints to
    resolve) are done once in the worker before it forks; a child reports
    what it needed (`new_modules`, `hints` in its data) for next time.
    `stats`, when given, receives `preload_s`: the worker's one-time import cost.
    """
    if not jobs:
        return {}
    with Worker(pycache=pycache, python=python, preload=preload, hints=hints) as worker:
        return worker.run(
            jobs, key=key, parallel=parallel, timeout=timeout, on_done=on_done, stats=stats
        )


def _collect(spec: dict[str, Any], rc: int, seconds: float) -> JobResult:
    log = ""
    with contextlib.suppress(OSError):
        log = Path(spec["log"]).read_text(encoding="utf-8", errors="replace")
    data = None
    if rc == 0:
        try:
            data = json.loads(Path(spec["out"]).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
    return JobResult(spec["id"], data=data, log=log, rc=rc, seconds=seconds)
