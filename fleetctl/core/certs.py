"""Edge certificates as observed by a TLS handshake, and when they are a problem."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from fleetctl.core.fleet_status import CRITICAL, WARNING, Problem

DEFAULT_WARN_DAYS = 21.0  # three weeks: time for a rotation rollout and its bake


@dataclass(frozen=True)
class CertReading:
    """One edge's certificate (or why there is none: `error`)."""

    host: str
    region: str
    address: str
    port: int
    subject: str = ""
    sha256: str = ""
    not_after: str = ""  # ISO 8601 UTC
    days_left: float | None = None
    protocol: str = ""
    alpn: str = ""
    error: str = ""  # a failed handshake or verification

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.days_left is not None:
            d["days_left"] = round(self.days_left, 2)
        return d


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
