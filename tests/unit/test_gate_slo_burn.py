"""The `slo_burn` gate's maths: burn rates, window pairs, the quiet-PoP guard."""

from __future__ import annotations

import pytest

from fleetctl.core.gates import Verdict
from fleetctl.core.policy import BurnWindow, SloBurnGate
from fleetctl.core.slo_burn import (
    PairReading,
    WindowReading,
    burn_rate,
    slo_burn_gate,
    window_range,
)

pytestmark = pytest.mark.unit
FAST = BurnWindow(name="fast", long_s=3600, short_s=300, factor=14.4)
SLOW = BurnWindow(name="slow", long_s=21600, short_s=1800, factor=6)
CFG = SloBurnGate(slo=0.999, min_requests=100)


def pair(w: BurnWindow, long: tuple[float, float], short: tuple[float, float]) -> PairReading:
    return PairReading(w, WindowReading(w.long_s, *long), WindowReading(w.short_s, *short))


def test_burn_rate_and_ranges() -> None:
    assert burn_rate(2, 1000, 0.999) == pytest.approx(2.0)
    assert burn_rate(0, 0, 0.999) == 0.0
    assert window_range(3600, 1.0) == "3600s"
    assert window_range(3600, 1 / 60) == "60s"
    assert window_range(300, 0.001) == "1s"


def test_fails_only_when_both_windows_burn() -> None:
    # 2 % errors on a 99.9 % SLO: 20x in both windows of the fast pair
    r = slo_burn_gate([pair(FAST, (200, 10_000), (40, 2000)), pair(SLOW, (0, 1e5), (0, 1e4))], CFG)
    assert r.verdict is Verdict.FAIL and "fast burn 20.0x" in r.reason
    assert r.numbers["fast"]["long"]["burn_rate"] == 20.0  # type: ignore[index]
    # a burst that is over (long burns, short does not): no alert
    r = slo_burn_gate([pair(FAST, (200, 10_000), (0, 2000)), pair(SLOW, (0, 1e5), (0, 1e4))], CFG)
    assert r.verdict is Verdict.PASS, r.reason


def test_quiet_pop_and_unreadable_prometheus_are_inconclusive() -> None:
    r = slo_burn_gate([pair(FAST, (0, 50), (0, 10))], CFG)
    assert r.verdict is Verdict.INCONCLUSIVE and "50 requests < 100" in r.reason
    down = WindowReading(3600, None, None, "URLError: connection refused")
    r = slo_burn_gate([PairReading(FAST, down, down)], CFG)
    assert r.verdict is Verdict.INCONCLUSIVE and "unreadable" in r.reason
    # a failing pair wins over an unreadable one
    r = slo_burn_gate([pair(FAST, (200, 10_000), (40, 2000)), PairReading(SLOW, down, down)], CFG)
    assert r.verdict is Verdict.FAIL


def test_policy_validates_templates_and_windows() -> None:
    with pytest.raises(ValueError, match="window"):
        SloBurnGate(errors_query="sum(x)")
    with pytest.raises(ValueError, match="placeholders"):
        SloBurnGate(errors_query="sum(x{a}[{window}])")
    with pytest.raises(ValueError, match="short_s"):
        BurnWindow(name="w", long_s=60, short_s=60, factor=2)
    with pytest.raises(ValueError, match="url"):
        SloBurnGate(enabled=True)
