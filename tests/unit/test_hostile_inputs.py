"""Hostile or broken input files and flags (issue 17, section 5).

Every input file goes through one reader with limits (fleetctl/spec/safe_yaml.py):
the answer to a binary, non-UTF-8, NUL-holding, too-deep, too-big or
alias-bomb file is exit 2 naming file and line, never a traceback or a hang.
The bomb and the big file run in a subprocess with a timeout, so a
regression fails the test instead of hanging it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
STACK = "Pulumi.prod-eu-west-1.yaml"
BOMB = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10)
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """stacks/, inventories/, playbooks/ and examples/ in a temp dir, safe to break."""
    ignore = shutil.ignore_patterns("__pycache__")
    for d in ("stacks", "inventories", "examples", "rollout-policies"):
        shutil.copytree(REPO / d, tmp_path / d, ignore=ignore)
    return tmp_path


def _invoke(runner: CliRunner, proj: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--root", str(proj), "--state", str(proj / "s.db"), *args])
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, result.stderr


def _cli(proj: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """fleetctl in a subprocess; a hang beyond `timeout` fails the test."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("fleetctl")), "--root", str(proj), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=proj,
    )


# -- stack files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "expect"),
    [
        (b"x: \x00\n", "NUL byte"),
        (b"# caf\xe9 au lait\n", "not UTF-8"),
        (b"x: \x07\n", "control character"),
    ],
)
def test_stack_file_bad_bytes_exit_2_with_file_and_line(
    runner: CliRunner, proj: Path, tail: bytes, expect: str
) -> None:
    path = proj / "stacks" / STACK
    body = path.read_bytes()
    line = body.count(b"\n") + 1
    path.write_bytes(body + tail)
    for cmd in (["validate"], ["stacks", "list"], ["inventory"]):
        code, err = _invoke(runner, proj, *cmd)
        assert code == 2, (cmd, err)
        assert f"{STACK}:{line}:" in err and expect in err, err


def test_binary_stack_file_exit_2(runner: CliRunner, proj: Path) -> None:
    (proj / "stacks" / STACK).write_bytes(bytes(range(256)) * 8)
    code, err = _invoke(runner, proj, "validate")
    assert code == 2 and f"{STACK}:1:" in err


def test_deep_nesting_exit_2_not_recursion_error(runner: CliRunner, proj: Path) -> None:
    (proj / "stacks" / STACK).write_text("config: " + "[" * 50_000 + "]" * 50_000 + "\n")
    code, err = _invoke(runner, proj, "validate")
    assert code == 2 and "nested deeper than" in err and f"{STACK}:1:" in err


def test_deep_nesting_in_pulumi_yaml(runner: CliRunner, proj: Path) -> None:
    (proj / "stacks" / "Pulumi.yaml").write_text("name: x\nconfig: " + "{a: " * 5000 + "\n")
    code, err = _invoke(runner, proj, "validate")
    assert code == 2 and "Pulumi.yaml:" in err


@pytest.mark.parametrize("cmd", [["validate"], ["preview", "--stack", "prod-eu-west-1"]])
def test_alias_bomb_refused_quickly(proj: Path, cmd: list[str]) -> None:
    config = "config:\n  aws:region: eu-west-1\n  fleet:spec:\n"
    (proj / "stacks" / STACK).write_text(
        config + "".join(f"    {line}\n" for line in BOMB.splitlines())
    )
    proc = _cli(proj, *cmd)
    assert proc.returncode == 2, proc.stderr
    assert "alias" in proc.stderr and f"{STACK}:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_five_megabytes_of_unknown_keys_refused_quickly(proj: Path) -> None:
    config = "config:\n  aws:region: eu-west-1\n  fleet:spec:\n"
    keys = "".join(f"    k{i}: {'x' * 80}\n" for i in range(60_000))
    (proj / "stacks" / STACK).write_text(config + keys)
    assert (proj / "stacks" / STACK).stat().st_size > 5_000_000
    for cmd in (["validate"], ["preview", "--stack", "prod-eu-west-1"]):
        proc = _cli(proj, *cmd)
        assert proc.returncode == 2, proc.stderr
        assert "larger than" in proc.stderr and f"{STACK}:1:" in proc.stderr


def test_many_problems_are_capped(runner: CliRunner, proj: Path) -> None:
    config = "config:\n  aws:region: eu-west-1\n  fleet:spec:\n"
    (proj / "stacks" / STACK).write_text(config + "".join(f"    k{i}: 1\n" for i in range(500)))
    code, err = _invoke(runner, proj, "validate")
    assert code == 2 and "more" in err and err.count("Extra inputs") <= 100


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("true", "nodes_per_zone"),  # bool where a count belongs
        ("2.0", "nodes_per_zone"),  # float where a count belongs
        ("2.5", "nodes_per_zone"),
        ('"2"', "nodes_per_zone"),  # string where a count belongs
    ],
)
def test_counts_are_strict_ints(runner: CliRunner, proj: Path, value: str, key: str) -> None:
    path = proj / "stacks" / STACK
    text = path.read_text()
    assert "nodes_per_zone: " in text
    import re

    path.write_text(re.sub(r"nodes_per_zone: \d+", f"nodes_per_zone: {value}", text))
    code, err = _invoke(runner, proj, "validate")
    assert code == 2, err
    assert f"edge.{key}" in err and f"{STACK}:" in err


def test_bool_is_not_a_number_anywhere_in_the_spec(runner: CliRunner, proj: Path) -> None:
    path = proj / "stacks" / STACK
    import re

    text = path.read_text()
    path.write_text(re.sub(r"traffic_weight: [0-9.]+", "traffic_weight: true", text))
    code, err = _invoke(runner, proj, "validate")
    assert code == 2 and "traffic_weight" in err


# -- demand, policy, price and extra-var inputs --------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02\xff garbage",
        b"regions: \xe9\n",
        b"- 1\n- 2\n",
        b"just text\n",
        b"regions: " + b"[" * 50_000,
        b"regions: {eu-west-1: {peak_egress_gbps: true}}\n",
    ],
)
def test_garbage_demand_file_exit_2(runner: CliRunner, proj: Path, content: bytes) -> None:
    path = proj / "demand.yaml"
    path.write_bytes(content)
    code, err = _invoke(runner, proj, "capacity", "--env", "prod", "--demand", str(path))
    assert code == 2, err
    assert "demand.yaml:" in err


def test_policy_file_bool_count_exit_2(runner: CliRunner, proj: Path) -> None:
    pol = proj / "pol.yaml"
    pol.write_text("max_failed_hosts: true\nbake_s: 0\n")
    code, err = _invoke(
        runner, proj, "rollout", "plan", "edge.yml", "--env", "staging", "-p", str(pol)
    )
    assert code == 2 and "pol.yaml:1:" in err and "max_failed_hosts" in err


@pytest.mark.parametrize(
    ("cmd", "rc"),
    [
        (["capacity", "--env", "prod", "--demand", "{f}"], 2),
        (["rollout", "plan", "edge.yml", "--env", "staging", "-p", "{f}"], 2),
        (["cost", "--prices", "{f}"], 2),
        # preview shows the changes even when the cost cannot be had (a warning)
        (["preview", "--stack", "staging-us-east-2", "--prices", "{f}"], 0),
    ],
    ids=["capacity", "rollout-policy", "cost-prices", "preview-prices"],
)
def test_alias_bomb_in_any_input_file_refused_quickly(proj: Path, cmd: list[str], rc: int) -> None:
    bomb = proj / "bomb.yaml"
    bomb.write_text(BOMB)
    proc = _cli(proj, *(a.format(f=bomb) for a in cmd))
    assert proc.returncode == rc, proc.stderr
    assert "alias" in proc.stderr and "bomb.yaml:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_extra_var_alias_bomb_refused() -> None:
    from fleetctl.errors import BadInput
    from fleetctl.services.extra_vars import parse_extra_vars as parse_extravars

    levels = ["&a0 [" + ",".join(["lol"] * 9) + "]"]
    levels += [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    bomb = "[" + ", ".join(levels) + "]"
    assert parse_extravars(["v=[1, 2]"]) == {"v": [1, 2]}
    assert parse_extravars(["v=not: [yaml"]) == {"v": "not: [yaml"}
    with pytest.raises(BadInput, match="alias"):
        parse_extravars(["v=" + bomb])
    with pytest.raises(BadInput, match="nested"):
        parse_extravars(["v=" + "[" * 5000 + "]" * 5000])


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--growth", "abc"], "--growth"),
        (["--growth", "nan"], "--growth"),
        (["--growth", "1e300"], "--growth"),
        (["--peak-gbps", "nan"], "--peak-gbps"),
        (["--peak-gbps", "1e308"], "--peak-gbps"),
    ],
)
def test_capacity_bad_numbers_name_the_flag(
    runner: CliRunner, proj: Path, args: list[str], flag: str
) -> None:
    base = [] if "--peak-gbps" in args else ["--peak-gbps", "100"]
    code, err = _invoke(runner, proj, "capacity", "--env", "prod", *base, *args)
    assert code == 2 and flag in err, err


# -- unknown envs --------------------------------------------------------------------------

ENV_COMMANDS = [
    ["freeze", "on", "-r", "x"],
    ["freeze", "status"],
    ["history"],
    ["status"],
    ["drain", "eu-west-1", "-r", "x", "--yes"],
    ["undrain", "eu-west-1", "--yes"],
    ["hosts", "list"],
    ["hosts", "drain", "--limit", "h1", "-r", "x"],
    ["rollout", "plan", "edge.yml"],
    ["rollout", "start", "edge.yml", "--yes"],
    ["rollout", "list"],
    ["rollout", "status"],
    ["apply", "edge.yml"],
    ["inventory"],
    ["metrics", "dump"],
    ["capacity", "--peak-gbps", "10"],
    ["cost"],
    ["preview"],
    ["stacks", "list"],
    ["drift"],
]


@pytest.mark.parametrize("cmd", ENV_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_unknown_env_refused_everywhere(runner: CliRunner, proj: Path, cmd: list[str]) -> None:
    code, err = _invoke(runner, proj, *cmd, "--env", "nosuchenv")
    assert code == 2, (cmd, err)
    assert "unknown env 'nosuchenv'" in err and "known envs:" in err
    assert not (proj / "s.db").exists()  # refused before any state was touched


@pytest.mark.parametrize(
    "cmd", [["freeze", "status"], ["history"], ["hosts", "list"], ["rollout", "list"]]
)
def test_lab_env_is_valid_where_the_lab_applies(
    runner: CliRunner, proj: Path, cmd: list[str]
) -> None:
    code, err = _invoke(runner, proj, *cmd, "--env", "lab")
    assert code == 0, err


def test_lab_env_refused_for_stack_commands(runner: CliRunner, proj: Path) -> None:
    code, err = _invoke(runner, proj, "stacks", "list", "--env", "lab")
    assert code == 2 and "unknown env 'lab'" in err


def test_alias_bomb_in_an_inventory_refused_before_ansible_reads_it(proj: Path) -> None:
    (proj / "playbooks").symlink_to(REPO / "playbooks")
    group_vars = proj / "inventories" / "staging" / "group_vars"
    group_vars.mkdir(parents=True, exist_ok=True)
    (group_vars / "bomb.yml").write_text(BOMB)
    proc = _cli(proj, "rollout", "plan", "edge.yml", "--env", "staging")
    assert proc.returncode == 2, proc.stderr
    assert "alias" in proc.stderr and "bomb.yml:" in proc.stderr
