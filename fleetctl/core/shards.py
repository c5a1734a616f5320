"""How `preview --shard K/N` splits the stacks to run: the same split on every runner."""

from __future__ import annotations

from collections.abc import Sequence

from fleetctl.spec import Fleet


def weight(name: str, fleet: Fleet) -> int:
    """About how many resources the stack's program declares (from its spec)."""
    for s in fleet.stacks:
        if s.name == name:
            spec = s.spec
            n = 8 + 4 * len(spec.zones) + 6 * len(spec.storage.buckets)
            if spec.edge is not None:
                n += 3 * len(s.edge_zones)
            if spec.transcode is not None:
                n += 6
            return n
    return 1  # only at the base: its program runs there, to list the deletes


def share(names: Sequence[str], fleet: Fleet, k: int, n: int) -> list[str]:
    """Shard k's stacks (1-based) of `names`: heaviest first, each to the lightest shard
    so far (ties to the lower shard). The same inputs give the same split everywhere."""
    loads = [0] * n
    owner: dict[str, int] = {}
    for name in sorted(names, key=lambda x: (-weight(x, fleet), x)):
        i = min(range(n), key=lambda j: (loads[j], j))
        owner[name] = i
        loads[i] += weight(name, fleet)
    return sorted(x for x in names if owner[x] == k - 1)
