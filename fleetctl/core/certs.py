"""Edge certificates as observed by a TLS handshake, and when they are a problem."""

from __future__ import annotations

from collections.abc import Iterable

from fleetctl.core.fleet_status import CRITICAL, WARNING, CertReading, Problem

__all__ = ["DEFAULT_WARN_DAYS", "CertReading", "cert_problems"]

DEFAULT_WARN_DAYS = 21.0  # three weeks: time for a rotation rollout and its bake


def cert_problems(readings: Iterable[CertReading], warn_days: float) -> tuple[Problem, ...]:
    """Critical: no verified certificate, or an expired one; warning: expiring
    within `warn_days`."""
    out = []
    for r in readings:
        where = f"{r.host} :{r.port}"
        if r.error:
            out.append(Problem(CRITICAL, f"{where}: TLS failed: {r.error}", r.region, r.host))
        elif r.days_left is not None and r.days_left <= 0:
            out.append(Problem(CRITICAL, f"{where}: certificate expired", r.region, r.host))
        elif r.days_left is not None and r.days_left < warn_days:
            out.append(
                Problem(
                    WARNING,
                    f"{where}: certificate expires in {r.days_left:.1f} days "
                    f"(under {warn_days:g}); rotate it: fleetctl certs rotate",
                    r.region,
                    r.host,
                )
            )
    return tuple(out)
