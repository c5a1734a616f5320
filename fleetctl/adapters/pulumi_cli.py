"""The Pulumi CLI on PATH: found, or a clear error saying how to install it
(shared by the real-engine preview and deploy adapters)."""

from __future__ import annotations

import shutil

from fleetctl.errors import OutsideError

INSTALL = (
    "install the Pulumi CLI: `curl -fsSL https://get.pulumi.com | sh` "
    "(or see https://www.pulumi.com/docs/install/)"
)
NOT_ON_PATH = "the `pulumi` executable is not on PATH"


def install_hint(alternative: str = "") -> str:
    """How to get the CLI, then what else the user can do (`alternative`)."""
    return f"{INSTALL}, {alternative}" if alternative else INSTALL


def not_found(alternative: str = "") -> OutsideError:
    return OutsideError(NOT_ON_PATH, hint=install_hint(alternative))


def find_cli(alternative: str = "") -> str:
    """Path of `pulumi`; OutsideError (exit 3) with the install hint when absent."""
    exe = shutil.which("pulumi")
    if exe is None:
        raise not_found(alternative)
    return exe
