"""`approvals serve` against hostile or broken clients, over real sockets on 127.0.0.1:
every request gets a JSON answer or a dropped connection, never a traceback, and
one bad client never stops the server answering the next."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.cli.main import app
from fleetctl.services.approvals import HEADER, ApprovalServer, signature

pytestmark = pytest.mark.integration

KEY = b"hostile-approval-key-0123456789abcdef"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ApprovalServer, list[str]]]:
    lines: list[str] = []

    def no_engine(_store: Any, _who: str) -> Any:
        raise AssertionError("nothing here may be promoted")

    srv = ApprovalServer(KEY, lambda: SqliteStore(tmp_path / "s.db"), no_engine, log=lines.append)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv, lines
    finally:
        srv.shutdown()
        thread.join(timeout=10)


def raw(srv: ApprovalServer, data: bytes, close_early: bool = False) -> bytes:
    """Send `data` as it is; the answer's first bytes (b'' when the server hung up)."""
    host, port = srv.httpd.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=30) as s:
        s.sendall(data)
        if close_early:
            return b""
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks)


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(f"{url}/approve", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


JSON = "Content-Type: application/json\r\n"


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (f"{JSON}Content-Length: abc\r\n", 400),
        (f"{JSON}Content-Length: -5\r\n", 400),
        (f"{JSON}Content-Length: 99999999\r\n", 413),  # never read
        (JSON, 411),
        ("Content-Type: text/plain\r\nContent-Length: 2\r\n", 415),
        ("Content-Length: 2\r\n", 415),
    ],
)
def test_bad_headers_get_a_json_error_not_a_traceback(
    server: tuple[ApprovalServer, list[str]],
    capfd: pytest.CaptureFixture[str],
    head: str,
    code: int,
) -> None:
    srv, _ = server
    answer = raw(srv, f"POST /approve HTTP/1.1\r\nHost: x\r\n{head}\r\n{{}}".encode())
    assert status(answer) == code
    assert b'"error"' in answer
    err = capfd.readouterr().err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "body",
    [
        {"step": True, "expires": 1e12},  # a bool is no step
        {"step": 0.5, "expires": 1e12},
        {"step": 0, "expires": float("nan")},  # would never expire
        {"step": 0, "expires": "soon"},
    ],
)
def test_signed_bodies_of_the_wrong_types_are_400(
    server: tuple[ApprovalServer, list[str]], body: dict[str, Any]
) -> None:
    srv, _ = server
    doc = {"rollout": "r-1", "by": "a", "reason": "r", "nonce": "n" * 32, **body}
    raw_body = json.dumps(doc).encode()  # NaN as JSON's NaN, as Python writes it
    code, answer = post(
        srv.url,
        raw_body,
        {"Content-Type": "application/json", HEADER: signature(KEY, raw_body)},
    )
    assert code == 400, answer
    assert "step (integer)" in answer["error"]


def test_non_utf8_and_non_object_bodies_are_refused(
    server: tuple[ApprovalServer, list[str]],
) -> None:
    srv, _ = server
    for body in (b"\xff\xfe\x00", b"[1, 2]", b'"x"'):
        code, _ = post(
            srv.url, body, {"Content-Type": "application/json", HEADER: signature(KEY, body)}
        )
        assert code == 400


def test_a_silent_or_vanishing_client_does_not_stop_the_server(
    server: tuple[ApprovalServer, list[str]], capfd: pytest.CaptureFixture[str]
) -> None:
    srv, lines = server
    host, port = srv.httpd.server_address[:2]
    silent = socket.create_connection((str(host), int(port)))
    silent.sendall(b"POST /approve HTTP/1.1\r\n")  # and then nothing
    try:
        # A body shorter than announced, then hang up.
        raw(
            srv,
            f"POST /approve HTTP/1.1\r\n{JSON}Content-Length: 100\r\n\r\n{{}}".encode(),
            close_early=True,
        )
        # The next client still gets its answer (without the client timeout the
        # silent connection holds the one serving thread for ever).
        code, answer = post(srv.url, b"{}", {"Content-Type": "application/json"})
        assert code == 401, answer
    finally:
        silent.close()
    assert "Traceback" not in capfd.readouterr().err
    assert all("Traceback" not in line for line in lines)


def test_port_in_use_is_exit_3_and_a_bad_port_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETCTL_APPROVAL_KEY", KEY.decode())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = CliRunner().invoke(app, ["approvals", "serve", "--port", str(port)])
    assert r.exit_code == 3, r.output
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "--port" in r.stderr
    r = CliRunner().invoke(app, ["approvals", "serve", "--port", "99999"])
    assert r.exit_code == 2, r.output
    assert "--port" in r.stderr and "Traceback" not in r.output
    for out in (r.stdout, r.stderr):
        assert KEY.decode() not in out


@pytest.mark.parametrize("command", [["approvals", "serve"], ["approvals", "sign", "r-1",
                                     "--step", "0", "--by", "a", "--reason", "r"]])  # fmt: skip
def test_a_key_pasted_into_key_env_is_never_echoed(command: list[str], tmp_path: Path) -> None:
    pasted = "s3cr3t-approval-key/+=0123456789"
    r = CliRunner().invoke(app, [*command, "--key-env", pasted])
    assert r.exit_code == 2, r.output
    assert "--key-env must name an environment variable" in r.stderr
    assert pasted not in r.stdout + r.stderr
    for bad in ("missing", "empty", "dir"):
        f = {"missing": tmp_path / "nope", "empty": tmp_path / "empty", "dir": tmp_path}[bad]
        if bad == "empty":
            f.write_text("\n")
        r = CliRunner().invoke(app, [*command, "--key-file", str(f)])
        assert r.exit_code == 2, r.output
        assert str(f) in r.stderr and "Traceback" not in r.output


def test_a_trickling_client_does_not_hold_up_the_others(
    server: tuple[ApprovalServer, list[str]],
) -> None:
    srv, _ = server
    host, port = srv.httpd.server_address[:2]
    stop = threading.Event()

    def trickle() -> None:  # a byte every 0.5 s: never silent long enough to be dropped
        with socket.create_connection((str(host), int(port))) as s:
            for byte in b"POST /approve HTTP/1.1\r\nX-Padding: " + b"x" * 10_000:
                if stop.wait(0.5):
                    return
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    return

    slow = threading.Thread(target=trickle, daemon=True)
    slow.start()
    try:
        code, answer = post(srv.url, b"{}", {"Content-Type": "application/json"})
        assert code == 401, answer  # answered while the trickle goes on
        assert slow.is_alive()
    finally:
        stop.set()
        slow.join(timeout=10)


def test_a_deeply_nested_signed_body_is_400(server: tuple[ApprovalServer, list[str]]) -> None:
    srv, _ = server
    body = b"[" * 4000 + b"]" * 4000  # within the body limit, past the JSON parser's depth
    code, answer = post(
        srv.url, body, {"Content-Type": "application/json", HEADER: signature(KEY, body)}
    )
    assert code == 400, answer


def test_serves_on_ipv6_loopback(tmp_path: Path) -> None:
    srv = ApprovalServer(KEY, lambda: SqliteStore(tmp_path / "s.db"), lambda *_: None, host="::1")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        assert srv.url.startswith("http://[::1]:")
        code, _ = post(srv.url, b"{}", {"Content-Type": "application/json"})
        assert code == 401
    finally:
        srv.shutdown()
        thread.join(timeout=10)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--step", "-1", "--by", "a", "--reason", "r"], "--step"),
        (["--step", "0", "--by", " ", "--reason", "r"], "--by"),
        (["--step", "0", "--by", "a", "--reason", ""], "--reason"),
    ],
)
def test_sign_refuses_what_serve_would_refuse(
    monkeypatch: pytest.MonkeyPatch, args: list[str], flag: str
) -> None:
    monkeypatch.setenv("FLEETCTL_APPROVAL_KEY", KEY.decode())
    r = CliRunner().invoke(app, ["approvals", "sign", "r-1", *args])
    assert r.exit_code == 2, r.output
    assert flag in r.stderr and "signature" not in r.stdout
