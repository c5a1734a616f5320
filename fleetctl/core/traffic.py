"""Global traffic weights: draining a region and giving its traffic back.

Pure arithmetic; no I/O. Three rules make drains safe to stack and to undo:

- **Effective weights are a function of (base, drained set)**, never of the
  previous effective weights. `base` is what the weights were before the
  first drain (the spec's weights); a drained region gets 0 and its share is
  spread over the remaining regions in proportion to their base weights.
  Draining A then B equals draining {A, B}; undraining A of {A, B} equals
  draining B alone; undraining the last region returns `base` itself, not a
  recomputed copy, so it is restored exactly.
- **Integer weights** (Route 53: 0-255; nginx upstream weights) are relative:
  a record's share is weight / sum of weights. So the integer weights of a
  drain are the base integer weights with the drained regions set to 0 -
  the remaining regions keep their integers and their proportions, no
  rounding happens on a drain, and an undrain writes back the very integers
  that were there before.
- Base integer weights come from fractions by one documented rule
  (`integer_weights`): the heaviest region gets `top`, the others
  round-half-up of their proportional value, and a region with traffic never
  drops to 0.

The capacity check (`absorb_check`) asks whether each remaining region's
edge pool can carry its new share of the peak; what one node carries comes
from the throughput model `fleetctl capacity` uses
(`fleetctl.core.capacity.throughput`), so the two never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Final

from fleetctl.core.capacity.throughput import EDGE_UTILISATION

ROUTE53_MAX_WEIGHT: Final = 255


class TrafficError(ValueError):
    """A drain or undrain that cannot be done (unknown region, nothing left to serve)."""


def _check_regions(base: Mapping[str, object], regions: Collection[str]) -> None:
    unknown = sorted(set(regions) - set(base))
    if unknown:
        known = ", ".join(sorted(base)) or "none"
        raise TrafficError(f"unknown region(s) {', '.join(unknown)} (regions: {known})")


def effective_weights(base: Mapping[str, float], drained: Collection[str]) -> dict[str, float]:
    """The weights with `drained` regions at 0, their share spread over the rest
    in proportion to their base weights. The total stays the base total.

    Exact rational arithmetic on the floats' exact values, then one rounding
    to float per region, so the result does not depend on drain order.
    """
    _check_regions(base, drained)
    gone = set(drained)
    if not any(base[r] > 0 for r in gone):
        return dict(base)  # nothing with traffic drained: the base itself
    total = sum((Fraction(w) for w in base.values()), Fraction(0))
    rest = sum((Fraction(w) for r, w in base.items() if r not in gone), Fraction(0))
    if rest <= 0:
        raise TrafficError(
            f"draining {', '.join(sorted(gone))} leaves no region serving viewers "
            "(every other region has weight 0 or is drained)"
        )
    return {r: 0.0 if r in gone else float(Fraction(w) * total / rest) for r, w in base.items()}


def integer_weights(weights: Mapping[str, float], top: int = ROUTE53_MAX_WEIGHT) -> dict[str, int]:
    """Relative integer weights for `weights`: the heaviest region gets `top`,
    every other `round_half_up(top * w / max_w)`, at least 1 when w > 0, 0 when
    w == 0. Deterministic (decimal rounding on the floats' exact values)."""
    if top < 1:
        raise TrafficError("top must be >= 1")
    if any(w < 0 for w in weights.values()):
        raise TrafficError("weights must be >= 0")
    heaviest = max(weights.values(), default=0.0)
    if heaviest <= 0:
        return {r: 0 for r in weights}
    out: dict[str, int] = {}
    for r, w in weights.items():
        if w <= 0:
            out[r] = 0
            continue
        scaled = Decimal(top) * Decimal(w) / Decimal(heaviest)
        out[r] = max(1, int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    return out


def drained_integer_weights(base: Mapping[str, int], drained: Collection[str]) -> dict[str, int]:
    """The base integer weights with the drained regions at 0 (the others untouched)."""
    _check_regions(base, drained)
    gone = set(drained)
    out = {r: 0 if r in gone else int(w) for r, w in base.items()}
    if any(w > 0 for w in base.values()) and not any(w > 0 for w in out.values()):
        raise TrafficError(f"draining {', '.join(sorted(gone))} leaves no region serving viewers")
    return out


def shares(weights: Mapping[str, float] | Mapping[str, int]) -> dict[str, float]:
    """Each region's fraction of viewer traffic (weights normalised to sum 1)."""
    total = sum(weights.values())
    if total <= 0:
        return {r: 0.0 for r in weights}
    return {r: float(Fraction(w) / Fraction(total)) for r, w in weights.items()}


# -- capacity: can the rest carry the moved traffic? ------------------------------------


@dataclass(frozen=True)
class RegionPool:
    """A region's edge pool as the capacity check sees it."""

    region: str
    nodes: int
    gbps_per_node: float  # one node flat out: the throughput model's raw_gbps


@dataclass(frozen=True)
class AbsorbRow:
    region: str
    share_before: float  # fraction of the env's viewer traffic
    share_after: float
    needed_gbps: float  # peak x share after the drain
    available_gbps: float  # nodes x per-node Gbit/s x utilisation (as `capacity`)

    @property
    def ok(self) -> bool:
        return self.available_gbps >= self.needed_gbps

    @property
    def short_gbps(self) -> float:
        return max(0.0, self.needed_gbps - self.available_gbps)


def absorb_check(
    pools: Sequence[RegionPool],
    before: Mapping[str, float],
    after: Mapping[str, float],
    peak_gbps: float,
    utilisation: float = EDGE_UTILISATION,
) -> list[AbsorbRow]:
    """Needed vs available Gbit/s for every region that serves after the change,
    tightest first. `before`/`after` are weights (normalised here)."""
    if peak_gbps <= 0:
        raise TrafficError("peak must be > 0 Gbit/s")
    if not 0 < utilisation <= 1:
        raise TrafficError("utilisation must be in (0, 1]")
    by_region = {p.region: p for p in pools}
    s_before, s_after = shares(before), shares(after)
    rows = []
    for region, share in s_after.items():
        if share <= 0:
            continue
        pool = by_region.get(region)
        available = pool.nodes * pool.gbps_per_node * utilisation if pool else 0.0
        rows.append(
            AbsorbRow(
                region=region,
                share_before=s_before.get(region, 0.0),
                share_after=share,
                needed_gbps=round(peak_gbps * share, 3),
                available_gbps=round(available, 3),
            )
        )
    return sorted(rows, key=lambda r: (r.available_gbps - r.needed_gbps, r.region))


def refused(rows: Sequence[AbsorbRow]) -> list[AbsorbRow]:
    """The rows whose region cannot carry its new share."""
    return [r for r in rows if not r.ok]


# -- load balancer servers (the lab's traffic router) ------------------------------------


def server_weights(
    region_weights: Mapping[str, int], servers: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """Per-server nginx weights so each region's servers together carry exactly
    its integer weight's share: region weight x (L / servers in the region), L
    the least common multiple of the serving regions' server counts. 0 means
    the server is out (drained region; nginx itself has no weight=0: render it
    `down`)."""
    counts = [len(servers[r]) for r, w in region_weights.items() if w > 0 and servers.get(r)]
    lcm = math.lcm(*counts) if counts else 1
    out: dict[str, int] = {}
    for region, names in sorted(servers.items()):
        weight = region_weights.get(region, 0)
        for name in names:
            out[name] = weight * (lcm // len(names)) if weight > 0 else 0
    return out
