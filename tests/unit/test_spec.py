"""The fleet spec: good configs load; every class of bad config is reported
with its exact file:line and key path, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.errors import SpecError
from fleetctl.spec import load_fleet, merge_defaults, parse_spec

pytestmark = pytest.mark.unit


def problems(root: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_fleet(root / "stacks")
    assert info.value.exit_code == 2
    return [line.replace(str(root) + "/", "") for line in info.value.details]


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "stacks" / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


def line_of(root: Path, name: str, needle: str) -> int:
    lines = (root / "stacks" / name).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_sample_fleet_is_valid(repo_root: Path) -> None:
    fleet = load_fleet(repo_root / "stacks")
    assert fleet.envs() == ["prod", "staging"]
    prod = fleet.select("prod")
    assert len(prod) >= 6
    assert abs(sum(s.traffic_weight for s in prod) - 1.0) < 0.011
    us = fleet.stack("prod-us-east-1")
    # defaults from Pulumi.yaml fill the edge pool and merge tags
    assert us.spec.edge is not None and us.spec.edge.instance_type == "c6in.2xlarge"
    assert us.spec.tags["managed-by"] == "fleetctl" and us.spec.tags["cost-center"] == "cdn-prod"
    assert us.secrets == ("fleet:originSigningKey",)


def test_unknown_key_is_an_error_with_its_line(project_copy: Path) -> None:
    f = "Pulumi.prod-eu-west-1.yaml"
    edit(project_copy, f, "      pop: dub\n", "      pop: dub\n      cache_sise_gb: 10\n")
    line = line_of(project_copy, f, "cache_sise_gb")
    assert problems(project_copy) == [
        f"stacks/{f}:{line}: fleet:spec.edge.cache_sise_gb: Extra inputs are not permitted"
    ]


def test_every_problem_reported_at_once(project_copy: Path) -> None:
    a, b = "Pulumi.prod-eu-west-1.yaml", "Pulumi.prod-sa-east-1.yaml"
    edit(project_copy, a, "nodes_per_zone: 8", "nodes_per_zone: eight")
    edit(project_copy, b, "min_size: 1", "min_size: 11")
    found = problems(project_copy)
    assert len(found) == 2
    assert found[0].startswith(f"stacks/{a}:{line_of(project_copy, a, 'nodes_per_zone')}: ")
    assert "fleet:spec.edge.nodes_per_zone: Input should be a valid integer" in found[0]
    assert found[1] == (
        f"stacks/{b}:{line_of(project_copy, b, 'transcode:')}: fleet:spec.transcode: "
        "min_size (11) must be <= max_size (10)"
    )


def test_missing_required_key_points_at_parent(project_copy: Path) -> None:
    f = "Pulumi.prod-eu-west-1.yaml"
    edit(project_copy, f, "      pop: dub\n", "")
    assert problems(project_copy) == [
        f"stacks/{f}:{line_of(project_copy, f, 'edge:')}: fleet:spec.edge.pop: Field required"
    ]


def test_unknown_zone_and_replication_target(project_copy: Path) -> None:
    f = "Pulumi.prod-us-west-2.yaml"
    edit(project_copy, f, "us-west-2c]", "us-west-2z]")
    edit(project_copy, f, "replication_targets: [us-east-1]", "replication_targets: [us-east-2]")
    found = problems(project_copy)
    assert any(
        p.startswith(f"stacks/{f}:{line_of(project_copy, f, 'zones:')}: fleet:spec.zones[2]: ")
        and "'us-west-2z' is not a zone of us-west-2" in p
        for p in found
    ), found
    assert any("'us-east-2' has no prod stack" in p for p in found), found


def test_traffic_weights_must_sum_to_one(project_copy: Path) -> None:
    f = "Pulumi.prod-us-west-2.yaml"
    edit(project_copy, f, "traffic_weight: 0.14", "traffic_weight: 0.5")
    (found,) = problems(project_copy)
    assert "traffic weights of env prod sum to 1.360" in found
    assert found.startswith(f"stacks/{f}:{line_of(project_copy, f, 'traffic_weight')}:")


def test_bad_default_reports_pulumi_yaml(project_copy: Path) -> None:
    edit(project_copy, "Pulumi.yaml", "ladder: [1080p", "ladder: [1081p")
    found = problems(project_copy)
    assert found and all(p.startswith("stacks/Pulumi.yaml:") for p in found)
    assert "fleet:defaults.transcode.ladder[0]" in found[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("config:\n  aws:region: [unclosed\n", "YAML syntax error"),
        ("- just\n- a list\n", "expected a mapping with `config:`"),
        ("config:\n  aws:region: eu-north-1\n", "fleet:spec: required key is missing"),
        ("confg:\n  aws:region: eu-north-1\n", "confg: unknown top-level key"),
    ],
)
def test_bad_files_as_a_new_user_writes_them(
    project_copy: Path, content: str, message: str
) -> None:
    (project_copy / "stacks" / "Pulumi.dev-eu-north-1.yaml").write_text(content)
    found = problems(project_copy)
    assert any(message in p and "Pulumi.dev-eu-north-1.yaml:" in p for p in found), found


def test_file_that_is_not_a_stack_config(project_copy: Path) -> None:
    other = project_copy / "stacks" / "Pulumi.notes.yaml"
    other.write_text("hello: world\n")
    (found,) = problems(project_copy)
    assert "Pulumi.notes.yaml:1: not a stack config" in found


def test_region_mismatch(project_copy: Path) -> None:
    f = "Pulumi.prod-sa-east-1.yaml"
    edit(project_copy, f, "aws:region: sa-east-1", "aws:region: sa-east-2")
    (found,) = problems(project_copy)
    assert "aws:region: 'sa-east-2' does not match the region 'sa-east-1'" in found


def test_merge_defaults_keeps_opt_in_sections_out() -> None:
    merged = merge_defaults(
        {"zones": ["a"], "tags": {"x": "1"}},
        {"tags": {"y": "2"}, "transcode": {"instance_type": "c6i.large"}},
    )
    assert merged == {"zones": ["a"], "tags": {"x": "1", "y": "2"}}


def test_parse_spec_reports_key_paths() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec({"zones": ["a"], "network": {"cidr": "nope"}}, where="prod-x")
    assert info.value.details == [
        "prod-x: network.cidr: String should match pattern '^10\\.\\d{1,3}\\.0\\.0/16$'"
    ]
