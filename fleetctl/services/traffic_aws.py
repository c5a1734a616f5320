"""Region weights in AWS: Route 53 weighted records (one per region, one name).

A change UPSERTs every region's record in one change batch (atomic in Route
53), waits until Route 53 reports it INSYNC, then reads the records back and
checks each weight: that read-back is the gate.
"""

from __future__ import annotations

from typing import Any

from fleetctl.errors import JobFailed
from fleetctl.spec.traffic import TrafficConfig


class Route53Weights:
    name = "route53"

    def __init__(self, cfg: TrafficConfig, *, sync_timeout_s: float = 120.0) -> None:
        self.cfg = cfg
        self.sync_timeout_s = sync_timeout_s
        self._zone: str | None = None

    @property
    def zone(self) -> str:
        if self._zone is None:
            from fleetctl.adapters import route53

            self._zone = route53.zone_id(self.cfg.zone_name)
        return self._zone

    def records(self) -> dict[str, Any]:
        from fleetctl.adapters import route53

        return dict(route53.weighted_records(self.zone, self.cfg.record_name, self.cfg.type))

    def current(self) -> dict[str, int] | None:
        recs = self.records()
        return {r: rec.weight for r, rec in recs.items()} or None

    def apply(self, weights: dict[str, int], comment: str) -> dict[str, Any]:
        from fleetctl.adapters import route53

        existing = self.records()
        # keep a record's value when it exists (set by Pulumi or by hand); new ones
        # point at the configured target
        values = {r: existing[r].value if r in existing else self.cfg.target_of(r) for r in weights}
        change_id = route53.set_weights(
            self.zone, self.cfg.record_name, self.cfg.type, weights, values, self.cfg.ttl, comment
        )
        status = route53.wait_in_sync(change_id, self.sync_timeout_s)
        now = {r: rec.weight for r, rec in self.records().items()}
        wrong = {r: (now.get(r), w) for r, w in weights.items() if now.get(r) != w}
        if wrong:
            raise JobFailed(
                f"Route 53 does not show the weights just written for {self.cfg.record_name}",
                details=[f"{r}: has {has}, expected {want}" for r, (has, want) in wrong.items()],
            )
        return {
            "zone": self.cfg.zone_name,
            "zone_id": self.zone,
            "record": self.cfg.record_name,
            "change_id": change_id,
            "change_status": status,
            "weights_read_back": dict(sorted(now.items())),
        }
