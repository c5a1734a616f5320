"""Signed approvals over HTTP: `fleetctl approvals serve`.

A chat bot (or a person with `fleetctl approvals sign`) POSTs a small JSON body
to /approve with `X-Fleetctl-Signature: sha256=<HMAC-SHA256 of the raw body>`
under a shared key. The body names the rollout and the paused step it approves,
who approves and why, a nonce and an expiry:

    {"rollout": "r-...", "step": 0, "by": "alice", "reason": "dashboards fine",
     "nonce": "3f9c...", "expires": 1767225600}

A valid approval is used once (its nonce is recorded in the state store before
anything else), is refused after `expires` (and when `expires` is further away
than MAX_TTL_S: no long-lived approvals), and only resolves an approval pause at
that step. It is journaled (`approval_received`: who, why, nonce, expiry), then
the rollout is promoted exactly as `fleetctl rollout promote ID --reason` does,
by the approver, in a background thread; the HTTP answer (202) does not wait.

That thread runs the rest of the rollout, like the `promote` command's process
would: its steps, and a wait for a region's deploy window ahead (it holds and
renews the env lock; `rollout status` shows the wait; `rollout abort` from
anywhere ends it). The serving thread never blocks on it. Pausing there for the
window instead would leave an approved rollout stopped until someone runs
`rollout resume` at the window's opening; a signed approval must mean the same
as `rollout promote`. When the server stops, each wait ends as a pause for the
window (journaled, the env still locked) that `rollout resume` continues, rather
than a rollout marked running whose lease nobody renews.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fleetctl.core.rollout import events
from fleetctl.errors import BadInput, FleetctlError

KEY_ENV = "FLEETCTL_APPROVAL_KEY"
HEADER = "X-Fleetctl-Signature"
MAX_TTL_S = 3600.0
MAX_BODY = 8192
MIN_KEY_BYTES = 16
# A client silent this long is dropped: its thread (one per connection) is freed.
CLIENT_TIMEOUT_S = 5.0


def load_key(key_env: str = KEY_ENV, key_file: Path | None = None) -> bytes:
    """The shared key, from a file or an env var (never from a flag: argv is visible)."""
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise BadInput(
                f"cannot read the approval key from {key_file}: {exc.strerror}",
                hint="write a random key into it, e.g. `openssl rand -hex 32 > FILE`",
            ) from None
        where = str(key_file)
    else:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key_env):
            # Most likely the key itself pasted where its variable's name goes:
            # never echo it.
            raise BadInput(
                "--key-env must name an environment variable (the value given is not "
                "shown: it may be the key itself)",
                hint=f"export {KEY_ENV}=... and pass --key-env {KEY_ENV}, or use --key-file",
            )
        key = os.environ.get(key_env, "").strip().encode()
        where = f"env var {key_env}"
    if len(key) < MIN_KEY_BYTES:
        raise BadInput(
            f"the approval key in {where} is missing or shorter than {MIN_KEY_BYTES} bytes",
            hint=f"set it to a random secret, e.g. `export {KEY_ENV}=$(openssl rand -hex 32)`",
        )
    return key


def key_fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"fleetctl approval key\0" + key).hexdigest()[:12]


def signature(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Approval:
    rollout: str
    step: int
    by: str
    reason: str
    nonce: str
    expires: float

    def body(self) -> bytes:
        return json.dumps(
            {
                "rollout": self.rollout,
                "step": self.step,
                "by": self.by,
                "reason": self.reason,
                "nonce": self.nonce,
                "expires": self.expires,
            },
            sort_keys=True,
        ).encode()


def make(
    rollout: str, step: int, by: str, reason: str, *, ttl_s: float = 600, now: float | None = None
) -> Approval:
    now = time.time() if now is None else now
    return Approval(rollout, step, by, reason, secrets.token_hex(16), round(now + ttl_s))


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def verify(key: bytes, body: bytes, sig: str | None, now: float) -> Approval:
    """The approval in `body` if its signature, shape and expiry hold (nonce: the caller)."""
    if not sig or not hmac.compare_digest(sig.strip(), signature(key, body)):
        raise Rejected(401, f"bad or missing {HEADER} (HMAC-SHA256 of the body, sha256=<hex>)")
    try:
        data = json.loads(body)
        step, expires = data["step"], data["expires"]
        # Exact types: a bool or 1.5 is no step, and NaN would never expire
        # (every comparison with it is false).
        if type(step) is not int or type(expires) not in (int, float):
            raise TypeError("step must be an integer, expires a number")
        if not math.isfinite(expires):
            raise ValueError("expires must be finite")
        a = Approval(
            rollout=str(data["rollout"]),
            step=step,
            by=str(data["by"]).strip(),
            reason=str(data["reason"]).strip(),
            nonce=str(data["nonce"]),
            expires=float(expires),
        )
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: [[[[...]]]]
        raise Rejected(
            400,
            "the body must be a JSON object with rollout, step (integer), by, reason, nonce, "
            "expires (a number)",
        ) from None
    if not a.by or not a.reason or len(a.nonce) < 16:
        raise Rejected(400, "by and reason must not be empty; nonce at least 16 characters")
    if a.expires < now:
        raise Rejected(410, "the approval has expired")
    if a.expires > now + MAX_TTL_S:
        raise Rejected(400, f"expires is more than {MAX_TTL_S:g} s away: sign a shorter one")
    return a


# -- the server ---------------------------------------------------------------------------

# (store, who, stopping) -> an object with .promote(rollout_id, reason); the CLI's runs
# Ansible and waits for closed deploy windows until `stopping()` (the server stopping).
EngineFor = Callable[[Any, str, Callable[[], bool]], Any]


class ApprovalServer:
    """A thread per connection, so a client that trickles its request byte by byte
    holds up only itself; the approvals themselves are handled one at a time (a
    lock), so a nonce check and its record are not raced.

    `open_store()` is called for each approval and in each promote thread (a
    SQLite connection belongs to its thread), and closed after it.
    """

    def __init__(
        self,
        key: bytes,
        open_store: Callable[[], Any],
        engine_for: EngineFor,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.key = key
        self.open_store = open_store
        self.engine_for = engine_for
        self.clock = clock
        self.log = log
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        # Set when serving ends: promotes waiting for a deploy window pause instead.
        self.stopping = threading.Event()
        self.outcomes: list[Any] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = CLIENT_TIMEOUT_S  # a silent or slow client is dropped, not waited for

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/approve":
                    return self._answer(404, {"error": "POST /approve"})
                kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if kind != "application/json":
                    return self._answer(415, {"error": "Content-Type must be application/json"})
                raw = (self.headers.get("Content-Length") or "").strip()
                length = int(raw) if raw.isdigit() else -1
                if length <= 0 or length > MAX_BODY:
                    return self._answer(
                        411 if not raw else 413 if length > MAX_BODY else 400,
                        {"error": f"a Content-Length of 1..{MAX_BODY} bytes"},
                    )
                body = self.rfile.read(length)
                if len(body) < length:  # the client gave up or timed out mid-body
                    return self._answer(400, {"error": "the body is shorter than Content-Length"})
                try:
                    status, answer = 202, server.accept(body, self.headers.get(HEADER))
                except Rejected as exc:
                    status, answer = exc.status, {"error": exc.message}
                except BadInput as exc:
                    status, answer = 404, {"error": exc.message}
                except FleetctlError as exc:  # e.g. the state store is unreachable
                    status, answer = 503, {"error": exc.message}
                server.log(f"{self.client_address[0]} POST /approve -> {status}")
                self._answer(status, answer)

            def do_GET(self) -> None:
                self._answer(404, {"error": "POST /approve"})

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True  # a stuck client never delays the process's exit

            def handle_error(self, request: Any, client_address: Any) -> None:
                # One line, never a traceback: a client that hangs up mid-answer,
                # or a bug, must not spill the server's internals onto its log.
                import sys

                exc = sys.exc_info()[1]
                server.log(f"{client_address[0]}: request failed: {type(exc).__name__}")

        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} is not within 0..65535")
        if ":" in host:  # an IPv6 address such as ::1 (the default family is IPv4 only)
            import socket

            Server.address_family = socket.AF_INET6
        self.httpd = Server((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}"

    def accept(self, body: bytes, sig: str | None) -> dict[str, Any]:
        now = self.clock()
        a = verify(self.key, body, sig, now)
        with self._lock:
            store = self.open_store()
            try:
                return self._accept(store, a, now)
            finally:
                store.close()

    def _accept(self, store: Any, a: Approval, now: float) -> dict[str, Any]:
        from fleetctl.services.rollout import Status, load

        if store.get("approval_nonce", a.nonce) is not None:
            raise Rejected(409, "this approval was already used (nonce seen before)")
        # Recorded before anything acts on it: a replay finds it even after a crash.
        store.put("approval_nonce", a.nonce, {"rollout": a.rollout, "by": a.by, "at": now})
        doc = load(store, a.rollout)
        pause = doc.get("pause") or {}
        if doc["status"] != Status.paused.value or pause.get("kind") != "approval":
            raise Rejected(409, f"rollout {doc['id']} is {doc['status']}, not waiting for approval")
        if int(pause.get("step", -1)) != a.step:
            raise Rejected(
                409, f"rollout {doc['id']} waits at step {pause.get('step')}, not step {a.step}"
            )
        from fleetctl.services import release as release_service

        if release_service.get(store, doc["release"]).secret_vars:
            # Its secret vars exist only in the memory of the command that was given them.
            raise Rejected(
                409,
                f"rollout {doc['id']} was started with --secret-var: this server has no secret "
                "values; approve with `fleetctl rollout promote ID --reason ... --secret-var ...`",
            )
        store.append_event(
            doc["id"],
            events.ApprovalReceived(
                at=now,
                by=a.by,
                reason=a.reason,
                step=a.step,
                nonce=a.nonce,
                expires=a.expires,
                key=key_fingerprint(self.key),
            ).to_dict(),
        )
        worker = threading.Thread(
            target=self._promote, args=(doc["id"], a), name=f"approve-{doc['id']}", daemon=True
        )
        self._workers.append(worker)
        worker.start()
        return {"accepted": True, "rollout": doc["id"], "step": a.step, "by": a.by}

    def _promote(self, rollout_id: str, a: Approval) -> None:
        store = self.open_store()
        try:
            engine = self.engine_for(store, a.by, self.stopping.is_set)
            outcome = engine.promote(rollout_id, a.reason)
            self.outcomes.append(outcome)
            self.log(f"{rollout_id}: {outcome.status.value}: {outcome.message}")
        except Exception as exc:  # the journal has the detail; the server keeps serving
            self.outcomes.append(exc)
            self.log(f"{rollout_id}: promote failed: {exc}")
        finally:
            store.close()

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self.stopping.set()
            self.httpd.server_close()

    def shutdown(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()

    def wait_idle(self, timeout: float = 120) -> None:
        """Wait for the promotes started so far (tests; a clean exit)."""
        deadline = time.monotonic() + timeout
        for w in list(self._workers):
            w.join(timeout=max(0.0, deadline - time.monotonic()))
