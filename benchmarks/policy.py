"""Benchmark the policy pack's cost inside `fleetctl preview`. Prints figures and ratios
measured in one run.

The sample fleet scaled with extra envs copied from prod (temp copy of the project),
preview cache warm: a cached preview with the pack vs the same preview without it
(`PreviewOptions(guardrails=False)`), then the pieces: loading the pack, evaluating every
rule on every stack (per 1,000 resources).

Target: the pack adds under 10 % to a cached preview of the fleet.

Usage:  .venv/bin/python benchmarks/policy.py [--scale-envs N] [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleetctl.services import guardrails  # noqa: E402
from fleetctl.services import preview as svc  # noqa: E402
from fleetctl.services.workspace import Workspace  # noqa: E402
from fleetctl.spec import load_fleet  # noqa: E402


def make_project(tmp: Path, extra_envs: int) -> Path:
    root = tmp / "fleet"
    ignore = shutil.ignore_patterns("__pycache__")
    for d in ("stacks", "policies"):
        shutil.copytree(REPO / d, root / d, ignore=ignore)
    for i in range(extra_envs):
        env = f"perf{i + 1}"
        for src in sorted((root / "stacks").glob("Pulumi.prod-*.yaml")):
            dst = src.with_name(src.name.replace("Pulumi.prod-", f"Pulumi.{env}-"))
            dst.write_text(src.read_text().replace("cdn-prod", f"cdn-{env}"))
    return root


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale-envs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetctl-bench-policy-") as tmp:
        ws = Workspace(make_project(Path(tmp), args.scale_envs))
        t0 = time.perf_counter()
        warm = svc.run_preview(ws, svc.PreviewOptions(guardrails=False))  # fills the cache
        cold = time.perf_counter() - t0
        stacks = len(warm.result.stacks)
        resources = sum(s.resources for s in warm.result.stacks)
        print(f"fleet: {stacks} stacks, {resources} resources (cold preview {cold:.1f}s)")

        without = timed(
            lambda: svc.run_preview(ws, svc.PreviewOptions(guardrails=False)), args.repeat
        )
        with_ = timed(lambda: svc.run_preview(ws, svc.PreviewOptions()), args.repeat)
        overhead = (with_ - without) / without
        verdict = "ok" if overhead < 0.10 else "MISSED"
        print(
            f"cached preview: {without * 1000:.0f} ms without the pack, {with_ * 1000:.0f} ms "
            f"with it: {overhead:+.1%} (target < 10 %: {verdict})"
        )

        load = timed(lambda: guardrails.load_rules(ws), args.repeat)
        rules = guardrails.load_rules(ws)
        fleet = load_fleet(ws.stacks_dir)
        specs = {s.name: s.spec for s in fleet.stacks}
        ctxs = guardrails.contexts(warm.result, warm.head_graphs, {}, specs, fleet.project.name)
        evaluate = timed(lambda: guardrails.check(rules, ctxs), args.repeat)
        report = guardrails.check(rules, ctxs)
        print(f"load the pack ({len(rules)} rules): {load * 1000:.1f} ms")
        print(
            f"evaluate {len(rules)} rules x {len(ctxs)} stacks: {evaluate * 1000:.1f} ms "
            f"({evaluate * 1000 / max(resources, 1) * 1000:.1f} ms per 1,000 resources); "
            f"{len(report.violations)} violation(s)"
        )


if __name__ == "__main__":
    main()
