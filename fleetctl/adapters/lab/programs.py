"""The supervisord programs of a lab host (command lines and start rules)."""

from __future__ import annotations

from pathlib import Path

from fleetctl.adapters.lab.binaries import binary
from fleetctl.adapters.supervisor import Program


def sshd(name: str, root: Path) -> Program:
    return Program(
        name=name,
        command=f"{binary('sshd')} -D -e -f {root / 'etc/ssh/sshd_config'}",
        startsecs=0,
    )


def nginx(name: str, root: Path) -> Program:
    return Program(
        name=name,
        command=(
            f"{binary('nginx')} -p {root / 'nginx'}/ -c {root / 'nginx/nginx.conf'}"
            ' -g "daemon off;"'
        ),
        autostart=False,  # the role starts it once its config is in place
        startsecs=0,
        stopsignal="TERM",  # fast: QUIT waits for keepalive clients
    )


def worker(name: str, root: Path, python: str) -> Program:
    return Program(
        name=name,
        command=(
            f"{python} {root / 'opt/transcode/worker.py'} {root / 'etc/transcode/worker.json'}"
        ),
        autostart=False,  # the role installs the worker, then starts it
        startsecs=0,
    )


def delay(python: str, address: str, port: int) -> Program:
    """The slow upstream edges use to show a latency regression."""
    return Program(
        name="lab-delay",
        command=f"{python} -m fleetctl.adapters.slow_http {address} {port}",
        startsecs=0,
    )
