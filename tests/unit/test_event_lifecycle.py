"""`fleetctl event start|end|list`: the event's freeze (its own, never anyone
else's) and the pre-scale / scale-down patches, which `git apply` must take as
they are. The line editor behind the patches is tested on its own first."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.errors import BadInput
from fleetctl.services import freeze as freeze_service
from fleetctl.spec.config_edit import read_int, set_ints

pytestmark = pytest.mark.unit

CONFIG = """\
encryptionsalt: v1:abc
config:
  aws:region: eu-central-1
  fleet:spec:
    zones: [eu-central-1a, eu-central-1b]
    edge:
      traffic_weight: 0.10  # a comment stays
      nodes_per_zone: 4
    transcode:
      max_size: 20
    flow: {a: 1}
"""


def test_set_ints_changes_only_the_lines_of_the_keys() -> None:
    new = set_ints(CONFIG, {"edge.nodes_per_zone": 12, "transcode.min_size": 7}, "f.yaml")
    old_lines, new_lines = CONFIG.splitlines(), new.splitlines()
    changed = [n for o, n in zip(old_lines, new_lines, strict=False) if o != n]
    assert "      nodes_per_zone: 12" in new_lines
    assert "      min_size: 7" in new_lines  # a missing key: a new line in its section
    assert len(new_lines) == len(old_lines) + 1
    assert "traffic_weight: 0.10  # a comment stays" in new
    assert changed[0] == "      nodes_per_zone: 12"
    assert read_int(new, "edge.nodes_per_zone", "f") == 12
    assert read_int(new, "transcode.min_size", "f") == 7
    assert read_int(CONFIG, "transcode.min_size", "f") is None


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"nosection.x": 1}, "no `fleet:spec.nosection` mapping"),
        ({"flow.b": 1}, "flow-style"),
        ({"edge.traffic_weight": 1}, "not a plain integer"),
    ],
)
def test_set_ints_refuses_what_it_cannot_edit_cleanly(values: dict[str, int], match: str) -> None:
    with pytest.raises(BadInput, match=match):
        set_ints(CONFIG, values, "f.yaml")


def test_read_int_names_the_file_of_a_broken_config() -> None:
    with pytest.raises(BadInput, match=r"^f\.yaml: not valid YAML"):
        read_int("config: [", "edge.nodes_per_zone", "f.yaml")
    with pytest.raises(BadInput, match="not an integer"):
        read_int(
            CONFIG.replace("nodes_per_zone: 4", "nodes_per_zone: four"), "edge.nodes_per_zone", "f"
        )


# -- the commands on a git checkout of the sample fleet ----------------------------------

EC1 = "stacks/Pulumi.prod-eu-central-1.yaml"


@pytest.fixture
def checkout(project_copy: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(project_copy)], check=True)
    return project_copy


def cli(root: Path, *args: str) -> object:
    return CliRunner().invoke(app, ["--root", str(root), "--state", str(root / "state.db"), *args])


def plan(root: Path, name: str = "cup-final") -> None:
    r = cli(
        root, "event", "plan", "--env", "prod", "--name", name,
        "--start", "2026-12-20T18:00:00Z", "--end", "2099-12-20T21:00:00Z",
        "--peak-gbps", "100", "--regions", "eu-central-1", "--no-preview", "--format", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output


def git_apply(root: Path, patch: str) -> None:
    subprocess.run(["git", "apply", "-"], cwd=root, input=patch, text=True, check=True)


def edge_nodes(root: Path) -> int | None:
    return read_int((root / EC1).read_text(), "edge.nodes_per_zone", EC1)


def test_start_freezes_and_its_patch_applies_then_end_scales_down(checkout: Path) -> None:
    plan(checkout)
    listed = cli(checkout, "event", "list", "--format", "json")
    assert [(e["name"], e["phase"]) for e in json.loads(listed.stdout)] == [
        ("cup-final", "planned")
    ]

    r = cli(checkout, "event", "start", "cup-final")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"--- a/{EC1}\n+++ b/{EC1}\n")  # stdout is the patch alone
    store = SqliteStore(str(checkout / "state.db"))
    frozen = freeze_service.current(store, "prod")
    store.close()
    assert frozen is not None and frozen.reason.startswith("event cup-final: ")

    git_apply(checkout, r.stdout)
    assert edge_nodes(checkout) == 12  # the plan's N+1 need (tests/unit/test_event.py)
    again = cli(checkout, "event", "start", "cup-final", "--format", "json")
    doc = json.loads(again.stdout)
    assert (doc["phase"], doc["again"], doc["patch"]) == ("started", True, "")
    assert doc["notes"] == [f"{EC1}: edge.nodes_per_zone is 12 already (the plan needs 12)"]

    out = checkout / "down.patch"
    end = cli(checkout, "event", "end", "cup-final", "--out", str(out))
    assert end.exit_code == 0, end.output
    assert out.read_text() == end.stdout and "-      nodes_per_zone: 12" in end.stdout
    git_apply(checkout, end.stdout)
    assert edge_nodes(checkout) == 4
    store = SqliteStore(str(checkout / "state.db"))
    assert freeze_service.current(store, "prod") is None
    store.close()
    # an ended event is not started again without a new plan
    r = cli(checkout, "event", "start", "cup-final")
    assert r.exit_code == 2 and "ended" in r.output and "plan it again" in r.output


def test_end_never_lifts_a_freeze_that_is_not_the_events(checkout: Path) -> None:
    plan(checkout)
    store = SqliteStore(str(checkout / "state.db"))
    freeze_service.set_freeze(store, "prod", True, "incident 42", by="oncall")
    store.close()
    r = cli(checkout, "event", "start", "cup-final", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["froze"] is False
    r = cli(checkout, "event", "end", "cup-final")
    assert r.exit_code == 0, r.output
    assert "incident 42" in r.output and "not this event's, left on" in r.output
    store = SqliteStore(str(checkout / "state.db"))
    kept = freeze_service.current(store, "prod")
    store.close()
    assert kept is not None and kept.reason == "incident 42"


def test_a_key_changed_since_the_prescale_is_left_alone(checkout: Path) -> None:
    plan(checkout)
    r = cli(checkout, "event", "start", "cup-final")
    git_apply(checkout, r.stdout)
    text = (checkout / EC1).read_text()
    (checkout / EC1).write_text(set_ints(text, {"edge.nodes_per_zone": 9}, EC1))
    r = cli(checkout, "event", "end", "cup-final", "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["patch"] == ""
    assert doc["notes"] == [
        f"{EC1}: edge.nodes_per_zone is 9, neither the pre-scale's 12 nor the 4 before it: "
        "changed since, left alone"
    ]


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["event", "start", "nosuch"], 2, "plan it first"),
        (["event", "end", "../../etc"], 2, "bad event name"),
        (["event", "plan", "--env", "prod", "--name", "a/b", "--start", "2026-12-20T18:00:00Z",
          "--end", "2026-12-20T21:00:00Z", "--peak-gbps", "1", "--no-preview"], 2, "--name"),
    ],
)  # fmt: skip
def test_bad_names_exit_2(checkout: Path, args: list[str], code: int, text: str) -> None:
    r = cli(checkout, *args)
    assert r.exit_code == code, r.output
    assert text in r.output and "Traceback" not in r.output


def test_a_corrupt_event_record_is_exit_3(checkout: Path) -> None:
    store = SqliteStore(str(checkout / "state.db"))
    store.put("event", "cup-final", {"name": "cup-final", "phase": "nonsense"})
    store.close()
    r = cli(checkout, "event", "start", "cup-final")
    assert r.exit_code == 3, r.output
    assert "event record is malformed" in r.output


def test_replanning_a_started_event_keeps_the_values_to_scale_back_to(checkout: Path) -> None:
    plan(checkout)
    r = cli(checkout, "event", "start", "cup-final")
    git_apply(checkout, r.stdout)
    assert edge_nodes(checkout) == 12
    plan(checkout)  # re-planned once the pre-scale is merged: the spec carries the peak now
    end = cli(checkout, "event", "end", "cup-final")
    assert end.exit_code == 0, end.output
    git_apply(checkout, end.stdout)
    assert edge_nodes(checkout) == 4  # not left at the event's size


@pytest.mark.parametrize("damage", ["missing", "not utf-8"])
def test_a_stack_file_start_cannot_read_fails_before_the_freeze(
    checkout: Path, damage: str
) -> None:
    plan(checkout)
    path = checkout / EC1
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
    r = cli(checkout, "event", "start", "cup-final")
    assert r.exit_code == 2, r.output
    assert EC1 in r.output and "Traceback" not in r.output
    store = SqliteStore(str(checkout / "state.db"))
    assert freeze_service.current(store, "prod") is None  # no freeze the event does not own
    store.close()
    r = cli(checkout, "event", "end", "cup-final")
    assert r.exit_code == 2 and EC1 in r.output, r.output
