"""moto in server mode for the AWS tests: one server per session, reset per test.

tests/conftest.py registers the fixtures (`pytest_plugins`): importing them
into a test module would make a separate session fixture, one server, per file.

`moto_server` starts `moto.server` on a free loopback port in a subprocess and
always stops it. `aws` resets the server's state and points boto3 at it through
the standard environment (AWS_ENDPOINT_URL, fake credentials, a region), so the
code under test is the same code that talks to AWS.

moto checks a DynamoDB/S3 condition and then writes in plain Python, in a
thread per request; real DynamoDB and S3 make a conditional write atomic. The
server runs with a long GIL switch interval so a condition check and its write
are not interleaved with another request's (threads still switch on I/O): the
lock-race test then tests our locking, not moto's threading.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

_SERVER = "import sys; {switch}from moto.server import main; main(sys.argv[1:])"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MotoServer:
    url: str
    proc: subprocess.Popen[bytes]

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_moto(
    extra_env: Mapping[str, str] | None = None, log: Path | None = None, *, atomic: bool = True
) -> MotoServer:
    """Start a moto server on a free loopback port and wait until it answers.

    atomic: run it with a long GIL switch interval (see the module docstring).
    """
    code = _SERVER.format(switch="sys.setswitchinterval(0.5); " if atomic else "")
    # A port picked free can be taken by another process (another xdist
    # worker, another test run) before moto binds it: moto then exits; retry
    # on new ports.
    for attempt in range(1, 4):
        try:
            return _start_moto_on(free_port(), code, extra_env, log)
        except _Exited:
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


class _Exited(RuntimeError):
    pass


def _start_moto_on(
    port: int, code: str, extra_env: Mapping[str, str] | None, log: Path | None
) -> MotoServer:
    env = {**os.environ, **(extra_env or {})}
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "-H", "127.0.0.1", "-p", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
    )
    server = MotoServer(f"http://127.0.0.1:{port}", proc)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise _Exited(f"moto server exited with {proc.returncode} (port {port})")
        try:
            with urllib.request.urlopen(f"{server.url}/moto-api/", timeout=2):
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("moto server did not start within 60 s") from None
            time.sleep(0.1)


def aws_env(endpoint: str, tmp: Path, region: str = "us-east-1") -> dict[str, str]:
    """The environment that points boto3 (and fleetctl in a subprocess) at `endpoint`."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server = start_moto(log=log)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[MotoServer]:
    """A clean moto server and the environment pointing boto3 at it."""
    moto_server.reset()
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in aws_env(moto_server.url, tmp_path).items():
        monkeypatch.setenv(key, value)
    yield moto_server
