"""The system programs the lab runs, found on PATH or in the sbin dirs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

from fleetctl.errors import OutsideError

# The system programs the lab runs, with the Debian package of each (the same
# packages scripts/system-deps.sh installs; a unit test keeps the two in step).
LAB_BINARIES = {
    "sshd": "openssh-server",
    "nginx": "nginx-light",
    "ssh": "openssh-client",  # Ansible connects with it
    "ssh-keygen": "openssh-client",
}
SBIN_DIRS = ("/usr/sbin", "/sbin")  # not on a normal user's PATH


def _search_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])


def binary(name: str) -> str:
    """Path of a system program the lab runs: PATH first, then the sbin dirs
    (its bare name when absent: `lab up` checks for them first)."""
    return shutil.which(name, path=_search_path()) or name


def check_binaries(names: Sequence[str] = tuple(LAB_BINARIES)) -> None:
    """Fail before starting anything when a program the lab runs is not installed,
    naming its package and the command that installs it (exit 3)."""
    path = _search_path()
    missing = [n for n in names if shutil.which(n, path=path) is None]
    if not missing:
        return
    packages = sorted({LAB_BINARIES.get(n, n) for n in missing})
    what = ", ".join(f"{n} (apt package {LAB_BINARIES.get(n, n)})" for n in missing)
    raise OutsideError(
        f"the lab needs {what}: not installed",
        hint=(
            "install it: sudo apt-get install -y --no-install-recommends "
            f"{' '.join(packages)}   (or run scripts/system-deps.sh, which make demo runs)"
        ),
    )
