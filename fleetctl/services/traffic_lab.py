"""Region weights in the lab: the traffic router (nginx load balancer over the edges).

A change is rolled out like any playbook change, with a gate: the new weights
are recorded as the lab's traffic state and rendered into the router's
inventory vars (so `lab up` or `apply router.yml` keep them), then
`playbooks/router.yml` is applied (a graceful nginx reload), then the HTTP
gate samples viewer requests (health and a real HLS segment) through the
router and checks the router serves the intended weights. If the apply or
the gate fails, the previous weights are written back and re-applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetctl.adapters import http_probe
from fleetctl.adapters.http_sampler import Target, sample
from fleetctl.core.gates import Sample, Verdict, http_gate
from fleetctl.core.policy import HttpGate
from fleetctl.errors import BadInput, JobFailed
from fleetctl.services import apply as apply_service
from fleetctl.services import lab as lab_service
from fleetctl.services.target import EnvTarget

PLAYBOOK = "router.yml"
GATE = HttpGate(
    roles=["router"],
    paths=["/healthz", f"{lab_service.SAMPLE_PATH}/v0/seg_000.ts"],
    samples=15,
    warmup=1,
    max_error_rate=0.0,
    max_p95_ms=2000.0,
    min_samples=10,
    concurrency=4,
)


def weights_header(weights: dict[str, int]) -> str:
    return ",".join(f"{r}={w}" for r, w in sorted(weights.items()))


class LabRouter:
    name = "lab-router"

    def __init__(self, target: EnvTarget) -> None:
        self.target = target
        self.ws = target.ws
        self.lab = target.require_lab()
        self.lab_dir = Path(self.lab.dir)
        router = lab_service.router(self.lab)
        if router is None:
            raise BadInput(
                f"the lab in {self.lab_dir} has no traffic router",
                hint="run `fleetctl lab up` again: it adds the router host",
            )
        self.router = router

    def current(self) -> dict[str, int] | None:
        return lab_service.router_weights(self.lab_dir)

    def _put(self, weights: dict[str, int]) -> Any:
        spec = lab_service.spec_router_weights()
        lab_service.set_router_weights(self.lab, None if weights == spec else weights)
        return apply_service.apply(self.ws, PLAYBOOK, self.target)

    def gate(self, weights: dict[str, int]) -> dict[str, Any]:
        """Viewer requests through the router, and the weights it says it serves."""
        served = http_probe.get(self.router.url("/healthz")).headers.get("x-fleet-weights", "")
        readings = sample(
            [Target(self.router.name, self.router.url("").rstrip("/"))],
            GATE.paths,
            samples=GATE.samples,
            warmup=GATE.warmup,
            timeout_s=GATE.timeout_s,
            concurrency=GATE.concurrency,
        )
        samples = [Sample(r.host, r.path, r.latency_ms, r.status, r.error, r.at) for r in readings]
        result = http_gate(samples, GATE)
        return {
            "weights_served": served,
            "weights_expected": weights_header(weights),
            "gate": result.to_dict(),
            "ok": result.verdict is Verdict.PASS and served == weights_header(weights),
        }

    def apply(self, weights: dict[str, int], comment: str) -> dict[str, Any]:
        previous = lab_service.router_weights(self.lab_dir)
        result = self._put(weights)
        check = self.gate(weights) if result.ok else None
        if result.ok and check is not None and check["ok"]:
            return {
                "router": self.router.name,
                "playbook": PLAYBOOK,
                "changed": result.changed_hosts,
                **check,
            }
        # put the previous weights back before reporting the failure
        back = self._put(previous)
        if not result.ok:
            why = [
                f"{h}: {o.state}: {'; '.join(o.failed_msgs)[:300]}"
                for h, o in sorted(result.hosts.items())
                if o.state in ("failed", "unreachable")
            ] or [result.error or f"status {result.status}"]
        else:
            assert check is not None
            why = [
                f"gate: {check['gate']['verdict']}: {check['gate']['reason']}",
                f"router serves {check['weights_served']!r}, "
                f"expected {check['weights_expected']!r}",
            ]
        raise JobFailed(
            f"the router change failed; previous weights "
            f"{'restored' if back.ok else 'NOT restored'} ({weights_header(previous)})",
            hint=f"see the router: fleetctl lab status; re-run with "
            f"`fleetctl apply {PLAYBOOK} --env lab`",
            details=why,
        )
