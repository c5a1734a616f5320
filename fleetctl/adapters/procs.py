"""Finding and ending processes we started, by pid, from /proc (Linux).

A process is identified by (pid, start time) so a recycled pid is never hit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    start: int  # clock ticks since boot (field 22 of /proc/PID/stat)


def _stat(pid: int) -> Proc | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return Proc(pid=pid, ppid=int(fields[1]), start=int(fields[19]))


def all_procs() -> list[Proc]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            p = _stat(int(entry))
            if p is not None:
                out.append(p)
    return out


def descendants(pid: int, procs: list[Proc] | None = None) -> list[Proc]:
    """Every living descendant of `pid` (children, grandchildren, ...)."""
    procs = procs if procs is not None else all_procs()
    children: dict[int, list[Proc]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    out: list[Proc] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child.pid)
    return out


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def with_environ(key: str, value: str) -> list[Proc]:
    """Processes whose environment holds KEY=VALUE (only our own are readable)."""
    needle = f"{key}={value}".encode()
    out = []
    for p in all_procs():
        try:
            env = Path(f"/proc/{p.pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            out.append(p)
    return out


def with_cmdline_containing(text: str) -> list[Proc]:
    return [p for p in all_procs() if p.pid != os.getpid() and text in cmdline(p.pid)]


def with_tcp_sockets_on(endpoints: Iterable[tuple[str, int]]) -> list[Proc]:
    """Processes holding an IPv4 TCP socket whose local address is one of
    `endpoints` ((ip, port)): listeners and the connections they accepted (an
    sshd session keeps its client's connection on the listener's address)."""
    wanted = set(endpoints)
    inodes: set[str] = set()
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        ip_hex, port_hex = fields[1].split(":")
        ip = socket.inet_ntoa(struct.pack("<I", int(ip_hex, 16)))
        if (ip, int(port_hex, 16)) in wanted and fields[9] != "0":
            inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return []
    out = []
    for p in all_procs():
        try:
            fds = os.listdir(f"/proc/{p.pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{p.pid}/fd/{fd}") in inodes:
                    out.append(p)
                    break
            except OSError:
                continue
    return out


def owner_tag() -> str:
    """`<pid>-<start>` of this process: part of the name of every temp dir it
    makes, so a later sweep can tell a dead owner's dirs (a recycled pid has
    another start time) without a registry."""
    me = _stat(os.getpid())
    return f"{os.getpid()}-{me.start if me else 0}"


def private_temp_dir(kind: str) -> Path:
    """A new 0700 temp dir `fleetctl-<kind>-<pid>-<start>-*`: the name tells a
    later `sweep_dead_temp_dirs` whether its owner is still running."""
    return Path(tempfile.mkdtemp(prefix=f"fleetctl-{kind}-{owner_tag()}-"))


def sweep_dead_temp_dirs(*kinds: str) -> list[str]:
    """Remove the temp dirs of `kinds` whose fleetctl process died (kill -9):
    release snapshots, Ansible private data dirs (extra vars, ansible-runner's
    record of the environment). Returns the names removed."""
    removed = []
    tmp = Path(tempfile.gettempdir())
    for kind in kinds:
        for path in tmp.glob(f"fleetctl-{kind}-*-*"):
            parts = path.name.split("-")
            # fleetctl-KIND-PID-START-RANDOM; before: fleetctl-KIND-PID-RANDOM
            if len(parts) == 5:
                if owner_alive(f"{parts[2]}-{parts[3]}"):
                    continue
            elif len(parts) != 4 or not parts[2].isdigit() or pid_alive(int(parts[2])):
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return sorted(removed)


def pid_alive(pid: int) -> bool:
    """Is process `pid` running? A zombie (killed, not yet reaped) is not; a
    process of another user that we may not signal is."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # it exited in between
        return False
    return True


def owner_alive(tag: str) -> bool:
    """Is the process named by an `owner_tag()` still running? (True when unsure.)"""
    pid_s, _, start_s = tag.partition("-")
    if not pid_s.isdigit() or not start_s.isdigit():
        return True
    now = _stat(int(pid_s))
    return now is not None and now.start == int(start_s)


def alive(p: Proc) -> bool:
    now = _stat(p.pid)
    return now is not None and now.start == p.start


def terminate(procs: Iterable[Proc], grace_s: float = 3.0) -> None:
    """SIGTERM, wait up to `grace_s`, then SIGKILL whatever is left."""
    targets = [p for p in procs if p.pid != os.getpid()]
    for p in targets:
        _signal(p, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(alive(p) for p in targets):
        time.sleep(0.05)
    for p in targets:
        _signal(p, signal.SIGKILL)


def kill(procs: Iterable[Proc]) -> None:
    for p in procs:
        if p.pid != os.getpid():
            _signal(p, signal.SIGKILL)


def _signal(p: Proc, sig: int) -> None:
    if not alive(p):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(p.pid, sig)
