"""What `fleetctl preview` reports: the changes, their monthly cost, the guardrails' findings.

`preview_model` holds the changes alone; `cost` prices resource graphs and
`guardrails` checks them, each without knowing about the other or about this
report. The preview service builds a `PreviewReport` from the three; the
renderers and the JSON output read it. Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetctl.core.cost import CostDelta, CostTotal, PricesUsed, delta_to_json, total, total_to_json
from fleetctl.core.guardrails import GuardrailsReport, report_to_json
from fleetctl.core.preview_model import PreviewResult, result_to_json, stack_to_json


@dataclass(frozen=True)
class PreviewReport:
    result: PreviewResult
    costs: Mapping[str, CostDelta] = field(default_factory=dict)  # stack -> before/after
    prices: PricesUsed | None = None  # the price table behind `costs` (None: no cost estimated)
    guardrails: GuardrailsReport | None = None  # the policy pack's findings (None: no pack ran)

    def cost_of(self, stack: str) -> CostDelta | None:
        return self.costs.get(stack)

    def cost_total(self) -> CostTotal | None:
        """The monthly cost of every stack summed (None when no cost was estimated)."""
        if self.prices is None:
            return None
        return total({s.stack: self.costs.get(s.stack) for s in self.result.stacks})


def preview_to_json(r: PreviewReport) -> dict[str, Any]:
    """The documented, versioned output (docs/preview-schema.json). Key order is fixed:
    a stack's `cost` follows its changes; the totals' `cost` and `policy` come last."""
    doc = result_to_json(r.result)
    doc["stacks"] = [
        {**stack_to_json(s), "cost": delta_to_json(r.cost_of(s.stack))} for s in r.result.stacks
    ]
    t = r.cost_total()
    doc["cost"] = None if t is None else total_to_json(t, r.prices)
    doc["policy"] = None if r.guardrails is None else report_to_json(r.guardrails)
    return doc
