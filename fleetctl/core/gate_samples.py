"""The raw observations a gate decided on, kept with its verdict.

A gate's numbers are summaries (a p95, a median, a ratio); a canary report
(Kayenta, Spinnaker) shows the distributions behind them, changed against
baseline, with the thresholds drawn in. So each verdict carries its
observations in a typed, bounded form that goes into the journal's `gate`
event: numbers only (latencies, startup times, ratios, burn rates), never
a URL, a header or a host variable, so nothing secret can ride along.

Bounded: at most `CAP` values a side. More are reduced deterministically to
`CAP` order statistics (evenly spaced ranks, minimum and maximum kept), so
the same probes always give the same journal and the shape of the
distribution (what a histogram or an ECDF shows) survives; the count
observed is kept beside them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CAP = 500  # values per side of a distribution
_DIGITS = 6  # significant digits kept: a journal of numbers, not of float noise


def _round(x: float) -> float:
    return float(f"{x:.{_DIGITS}g}")


def cap(values: Iterable[float], limit: int = CAP) -> tuple[float, ...]:
    """The finite values, sorted; when more than `limit`, `limit` of them at
    evenly spaced ranks (the first and last included): deterministic."""
    ordered = sorted(_round(float(v)) for v in values if math.isfinite(v))
    n = len(ordered)
    if n <= limit:
        return tuple(ordered)
    if limit <= 1:
        return tuple(ordered[:limit])
    return tuple(ordered[round(i * (n - 1) / (limit - 1))] for i in range(limit))


def _floats(raw: Any) -> tuple[float, ...]:
    if not isinstance(raw, list | tuple):
        return ()
    return tuple(float(v) for v in raw if isinstance(v, int | float) and not isinstance(v, bool))[
        :CAP
    ]


def _opt_float(raw: Any) -> float | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    return None


@dataclass(frozen=True)
class Distribution:
    """One metric observed on the changed side and (when there is one) the
    baseline: `unit` of the values, `per` what one value is (a request, a
    session, an edge, a segment), the limit the gate judged it against
    (`bound` "max" / "min", `limit_of` what the limit applies to: "p95",
    "median", "each", "all" ...)."""

    metric: str
    unit: str
    per: str
    changed: tuple[float, ...]
    baseline: tuple[float, ...] | None = None  # None: no baseline was probed
    changed_n: int = 0  # observed before capping
    baseline_n: int = 0
    limit: float | None = None
    bound: str = ""  # "max" | "min" | ""
    limit_of: str = ""

    @classmethod
    def of(
        cls,
        metric: str,
        unit: str,
        per: str,
        changed: Sequence[float],
        baseline: Sequence[float] | None = None,
        *,
        limit: float | None = None,
        bound: str = "",
        limit_of: str = "",
    ) -> Distribution:
        """Capped at `CAP` a side (see `cap`)."""
        return cls(
            metric=metric,
            unit=unit,
            per=per,
            changed=cap(changed),
            baseline=None if baseline is None else cap(baseline),
            changed_n=len(changed),
            baseline_n=0 if baseline is None else len(baseline),
            limit=limit,
            bound=bound,
            limit_of=limit_of,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "unit": self.unit,
            "per": self.per,
            "changed": list(self.changed),
            "baseline": None if self.baseline is None else list(self.baseline),
            "changed_n": self.changed_n,
            "baseline_n": self.baseline_n,
            "limit": self.limit,
            "bound": self.bound,
            "limit_of": self.limit_of,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Distribution:
        base = d.get("baseline")
        return cls(
            metric=str(d.get("metric", "")),
            unit=str(d.get("unit", "")),
            per=str(d.get("per", "")),
            changed=_floats(d.get("changed")),
            baseline=None if base is None else _floats(base),
            changed_n=int(d.get("changed_n") or 0),
            baseline_n=int(d.get("baseline_n") or 0),
            limit=_opt_float(d.get("limit")),
            bound=str(d.get("bound") or ""),
            limit_of=str(d.get("limit_of") or ""),
        )


@dataclass(frozen=True)
class BurnPoint:
    """The burn rate of one window of a multi-window pair (None: unreadable
    or too few requests), and the factor the pair fails above."""

    pair: str  # e.g. "fast"
    window: str  # "long" | "short"
    range: str  # the PromQL range actually read, e.g. "60s"
    burn_rate: float | None
    factor: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "pair": self.pair,
            "window": self.window,
            "range": self.range,
            "burn_rate": self.burn_rate,
            "factor": self.factor,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BurnPoint:
        return cls(
            pair=str(d.get("pair", "")),
            window=str(d.get("window", "")),
            range=str(d.get("range", "")),
            burn_rate=_opt_float(d.get("burn_rate")),
            factor=_opt_float(d.get("factor")) or 0.0,
        )


@dataclass(frozen=True)
class GateSamples:
    """What one gate run observed: distributions and/or burn rates."""

    distributions: tuple[Distribution, ...] = ()
    burn: tuple[BurnPoint, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.distributions or self.burn)

    def to_dict(self) -> dict[str, Any]:
        return {
            "distributions": [d.to_dict() for d in self.distributions],
            "burn": [b.to_dict() for b in self.burn],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> GateSamples | None:
        """None for no samples (an older journal) or something unreadable."""
        if not isinstance(d, Mapping):
            return None
        dists = d.get("distributions") or []
        burn = d.get("burn") or []
        return cls(
            distributions=tuple(Distribution.from_dict(x) for x in dists if isinstance(x, Mapping)),
            burn=tuple(BurnPoint.from_dict(x) for x in burn if isinstance(x, Mapping)),
        )
