"""Benchmark `fleetctl preview` (offline engine). Prints figures and ratios measured in one run.

1. The sample prod fleet, cold (no preview cache) and cached.
2. The fleet scaled to about 2,000 resources (extra envs copied from prod in a
   temp copy of the project): resources/s; parallel (--jobs = cores) vs the same
   stacks one after another (--jobs 1, still one fork per stack) vs the naive way
   (one fresh Python process per stack, one after another); cached vs cold.
3. The common pull-request case: one region's config changed, `--base HEAD`:
   only that stack runs (both sides cold; then with the base side cached).
4. Where the cold time goes: the worker's one-time imports vs the programs, and
   a profile of one stack's program run.

Usage:  .venv/bin/python benchmarks/preview.py [--scale-envs N] [--no-profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleetctl.adapters import pulumi_preview as engine  # noqa: E402
from fleetctl.services import preview as svc  # noqa: E402
from fleetctl.services.workspace import Workspace  # noqa: E402
from fleetctl.spec.config import stack_config  # noqa: E402


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=b@b.invalid", "-c", "user.name=b", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def make_project(tmp: Path, extra_envs: int) -> Path:
    root = tmp / "fleet"
    shutil.copytree(REPO / "stacks", root / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    for i in range(extra_envs):
        env = f"perf{i + 1}"
        for src in sorted((root / "stacks").glob("Pulumi.prod-*.yaml")):
            dst = src.with_name(src.name.replace("Pulumi.prod-", f"Pulumi.{env}-"))
            dst.write_text(src.read_text().replace("cdn-prod", f"cdn-{env}"))
    (root / ".gitignore").write_text(".fleetctl/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "bench")
    return root


def clear_preview_cache(ws: Workspace) -> None:
    for p in (ws.state_dir / "cache" / "preview").glob("*.json"):
        p.unlink()


def timed(ws: Workspace, **kw: object) -> tuple[float, svc.PreviewRun]:
    t0 = time.perf_counter()
    run = svc.run_preview(ws, svc.PreviewOptions(**kw))  # type: ignore[arg-type]
    dt = time.perf_counter() - t0
    failed = [s.stack for s in run.result.stacks if s.error]
    if failed:
        raise SystemExit(f"preview failed for {failed}: {run.result.stacks[0].error}")
    return dt, run


def resources(run: svc.PreviewRun) -> int:
    return sum(s.resources for s in run.result.stacks)


def naive_serial(ws: Workspace, stacks: list[str]) -> float:
    """One fresh worker process per stack, one after another (imports paid every time)."""
    key = svc.fingerprint_key(ws)
    t0 = time.perf_counter()
    for name in stacks:
        job = engine.Job(
            name, ws.root, ws.stacks_dir, name, "fleet", stack_config(ws.stacks_dir, name)
        )
        res = engine.run_jobs([job], key=key, parallel=1, pycache=ws.state_dir / "cache/pycache")
        assert res[name].error is None, res[name].error
    return time.perf_counter() - t0


PROFILE = """
import cProfile, io, json, pstats, sys
sys.path.insert(0, sys.argv[1])
import pulumi_preview_worker as w
job = json.loads(sys.stdin.read())
w.preload(w.DEFAULT_PRELOAD + job.pop("preload"))
prof = cProfile.Profile()
prof.enable()
out = w.run_job(job, b"k" * 32, 300)
prof.disable()
buf = io.StringIO()
pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
print(len(out["resources"]), "resources")
print(buf.getvalue())
"""


def profile_one(ws: Workspace, stack: str) -> str:
    """cProfile of one stack's program under the mock runtime, imports preloaded as
    the worker does (in a fresh process)."""
    job = {
        "stack": stack,
        "project": "fleet",
        "root": str(ws.root),
        "stacks_dir": str(ws.stacks_dir),
        "config": stack_config(ws.stacks_dir, stack),
        "preload": svc._preload_get(ws),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROFILE, str(engine.WORKER.parent)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        env=engine.worker_env(ws.state_dir / "cache" / "pycache"),
        check=False,
    )
    return proc.stdout + proc.stderr[-2000:]


def _burn() -> None:
    x = 0
    for i in range(4_000_000):
        x += i


def cpu_parallel_ratio(cores: int) -> float:
    """What this machine gives right now: `cores` pure-CPU children at once vs one by one.

    About 1/cores on an idle machine; near 1 when other work holds the cores.
    """

    def run(parallel: bool) -> float:
        t0 = time.perf_counter()
        pids = []
        for _ in range(cores * 2):
            pid = os.fork()
            if pid == 0:
                _burn()
                os._exit(0)
            if parallel:
                pids.append(pid)
            else:
                os.waitpid(pid, 0)
        for pid in pids:
            os.waitpid(pid, 0)
        return time.perf_counter() - t0

    return run(True) / run(False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale-envs", type=int, default=5, help="extra envs copied from prod")
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    cores = svc.default_jobs()
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="fleetctl-bench-") as tmp:
        root = make_project(Path(tmp), args.scale_envs)
        ws = Workspace(root)
        # Warm the byte-code cache once (a one-time cost per machine / venv).
        t_first, _ = timed(ws, env="prod", use_cache=False)
        print(f"first run ever (compiles pulumi_aws byte code once): {t_first:.2f}s")

        print("\n== 1. sample prod fleet")
        t_cold, run = timed(ws, env="prod", use_cache=False)
        n = resources(run)
        clear_preview_cache(ws)
        timed(ws, env="prod")  # fill the cache
        t_cached, _ = timed(ws, env="prod")
        print(f"{len(run.result.stacks)} stacks, {n} resources")
        print(f"cold {t_cold:.2f}s ({n / t_cold:.0f} resources/s); cached {t_cached:.3f}s")
        print(
            f"  worker imports {run.stats.get('preload_s', 0):.2f}s once; programs "
            f"{run.stats.get('program_s', 0):.2f}s CPU summed over stacks"
        )

        print(f"\n== 2. scaled fleet (prod + {args.scale_envs} copies)")
        t_par, run = timed(ws, use_cache=False, jobs=cores)
        n = resources(run)
        stacks = [s.stack for s in run.result.stacks]
        t_ser, _ = timed(ws, use_cache=False, jobs=1)
        t_naive = naive_serial(ws, stacks)
        clear_preview_cache(ws)
        timed(ws)
        t_cache, _ = timed(ws)
        print(f"{len(stacks)} stacks, {n} resources")
        print(f"parallel (--jobs {cores}) {t_par:.2f}s = {n / t_par:.0f} resources/s")
        print(
            f"  (calibration: pure-CPU parallel/serial on this machine now = "
            f"{cpu_parallel_ratio(cores):.2f}; 1/{cores} when idle)"
        )
        print(f"serial (--jobs 1)       {t_ser:.2f}s   parallel/serial = {t_par / t_ser:.2f}")
        print(f"naive (process/stack)   {t_naive:.2f}s   parallel/naive  = {t_par / t_naive:.2f}")
        print(f"cached                  {t_cache:.3f}s  cached/cold     = {t_cache / t_par:.4f}")
        print(
            f"  worker imports {run.stats.get('preload_s', 0):.2f}s once; programs "
            f"{run.stats.get('program_s', 0):.2f}s summed = "
            f"{1000 * run.stats.get('program_s', 0) / n:.1f} ms/resource"
        )

        print("\n== 3. pull request: one region's config changed, --base HEAD")
        cfg = root / "stacks" / "Pulumi.prod-eu-west-1.yaml"
        text = cfg.read_text()
        cfg.write_text(re.sub(r"nodes_per_zone: (\d+)", r"nodes_per_zone: 9", text, count=1))
        clear_preview_cache(ws)
        t_pr, run = timed(ws, env="prod", base="HEAD")
        changed = [s.stack for s in run.result.stacks if s.changes]
        print(f"cold (both sides run): {t_pr:.2f}s; ran {run.ran}; changed {changed}")
        clear_preview_cache(ws)
        timed(ws, env="prod", base="HEAD", use_cache=True)
        cfg.write_text(re.sub(r"nodes_per_zone: (\d+)", r"nodes_per_zone: 7", text, count=1))
        t_pr2, run = timed(ws, env="prod", base="HEAD")
        print(f"base side cached: {t_pr2:.2f}s; ran {run.ran}")
        cfg.write_text(text)

        if not args.no_profile:
            print("\n== 4. profile: one stack's program under the mock runtime")
            print(profile_one(ws, "prod-us-east-1"))
        # CLI start-up, for scale: what `fleetctl preview` costs before any work.
        t0 = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "fleetctl"), "--help"],
            capture_output=True,
            check=True,
        )
        print(f"fleetctl --help: {time.perf_counter() - t0:.2f}s")
        svc.run_preview(ws, svc.PreviewOptions(env="prod"))  # fill the cache
        prof = cProfile.Profile()
        prof.enable()
        svc.run_preview(ws, svc.PreviewOptions(env="prod"))
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumtime").print_stats(6)
        print("cached run, parent process profile (top):")
        print("\n".join(buf.getvalue().splitlines()[:16]))


if __name__ == "__main__":
    main()
