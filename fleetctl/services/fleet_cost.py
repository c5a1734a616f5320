"""`fleetctl cost`: what the working tree's fleet costs a month.

The figures are the head estimates the preview made while pricing its stacks
(`services.cost.preview_costs`), so nothing is priced twice; the graphs come
from the preview cache when it is warm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetctl.core import cost as model
from fleetctl.services import cost, preview
from fleetctl.services.workspace import Workspace


@dataclass(frozen=True)
class FleetCost:
    stacks: tuple[model.StackCost, ...]
    prices: model.PricesUsed
    failed: tuple[str, ...] = ()  # stacks whose program failed (not in the figures)
    seconds: float = 0.0
    cache_hits: int = 0

    @property
    def monthly(self) -> float:
        return sum(s.monthly for s in self.stacks)

    @property
    def monthly_max(self) -> float:
        return sum(s.monthly_max for s in self.stacks)


def fleet_cost(
    ws: Workspace,
    env: str | None = None,
    stacks: tuple[str, ...] = (),
    prices_path: Path | None = None,
    use_cache: bool = True,
) -> FleetCost:
    """The monthly estimate of what the working tree declares. A missing price raises
    PriceMissing (the first stack's, in preview order)."""
    table = cost.prices(prices_path, ws)  # a bad table fails before any program runs
    run = preview.run_preview(
        ws,
        preview.PreviewOptions(
            env=env, stacks=stacks, use_cache=use_cache, prices=prices_path, guardrails=False
        ),
    )
    priced = [s.stack for s in run.result.stacks if s.stack in run.head_graphs]
    for name in priced:
        if name in run.cost_failures:
            raise run.cost_failures[name]
    return FleetCost(
        stacks=tuple(run.head_costs[n] for n in priced),
        prices=model.prices_used(table, table.path),
        failed=tuple(s.stack for s in run.result.failed),
        seconds=run.seconds,
        cache_hits=run.cache_hits,
    )
