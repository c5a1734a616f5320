"""Moved to `fleetctl.services.host_drain` (host drains; region drains are
`fleetctl.services.traffic`). Kept only until services/rollout and
cli/rollout import host_drain; delete then."""

from fleetctl.services.host_drain import drained_hosts

__all__ = ["drained_hosts"]
