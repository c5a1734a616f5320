"""scripts/system-deps.sh: what a fresh machine lacks is installed (or the exact
command to run is printed), with every tool it calls faked on PATH."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "system-deps.sh"


def _stub(bin_dir: Path, name: str, body: str = "") -> None:
    exe = bin_dir / name
    exe.write_text(f'#!/bin/sh\necho "{name} $*" >> "$STUB_LOG"\n{body}\n')
    exe.chmod(0o755)


# The real clients and monitoring the tests use (promtool, cmark-gfm, mtail, chromium):
# installed in every case here, so each case is about the lab's packages.
CLIENT_PROGRAMS = ("promtool", "cmark-gfm", "mtail", "chromium")


def _machine(tmp_path: Path, *, present: tuple[str, ...], uid: int, sudo_ok: bool | None) -> Path:
    """A PATH holding only fakes: `id`, `apt-get`, `service`, maybe `sudo`, and
    the given programs (what is 'installed')."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir, "id", f"echo {uid}")
    _stub(bin_dir, "apt-get")
    _stub(bin_dir, "service")
    if sudo_ok is not None:
        # `sudo -n true` answers whether sudo works without a password
        _stub(
            bin_dir,
            "sudo",
            'if [ "$2" = true ]; then exit ' + ("0" if sudo_ok else "1") + '; fi\nshift; exec "$@"',
        )
    for prog in (*present, *CLIENT_PROGRAMS):
        _stub(bin_dir, prog)
    return bin_dir


def _run(tmp_path: Path, bin_dir: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = tmp_path / "calls.log"
    log.touch()
    proc = subprocess.run(
        ["/bin/bash", str(SCRIPT)],
        env={"PATH": str(bin_dir), "STUB_LOG": str(log), "SYSTEM_DEPS_SEARCH_DIRS": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    calls = [c for c in log.read_text().splitlines() if not c.startswith(("id", "sudo -n true"))]
    return proc, calls


def test_nothing_missing_does_nothing(tmp_path: Path) -> None:
    bin_dir = _machine(tmp_path, present=("nginx", "sshd", "ssh", "git"), uid=1000, sudo_ok=False)
    proc, calls = _run(tmp_path, bin_dir)
    assert proc.returncode == 0, proc.stderr
    assert calls == []


def test_root_installs_only_what_is_missing_and_stops_its_services(tmp_path: Path) -> None:
    bin_dir = _machine(tmp_path, present=("ssh", "git"), uid=0, sudo_ok=None)
    proc, calls = _run(tmp_path, bin_dir)
    assert proc.returncode == 0, proc.stderr
    assert calls == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends nginx-light openssh-server",
        "service nginx stop",
        "service ssh stop",
    ]


def test_passwordless_sudo_is_used(tmp_path: Path) -> None:
    bin_dir = _machine(tmp_path, present=("nginx", "ssh", "git"), uid=1000, sudo_ok=True)
    proc, calls = _run(tmp_path, bin_dir)
    assert proc.returncode == 0, proc.stderr
    assert "apt-get install -y -qq --no-install-recommends openssh-server" in calls
    assert "sudo -n apt-get install -y -qq --no-install-recommends openssh-server" in calls


@pytest.mark.parametrize("sudo_ok", [False, None], ids=["sudo-needs-password", "no-sudo"])
def test_no_root_stops_at_once_with_the_command(tmp_path: Path, sudo_ok: bool | None) -> None:
    bin_dir = _machine(tmp_path, present=("ssh", "git"), uid=1000, sudo_ok=sudo_ok)
    proc, calls = _run(tmp_path, bin_dir)
    assert proc.returncode == 1
    assert calls == []  # nothing tried, nothing asked
    assert "nginx-light openssh-server" in proc.stderr
    assert (
        "sudo apt-get update && sudo apt-get install -y --no-install-recommends"
        " nginx-light openssh-server" in proc.stderr
    )


def test_the_lab_packages_are_in_the_one_list() -> None:
    """The lab names the package of each binary it needs; each is in the script's list."""
    from fleetctl.adapters.lab.binaries import LAB_BINARIES

    text = SCRIPT.read_text()
    listed = text.split("PACKAGES='", 1)[1].split("'", 1)[0].split()
    for package in LAB_BINARIES.values():
        assert package in listed


def test_a_file_that_is_not_executable_is_not_installed(tmp_path: Path) -> None:
    """`command -v` alone would answer for it (bash falls back to any file found)."""
    bin_dir = _machine(tmp_path, present=("sshd", "ssh", "git"), uid=0, sudo_ok=None)
    (bin_dir / "nginx").write_text("not a program\n")  # mode 0644
    proc, calls = _run(tmp_path, bin_dir)
    assert proc.returncode == 0, proc.stderr
    assert "apt-get install -y -qq --no-install-recommends nginx-light" in calls
