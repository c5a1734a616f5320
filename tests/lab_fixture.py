"""A real lab for tests: bring it up once, always tear it down.

`tests/conftest.py` registers this module as a plugin, so every test can ask
for the session fixture `lab` (one lab per test session, whoever asks first):

    from tests.lab_fixture import LabHandle

    def test_x(lab: LabHandle) -> None:
        result = lab.apply("edge.yml", extravars={"fleet_release": "r1"})
        lab.stop("lab-edge-mid-01", "sshd")  # really unreachable
        ...

Each session picks a free loopback block (127.77.N) and a temp dir, so two
test runs (or a developer's own lab) never clash. `FLEETCTL_TEST_LAB_HOSTS`
changes the size (default 5: origin, transcode, three edges in three regions).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleetctl.adapters.ansible import run_playbook
from fleetctl.core.ansible_result import PlaybookResult
from fleetctl.services import lab as lab_service
from fleetctl.services.lab import Lab, LabHost

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = REPO / "playbooks"


@dataclass
class LabHandle:
    lab: Lab
    dir: Path

    @property
    def inventory(self) -> Path:
        return Path(self.lab.inventory)

    @property
    def hosts(self) -> tuple[LabHost, ...]:
        return self.lab.hosts

    def host(self, name: str) -> LabHost:
        return self.lab.host(name)

    def edges(self) -> list[LabHost]:
        return self.lab.by_role("edge")

    def apply(self, playbook: str = "site.yml", **kwargs: Any) -> PlaybookResult:
        return run_playbook(PLAYBOOKS / playbook, self.inventory, **kwargs)

    def stop(self, host: str, program: str) -> None:
        lab_service.stop(self.dir, host, program)

    def start(self, host: str, program: str) -> None:
        lab_service.start(self.dir, host, program)


# Sockets that reserve a loopback block for this process (see free_subnet).
_RESERVED: list[socket.socket] = []
RESERVE_HOST = 254  # outside the lab's hosts (.1 services, .11 up to .11 + MAX_HOSTS)


def _reserve(subnet: str) -> bool:
    """Claim `subnet` for this process: a listening socket on its .254 address
    (port SSH_PORT, which no lab host uses there). The kernel gives it to one
    process only and frees it when that process dies, so two pytest-xdist
    workers (or two engineers' runs) never bring up a lab on the same block
    in the seconds before its first sshd listens."""
    s = socket.socket()
    try:
        s.bind((f"{subnet}.{RESERVE_HOST}", lab_service.SSH_PORT))
        s.listen(1)
    except OSError:
        s.close()
        return False
    _RESERVED.append(s)
    return True


def free_subnet(first: int = 77) -> str:
    """A 127.<first>.N block nobody listens on (checked on the first host's
    ports), reserved for this process until it exits."""
    start = os.getpid() % 200
    for k in range(200):
        subnet = f"127.{first}.{(start + k) % 200 + 1}"
        busy = False
        for port in (lab_service.SSH_PORT, lab_service.HTTP_PORT):
            with socket.socket() as s:
                s.settimeout(0.2)
                if s.connect_ex((f"{subnet}.11", port)) == 0:
                    busy = True
        if not busy and _reserve(subnet):
            return subnet
    raise RuntimeError("no free loopback block for a test lab")


def start_lab(lab_dir: Path, n_hosts: int = 5, subnet: str | None = None) -> LabHandle:
    lab = lab_service.lab_up(
        n_hosts, lab_dir=lab_dir, playbooks_dir=PLAYBOOKS, subnet=subnet or free_subnet()
    )
    return LabHandle(lab=lab, dir=lab_dir)


@pytest.fixture(scope="session")
def lab() -> Iterator[LabHandle]:
    n = int(os.environ.get("FLEETCTL_TEST_LAB_HOSTS", "5"))
    # a short path: supervisord's socket lives in the lab dir
    tmp = Path(tempfile.mkdtemp(prefix="fl-lab-"))
    lab_dir = tmp / "lab"
    try:
        handle = start_lab(lab_dir, n)
        yield handle
    finally:
        lab_service.lab_down(lab_dir)
        shutil.rmtree(tmp, ignore_errors=True)


def wait_until_scraped(prometheus_url: str, n_targets: int, timeout_s: float = 90) -> str:
    """Wait until Prometheus scrapes `n_targets` exporters, all up; its URL.
    Bounded, and generous: a loaded machine starts Prometheus and mtail slowly."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(prometheus_url + "/api/v1/targets", timeout=2) as resp:
                targets = json.loads(resp.read())["data"]["activeTargets"]
            if len(targets) == n_targets and all(t["health"] == "up" for t in targets):
                return prometheus_url
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"Prometheus did not scrape all {n_targets} exporters within {timeout_s:.0f} s")
