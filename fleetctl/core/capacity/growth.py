"""Demand growth: compounding monthly, and the first month a plan runs short."""

from __future__ import annotations

from collections.abc import Callable


def grown(value: float, growth_per_year: float, months: int) -> float:
    """`value` after `months` of `growth_per_year`, compounding monthly."""
    return value * float((1.0 + growth_per_year) ** (months / 12))


def months_until(
    short: Callable[[float], bool], growth_per_year: float, horizon: int
) -> int | None:
    """First month (0 = now) at which `short(growth factor)` holds; None within the horizon."""
    if short(1.0):
        return 0
    if growth_per_year <= 0:
        return None
    for m in range(1, horizon + 1):
        if short(grown(1.0, growth_per_year, m)):
            return m
    return None
