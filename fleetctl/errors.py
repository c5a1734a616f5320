"""One exception tree for every expected failure.

Each error carries a message, a hint (what to do next) and the process exit
code. The CLI catches FleetctlError once and renders it; nothing else should
print a traceback for an expected failure.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_OUTSIDE = 3


class FleetctlError(Exception):
    """Base of every expected fleetctl failure."""

    exit_code = EXIT_JOB_FAILED

    def __init__(self, message: str, hint: str = "", *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = list(details or [])


class JobFailed(FleetctlError):
    """The job ran and failed: a gate failed, a rollout rolled back, a host failed."""

    exit_code = EXIT_JOB_FAILED


class BadInput(FleetctlError):
    """The user gave us something we cannot use: a bad spec, flag, file or name."""

    exit_code = EXIT_BAD_INPUT


class SpecError(BadInput):
    """One or more problems in stack configs; `details` holds `file:line: key: message` lines."""


class OutsideError(FleetctlError):
    """A system outside fleetctl failed: AWS, Ansible, Pulumi, git, a daemon."""

    exit_code = EXIT_OUTSIDE
