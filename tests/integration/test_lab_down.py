"""`lab down` ends everything the lab started, whatever died first: supervisord
killed with SIGKILL (its programs live on, re-parented), an sshd listener killed
too (its open sessions and their commands live on)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.adapters import procs
from fleetctl.adapters.supervisor import Supervisor
from fleetctl.cli.main import app
from fleetctl.errors import OutsideError
from fleetctl.services import lab as lab_service
from tests.lab_fixture import free_subnet

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _listening(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((address, port)) == 0


def _ssh_session(
    lab: lab_service.Lab, h: lab_service.LabHost, marker: str, log: Path
) -> subprocess.Popen[bytes]:
    """An open SSH session into a lab host, running a long command there (its
    command line ends with `marker`)."""
    return subprocess.Popen(
        [
            *("ssh", "-i", lab.key_file, "-p", str(h.ssh_port), "-o", "BatchMode=yes"),
            *("-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "StrictHostKeyChecking=yes"),
            f"{lab.user}@{h.address}",
            f"exec python3 -c 'import time; time.sleep(300)' {marker}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize("also_kill_sshd", [False, True], ids=["supervisord", "supervisord+sshd"])
def test_lab_down_after_supervisord_was_killed(tmp_path: Path, also_kill_sshd: bool) -> None:
    lab_dir = tmp_path / "lab"
    subnet = free_subnet(first=81)
    client: subprocess.Popen[bytes] | None = None
    marker = f"lab-down-test-{os.getpid()}-{tmp_path.name}"

    def remote_command_runs() -> bool:
        return any(
            marker in procs.cmdline(p.pid) and not procs.cmdline(p.pid).startswith("ssh ")
            for p in procs.all_procs()
        )

    try:
        lab = lab_service.lab_up(
            4, lab_dir=lab_dir, playbooks_dir=REPO / "playbooks", subnet=subnet, apply=False
        )
        delay_addr, delay_port = lab.delay_address.split(":")
        for _ in range(50):  # the delay helper starts with supervisord
            if _listening(delay_addr, int(delay_port)):
                break
            time.sleep(0.1)
        assert _listening(delay_addr, int(delay_port))
        h = lab.hosts[0]
        if also_kill_sshd:
            log = tmp_path / "ssh.log"
            client = _ssh_session(lab, h, marker, log)
            for _ in range(300):  # the session's remote command runs
                if remote_command_runs():
                    break
                time.sleep(0.1)
            assert remote_command_runs(), log.read_text()
        sv = Supervisor(lab_dir)
        pid = sv.pid()
        assert pid is not None
        sshd_pid = sv.processes()[h.program("sshd")].pid
        os.kill(pid, signal.SIGKILL)
        if also_kill_sshd:
            os.kill(sshd_pid, signal.SIGKILL)
    finally:
        result = CliRunner().invoke(
            app, ["--root", str(REPO), "lab", "down", "--dir", str(lab_dir)]
        )
        if client is not None:
            client.kill()
            client.wait(timeout=10)
    assert result.exit_code == 0, result.output
    assert lab_service.leftover_processes(lab_dir) == []
    assert procs.with_environ("FLEETCTL_LAB_OWNER", str(lab_dir.resolve())) == []
    assert not remote_command_runs(), "the command of an SSH session into the lab still runs"
    assert not _listening(delay_addr, int(delay_port)), "the delay helper still listens"
    for host in lab.hosts:
        assert not _listening(host.address, host.ssh_port), f"{host.name} sshd still listens"
    assert not lab_dir.exists()


def test_lab_up_says_why_sshd_does_not_listen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An sshd that exits at once: the error carries its own words, not only a path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "sshd"
    fake.write_text("#!/bin/sh\necho 'sshd: no hostkeys available -- exiting.' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    lab_dir = tmp_path / "lab"
    try:
        with pytest.raises(OutsideError) as info:
            lab_service.lab_up(
                4,
                lab_dir=lab_dir,
                playbooks_dir=REPO / "playbooks",
                subnet=free_subnet(first=82),
                apply=False,
            )
    finally:
        lab_service.lab_down(lab_dir)
    err = info.value
    assert "does not listen" in str(err)
    assert "no hostkeys available" in " ".join(err.details)
