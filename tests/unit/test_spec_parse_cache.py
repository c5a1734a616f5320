"""The parse cache (fleetctl.spec.parse_cache): unchanged stack files are not
parsed round-trip again, and nothing a user sees changes - the same stacks,
the same problems with the same file:line, also for problems found across
stacks in files that came from the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.errors import SpecError
from fleetctl.spec import load_fleet

pytestmark = pytest.mark.unit


def _problems(stacks: Path, cache: Path | None) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_fleet(stacks, parse_cache=cache)
    return list(info.value.details)


def _edit(stacks: Path, name: str, old: str, new: str) -> None:
    path = stacks / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def warm(project_copy: Path) -> tuple[Path, Path]:
    cache = project_copy / ".fleetctl" / "spec.json"
    load_fleet(project_copy / "stacks", parse_cache=cache)
    assert cache.is_file()
    return project_copy / "stacks", cache


def test_cached_load_equals_a_fresh_load(warm: tuple[Path, Path]) -> None:
    stacks, cache = warm
    cached = load_fleet(stacks, parse_cache=cache)
    assert cached.stacks == load_fleet(stacks).stacks
    assert cached.project.defaults == load_fleet(stacks).project.defaults


def test_cache_is_used_for_unchanged_files(
    warm: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleetctl.spec import loader

    stacks, cache = warm
    reads: list[str] = []
    real = loader._read_yaml

    def counting(path: Path, problems: list[loader.Problem]) -> object:
        reads.append(path.name)
        return real(path, problems)

    monkeypatch.setattr(loader, "_read_yaml", counting)
    _edit(stacks, "Pulumi.prod-sa-east-1.yaml", "min_size: 1", "min_size: 2")
    load_fleet(stacks, parse_cache=cache)
    # Only the edited stack is parsed round-trip (not the others, not Pulumi.yaml).
    assert reads == ["Pulumi.prod-sa-east-1.yaml"]


@pytest.mark.parametrize(
    "edits",
    [
        # a problem in one file (its line)
        [
            (
                "Pulumi.prod-eu-west-1.yaml",
                "      pop: dub\n",
                "      pop: dub\n      cache_sise_gb: 1\n",
            )
        ],
        # a YAML error
        [("Pulumi.prod-eu-west-1.yaml", "      pop: dub\n", "      pop: [dub\n")],
        # a duplicate key
        [("Pulumi.prod-eu-west-1.yaml", "      pop: dub\n", "      pop: dub\n      pop: dub\n")],
        # across stacks: traffic weights of the env, replication to a missing region
        [("Pulumi.prod-us-west-2.yaml", "traffic_weight: 0.14", "traffic_weight: 0.5")],
        [
            (
                "Pulumi.prod-us-west-2.yaml",
                "replication_targets: [us-east-1]",
                "replication_targets: [us-east-2]",
            )
        ],
    ],
)
def test_problems_are_the_same_with_the_cache(
    warm: tuple[Path, Path], edits: list[tuple[str, str, str]]
) -> None:
    stacks, cache = warm
    for name, old, new in edits:
        _edit(stacks, name, old, new)
    fresh = _problems(stacks, None)
    assert _problems(stacks, cache) == fresh
    assert _problems(stacks, cache) == fresh  # and again, with what that run cached


def test_an_unchanged_file_with_a_cross_stack_problem_keeps_its_line(
    warm: tuple[Path, Path],
) -> None:
    stacks, cache = warm
    # Removing us-east-1 breaks the replication of other prod stacks whose files did not change.
    (stacks / "Pulumi.prod-us-east-1.yaml").unlink()
    fresh = _problems(stacks, None)
    assert any(":1:" not in p for p in fresh)
    assert _problems(stacks, cache) == fresh


def test_an_unwritable_cache_only_costs_speed(project_copy: Path) -> None:
    blocker = project_copy / "not-a-dir"
    blocker.write_text("")
    fleet = load_fleet(project_copy / "stacks", parse_cache=blocker / "spec.json")
    assert fleet.stacks == load_fleet(project_copy / "stacks").stacks
