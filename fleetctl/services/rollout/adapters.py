"""The rollout's two doors to the outside world: run a playbook (`Executor`)
and sample the HTTP gate paths (`Prober`), with their real implementations.
Tests replace them with fakes; the engine and the activities never import
Ansible or the sampler themselves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from fleetctl.core.gates import Sample
from fleetctl.core.planner import Host
from fleetctl.core.policy import Policy
from fleetctl.services.rollout import video_gates
from fleetctl.services.rollout.gating import Prober

__all__ = ["Executor", "Prober", "ansible_executor", "http_prober"]


class Executor(Protocol):
    """Runs a playbook on some hosts; returns a PlaybookResult-like object
    (`.status`, `.hosts[name].state/.changed`, `.error`, `.duration_s`)."""

    def __call__(
        self,
        playbook: Path,
        inventory: Path,
        *,
        limit: Sequence[str],
        check: bool,
        diff: bool,
        extravars: dict[str, Any],
        timeout_s: float | None,
        cancel: Callable[[], bool] | None,
        env: dict[str, str] | None = None,
    ) -> Any: ...


def ansible_executor(
    playbook: Path,
    inventory: Path,
    *,
    limit: Sequence[str],
    check: bool,
    diff: bool,
    extravars: dict[str, Any],
    timeout_s: float | None,
    cancel: Callable[[], bool] | None,
    env: dict[str, str] | None = None,
) -> Any:
    from fleetctl.adapters.ansible import run_playbook

    return run_playbook(
        playbook,
        inventory,
        limit=",".join(limit),
        check=check,
        diff=diff,
        extravars=extravars,
        timeout_s=timeout_s,
        cancel=cancel,
        env=env,
    )


def http_prober(
    changed: Sequence[Host], baseline: Sequence[Host], policy: Policy
) -> tuple[list[Sample], list[Sample]]:
    from fleetctl.adapters.http_sampler import Target, sample

    cfg = policy.gates.http

    def target(h: Host) -> Target:
        return Target(h.name, video_gates.base_url(h, cfg), video_gates.ca_of(h, cfg))

    names = {h.name for h in changed}
    readings = sample(
        [target(h) for h in [*changed, *baseline]],
        cfg.paths,
        samples=cfg.samples,
        warmup=cfg.warmup,
        timeout_s=cfg.timeout_s,
        concurrency=cfg.concurrency,
        expect_status=cfg.expect_status,
    )
    samples = [
        Sample(r.host, r.path, r.latency_ms, r.status, r.error, r.at, r.detail) for r in readings
    ]
    return [s for s in samples if s.host in names], [s for s in samples if s.host not in names]
