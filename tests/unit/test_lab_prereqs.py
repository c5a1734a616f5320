"""`lab up` on a machine without the lab's system programs: a clear error naming
the package and the apt command, before anything is started or written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.adapters.lab import binaries as lab_binaries
from fleetctl.cli.main import app

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def _path_without(tmp_path: Path, missing: set[str]) -> str:
    """A PATH with links to the lab's programs except `missing`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    import shutil

    for name in lab_binaries.LAB_BINARIES:
        real = shutil.which(name, path=search)
        if name not in missing and real:
            (bin_dir / name).symlink_to(real)
    return str(bin_dir)


@pytest.mark.parametrize(
    ("missing", "package"),
    [({"sshd"}, "openssh-server"), ({"nginx"}, "nginx-light"), ({"ssh-keygen"}, "openssh-client")],
)
def test_lab_up_names_the_missing_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: set[str], package: str
) -> None:
    monkeypatch.setenv("PATH", _path_without(tmp_path, missing))
    monkeypatch.setattr(lab_binaries, "SBIN_DIRS", ())
    lab_dir = tmp_path / "lab"
    result = CliRunner().invoke(
        app, ["--root", str(REPO), "lab", "up", "--dir", str(lab_dir), "--no-apply"]
    )
    assert result.exit_code == 3, result.output
    out = " ".join(result.output.split())
    assert f"{next(iter(missing))} (apt package {package})" in out
    assert f"apt-get install -y --no-install-recommends {package}" in out
    assert "Traceback" not in out
    assert not lab_dir.exists()  # nothing started, nothing written


def test_binaries_are_found_in_sbin_off_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A normal user's PATH has no /usr/sbin: sshd is still found there."""
    if not Path("/usr/sbin/sshd").exists():
        pytest.skip("openssh-server not installed")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert lab_binaries.binary("sshd") == "/usr/sbin/sshd"
