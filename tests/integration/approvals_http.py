"""The HTTP side of approvals tests: a signed POST to /approve, a free loopback port,
and an in-process `ApprovalServer` serving on a thread for the length of a block."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fleetctl.services.approvals import HEADER, ApprovalServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(server_url: str, body: bytes, sig: str | None) -> tuple[int, dict[str, Any]]:
    """POST `body` to the server's /approve with `sig` in its header: (status, JSON answer)."""
    req = urllib.request.Request(f"{server_url}/approve", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    if sig is not None:
        req.add_header(HEADER, sig)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@contextmanager
def serving(srv: ApprovalServer) -> Iterator[ApprovalServer]:
    """`srv` answers on its thread inside the block; leaving it stops the server and
    waits for the promotes it started."""
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        thread.join(timeout=10)
        srv.wait_idle()
