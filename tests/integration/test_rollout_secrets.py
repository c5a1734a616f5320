"""Secrets in rollouts: a `--secret-var` value reaches Ansible and nothing else.

The rollout runs through the CLI on the loopback fleet (rollout_fleet.FakeFleet
stands in for Ansible only: the real-Ansible side of the path, argv and the
private dir, is test_ansible_secrets.py). Every output, the journal, the
release store, the state db and fleetctl's temp dirs are grepped for the
plaintext.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rollout_fleet import CANARY_ANALYSIS, HTTP_GATE, REGRESSION_DELAY_MS, FakeFleet
from typer.testing import CliRunner

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.core.policy import Policy
from fleetctl.errors import BadInput
from fleetctl.services.rollout import Engine, Status
from fleetctl.services.rollout import adapters as rollout_service
from fleetctl.services.secrets import SecretVar

pytestmark = pytest.mark.integration

SECRET = "hunter2-Plain-9c41e7"
OTHER = "rotated-Plain-52d0b3"
POLICY = {
    "bake_s": 0,
    "waves": ["100%"],
    "gates": {"http": HTTP_GATE, "canary_analysis": CANARY_ANALYSIS},
}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    f = FakeFleet(tmp_path / "ws", {"a": (0.2, 2), "b": (0.8, 1)})
    yield f
    f.close()


@pytest.fixture
def cli(
    fleet: FakeFleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[CliRunner, list[str], Path, Path]:
    # the CLI's engine gets the stand-in for Ansible
    monkeypatch.setattr(rollout_service, "ansible_executor", fleet.executor)
    policy = tmp_path / "policy.json"  # JSON is YAML
    policy.write_text(json.dumps(POLICY))
    state = tmp_path / "state" / "state.db"
    base = ["--root", str(fleet.root), "--state", str(state)]
    return CliRunner(), base, state, policy


def leaks(*roots: Path, secret: str = SECRET) -> list[str]:
    """Every file under `roots` holding the plaintext (as bytes, any encoding of JSON)."""
    needles = (secret.encode(), json.dumps(secret).encode())
    found = []
    for root in roots:
        try:  # a dir of another run may go away while it is walked
            paths = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        except OSError:
            continue
        for p in paths:
            try:
                data = p.read_bytes()
            except OSError:
                continue
            if any(n in data for n in needles):
                found.append(str(p))
    return found


def our_temp_dirs() -> list[Path]:
    """fleetctl temp dirs this process may have made. Owner-tagged ones
    (`fleetctl-KIND-PID-START-*`, procs.private_temp_dir) only if the tag is
    ours: other test runs on the machine (other xdist workers, another
    checkout running this very test) hold the same secret in their own
    Ansible dirs for a moment, in the same /tmp."""
    from fleetctl.adapters import procs

    tmp, me = Path(tempfile.gettempdir()), procs.owner_tag()
    out = []
    for p in tmp.glob("fleetctl-*"):
        parts = p.name.split("-")
        if len(parts) == 5 and parts[2].isdigit() and f"{parts[2]}-{parts[3]}" != me:
            continue
        try:  # another run may remove its dir between glob and stat
            if p.is_dir() and p.stat().st_uid == os.getuid():
                out.append(p)
        except OSError:
            continue
    return out


def test_a_secret_var_reaches_ansible_and_no_record(
    fleet: FakeFleet,
    cli: tuple[CliRunner, list[str], Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner, base, state, policy = cli
    monkeypatch.setenv("FLEETCTL_SECRET_DB_PASSWORD", SECRET)
    start = [*base, "rollout", "start", "edge.yml", "--env", "lab", "--policy", str(policy)]
    r = runner.invoke(app, [*start, "--yes", "--secret-var", "db_password", "--format", "json"])
    assert r.exit_code == 0, r.output
    outputs = [r.stdout, r.stderr]
    rid = json.loads(r.stdout)["id"]
    # the value reached every Ansible run, and left the environment of this process
    assert fleet.calls and all(c.extravars["db_password"] == SECRET for c in fleet.calls)
    assert "FLEETCTL_SECRET_DB_PASSWORD" not in os.environ
    for args in (
        ["rollout", "status", "--format", "json"],
        ["rollout", "status", rid],
        ["rollout", "why", rid],
        ["rollout", "why", rid, "--format", "json"],
        ["rollout", "list", "--format", "json"],
        ["rollout", "history", "--env", "lab", "--format", "json"],
    ):
        out = runner.invoke(app, [*base, *args])
        assert out.exit_code == 0, out.output
        outputs += [out.stdout, out.stderr]
    assert not [o for o in outputs if SECRET in o]
    # name and keyed fingerprint only: in the journal, the release, and what people read
    status = json.loads(outputs[2])
    created = next(e for e in status["events"] if e["type"] == "created")
    fp = created["secret_vars"]["db_password"]
    assert len(fp) == 32 and int(fp, 16) >= 0
    assert "db_password" not in created["extravars"]
    assert "secret vars db_password" in outputs[6]  # rollout why
    assert not leaks(tmp_path), "plaintext in the state db, journal, release store or workspace"
    assert not leaks(*our_temp_dirs())
    # the state db and the release store are private, whatever the umask
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert stat.S_IMODE((state.parent / "releases").stat().st_mode) == 0o700
    assert stat.S_IMODE(state.parent.stat().st_mode) == 0o700


def test_a_changed_secret_is_a_new_release_and_the_same_is_the_same(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "state.db")
    pol = Policy.model_validate(POLICY)
    try:
        first = Engine(
            store, fleet.root, executor=fleet.executor, secrets=[SecretVar("db_password", SECRET)]
        ).start("lab", "edge.yml", pol)
        again = Engine(
            store, fleet.root, executor=fleet.executor, secrets=[SecretVar("db_password", SECRET)]
        ).start("lab", "edge.yml", pol)
        rotated = Engine(
            store, fleet.root, executor=fleet.executor, secrets=[SecretVar("db_password", OTHER)]
        ).start("lab", "edge.yml", pol)
    finally:
        store.close()
    assert first.status is again.status is rotated.status is Status.completed
    assert first.doc["release"] == again.doc["release"]
    assert rotated.doc["release"] != first.doc["release"]
    assert not leaks(tmp_path) and not leaks(tmp_path, secret=OTHER)


def test_plain_extra_vars_that_look_secret_are_refused(
    fleet: FakeFleet, cli: tuple[CliRunner, list[str], Path, Path], tmp_path: Path
) -> None:
    runner, base, _state, policy = cli
    start = [*base, "rollout", "start", "edge.yml", "--env", "lab", "--policy", str(policy), "-y"]
    r = runner.invoke(app, [*start, "-x", f"db_password={SECRET}"])
    assert r.exit_code == 2, r.output
    assert "db_password" in r.stderr and "--secret-var db_password" in r.stderr
    assert "FLEETCTL_SECRET_DB_PASSWORD" in r.stderr and SECRET not in r.output
    assert not fleet.calls and not leaks(tmp_path)
    r = runner.invoke(app, [*start, "-x", "apiKey=abc", "-x", "vault_token=t"])
    assert r.exit_code == 2 and "apiKey, vault_token" in r.stderr
    # said not to be secret: taken as a plain var
    r = runner.invoke(app, [*start, "-x", "cache_key=by-uri", "--allow-plain-secrets"])
    assert r.exit_code == 0, r.output
    assert fleet.calls[-1].extravars["cache_key"] == "by-uri"
    # apply: the same rule, before anything runs
    r = runner.invoke(
        app,
        [*base, "apply", "edge.yml", "--env", "lab", "-x", f"db_password={SECRET}"],
    )
    assert r.exit_code == 2 and "--secret-var db_password" in r.stderr, r.output
    assert SECRET not in r.output


def test_resume_promote_and_rollback_need_the_secret_again(
    fleet: FakeFleet, cli: tuple[CliRunner, list[str], Path, Path], tmp_path: Path
) -> None:
    runner, base, state, _ = cli
    store = SqliteStore(state)
    given = [SecretVar("db_password", SECRET)]
    try:
        good = Engine(store, fleet.root, executor=fleet.executor, secrets=given).start(
            "lab", "edge.yml", Policy.model_validate(POLICY)
        )
        pol = Policy.model_validate({**POLICY, "canary": {"approval": True}})
        paused = Engine(store, fleet.root, executor=fleet.executor, secrets=given).start(
            "lab", "edge.yml", pol, extravars={"v": 2}
        )
    finally:
        store.close()
    assert good.status is Status.completed and paused.status is Status.paused
    secret_file = tmp_path / "db_password.txt"
    secret_file.write_text(OTHER + "\n")
    for cmd in (["resume"], ["promote", "--reason", "ok"], ["rollback"], ["abort"]):
        r = runner.invoke(app, [*base, "rollout", *cmd, paused.id])  # no terminal: no prompt
        assert r.exit_code == 2, (cmd, r.output)
        assert "needs secret var(s) db_password" in r.stderr
        assert "--secret-var db_password" in r.stderr
    # another value than the release was made with: refused for the release itself
    r = runner.invoke(
        app, [*base, "rollout", "resume", paused.id, "--secret-var", f"db_password=@{secret_file}"]
    )
    assert r.exit_code == 2 and "differ from the value" in r.stderr, r.output
    secret_file.write_text(SECRET + "\n")
    calls = len(fleet.calls)
    r = runner.invoke(
        app,
        [
            *base,
            "rollout",
            "promote",
            paused.id,
            "--reason",
            "checked",
            "--secret-var",
            f"db_password=@{secret_file}",
        ],
    )
    assert r.exit_code == 0, r.output
    assert fleet.calls[calls:] and all(
        c.extravars["db_password"] == SECRET for c in fleet.calls[calls:]
    )
    # a new rollout must be able to roll back to the last known-good release:
    # without its secret var it does not start
    store = SqliteStore(state)
    pol = Policy.model_validate(POLICY)
    try:
        with pytest.raises(BadInput, match="needs secret var"):
            Engine(store, fleet.root, executor=fleet.executor).start("lab", "edge.yml", pol)
        # a failing rollout with a rotated value rolls back with the value given now
        failing = Engine(
            store, fleet.root, executor=fleet.executor, secrets=[SecretVar("db_password", OTHER)]
        ).start("lab", "edge.yml", pol, extravars={"edge_response_delay_ms": REGRESSION_DELAY_MS})
    finally:
        store.close()
    assert failing.status is Status.rolled_back, failing.message
    back = [c for c in fleet.calls if c.release == paused.doc["release_id"]][-2:]
    assert back and all(c.extravars["db_password"] == OTHER for c in back)
    assert not leaks(tmp_path / "state") and not leaks(tmp_path / "state", secret=OTHER)


def test_an_existing_world_readable_state_db_is_tightened(
    tmp_path: Path,
) -> None:
    old = os.umask(0)
    try:
        db = tmp_path / "s" / "state.db"
        store = SqliteStore(db)
        store.put_blob("releases/abc", b"x")
        store.put("k", "1", {"a": 1})
        store.close()
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE((db.parent / "releases").stat().st_mode) == 0o700
        wal = db.with_name("state.db-wal")
        if wal.exists():
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
        db.chmod(0o644)
        (db.parent / "releases").chmod(0o755)
        SqliteStore(db).close()
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE((db.parent / "releases").stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_what_ansible_says_back_is_scrubbed_of_secret_values(
    fleet: FakeFleet, tmp_path: Path
) -> None:
    """A failed task's message (or a diff) can quote a secret var: the journal,
    the rollout document and the outcome show `[secret]` instead."""
    from rollout_fleet import Result

    class Quoting:
        def __init__(self, msg: str) -> None:
            self.msg = msg

        def to_dict(self) -> dict[str, Any]:
            return {"state": "failed", "changed": 0, "failed_msgs": [self.msg]}

    def executor(playbook: Path, inventory: Path, **kw: Any) -> Result:
        fleet.executor(playbook, inventory, **kw)
        pw = kw["extravars"]["db_password"]
        quoted = {h: Quoting(f"mysql -p{pw}: access denied") for h in kw["limit"]}
        return Result("error", quoted, error=f"ERROR! cannot log in with {pw}")  # type: ignore[arg-type]

    store = SqliteStore(tmp_path / "state.db")
    try:
        out = Engine(
            store, fleet.root, executor=executor, secrets=[SecretVar("db_password", SECRET)]
        ).start("lab", "edge.yml", Policy.model_validate(POLICY))
        events = store.events(out.id)
        doc = store.get("rollout", out.id)
    finally:
        store.close()
    assert out.status is Status.failed
    assert "cannot log in with [secret]" in out.message and SECRET not in out.message
    assert SECRET not in json.dumps(events) and SECRET not in json.dumps(doc)
    applied = next(e for e in events if e["type"] == "step_applied")
    assert applied["hosts"]["a-e0"]["failed_msgs"] == ["mysql -p[secret]: access denied"]
    assert not leaks(tmp_path)
