"""Sockets on the lab's loopback addresses."""

from __future__ import annotations

import socket
import time


def wait_port(addr: str, port: int, timeout_s: float) -> bool:
    """True once something accepts connections on addr:port, False after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def in_use(addr: str, port: int) -> bool:
    """Something already listens on addr:port."""
    try:
        with socket.create_connection((addr, port), timeout=0.3):
            return True
    except OSError:
        return False
