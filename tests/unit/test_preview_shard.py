"""The split of `preview --shard K/N`: every stack that needs running is in
exactly one shard, the same on every runner, balanced by estimated resources."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.core.shards import share, weight
from fleetctl.errors import BadInput
from fleetctl.services.preview_shard import parse_shard
from fleetctl.spec import load_fleet

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("n", [1, 2, 3, 4, 9, 12])
def test_shards_partition_the_stacks_and_balance_them(repo_root: Path, n: int) -> None:
    fleet = load_fleet(repo_root / "stacks")
    names = [s.name for s in fleet.stacks]
    parts = [share(names, fleet, k, n) for k in range(1, n + 1)]
    assert sorted(x for p in parts for x in p) == sorted(names)  # each exactly once
    assert parts == [share(list(reversed(names)), fleet, k, n) for k in range(1, n + 1)]
    loads = [sum(weight(x, fleet) for x in p) for p in parts]
    heaviest = max(weight(x, fleet) for x in names)
    assert max(loads) - min(loads) <= heaviest  # no shard more than one stack ahead
    if n <= len(names):
        assert all(parts)  # no idle runner


def test_weight_follows_the_spec(repo_root: Path) -> None:
    fleet = load_fleet(repo_root / "stacks")
    # us-east-1: 2 buckets, more zones; ap-south-1: 1 bucket
    assert weight("prod-us-east-1", fleet) > weight("prod-ap-south-1", fleet)
    assert weight("prod-gone-1", fleet) == 1  # only at the base


@pytest.mark.parametrize("bad", ["0/2", "3/2", "2", "a/b", "1/0", ""])
def test_bad_shard_flags(bad: str) -> None:
    with pytest.raises(BadInput):
        parse_shard(bad)
    assert parse_shard("2/3") == (2, 3)
