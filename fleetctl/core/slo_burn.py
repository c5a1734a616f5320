"""The `slo_burn` gate: how fast the changed edges spend their error budget.

Burn rate = error ratio / (1 - SLO): 1 spends the budget exactly over the
SLO period, 14.4 spends 2 % of a 30-day budget in an hour. A window pair
fails when BOTH its long and its short window burn faster than its factor
(the long window proves it is significant, the short one that it is still
happening) [Google SRE workbook, "Alerting on SLOs"]. A window with fewer
than `min_requests` requests says nothing: Inconclusive, never Pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleetctl.core.gate_samples import BurnPoint, GateSamples
from fleetctl.core.gates import GateResult, Verdict, _r
from fleetctl.core.policy import BurnWindow, SloBurnGate

GATE = "slo_burn"


def burn_rate(errors: float, total: float, slo: float) -> float:
    """Error ratio over the budget ratio (1 - slo); 0 for no requests."""
    if total <= 0:
        return 0.0
    return (errors / total) / (1 - slo)


def window_range(seconds: float, scale: float) -> str:
    """A PromQL range for a window scaled for a lab: 3600 s x 1/60 -> '60s'."""
    return f"{max(1, round(seconds * scale))}s"


@dataclass(frozen=True)
class WindowReading:
    """Errors and requests over one window, or why they could not be read."""

    seconds: float  # the window as configured (before scaling)
    errors: float | None
    total: float | None
    error: str | None = None


@dataclass(frozen=True)
class PairReading:
    window: BurnWindow
    long: WindowReading
    short: WindowReading


def _judge(r: WindowReading, cfg: SloBurnGate) -> tuple[str, float | None]:
    """("ok"|"unknown"|"quiet", burn) for one window."""
    if r.error is not None or r.errors is None or r.total is None:
        return "unknown", None
    if r.total < cfg.min_requests:
        return "quiet", None
    return "ok", burn_rate(r.errors, r.total, cfg.slo)


def slo_burn_gate(pairs: Sequence[PairReading], cfg: SloBurnGate) -> GateResult:
    """Fail if any pair burns above its factor in both windows; otherwise
    Inconclusive if any window could not be read or had too few requests;
    otherwise Pass."""
    numbers: dict[str, object] = {
        "slo": cfg.slo,
        "window_scale": cfg.window_scale,
        "min_requests": cfg.min_requests,
    }
    failing: list[str] = []
    unknown: list[str] = []
    calm: list[str] = []
    points: list[BurnPoint] = []
    for pr in pairs:
        w = pr.window
        entry: dict[str, object] = {"factor": w.factor}
        burns: list[float] = []
        for label, r in (("long", pr.long), ("short", pr.short)):
            state, burn = _judge(r, cfg)
            entry[label] = {
                "range": window_range(r.seconds, cfg.window_scale),
                "errors": r.errors,
                "requests": r.total,
                "burn_rate": None if burn is None else _r(burn, 2),
                "error": r.error,
            }
            if state == "unknown":
                unknown.append(f"{w.name} {label} window unreadable ({r.error or 'no value'})")
            elif state == "quiet":
                unknown.append(
                    f"{w.name} {label} window has {r.total:g} requests < {cfg.min_requests}"
                )
            elif burn is not None:
                burns.append(burn)
            points.append(
                BurnPoint(
                    w.name,
                    label,
                    window_range(r.seconds, cfg.window_scale),
                    None if burn is None else round(burn, 4),
                    w.factor,
                )
            )
        numbers[w.name] = entry
        if len(burns) == 2:
            if min(burns) > w.factor:
                failing.append(
                    f"{w.name} burn {burns[0]:.1f}x (long) and {burns[1]:.1f}x (short) "
                    f"> {w.factor:g}x"
                )
            else:
                calm.append(f"{w.name} {burns[0]:.1f}x/{burns[1]:.1f}x <= {w.factor:g}x")
    observed = GateSamples(burn=tuple(points))
    if failing:
        return GateResult(
            GATE, Verdict.FAIL, "error budget burning: " + "; ".join(failing), numbers, observed
        )
    if unknown:
        return GateResult(GATE, Verdict.INCONCLUSIVE, "; ".join(unknown), numbers, observed)
    return GateResult(GATE, Verdict.PASS, "burn rates: " + "; ".join(calm), numbers, observed)
