"""Extra vars through real ansible-runner and ansible-playbook: never on a
command line (/proc/PID/cmdline is readable by every local user), never in
ansible-runner's `artifacts/*/command` record, in a 0600 file that is gone
once the playbook started, and no private dir outlives its run (also when the
process that ran it was killed)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fleetctl.adapters import procs
from fleetctl.adapters.ansible import run_playbook
from fleetctl.core.ansible_result import RunStatus
from fleetctl.services import secrets

pytestmark = pytest.mark.integration

SECRET = "hunter2-Argv-3b9e1d"


def wait_for(cond: Any, what: str, timeout_s: float = 90.0) -> Any:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_extra_vars_reach_ansible_through_a_private_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a private dir left behind by a run whose process died (kill -9)
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftover = Path(tempfile.gettempdir()) / f"fleetctl-ansible-{dead.pid}-left"
    (leftover / "env").mkdir(parents=True)
    (leftover / "env" / "extravars").write_text(json.dumps({"db_password": SECRET}))

    # the value comes in through the environment, as `--secret-var db_password` reads it
    monkeypatch.setenv("FLEETCTL_SECRET_DB_PASSWORD", SECRET)
    (given,) = secrets.read(["db_password"])
    go, out = tmp_path / "go", tmp_path / "out.txt"
    playbook = tmp_path / "secret-probe.yml"
    playbook.write_text(
        "- hosts: all\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - ansible.builtin.wait_for: {path: '{{ go_file }}', timeout: 120}\n"
        "    - ansible.builtin.copy: {content: '{{ db_password }}', dest: '{{ out_file }}'}\n"
    )
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"me ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    seen: dict[str, Any] = {}

    def watch() -> None:
        """What another local user (argv) and a crash (files) would see, mid-run."""
        try:
            mine = f"fleetctl-ansible-{os.getpid()}-"
            data_dir = wait_for(
                lambda: next(Path(tempfile.gettempdir()).glob(f"{mine}*"), None), "private dir"
            )
            seen["data_dir"] = data_dir
            seen["mode"] = stat.S_IMODE(data_dir.stat().st_mode)
            seen["leftover_gone"] = not leftover.exists()
            player = wait_for(
                lambda: [
                    p
                    for p in procs.with_cmdline_containing(str(playbook))
                    if "ansible-playbook" in procs.cmdline(p.pid)
                ],
                "ansible-playbook",
            )[0]
            seen["argv"] = Path(f"/proc/{player.pid}/cmdline").read_bytes()
            seen["environ"] = Path(f"/proc/{player.pid}/environ").read_bytes()
            # Ansible has read the file once started: it is gone while the play runs
            wait_for(lambda: not (data_dir / "env" / "extravars").exists(), "vars file removed")
            command = wait_for(lambda: list(data_dir.glob("artifacts/*/command")), "command")[0]
            seen["command_mode"] = stat.S_IMODE(command.stat().st_mode)
            seen["command"] = json.loads(command.read_text())
            seen["leaked"] = [
                p for p in data_dir.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()
            ]
        finally:
            go.touch()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    # ansible-runner wants the main thread (signal handlers)
    r = run_playbook(
        playbook,
        inventory,
        strategy="linear",
        extravars={"db_password": given.value, "go_file": str(go), "out_file": str(out)},
    )
    watcher.join(timeout=30)
    assert r.status is RunStatus.successful, (r.error, r.stdout_tail)
    assert out.read_text() == SECRET  # the value did reach the play
    data_dir = seen["data_dir"]
    assert seen["mode"] == 0o700
    assert seen["leftover_gone"], "a dead run's private dir was left behind"
    assert b"@" + str(data_dir / "env" / "extravars").encode() in seen["argv"]
    assert SECRET.encode() not in seen["argv"], seen["argv"]
    assert SECRET.encode() not in seen["environ"]
    assert seen["command_mode"] == 0o600
    assert "FLEETCTL_SECRET_DB_PASSWORD" not in seen["command"]["env"]
    assert not seen["leaked"], seen["leaked"]
    assert not data_dir.exists()


def test_a_vars_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    from fleetctl.adapters.ansible import _write_private

    old = os.umask(0)
    try:
        path = tmp_path / "d" / "extravars"
        _write_private(path, "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_apply_with_a_secret_var_prints_no_plaintext(tmp_path: Path) -> None:
    """`fleetctl apply --secret-var`: the play gets the value; a failed task that
    quotes it is shown with `[secret]`, in the table and in JSON."""
    from typer.testing import CliRunner

    from fleetctl.cli.main import app

    root = Path(__file__).resolve().parents[2]
    secret_file = tmp_path / "pw"
    secret_file.write_text(SECRET + "\n")
    out = tmp_path / "out.txt"
    playbook = tmp_path / "quote.yml"
    playbook.write_text(
        "- hosts: all\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        f"    - ansible.builtin.copy: {{content: '{{{{ db_password }}}}', dest: '{out}'}}\n"
        "    - ansible.builtin.fail: {msg: 'cannot log in with {{ db_password }}'}\n"
    )
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"me ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    args = ["--root", str(root), "apply", str(playbook), "--env", "lab", "-i", str(inventory)]
    args += ["--strategy", "linear", "--secret-var", f"db_password=@{secret_file}"]
    for fmt in ("table", "json"):
        r = CliRunner().invoke(app, [*args, "--format", fmt])
        assert r.exit_code == 1, r.output
        assert SECRET not in r.stdout + r.stderr
        assert "cannot log in with [secret]" in r.stdout + r.stderr
    assert out.read_text() == SECRET
