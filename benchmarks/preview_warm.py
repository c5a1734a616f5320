"""What warming the program's own modules in the fork server saves, in one run.

Runs every stack of this checkout's fleet (scaled x6 like benchmarks/preview.py:
prod + 5 copies, 49 stacks) through the preview worker twice per round, rounds
alternating: "before" warms only the fleetctl modules the program imports (as
main did), "after" also its own modules under stacks/ (components, ...). The
figures are the children's own CPU seconds summed over stacks (`cpu_seconds`,
insensitive to waiting for a core), per stack and per resource, and the CPU of
the whole worker tree (imports, the warming itself, every child); best of the
rounds.

Usage:  .venv/bin/python benchmarks/preview_warm.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
from pathlib import Path

from fleetctl.adapters import pulumi_preview as engine
from fleetctl.services import preview as svc
from fleetctl.spec.config import stack_configs

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="fleetctl-warm-") as tmp:
        root = Path(tmp)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(REPO / "stacks", root / "stacks", ignore=ignore)
        shutil.copytree(REPO / "fleetctl", root / "fleetctl", ignore=ignore)
        stacks = root / "stacks"
        for i in range(5):
            for src in sorted(stacks.glob("Pulumi.prod-*.yaml")):
                dst = src.with_name(src.name.replace("Pulumi.prod-", f"Pulumi.perf{i + 1}-"))
                dst.write_text(src.read_text().replace("cdn-prod", f"cdn-perf{i + 1}"))
        program = svc._head_program(root)
        names = svc._stacks_in(program.blobs)
        configs = stack_configs(stacks, names)
        own = tuple(m for m in program.modules if not m.startswith("fleetctl"))
        variants = {
            "before": tuple(m for m in program.modules if m.startswith("fleetctl")),
            "after": program.modules,
        }
        print(f"{len(names)} stacks; warmed in 'after' only: {', '.join(own)}")
        pycache = root / "pycache"
        # Learned in round 0, as a real run learns them (preload.json, warm.json).
        preload: set[str] = set()
        hints: set[str] = set()
        best: dict[str, tuple[float, int]] = {}
        tree: dict[str, float] = {}
        for r in range(args.rounds + 1):  # round 0 compiles byte code, learns: not counted
            for side, warm in variants.items():
                jobs = [
                    engine.Job(
                        id=n,
                        root=root,
                        stacks_dir=stacks,
                        stack=n,
                        project="fleet",
                        config=configs[n],
                        warm=warm,
                    )
                    for n in names
                ]
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                results = engine.run_jobs(
                    jobs,
                    key=b"k" * 32,
                    parallel=args.jobs,
                    pycache=pycache,
                    preload=sorted(preload),
                    hints=sorted(hints),
                )
                if not r:
                    for res in results.values():
                        preload.update((res.data or {}).get("new_modules", ()))
                        hints.update((res.data or {}).get("hints", ()))
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                total = ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime
                failed = [i for i, res in results.items() if res.error]
                if failed:
                    raise SystemExit(f"{side}: stacks failed: {failed}")
                cpu = sum(float(res.data["cpu_seconds"]) for res in results.values() if res.data)
                resources = sum(len(res.data["resources"]) for res in results.values() if res.data)
                if r:
                    print(
                        f"round {r} {side:<6}: children {cpu:6.2f} cpu-s, "
                        f"worker tree {total:6.2f} cpu-s"
                    )
                    tree[side] = min(total, tree.get(side, total))
                    if side not in best or cpu < best[side][0]:
                        best[side] = (cpu, resources)
        (b, n), (a, _) = best["before"], best["after"]
        print(
            f"\nchildren's CPU, best of {args.rounds}: before {b:.2f} cpu-s "
            f"({1000 * b / len(names):.1f} ms/stack, {1000 * b / n:.2f} ms/resource) -> "
            f"after {a:.2f} cpu-s ({1000 * a / len(names):.1f} ms/stack, "
            f"{1000 * a / n:.2f} ms/resource); ratio {a / b:.2f}; {n} resources"
        )
        print(
            f"worker tree CPU, best of {args.rounds}: before {tree['before']:.2f} -> after "
            f"{tree['after']:.2f} cpu-s; ratio {tree['after'] / tree['before']:.2f}"
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
