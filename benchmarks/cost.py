"""Benchmark the cost estimate inside `fleetctl preview`. Prints figures and ratios
measured in one run.

1. A cached preview of the sample fleet (9 stacks, graphs from the preview cache:
   the case where any added work shows most) with its cost step, vs the cost step
   alone (`services.cost.preview_costs` on the same run): the share of the preview
   the cost takes. Target: under 10 %.
2. Loading the price table (once per process): parsing the YAML vs the
   workspace's cache of the parsed table, each vs one cached preview.
3. `core.cost.stack_cost` throughput on the real graphs (resources per ms).

Usage:  .venv/bin/python benchmarks/cost.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleetctl.core import cost as model  # noqa: E402
from fleetctl.services import cost as cost_svc  # noqa: E402
from fleetctl.services import preview as svc  # noqa: E402
from fleetctl.services.workspace import Workspace  # noqa: E402
from fleetctl.spec import load_fleet  # noqa: E402
from fleetctl.spec.prices import load_prices  # noqa: E402


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """Median seconds of `repeat` calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    ws = Workspace(REPO)
    opts = svc.PreviewOptions(jobs=2)
    t0 = time.perf_counter()
    run = svc.run_preview(ws, opts)  # warms the cache (runs what is missing)
    print(f"warm-up preview: {time.perf_counter() - t0:.1f}s, {len(run.ran)} program run(s)")
    fleet = load_fleet(ws.stacks_dir)

    preview_s = timed(lambda: svc.run_preview(ws, opts), args.repeat)
    statuses = {s.stack: s.status for s in run.result.stacks}

    def price() -> object:
        return cost_svc.preview_costs(
            ws,
            fleet,
            statuses,
            run.head_graphs,
            run.base_graphs,
            run.unchanged_graphs,
            prices_path=opts.prices,
            git_base=None,
            warnings=[],
        )

    cost_s = timed(price, args.repeat)
    share = cost_s / preview_s
    print(
        f"cached preview of {len(run.result.stacks)} stacks: {preview_s * 1000:.1f} ms "
        f"(median of {args.repeat}), of which cost {cost_s * 1000:.2f} ms = {share:.1%} "
        f"[target < 10 %: {'met' if share < 0.10 else 'MISSED'}]"
    )
    load_s = timed(load_prices, args.repeat)
    cache_dir = ws.state_dir / cost_svc.PRICES_CACHE
    cached_s = timed(lambda: cost_svc._load.__wrapped__(None, cache_dir), args.repeat)
    print(
        f"price table, once per process: YAML parse {load_s * 1000:.1f} ms = "
        f"{load_s / preview_s:.1%} of a cached preview; from the parsed-table cache "
        f"{cached_s * 1000:.2f} ms = {cached_s / preview_s:.1%} "
        f"(x{load_s / cached_s:.0f} faster)"
    )
    table = load_prices()
    usage = cost_svc.usage_of(fleet.stacks)
    graphs = list(run.head_graphs.values())
    resources = sum(len(g.resources) for g in graphs)
    est_s = timed(
        lambda: [model.stack_cost(g, cost_svc.region_of(g.stack), table, usage) for g in graphs],
        args.repeat,
    )
    print(
        f"stack_cost over {len(graphs)} graphs / {resources} resources: {est_s * 1000:.2f} ms "
        f"({resources / (est_s * 1000):.0f} resources/ms)"
    )


if __name__ == "__main__":
    main()
